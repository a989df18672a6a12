"""View models: everything a page (or the TV) shows for a date, window and group, as plain data.

They read through models/ and compute through metrics/, and return dataclasses of numbers, DataFrames and
lists, so the Dash callbacks, the CSV exports and the TV share one implementation. Must not import Dash, Flask
or sync/.
"""

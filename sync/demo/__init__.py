"""The demo source and its emulators: synthetic VTiger and Redmine records (source.py) served by in-memory
emulators of the two APIs (vtiger_emulator.py, redmine_emulator.py) through an in-process transport
(transport.py), so demo rows go through the real clients, mapping and sync. load.py loads the demo through the
normal sync path. Must not import Dash or Flask."""

"""/status: per source and module, rows mirrored and the last sync."""

from __future__ import annotations

from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import html


def layout(query: Mapping[str, str]) -> html.Div:
    return html.Div(
        [
            html.H2("Sync status"),
            html.Div(id="status-table"),
        ]
    )


def status_table(rows: list[dict[str, str]]) -> dbc.Table:
    header = ["Source", "Module", "Rows", "Last run", "Result", "Last success", "Error"]
    body = [html.Tr([html.Td(row[key]) for key in header]) for row in rows]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(name) for name in header])), html.Tbody(body)],
        striped=True,
        responsive=True,
        size="sm",
        id="status-rows",
    )

"""/redmine page layout (placeholder until its issue lands)."""

from __future__ import annotations

from collections.abc import Mapping

from dash import html


def layout(query: Mapping[str, str]) -> html.Div:
    return html.Div([html.H2("Redmine"), html.P("This page is being built.")], id="redmine-page")

"""Routing: the URL's path picks the page; its query string is handed to the page's layout."""

from __future__ import annotations

from urllib.parse import parse_qsl

import dash
from dash import Input, Output, State

from layouts.pages import page_for
from layouts.shell import not_found


def parse_query(search: object) -> dict[str, str]:
    """The URL query as a dict; the last value wins for a repeated key, and junk (even a non-string sent by a
    hand-made request) never raises."""
    if not isinstance(search, str):
        return {}
    return dict(parse_qsl(search.lstrip("?"), keep_blank_values=False))


def register(app: dash.Dash) -> None:
    @app.callback(
        Output("page-content", "children"),
        Output("chrome", "style"),
        Input("url", "pathname"),
        # State, not Input: the dashboard pages write their date/window/group into the query themselves
        # (callbacks/controls.py) and must not be rebuilt for it; a new path still renders with the query.
        State("url", "search"),
    )
    def render_page(pathname: object, search: object):  # type: ignore[no-untyped-def]
        pathname = pathname if isinstance(pathname, str) else ""
        page = page_for(pathname)
        if page is None:
            return not_found(pathname or ""), {}
        return page.layout(parse_query(search)), ({} if page.chrome else {"display": "none"})

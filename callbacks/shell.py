"""Routing: the URL's path picks the page; its query string is handed to the page's layout."""

from __future__ import annotations

import dash
from dash import ClientsideFunction, Input, Output, State
from dash.development.base_component import Component

from layouts.pages import all_pages, page_for
from layouts.shell import nav_link_id, not_found
from view_models.url_query import parse_query


def register(app: dash.Dash) -> None:
    @app.callback(
        Output("page-content", "children"),
        Output("chrome", "style"),
        Input("url", "pathname"),
        # State, not Input: the dashboard pages write their date/window/group into the query themselves
        # (callbacks/controls.py) and must not be rebuilt for it; a new path still renders with the query.
        State("url", "search"),
    )
    def render_page(pathname: object, search: object) -> tuple[Component, dict[str, str]]:
        pathname = pathname if isinstance(pathname, str) else ""
        page = page_for(pathname)
        if page is None:
            return not_found(pathname or ""), {}
        return page.layout(parse_query(search)), ({} if page.chrome else {"display": "none"})

    # The phone menu (☰): dbc.Collapse opens only through is_open, so the toggler must set it. In the browser,
    # no round trip; a tap on a link (even to the page shown) or a new path (back, forward) closes it again.
    app.clientside_callback(
        ClientsideFunction(namespace="kpiShell", function_name="toggleMenu"),
        Output("navbar-collapse", "is_open"),
        Input("navbar-toggler", "n_clicks"),
        Input("url", "pathname"),
        *(Input(nav_link_id(page.path), "n_clicks") for page in all_pages() if page.in_nav),
        State("navbar-collapse", "is_open"),
        prevent_initial_call=True,
    )

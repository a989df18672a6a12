"""The frame around every page: URL, navigation bar, notices, the page container."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.pages import all_pages


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page.title, href=page.path, active="exact")) for page in all_pages() if page.in_nav
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("KPI Dashboard", href="/"),
                dbc.NavbarToggler(id="navbar-toggler"),
                dbc.Collapse(dbc.Nav(links, navbar=True), id="navbar-collapse", navbar=True),
                html.Div(id="freshness-badge", className="ms-auto"),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3",
        id="navbar",
    )


def app_layout() -> html.Div:
    """Called per page load, so every visitor gets a fresh tree."""
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            html.Div(navbar(), id="chrome"),
            html.Div(id="page-notice"),
            dbc.Container(id="page-content", fluid=True),
        ]
    )


def not_found(path: str) -> html.Div:
    return html.Div(
        [html.H2("Page not found"), html.P(f"There is no page at {path}."), dcc.Link("Go to the dashboard", href="/")],
        className="py-5 text-center",
    )

"""The frame around every page: URL, navigation bar, notices, the page container."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.pages import all_pages
from web.csrf import CSRF_FORM_FIELD, csrf_token
from web.viewer import current_viewer


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page.title, href=page.path, active="exact", id=nav_link_id(page.path), n_clicks=0))
        for page in all_pages()
        if page.in_nav
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("KPI Dashboard", href="/"),
                dbc.NavbarToggler(id="navbar-toggler"),
                dbc.Collapse(dbc.Nav(links, navbar=True), id="navbar-collapse", navbar=True),
                html.Div(id="freshness-badge", className="ms-auto"),
                *account_controls(),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3",
        id="navbar",
    )


def nav_link_id(path: str) -> str:
    return "nav-link-" + path.strip("/")


def app_layout() -> html.Div:
    """Called per page load, so every visitor gets a fresh tree."""
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            *auth_disabled_banner(),
            html.Div(navbar(), id="chrome"),
            html.Div(id="page-notice"),
            dbc.Container(id="page-content", fluid=True),
        ]
    )


def auth_disabled_banner() -> list[dbc.Alert]:
    """AUTH_DISABLED shows on every page, the TV included (web/viewer.py)."""
    viewer = current_viewer()
    if viewer is None or viewer.kind != "local":
        return []
    long_text = "Sign-in is off (AUTH_DISABLED): this dashboard is open to anyone who reaches it. Local use only."
    text = [  # on a phone one short line, so the figures stay near the top of the first screen
        html.Span(long_text, className="d-none d-sm-inline"),
        html.Span("Sign-in off · local use only", className="d-sm-none", title=long_text),
    ]
    return [dbc.Alert(text, color="warning", className="mb-0 rounded-0 py-1 text-center small", id="auth-banner")]


def account_controls() -> list[html.Form]:
    """Sign-out for a signed-in user: a POST carrying the CSRF token (web/csrf.py); nothing for a kiosk or local use."""
    viewer = current_viewer()
    if viewer is None or viewer.kind != "user":
        return []
    return [
        html.Form(
            [
                dcc.Input(type="hidden", name=CSRF_FORM_FIELD, value=csrf_token()),
                html.Button("Sign out", type="submit", className="btn btn-sm btn-outline-light", title=viewer.email),
            ],
            action="/logout",
            method="POST",
            className="ms-2",
            id="sign-out",
        )
    ]


def not_found(path: str) -> html.Div:
    return html.Div(
        [html.H2("Page not found"), html.P(f"There is no page at {path}."), dcc.Link("Go to the dashboard", href="/")],
        className="py-5 text-center",
    )

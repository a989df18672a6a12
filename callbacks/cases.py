"""/cases callbacks: the page's main callback (callbacks.tracker_page, registered through callbacks.controls)
turns the page state into the window columns, open-now panel and charts, the monthly charts, the table and its
export link. Thin: reads and figures come from view_models.cases; components from layouts.cases.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output
from sqlalchemy import Engine

from callbacks.tracker_page import TrackerCallbacks, view_options
from layouts import cases as page
from settings import Settings
from view_models.cases import CasesView, build_cases_view, window_table
from view_models.page_state import PageState


def build_view(engine: Engine, settings: Settings, state: PageState, charts: bool) -> CasesView:
    return build_cases_view(engine, settings, state.day, group=state.selector, charts=charts, **view_options(state))


def open_values(view: CasesView, state: PageState) -> dict[str, Any]:
    (title_a, figure_a), (title_b, figure_b) = page.open_charts(view)
    content = page.open_panel_content(view, state)
    return {"open": content, "open_a_title": title_a, "open_a": figure_a, "open_b_title": title_b, "open_b": figure_b}


CALLBACKS = TrackerCallbacks(
    page=page.PAGE,
    path="/cases",
    own_outputs={
        "open": Output(f"{page.PREFIX}-open", "children"),
        "open_a_title": Output(f"{page.PREFIX}-open-a-title", "children"),
        "open_a": Output(f"{page.PREFIX}-open-a", "figure"),
        "open_b_title": Output(f"{page.PREFIX}-open-b-title", "children"),
        "open_b": Output(f"{page.PREFIX}-open-b", "figure"),
    },
    own_values=open_values,
    build_view=build_view,
    window_table=window_table,
)


def register(app: dash.Dash) -> None:
    CALLBACKS.register(app)

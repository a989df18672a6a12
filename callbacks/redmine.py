"""/redmine callbacks: the page's main callback (callbacks.tracker_page, registered through callbacks.controls,
selector = project) turns the page state into totals, window columns, open-now charts, the table and the monthly
charts. Thin: reads and figures come from view_models.redmine; components from layouts.redmine.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output
from sqlalchemy import Engine

from callbacks.tracker_page import TrackerCallbacks, view_options
from layouts import redmine as page
from settings import Settings
from view_models.page_state import PageState
from view_models.redmine import RedmineView, build_redmine_view, window_table


def build_view(engine: Engine, settings: Settings, state: PageState, charts: bool) -> RedmineView:
    return build_redmine_view(engine, settings, state.day, project=state.selector, charts=charts, **view_options(state))


def totals_and_open_values(view: RedmineView, state: PageState) -> dict[str, Any]:
    status, middle_title, middle, person = page.open_charts(view)
    return {
        "totals": page.totals_content(view, state),
        "open_status": status,
        "open_b_title": middle_title,
        "open_b": middle,
        "open_person": person,
    }


CALLBACKS = TrackerCallbacks(
    page=page.PAGE,
    path="/redmine",
    own_outputs={
        "totals": Output(f"{page.PREFIX}-totals", "children"),
        "open_status": Output(f"{page.PREFIX}-open-status", "figure"),
        "open_b_title": Output(f"{page.PREFIX}-open-b-title", "children"),
        "open_b": Output(f"{page.PREFIX}-open-b", "figure"),
        "open_person": Output(f"{page.PREFIX}-open-person", "figure"),
    },
    own_values=totals_and_open_values,
    build_view=build_view,
    window_table=window_table,
)


def register(app: dash.Dash) -> None:
    CALLBACKS.register(app)

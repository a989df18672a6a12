"""/redmine callbacks: one main callback (registered through callbacks.controls, selector = project) turns the
page state into totals, window columns, open-now charts, the table and the monthly charts. Thin: reads and
figures come from views.redmine; components from layouts.redmine.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, no_update

from callbacks.controls import Trigger, register_controls
from layouts import redmine as page
from runtime import current_runtime
from views.page_state import PageState, export_href
from views.redmine import RedmineView, build_redmine_view, window_rows

OUTPUTS = [
    Output(f"{page.PREFIX}-subtitle", "children"),
    Output(f"{page.PREFIX}-totals", "children"),
    Output(f"{page.PREFIX}-windows", "children"),
    Output(f"{page.PREFIX}-open-status", "figure"),
    Output(f"{page.PREFIX}-open-b-title", "children"),
    Output(f"{page.PREFIX}-open-b", "figure"),
    Output(f"{page.PREFIX}-open-person", "figure"),
    Output(f"{page.PREFIX}-cum-created", "figure"),
    Output(f"{page.PREFIX}-cum-resolved", "figure"),
    Output(f"{page.PREFIX}-history", "figure"),
    # The table's outputs come last: changing the table's figure (activity, created...) updates only them.
    Output(f"{page.PREFIX}-table", "rowData"),
    Output(f"{page.PREFIX}-table-caption", "children"),
    Output(f"{page.PREFIX}-export", "href"),
]
TABLE_OUTPUTS = 3
TABLE_KPI = f"{page.PREFIX}-table-kpi"


def render(state: PageState, trigger: Trigger) -> list[Any]:
    runtime = current_runtime()
    only_table = trigger.kind == "extra"
    view = build_redmine_view(
        runtime.engine,
        runtime.settings,
        state.day,
        project=state.selector,
        window=state.window,
        today=state.today,
        charts=not only_table,
    )
    table = table_values(view, state, trigger.extras.get(TABLE_KPI) or "activity")
    if only_table:
        return [no_update] * (len(OUTPUTS) - TABLE_OUTPUTS) + table
    status, middle_title, middle, person = page.open_charts(view)
    return [
        page.subtitle(view, state),
        page.totals_content(view, state),
        page.window_columns(view, state),
        status,
        middle_title,
        middle,
        person,
        page.cumulative_chart(view, "created"),
        page.cumulative_chart(view, "resolved"),
        page.history_chart(view),
        *table,
    ]


def table_values(view: RedmineView, state: PageState, kpi: str) -> list[Any]:
    runtime = current_runtime()
    rows = window_rows(runtime.engine, runtime.settings, view, kpi)
    href = export_href("redmine", state, kpi, selector_key=page.SELECTOR_KEY)
    return [page.table_records(rows), page.table_caption(len(rows), kpi, view), href]


def register(app: dash.Dash) -> None:
    register_controls(
        app,
        prefix=page.PREFIX,
        path="/redmine",
        outputs=OUTPUTS,
        render=render,
        selector_key=page.SELECTOR_KEY,
        extra_inputs=[Input(TABLE_KPI, "value")],
    )

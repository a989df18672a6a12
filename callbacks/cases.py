"""/cases callbacks: one main callback (registered through callbacks.controls) turns the page state into the
window columns, open-now panel and charts, the table and its export link. Thin: reads and figures come from
views.cases; components from layouts.cases.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, no_update

from callbacks.controls import Trigger, register_controls
from layouts import cases as page
from runtime import current_runtime
from views.cases import build_cases_view, window_rows
from views.page_state import PageState, export_href

OUTPUTS = [
    Output(f"{page.PREFIX}-subtitle", "children"),
    Output(f"{page.PREFIX}-windows", "children"),
    Output(f"{page.PREFIX}-open", "children"),
    Output(f"{page.PREFIX}-open-a-title", "children"),
    Output(f"{page.PREFIX}-open-a", "figure"),
    Output(f"{page.PREFIX}-open-b-title", "children"),
    Output(f"{page.PREFIX}-open-b", "figure"),
    Output(f"{page.PREFIX}-cum-created", "figure"),
    Output(f"{page.PREFIX}-cum-resolved", "figure"),
    Output(f"{page.PREFIX}-history", "figure"),
    # The table's outputs come last: a change of the table's figure (worked on, created...) updates only them.
    Output(f"{page.PREFIX}-table", "rowData"),
    Output(f"{page.PREFIX}-table-caption", "children"),
    Output(f"{page.PREFIX}-export", "href"),
]
TABLE_OUTPUTS = 3
TABLE_KPI = f"{page.PREFIX}-table-kpi"


def render(state: PageState, trigger: Trigger) -> list[Any]:
    runtime = current_runtime()
    only_table = trigger.kind == "extra"
    view = build_cases_view(
        runtime.engine,
        runtime.settings,
        state.day,
        group=state.selector,
        window=state.window,
        today=state.today,
        charts=not only_table,
    )
    kpi = trigger.extras.get(TABLE_KPI) or "worked"
    table = table_values(view, state, kpi)
    if only_table:
        return [no_update] * (len(OUTPUTS) - TABLE_OUTPUTS) + table
    (title_a, figure_a), (title_b, figure_b) = page.open_charts(view)
    return [
        page.subtitle(view, state),
        page.window_columns(view, state),
        page.open_panel_content(view, state),
        title_a,
        figure_a,
        title_b,
        figure_b,
        page.cumulative_chart(view, "created"),
        page.cumulative_chart(view, "resolved"),
        page.history_chart(view),
        *table,
    ]


def table_values(view: Any, state: PageState, kpi: str) -> list[Any]:
    runtime = current_runtime()
    rows = window_rows(runtime.engine, runtime.settings, view, kpi)
    return [page.table_records(rows), page.table_caption(len(rows), kpi, view), export_href("cases", state, kpi)]


def register(app: dash.Dash) -> None:
    register_controls(
        app,
        prefix=page.PREFIX,
        path="/cases",
        outputs=OUTPUTS,
        render=render,
        selector_key="group",
        extra_inputs=[Input(TABLE_KPI, "value")],
    )

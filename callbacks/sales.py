"""/sales callbacks: the shared controls' one main callback (callbacks/controls.py) renders the whole page for
a date, window and group. One read of the span the day's week and month cover (view_models.sales), three windows
scored from it; charts and tables for the selected window.

Thin: parse the state (done by the controls), build the view (view_models/sales.py), turn it into components and
figures (layouts/sales.py, layouts/components.py).
"""

from __future__ import annotations

from typing import Any, cast

import dash
import pandas as pd
from dash import Output

from callbacks.controls import Trigger, register_controls
from callbacks.tracker_page import register_table
from layouts.components import COLORS, bar_figure, json_values, markdown_link
from layouts.sales import PREFIX, TABLE_KPI, all_groups_label, export_href, table_caption, window_column
from metrics.pace import expected_by
from metrics.windows import WINDOW_KINDS
from models.queries import data_version
from models.recent_rows import TableRequest
from view_models.page_state import PageState
from view_models.sales import SalesView, build_sales_page, call_table, change_table
from view_models.tracker_view import TableBlock, state_of_query, table_query
from web.cache import cached
from web.runtime import current_runtime

CHART_NAMES = ("calls", "demos", "stages", "pipeline")
EXPORT_SLOTS = {
    "calls": "calls",
    "demos": "stage_changes",
    "stages": "stage_changes",
    "pipeline": "pipeline",
    "changes-table": "stage_changes",
    "calls-table": "calls",
}


def page_outputs() -> dict[str, Output]:
    """The page's outputs of its main callback, by name (render_sales returns their values by the same names)."""
    return {
        "subtitle": Output(f"{PREFIX}-subtitle", "children"),
        "windows": Output(f"{PREFIX}-windows", "children"),
        **{f"{name}_chart": Output(f"{PREFIX}-{name}-chart", "figure") for name in CHART_NAMES},
        "changes_query": Output(f"{PREFIX}-changes-table-query", "data"),
        "changes_caption": Output(f"{PREFIX}-changes-caption", "children"),
        "calls_query": Output(f"{PREFIX}-calls-table-query", "data"),
        "calls_caption": Output(f"{PREFIX}-calls-caption", "children"),
        **{f"export_{slot}": Output(f"{PREFIX}-export-{slot}", "href") for slot in EXPORT_SLOTS},
    }


def register(app: dash.Dash) -> None:
    register_controls(app, prefix=PREFIX, path="/sales", outputs=page_outputs(), render=render_sales)
    register_table(app, f"{PREFIX}-changes-table", ("/sales", "changes"), change_block)
    register_table(app, f"{PREFIX}-calls-table", ("/sales", "calls"), call_block)


def render_sales(state: PageState, _trigger: Trigger) -> dict[str, Any]:
    """The page's values by output name, from the view cache when the same view was rendered at the same data
    version."""
    version = data_version(current_runtime().engine)
    return cached("sales-render", (state,), version, lambda: json_values(render_sales_uncached(state)))


def render_sales_uncached(state: PageState) -> dict[str, Any]:
    runtime = current_runtime()
    settings = runtime.settings
    # The tables' rows come a block at a time (register_table): the page reads none of them.
    views = build_sales_page(
        runtime.engine, settings, state.day, state.selector, state.window, 0, today=state.today, now=state.now
    )
    view = views[state.window]
    subtitle = f"{state.selector or all_groups_label(settings.kpi.sales)} · {view.window.label()}"
    label = view.window.label()
    day = views["day"]
    expected = expected_by(settings, day.window.first_day, day.goal.total, state.now)  # the pace, on the day's board
    columns = [
        window_column(
            kind, views[kind], selected=kind == state.window, state=state, expected=expected if kind == "day" else None
        )
        for kind in WINDOW_KINDS
    ]
    charts = chart_figures(view, state)
    return {
        "subtitle": subtitle,
        "windows": columns,
        **{f"{name}_chart": figure for name, figure in zip(CHART_NAMES, charts, strict=True)},
        "changes_query": table_query(runtime.engine, state, TABLE_KPI),
        "changes_caption": table_caption("stage changes", label),
        "calls_query": table_query(runtime.engine, state, TABLE_KPI),
        "calls_caption": table_caption("calls", label),
        **{f"export_{slot}": export_href(state, kpi) for slot, kpi in EXPORT_SLOTS.items()},
    }


# --- charts -------------------------------------------------------------------------------------------------------


def chart_figures(view: SalesView, state: PageState) -> list[Any]:
    """Calls per person, demos per qualifier, deals per stage, open pipeline per owner: people sorted largest
    first, stages in pipeline order, labels taken from the same rows as the values (the old page sorted the values
    only). Bars of people are neutral (layouts/palette.py); the pipeline is in kpi.toml's sales.currency."""
    revision = f"sales-{state.selector}-{state.window}"
    calls = view.calls_per_person()
    if view.rules.call_statuses:
        call_series = {"Scores": list(calls["counted"]), "Does not score": list(calls["calls"] - calls["counted"])}
    else:
        call_series = {"Calls": list(calls["calls"])}
    demos = view.demos_per_qualifier()
    stages = view.deals_per_stage()
    pipeline = view.pipeline
    per_person = {"Scores": COLORS["neutral"], "Does not score": COLORS["rejected"], "Calls": COLORS["neutral"]}
    return [
        bar_figure(
            list(calls["person"]),
            call_series,
            uirevision=f"{revision}-calls",
            horizontal=True,
            stacked=True,
            colors=per_person,
            empty="No calls in this window",
        ),
        bar_figure(
            list(demos["qualifier"]),
            {"Demos scheduled": list(demos["demos"])},
            uirevision=f"{revision}-demos",
            horizontal=True,
            colors={"Demos scheduled": COLORS["neutral"]},
            empty="No demos scheduled in this window" if view.rules.demo_stage else "sales.demo_stage is empty",
        ),
        bar_figure(
            list(stages["stage"]),
            {"Deals": list(stages["deals"])},
            uirevision=f"{revision}-stages",
            horizontal=True,
            colors={"Deals": COLORS["neutral"]},
            empty="No deal changed stage in this window",
        ),
        bar_figure(
            list(pipeline["owner"]),
            {"Open amount": [round(amount, 2) for amount in pipeline["amount"]]},
            uirevision=f"sales-{state.selector}-pipeline",
            horizontal=True,
            colors={"Open amount": COLORS["neutral"]},
            empty="No open deals",
            currency=view.rules.currency,
        ),
    ]


# --- tables -------------------------------------------------------------------------------------------------------


def change_block(request: TableRequest, query: dict[str, Any]) -> tuple[list[dict[str, Any]], TableBlock]:
    """The block of the stage changes table the grid asked for."""
    runtime = current_runtime()
    state, _ = state_of_query(query, [TABLE_KPI])
    block = change_table(runtime.engine, runtime.settings, state.day, state.window, state.selector, request)
    rows = block.rows
    rows = rows.assign(
        deal=[
            markdown_link(str(no or deal_id), link)
            for no, deal_id, link in zip(rows["deal_no"], rows["deal_id"], rows["link"], strict=True)
        ],
        row_id=rows["deal_id"] + "|" + rows["stage"] + "|" + rows["changed_at_utc"],
    )
    return _records(rows), block


def call_block(request: TableRequest, query: dict[str, Any]) -> tuple[list[dict[str, Any]], TableBlock]:
    """The block of the calls table the grid asked for."""
    runtime = current_runtime()
    state, _ = state_of_query(query, [TABLE_KPI])
    block = call_table(runtime.engine, runtime.settings, state.day, state.window, state.selector, request)
    rows = block.rows
    rows = rows.assign(
        call=[markdown_link(call_id, link) for call_id, link in zip(rows["call_id"], rows["link"], strict=True)],
        recording=[markdown_link("listen", url) if url else "" for url in rows["recording_url"]],
        row_id=rows["call_id"],
    )
    return _records(rows), block


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN and NaT as None)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return cast(list[dict[str, Any]], records)  # pandas types the keys Hashable; these frames name columns by str

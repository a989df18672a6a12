"""The main callback of the two tracker pages, /cases and /redmine (registered through callbacks.controls): it
turns the page state into the subtitle, the window columns, the page's own panels, the monthly charts and the
table's view (`<table>-query`: what its rows are) with its caption and export link. A change of the table's figure
(worked on, created...) re-renders only the table.

The table's rows come in blocks (`register_table`): the grid asks (getRowsRequest: rows, sort, filter), a
callback answers from SQL over all the rows of the view (getRowsResponse) with the row count beside the table;
when the view or the data changes, the browser (assets/tables.js) makes the grid ask again.

callbacks/cases.py and callbacks/redmine.py each describe their page in a `TrackerCallbacks`: how to build its
view, and its own outputs and their values. Thin: reads and figures come from view_models/, components from
layouts.tracker_page and the page's layout module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from callbacks.controls import Trigger, register_controls
from layouts import tracker_page
from layouts.components import json_values, row_count
from layouts.tracker_page import TrackerPage
from models.queries import data_version
from models.recent_rows import GridRequestError, TableRequest
from settings import Settings
from view_models.page_state import PageState, export_href
from view_models.tracker_view import TableBlock, TrackerView, state_of_query, table_query
from web.cache import cached
from web.runtime import current_runtime

# Rows the browser's table gets per request (components.TABLE_BLOCK): a month of a big help desk is tens of
# thousands of rows, megabytes of JSON per date click; the grid asks for the next block as the user scrolls.
TABLE_ROW_LIMIT = 100
# (request, view) -> the block's rows for the grid and the row-count text
Answer = Callable[[TableRequest, dict[str, Any]], tuple[list[dict[str, Any]], TableBlock]]


def view_options(state: PageState) -> dict[str, Any]:
    """The view builders' keyword arguments a page state gives besides the date and the selector."""
    return {"window": state.window, "today": state.today, "now": state.now}


@dataclass(frozen=True)
class TrackerCallbacks:
    page: TrackerPage
    path: str
    own_outputs: Mapping[str, Output]  # the page's own panels by name
    own_values: Callable[[Any, PageState], dict[str, Any]]  # (view, state) -> the values of `own_outputs` by name
    build_view: Callable[[Engine, Settings, PageState, bool], TrackerView]  # (..., charts) -> the page's view
    # (engine, settings, view, kpi, request) -> the block of the table the grid asked for
    window_table: Callable[[Engine, Settings, Any, str, TableRequest], TableBlock]

    @property
    def outputs(self) -> dict[str, Output]:
        page = self.page
        return {
            "subtitle": Output(page.id("subtitle"), "children"),
            "windows": Output(page.id("windows"), "children"),
            **self.own_outputs,
            "cum_created": Output(page.id("cum-created"), "figure"),
            "cum_resolved": Output(page.id("cum-resolved"), "figure"),
            "history": Output(page.id("history"), "figure"),
            "table_query": Output(page.id("table-query"), "data"),
            "table_caption": Output(page.id("table-caption"), "children"),
            "export": Output(page.id("export"), "href"),
        }

    def render(self, state: PageState, trigger: Trigger) -> dict[str, Any]:
        """The page's values by output name, from the view cache when the same view was rendered at the same data
        version (a refresh tick with no new data, a second viewer of the same view, back/forward)."""
        only_table = trigger.kind == "extra"
        kpi = trigger.extras.get(self.page.id("table-kpi")) or self.page.default_kpi
        version = data_version(current_runtime().engine)
        build = partial(self.render_uncached, state, kpi, only_table)
        return cached(f"{self.path}-render", (state, kpi, only_table), version, lambda: json_values(build()))

    def render_uncached(self, state: PageState, kpi: str, only_table: bool) -> dict[str, Any]:
        page, runtime = self.page, current_runtime()
        view = self.build_view(runtime.engine, runtime.settings, state, not only_table)
        table = self.table_values(view, state, kpi)
        if only_table:
            return {**dict.fromkeys(self.outputs, no_update), **table}
        return {
            "subtitle": tracker_page.subtitle(page, view, state),
            "windows": tracker_page.window_columns(page, view, state),
            **self.own_values(view, state),
            "cum_created": tracker_page.cumulative_chart(page, view, "created"),
            "cum_resolved": tracker_page.cumulative_chart(page, view, "resolved"),
            "history": tracker_page.history_chart(page, view),
            **table,
        }

    def table_values(self, view: TrackerView, state: PageState, kpi: str) -> dict[str, Any]:
        page = self.page
        href = export_href(page.prefix, state, kpi, selector_key=page.selector_key)
        return {
            "table_query": table_query(current_runtime().engine, state, kpi),
            "table_caption": tracker_page.table_caption(page, kpi, view),
            "export": href,
        }

    def table_block(self, request: TableRequest, query: dict[str, Any]) -> tuple[list[dict[str, Any]], TableBlock]:
        """The block of rows the grid asked for, of the view `query` names (table_query)."""
        runtime = current_runtime()
        state, kpi = state_of_query(query, [option["value"] for option in self.page.table_kpis])
        view = self.build_view(runtime.engine, runtime.settings, state, False)
        block = self.window_table(runtime.engine, runtime.settings, view, kpi, request)
        return self.page.records(block.rows), block

    def register(self, app: dash.Dash) -> None:
        register_controls(
            app,
            prefix=self.page.prefix,
            path=self.path,
            outputs=self.outputs,
            render=self.render,
            selector_key=self.page.selector_key,
            extra_inputs=[Input(self.page.id("table-kpi"), "value")],
        )
        register_table(app, self.page.id("table"), (self.path, "rows"), self.table_block)


def register_table(app: dash.Dash, table_id: str, cache_key: Any, answer: Answer) -> None:
    """Answer the grid `table_id`'s requests for rows (its view in `<table_id>-query`), with the row count in
    `<table_id>-count`; and make it ask again whenever that view changes."""
    app.clientside_callback(
        ClientsideFunction(namespace="kpiTables", function_name="reload"),
        Output(f"{table_id}-reload", "data"),
        Input(f"{table_id}-query", "data"),
        State(table_id, "id"),
    )

    @app.callback(
        Output(table_id, "getRowsResponse"),
        Output(f"{table_id}-count", "children"),
        Input(table_id, "getRowsRequest"),
        State(f"{table_id}-query", "data"),
    )
    def answer_rows(request: dict[str, Any] | None, query: dict[str, Any] | None) -> tuple[Any, str]:
        if not isinstance(request, dict) or not isinstance(query, dict):
            raise PreventUpdate  # the first call, before the grid asks (the layout holds the first view)
        try:
            wanted = TableRequest.from_grid(request, max_rows=TABLE_ROW_LIMIT * 10)
            key = (*cache_key, json.dumps(query, sort_keys=True), wanted)
            version = data_version(current_runtime().engine)
            rows, block = cached("table-block", key, version, lambda: answer(wanted, query))
        except (GridRequestError, ValueError):
            return {"rowData": [], "rowCount": 0}, "This sort or filter is not available"
        return {"rowData": rows, "rowCount": block.matching}, row_count(block.matching, block.total)

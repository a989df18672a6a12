"""The main callback of the two tracker pages, /cases and /redmine (registered through callbacks.controls): it
turns the page state into the subtitle, the window columns, the page's own panels, the monthly charts and the
table with its export link. A change of the table's figure (worked on, created...) re-renders only the table.

callbacks/cases.py and callbacks/redmine.py each describe their page in a `TrackerCallbacks`: how to build its
view, and its own outputs and their values. Thin: reads and figures come from views/, components from
layouts.tracker_page and the page's layout module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, no_update
from sqlalchemy import Engine

from callbacks.controls import Trigger, register_controls
from layouts import tracker_page
from layouts.components import json_ready
from layouts.tracker_page import TrackerPage
from runtime import current_runtime
from settings import Settings
from views.cache import CACHES, cached
from views.page_state import PageState, export_href
from views.tracker_view import TrackerView

TABLE_OUTPUTS = 3  # the table's outputs come last, so a change of its figure updates only them
# Rows sent to the browser's table: a month of a big help desk is tens of thousands of rows (megabytes of JSON per
# date click); the most recent ones are what people read, and the CSV export next to the table has them all. One
# full grid page (its largest page size): more rows cost every date click time and a phone's data, and are read
# from the CSV anyway.
TABLE_ROW_LIMIT = 100


def view_options(state: PageState) -> dict[str, Any]:
    """The view builders' keyword arguments a page state gives besides the date and the selector."""
    return {"window": state.window, "today": state.today, "now": state.now}


@dataclass(frozen=True)
class TrackerCallbacks:
    page: TrackerPage
    path: str
    own_outputs: Sequence[Output]  # the page's own panels, after the subtitle and the window columns
    own_values: Callable[[Any, PageState], list[Any]]  # (view, state) -> the values of `own_outputs`
    build_view: Callable[[Engine, Settings, PageState, bool], TrackerView]  # (..., charts) -> the page's view
    # (engine, settings, view, kpi, limit) -> the table's first `limit` rows and how many there are in all
    window_table: Callable[[Engine, Settings, Any, str, int], tuple[pd.DataFrame, int]]

    @property
    def outputs(self) -> list[Output]:
        page = self.page
        return [
            Output(page.id("subtitle"), "children"),
            Output(page.id("windows"), "children"),
            *self.own_outputs,
            Output(page.id("cum-created"), "figure"),
            Output(page.id("cum-resolved"), "figure"),
            Output(page.id("history"), "figure"),
            Output(page.id("table"), "rowData"),
            Output(page.id("table-caption"), "children"),
            Output(page.id("export"), "href"),
        ]

    def render(self, state: PageState, trigger: Trigger) -> list[Any]:
        """The page's values, from the view cache when the same view was rendered at the same data version (a
        refresh tick with no new data, a second viewer of the same view, back/forward)."""
        only_table = trigger.kind == "extra"
        kpi = trigger.extras.get(self.page.id("table-kpi")) or self.page.default_kpi
        key = (self.path, "render", state, kpi, only_table)
        return cached(current_runtime().engine, key, lambda: json_ready(self.render_uncached(state, kpi, only_table)))

    def render_uncached(self, state: PageState, kpi: str, only_table: bool) -> list[Any]:
        page, runtime = self.page, current_runtime()
        view = self.build_view(runtime.engine, runtime.settings, state, not only_table)
        table = self.table_values(view, state, kpi)
        if only_table:
            return [no_update] * (len(self.outputs) - TABLE_OUTPUTS) + table
        return [
            tracker_page.subtitle(page, view, state),
            tracker_page.window_columns(page, view, state),
            *self.own_values(view, state),
            tracker_page.cumulative_chart(page, view, "created"),
            tracker_page.cumulative_chart(page, view, "resolved"),
            tracker_page.history_chart(page, view),
            *table,
        ]

    def table_values(self, view: TrackerView, state: PageState, kpi: str) -> list[Any]:
        page, runtime = self.page, current_runtime()
        rows, total = self.window_table(runtime.engine, runtime.settings, view, kpi, TABLE_ROW_LIMIT)
        href = export_href(page.prefix, state, kpi, selector_key=page.selector_key)
        return [page.records(rows), tracker_page.table_caption(page, total, kpi, view, shown=len(rows)), href]

    def register(self, app: dash.Dash) -> None:
        # The benchmark clears it before a cold call (runtime.extras["cache"]).
        app.server.extensions["kpi"].extras.setdefault("cache", CACHES)
        register_controls(
            app,
            prefix=self.page.prefix,
            path=self.path,
            outputs=self.outputs,
            render=self.render,
            selector_key=self.page.selector_key,
            extra_inputs=[Input(self.page.id("table-kpi"), "value")],
        )

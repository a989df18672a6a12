"""/cases: window columns (day, week, month: created, resolved, worked on, kill rate, each against the previous
window, and the resolved leaderboard), open cases now, the cases behind the numbers (ag-grid) and the monthly
charts. The group selector applies to everything.

`layout(query)` builds the frame with the controls set from the URL; callbacks/cases.py fills the rest (one
callback per change). What /cases shares with /redmine is built by layouts/tracker_page.py from `PAGE`; this
module keeps the open-now panel and charts and the case table's columns and rows, which take a
`view_models.cases.CasesView`. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from layouts import tracker_page
from layouts.components import (
    column,
    defined_title,
    format_number,
    graph,
    leaderboard,
    markdown_link,
    records_of,
    section,
)
from layouts.tracker_page import TrackerPage, WindowCard
from view_models.cases import CasesView
from view_models.page_state import PageState, export_href

PREFIX = "cases"


def layout(query: Mapping[str, str]) -> html.Div:
    from view_models.cases import group_choices
    from web.runtime import current_runtime

    panels = [
        tracker_page.window_row(PAGE),
        html.Div(
            [
                section(
                    defined_title("Open now", "cases.open", f"{PREFIX}-open"),
                    html.Div(id=f"{PREFIX}-open"),
                    section_id=f"{PREFIX}-open-panel",
                ),
                section(
                    html.Span(id=f"{PREFIX}-open-a-title"),
                    graph(f"{PREFIX}-open-a", height=300),
                    section_id=f"{PREFIX}-open-a-panel",
                ),
                section(
                    html.Span(id=f"{PREFIX}-open-b-title"),
                    graph(f"{PREFIX}-open-b", height=300),
                    section_id=f"{PREFIX}-open-b-panel",
                ),
            ],
            className="charts-3 chart-row",
        ),
    ]
    return tracker_page.page_layout(PAGE, query, group_choices(current_runtime().engine), panels)


def case_columns() -> list[dict]:
    return [
        column("case", "Case", kind="link", pinned="left"),
        column("in_window", "In window", server_side=False),
        column("title", "Title", minWidth=240),
        column("status", "Status"),
        column("group", "Group"),
        column("assignee", "Assigned to"),
        column("modified_by", "Modified by"),
        column("created", "Created", kind="datetime"),
        column("modified", "Modified", kind="datetime"),
        column("resolved", "Resolved", kind="datetime"),
        column("time_spent_hours", "Hours", kind="number"),
    ]


def table_records(rows: Any) -> list[dict]:
    """ag-grid rows: the case number as a link to VTiger when record links are configured."""
    records = records_of(rows)
    for record in records:
        record["case"] = markdown_link(record["case_no"] or str(record["id"]), record.pop("link", ""))
        spent = record.get("time_spent_hours")
        record["time_spent_hours"] = None if spent is None or spent != spent else round(float(spent), 1)
    return records


PAGE = TrackerPage(
    prefix=PREFIX,
    title="Cases",
    selector_key="group",
    all_label="All groups",
    noun="cases",
    cards=(
        WindowCard("Created", "created"),
        WindowCard("Resolved", "resolved", good_when="up"),
        WindowCard("Worked on", "worked", good_when="up"),
        WindowCard("Kill rate", "kill_rate", good_when="up", percent=True, rows=False),
    ),
    leaderboard_title="Resolved per person",
    leaderboard_empty="No case resolved in this window",
    table_kpis=(
        {"label": "Worked on", "value": "worked"},
        {"label": "Created", "value": "created"},
        {"label": "Resolved", "value": "resolved"},
        {"label": "Open now", "value": "open"},
    ),
    other_rows="worked on",
    columns=case_columns,
    records=table_records,
)


# --- the open-now panel and charts (the callback fills them) -----------------------------------------------------


def open_panel_content(view: CasesView, state: PageState) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Div(format_number(view.open_total), className="kpi-value", id=f"{PREFIX}-open-total"),
                    html.Span("open cases", className="section-subtitle"),
                ],
                className="open-total",
            ),
            html.Div(
                html.A(
                    "rows ↓",
                    href=export_href("cases", state, "open"),
                    className="kpi-rows",
                    title="Download the open cases",
                ),
                className="kpi-footer mb-2",
            ),
            leaderboard(
                view.open_by_assignee,
                title="Open per person",
                empty="No open cases",
                board_id=f"{PREFIX}-open-leaderboard",
                max_entries=8,
                ranked=False,  # a workload, not a competition
            ),
        ]
    )


def open_charts(view: CasesView) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """(title, figure) for the two open-now charts: per group and per status for all groups, per assignee and
    per status for one group."""
    revision = f"{PREFIX}-open-{view.group}"
    if view.group:
        first = ("Open per person", tracker_page.open_bars(PAGE, view.open_by_assignee, f"{revision}-a"))
    else:
        first = ("Open per group", tracker_page.open_bars(PAGE, view.open_by_group, f"{revision}-a"))
    second = ("Open per status", tracker_page.open_bars(PAGE, view.open_by_status, f"{revision}-b"))
    return first, second

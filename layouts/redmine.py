"""/redmine: open / closed / rejected now, window columns (created, closed, updated, kill rate against the
previous window, and closed per person), open issues per status, project and person, the issues behind the
numbers (ag-grid, ids linking to Redmine) and the monthly charts. The project selector applies to everything.

`layout(query)` builds the frame; callbacks/redmine.py fills it. What /redmine shares with /cases is built by
layouts/tracker_page.py from `PAGE`; this module keeps the totals and the open-now charts and the issue table's
columns and rows, which take a `view_models.redmine.RedmineView`. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from layouts import tracker_page
from layouts.components import (
    COLORS,
    bar_figure,
    column,
    defined_title,
    graph,
    kpi_card,
    markdown_link,
    records_of,
    section,
)
from layouts.tracker_page import TrackerPage, WindowCard
from view_models.page_state import PageState, export_href
from view_models.redmine import RedmineView

PREFIX = "redmine"
SELECTOR_KEY = "project"


def layout(query: Mapping[str, str]) -> html.Div:
    from view_models.redmine import project_choices
    from web.runtime import current_runtime

    panels = [
        html.Div(id=f"{PREFIX}-totals", className="panel"),
        tracker_page.window_row(PAGE),
        html.Div(
            [
                section(
                    defined_title("Open per status", "redmine.open_breakdown", f"{PREFIX}-open-status"),
                    graph(f"{PREFIX}-open-status", height=300),
                ),
                section(
                    html.Span(id=f"{PREFIX}-open-b-title"),
                    graph(f"{PREFIX}-open-b", height=300),
                ),
                section(
                    defined_title("Open per person", "redmine.open_breakdown", f"{PREFIX}-open-person"),
                    graph(f"{PREFIX}-open-person", height=300),
                ),
            ],
            className="charts-3 chart-row",
        ),
    ]
    return tracker_page.page_layout(PAGE, query, project_choices(current_runtime().engine), panels)


def issue_columns() -> list[dict]:
    return [
        column("issue", "#", kind="link", pinned="left"),
        column("in_window", "In window", server_side=False),
        column("subject", "Subject", minWidth=240),
        column("project", "Project"),
        column("status", "Status"),
        column("state", "State"),
        column("assignee", "Assigned to"),
        column("author", "Author"),
        column("created", "Created", kind="datetime"),
        column("updated", "Updated", kind="datetime"),
        column("closed", "Closed", kind="datetime"),
    ]


def table_records(rows: Any) -> list[dict]:
    """ag-grid rows: the issue id links to Redmine."""
    records = records_of(rows)
    for record in records:
        record["issue"] = markdown_link(str(record["issue_id"]), record.pop("link", ""))
    return records


PAGE = TrackerPage(
    prefix=PREFIX,
    title="Redmine",
    selector_key=SELECTOR_KEY,
    all_label="All projects",
    noun="issues",
    cards=(
        WindowCard("Created", "created"),
        WindowCard("Closed", "resolved", good_when="up"),
        WindowCard("Updated", "updated"),
        WindowCard("Kill rate", "kill_rate", good_when="up", percent=True, rows=False),
    ),
    leaderboard_title="Closed per person",
    leaderboard_empty="No issue closed in this window",
    table_kpis=(
        {"label": "All activity", "value": "activity"},
        {"label": "Created", "value": "created"},
        {"label": "Updated", "value": "updated"},
        {"label": "Closed", "value": "resolved"},
        {"label": "Open now", "value": "open"},
    ),
    other_rows="updated",
    columns=issue_columns,
    records=table_records,
    done="closed",  # Redmine's own word (is_closed): cards, boards, table and charts say the same
)


# --- the totals and open-now charts (the callback fills them) ----------------------------------------------------


def totals_content(view: RedmineView, state: PageState) -> html.Div:
    totals = view.totals
    return html.Div(
        [
            kpi_card("All issues", totals.total, compare=False, card_id=f"{PREFIX}-total-all", kpi="redmine.total"),
            kpi_card(
                "Open now",
                totals.open,
                compare=False,
                card_id=f"{PREFIX}-total-open",
                export_href=export_href("redmine", state, "open", selector_key=SELECTOR_KEY),
                kpi="redmine.open_total",
            ),
            kpi_card(
                "Closed now",
                totals.closed,
                compare=False,
                card_id=f"{PREFIX}-total-closed",
                kpi="redmine.closed_total",
            ),
            kpi_card(
                "Rejected",
                totals.rejected,
                compare=False,
                card_id=f"{PREFIX}-total-rejected",
                kpi="redmine.rejected_total",
            ),
        ],
        className="totals",
    )


def open_charts(view: RedmineView) -> tuple[Any, str, Any, Any]:
    """(per status, middle title, middle figure, per person). The middle chart is open per project for all
    projects; with one project chosen it shows that project's open / closed / rejected totals instead."""
    revision = f"{PREFIX}-open-{view.project}"
    status = tracker_page.open_bars(PAGE, view.open_by_status, f"{revision}-status")
    person = tracker_page.open_bars(PAGE, view.open_by_assignee, f"{revision}-person")
    if view.project:
        return status, f"Open in {view.project}", _open_total_figure(view, f"{revision}-b"), person
    return status, "Open per project", tracker_page.open_bars(PAGE, view.open_by_project, f"{revision}-b"), person


def _open_total_figure(view: RedmineView, revision: str) -> Any:
    totals = view.totals
    figure = bar_figure(
        ["Open", "Closed", "Rejected"],
        {"Issues": [totals.open, totals.closed, totals.rejected]},
        uirevision=revision,
        empty="No issues in this project",
    )
    for trace in figure["data"]:  # each bar in the colour of its state
        trace["marker"]["color"] = [COLORS["open"], COLORS["resolved"], COLORS["rejected"]]
    return figure

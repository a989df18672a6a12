"""/redmine: open / closed / rejected now, window columns (created, resolved, updated, kill rate against the
previous window, and closed per person), open issues per status, project and person, the issues behind the
numbers (ag-grid, ids linking to Redmine) and the monthly charts. The project selector applies to everything.

`layout(query)` builds the frame; callbacks/redmine.py fills it. The builders take a
`views.redmine.RedmineView`, so the TV can reuse them. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from layouts.components import (
    COLORS,
    bar_figure,
    button_choice,
    column,
    cumulative_figure,
    data_table,
    export_link,
    format_number,
    graph,
    history_figure,
    kpi_card,
    leaderboard,
    markdown_link,
    row_legend,
    section,
    window_panel,
)
from layouts.controls import control_bar, current_now, current_timing, page_header
from views.page_state import PageState, export_href, local_today, parse_page_query
from views.redmine import RedmineView

PREFIX = "redmine"
SELECTOR_KEY = "project"
WINDOW_TITLES = {"day": "Day", "week": "Week", "month": "Month"}
PREVIOUS_LABEL = {"day": "the day before", "week": "the week before", "month": "the month before"}
TABLE_KPIS = [
    {"label": "All activity", "value": "activity"},
    {"label": "Created", "value": "created"},
    {"label": "Updated", "value": "updated"},
    {"label": "Resolved", "value": "resolved"},
    {"label": "Open now", "value": "open"},
]
ROW_CLASSES = {
    "row-resolved": "params.data.in_window === 'Resolved'",
    "row-created": "params.data.in_window === 'Created'",
}


def layout(query: Mapping[str, str]) -> html.Div:
    from runtime import current_runtime
    from views.redmine import project_choices

    runtime = current_runtime()
    projects = project_choices(runtime.engine)
    today = local_today(runtime.settings.timezone, current_now())
    state = parse_page_query(query, today, projects, selector_key=SELECTOR_KEY)
    return html.Div(
        [
            page_header("Redmine", f"{PREFIX}-subtitle"),
            control_bar(PREFIX, state, projects, all_label="All projects", timing=current_timing()),
            html.Div(id=f"{PREFIX}-totals", className="panel"),
            html.Div(id=f"{PREFIX}-windows", className="windows"),
            html.Div(
                [
                    section("Open per status", graph(f"{PREFIX}-open-status", height=300)),
                    section(
                        html.Span(id=f"{PREFIX}-open-b-title"),
                        graph(f"{PREFIX}-open-b", height=300),
                    ),
                    section("Open per person", graph(f"{PREFIX}-open-person", height=300)),
                ],
                className="charts-3 chart-row",
            ),
            table_panel(),
            html.Div(
                [
                    section(
                        "Created per day, cumulative",
                        graph(f"{PREFIX}-cum-created"),
                        subtitle="This month against the three before it",
                    ),
                    section(
                        "Resolved per day, cumulative",
                        graph(f"{PREFIX}-cum-resolved"),
                        subtitle="This month against the three before it",
                    ),
                ],
                className="charts-2 chart-row",
            ),
            section("Created and resolved per month", graph(f"{PREFIX}-history", height=340), subtitle="All history"),
        ],
        id=f"{PREFIX}-page",
    )


def table_panel() -> html.Div:
    legend = row_legend([("#ecfdf3", "resolved in window"), ("#eff6ff", "created in window"), ("#ffffff", "updated")])
    return section(
        "Issues behind the numbers",
        [
            html.Div(id=f"{PREFIX}-table-caption", className="section-subtitle mb-1"),
            legend,
            html.Div(data_table(f"{PREFIX}-table", issue_columns(), [], row_class_rules=ROW_CLASSES)),
        ],
        actions=[
            button_choice(f"{PREFIX}-table-kpi", TABLE_KPIS, "activity"),
            export_link("#", link_id=f"{PREFIX}-export"),
        ],
        section_id=f"{PREFIX}-table-panel",
    )


def issue_columns() -> list[dict]:
    return [
        column("issue", "#", kind="link", minWidth=90, pinned="left"),
        column("in_window", "In window", minWidth=115),
        column("subject", "Subject", minWidth=240, flex=2),
        column("project", "Project", minWidth=125),
        column("status", "Status", minWidth=120),
        column("state", "State", minWidth=100),
        column("assignee", "Assigned to", minWidth=130),
        column("author", "Author", minWidth=120),
        column("created", "Created", kind="datetime"),
        column("updated", "Updated", kind="datetime"),
        column("closed", "Closed", kind="datetime"),
    ]


# --- builders the callback (and the TV) use -------------------------------------------------------------------


def subtitle(view: RedmineView, state: PageState) -> str:
    when = "Today" if state.follow_today else view.day.strftime("%A %d %B %Y")
    return f"{view.project or 'All projects'} · {when}"


def totals_content(view: RedmineView, state: PageState) -> html.Div:
    totals = view.totals
    return html.Div(
        [
            kpi_card("All issues", totals.total, compare=False, card_id=f"{PREFIX}-total-all"),
            kpi_card(
                "Open",
                totals.open,
                compare=False,
                card_id=f"{PREFIX}-total-open",
                tone="open",
                export_href=export_href("redmine", state, "open", selector_key=SELECTOR_KEY),
            ),
            kpi_card("Closed", totals.closed, compare=False, card_id=f"{PREFIX}-total-closed", tone="resolved"),
            kpi_card("Rejected", totals.rejected, compare=False, card_id=f"{PREFIX}-total-rejected"),
        ],
        className="totals",
    )


def window_columns(view: RedmineView, state: PageState) -> list[html.Div]:
    columns = []
    for kind, block in view.windows.items():
        figures, before = block.figures, block.previous_figures

        def href(kpi: str, kind: str = kind) -> str:
            return export_href("redmine", state, kpi, window=kind, selector_key=SELECTOR_KEY)

        cards = [
            kpi_card(
                "Created",
                figures.created,
                previous=before.created,
                previous_label=PREVIOUS_LABEL[kind],
                export_href=href("created"),
                card_id=f"{PREFIX}-{kind}-created",
                tone="created",
            ),
            kpi_card(
                "Resolved",
                figures.resolved,
                previous=before.resolved,
                previous_label=PREVIOUS_LABEL[kind],
                export_href=href("resolved"),
                card_id=f"{PREFIX}-{kind}-resolved",
                tone="resolved",
                good_when="up",
            ),
            kpi_card(
                "Updated",
                figures.updated,
                previous=before.updated,
                previous_label=PREVIOUS_LABEL[kind],
                export_href=href("updated"),
                card_id=f"{PREFIX}-{kind}-updated",
                tone="worked",
            ),
            kpi_card(
                "Kill rate",
                figures.kill_rate,
                previous=before.kill_rate,
                previous_label=PREVIOUS_LABEL[kind],
                percent=True,
                card_id=f"{PREFIX}-{kind}-kill-rate",
                tone="rate",
                good_when="up",
            ),
        ]
        board = leaderboard(
            block.leaderboard,
            title="Closed per person",
            empty="No issue closed in this window",
            board_id=f"{PREFIX}-{kind}-leaderboard",
        )
        columns.append(
            window_panel(
                WINDOW_TITLES[kind],
                block.window.label(),
                cards,
                board,
                selected=kind == state.window,
                panel_id=f"{PREFIX}-window-{kind}",
            )
        )
    return columns


def open_charts(view: RedmineView) -> tuple[Any, str, Any, Any]:
    """(per status, middle title, middle figure, per person). The middle chart is open per project for all
    projects; with one project chosen it shows that project's open / closed / rejected totals instead."""
    revision = f"{PREFIX}-open-{view.project}"
    status = _open_bars(view.open_by_status, f"{revision}-status")
    person = _open_bars(view.open_by_assignee, f"{revision}-person")
    if view.project:
        return status, f"Open in {view.project}", _open_total_figure(view, f"{revision}-b"), person
    return status, "Open per project", _open_bars(view.open_by_project, f"{revision}-b"), person


def _open_total_figure(view: RedmineView, revision: str) -> Any:
    totals = view.totals
    return bar_figure(
        ["Open", "Closed", "Rejected"],
        {"Issues": [totals.open, totals.closed, totals.rejected]},
        uirevision=revision,
        colors={"Issues": COLORS["open"]},
        empty="No issues in this project",
    )


def _open_bars(entries: list[tuple[str, int]], revision: str) -> Any:
    top = entries[:15]
    return bar_figure(
        [name for name, _ in top],
        {"Open": [count for _, count in top]},
        uirevision=revision,
        horizontal=True,
        colors={"Open": COLORS["open"]},
        empty="No open issues",
    )


def cumulative_chart(view: RedmineView, name: str) -> Any:
    return cumulative_figure(
        view.cumulative.get(name),
        uirevision=f"{PREFIX}-cum-{name}-{view.project}-{view.day:%Y-%m}",
        empty=f"Nothing {name} in these four months",
    )


def history_chart(view: RedmineView) -> Any:
    return history_figure(view.history, uirevision=f"{PREFIX}-history-{view.project}", empty="No issues yet")


def table_records(rows: Any) -> list[dict]:
    """ag-grid rows: the issue id links to Redmine."""
    records = rows.to_dict("records")
    for record in records:
        record["issue"] = markdown_link(str(record["issue_id"]), record.pop("link", ""))
    return records


def table_caption(count: int, kpi: str, view: RedmineView) -> str:
    label = next(option["label"] for option in TABLE_KPIS if option["value"] == kpi)
    if kpi == "open":
        return f"{format_number(count)} open issues now"
    return f"{format_number(count)} issues · {label.lower()} · {view.selected_window.window.label()}"

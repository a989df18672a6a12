"""/cases: window columns (day, week, month: created, resolved, worked on, kill rate, each against the previous
window, and the resolved leaderboard), open cases now, the cases behind the numbers (ag-grid) and the monthly
charts. The group selector applies to everything.

`layout(query)` builds the frame with the controls set from the URL; callbacks/cases.py fills the rest (one
callback per change). The builders below (`window_columns`, `open_panel_content`, ...) take a
`views.cases.CasesView` and return components, so the TV can reuse them. Must not import callbacks/ or sync/.
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
from views.cases import CasesView
from views.page_state import PageState, export_href, local_today, parse_page_query

PREFIX = "cases"
WINDOW_TITLES = {"day": "Day", "week": "Week", "month": "Month"}
PREVIOUS_LABEL = {"day": "the day before", "week": "the week before", "month": "the month before"}
TABLE_KPIS = [
    {"label": "Worked on", "value": "worked"},
    {"label": "Created", "value": "created"},
    {"label": "Resolved", "value": "resolved"},
    {"label": "Open now", "value": "open"},
]
ROW_CLASSES = {
    "row-resolved": "params.data.in_window === 'Resolved'",
    "row-created": "params.data.in_window === 'Created'",
}


def layout(query: Mapping[str, str]) -> html.Div:
    from runtime import current_runtime
    from views.cases import group_choices

    runtime = current_runtime()
    groups = group_choices(runtime.engine)
    today = local_today(runtime.settings.timezone, current_now())
    state = parse_page_query(query, today, groups)
    return html.Div(
        [
            page_header("Cases", f"{PREFIX}-subtitle"),
            control_bar(PREFIX, state, groups, all_label="All groups", timing=current_timing()),
            html.Div(id=f"{PREFIX}-windows", className="windows"),
            html.Div(
                [
                    section("Open now", html.Div(id=f"{PREFIX}-open"), section_id=f"{PREFIX}-open-panel"),
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
    """The cases behind the numbers: which figure (worked on, created, resolved, open) for the window."""
    legend = row_legend([("#ecfdf3", "resolved in window"), ("#eff6ff", "created in window"), ("#ffffff", "worked on")])
    return section(
        "Cases behind the numbers",
        [
            html.Div(id=f"{PREFIX}-table-caption", className="section-subtitle mb-1"),
            legend,
            html.Div(data_table(f"{PREFIX}-table", case_columns(), [], row_class_rules=ROW_CLASSES)),
        ],
        actions=[
            button_choice(f"{PREFIX}-table-kpi", TABLE_KPIS, "worked"),
            export_link("#", link_id=f"{PREFIX}-export"),
        ],
        section_id=f"{PREFIX}-table-panel",
    )


def case_columns() -> list[dict]:
    return [
        column("case", "Case", kind="link", minWidth=100, pinned="left"),
        column("in_window", "In window", minWidth=115),
        column("title", "Title", minWidth=240, flex=2),
        column("status", "Status", minWidth=130),
        column("group", "Group", minWidth=125),
        column("assignee", "Assigned to", minWidth=130),
        column("modified_by", "Modified by", minWidth=130),
        column("created", "Created", kind="datetime"),
        column("modified", "Modified", kind="datetime"),
        column("resolved", "Resolved", kind="datetime"),
        column("time_spent_hours", "Hours", kind="number", minWidth=95),
    ]


# --- builders the callback (and the TV) use -------------------------------------------------------------------


def subtitle(view: CasesView, state: PageState) -> str:
    when = "Today" if state.follow_today else view.day.strftime("%A %d %B %Y")
    return f"{view.group or 'All groups'} · {when}"


def window_columns(view: CasesView, state: PageState) -> list[html.Div]:
    """Day, week and month side by side; the selected window is highlighted (and the only one on phones)."""
    columns = []
    for kind, block in view.windows.items():
        figures, before = block.figures, block.previous_figures

        def href(kpi: str, kind: str = kind) -> str:
            return export_href("cases", state, kpi, window=kind)

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
                "Worked on",
                figures.worked,
                previous=before.worked,
                previous_label=PREVIOUS_LABEL[kind],
                export_href=href("worked"),
                card_id=f"{PREFIX}-{kind}-worked",
                tone="worked",
                good_when="up",
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
            title="Resolved per person",
            empty="No case resolved in this window",
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
            ),
        ]
    )


def open_charts(view: CasesView) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """(title, figure) for the two open-now charts: per group and per status for all groups, per assignee and
    per status for one group."""
    revision = f"{PREFIX}-open-{view.group}"
    if view.group:
        first = ("Open per person", _open_bars(view.open_by_assignee, f"{revision}-a"))
    else:
        first = ("Open per group", _open_bars(view.open_by_group, f"{revision}-a"))
    second = ("Open per status", _open_bars(view.open_by_status, f"{revision}-b"))
    return first, second


def _open_bars(entries: list[tuple[str, int]], revision: str) -> Any:
    top = entries[:15]
    return bar_figure(
        [name for name, _ in top],
        {"Open": [count for _, count in top]},
        uirevision=revision,
        horizontal=True,
        colors={"Open": COLORS["open"]},
        empty="No open cases",
    )


def cumulative_chart(view: CasesView, name: str) -> Any:
    return cumulative_figure(
        view.cumulative.get(name),
        uirevision=f"{PREFIX}-cum-{name}-{view.group}-{view.day:%Y-%m}",
        empty=f"Nothing {name} in these four months",
    )


def history_chart(view: CasesView) -> Any:
    return history_figure(view.history, uirevision=f"{PREFIX}-history-{view.group}", empty="No cases yet")


def table_records(rows: Any) -> list[dict]:
    """ag-grid rows: the case number as a link to VTiger when record links are configured."""
    records = rows.to_dict("records")
    for record in records:
        record["case"] = markdown_link(record["case_no"] or str(record["id"]), record.pop("link", ""))
        spent = record.get("time_spent_hours")
        record["time_spent_hours"] = None if spent is None or spent != spent else round(float(spent), 1)
    return records


def table_caption(count: int, kpi: str, view: CasesView) -> str:
    label = next(option["label"] for option in TABLE_KPIS if option["value"] == kpi)
    if kpi == "open":
        return f"{format_number(count)} open cases now"
    return f"{format_number(count)} cases · {label.lower()} · {view.selected_window.window.label()}"

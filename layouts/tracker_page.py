"""What the two tracker pages, /cases (VTiger cases) and /redmine (Redmine issues), build the same way: the frame
(header, control bar, the page's own panels, the table of records behind the numbers, the monthly charts), the
window columns of KPI cards against the previous window with a leaderboard, the open-now bars, the charts'
figures, the subtitle and the table caption.

A page describes what differs in a `TrackerPage` (its id prefix, words, cards and table) and keeps only its own
panels (layouts/cases.py: open now; layouts/redmine.py: totals). Builders take the page's view, a
`view_models.tracker_view.TrackerView`. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dash import html

from layouts.components import (
    COLORS,
    bar_figure,
    button_choice,
    cumulative_figure,
    data_table,
    defined_title,
    export_link,
    graph,
    history_figure,
    kpi_card,
    leaderboard,
    meaning_panel,
    row_legend,
    section,
    table_stores,
    window_panel,
)
from layouts.controls import control_bar, current_now, current_timing, page_header
from layouts.palette import TINTS
from view_models.page_state import PageState, export_href, local_today, parse_page_query
from view_models.tracker_view import TrackerView, WindowColumn, table_query

WINDOW_TITLES = {"day": "Day", "week": "Week", "month": "Month"}
ROW_CLASSES = {
    # A row still loading (the grid asks for its block) has no data yet.
    "row-resolved": "params.data && (params.data.in_window === 'Resolved' || params.data.in_window === 'Closed')",
    "row-created": "params.data && params.data.in_window === 'Created'",
}


@dataclass(frozen=True)
class WindowCard:
    """A KPI card of every window column. `figure` is the attribute of the window's figures it shows, its
    export kpi, its definition's id after the page's prefix (metrics.catalogue, which also gives its colour)
    and the end of its id ("kill_rate" -> "cases-day-kill-rate")."""

    label: str
    figure: str
    good_when: Literal["up", "down", "either"] = "either"
    percent: bool = False
    rows: bool = True  # links to the rows behind the number (a rate has none)


@dataclass(frozen=True)
class TrackerPage:
    """What differs between /cases and /redmine."""

    prefix: str  # of every component id, and the export's name (/export/<prefix>.csv)
    title: str
    selector_key: str  # the URL key of the selector: group or project
    all_label: str  # the selector's "all" entry ("All groups")
    noun: str  # what the page counts, plural ("cases", "issues")
    cards: tuple[WindowCard, ...]
    leaderboard_title: str
    leaderboard_empty: str
    table_kpis: tuple[dict[str, str], ...]  # the table's figure choices; the first is the default
    other_rows: str  # the legend of rows neither resolved nor created in the window ("worked on", "updated")
    columns: Callable[[], list[dict]]  # the table's ag-grid columns
    records: Callable[[Any], list[dict]]  # ag-grid rows from view_models' window_table (links as markdown)
    done: str = "resolved"  # the page's one word for a finished record: "resolved" (cases), "closed" (Redmine's)

    @property
    def default_kpi(self) -> str:
        return self.table_kpis[0]["value"]

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def kpi(self, name: str) -> str:
        """The id of one of the page's figures in metrics.catalogue ("cases.kill_rate")."""
        return f"{self.prefix}.{name}"


def page_layout(page: TrackerPage, query: Mapping[str, str], choices: Sequence[str], panels: Sequence[Any]) -> html.Div:
    """The page with the controls set from the URL: header, control bar, the page's own `panels`, the table of
    records and the monthly charts. The callbacks fill it."""
    from web.runtime import current_runtime

    today = local_today(current_runtime().settings.timezone, current_now())
    state = parse_page_query(query, today, choices, selector_key=page.selector_key)
    return html.Div(
        [
            page_header(page.title, page.id("subtitle")),
            control_bar(page.prefix, state, choices, all_label=page.all_label, timing=current_timing()),
            *panels,
            meaning_panel(page.prefix, page.id("meaning")),
            table_panel(page, table_query(current_runtime().engine, state, page.default_kpi)),
            html.Div(
                [
                    section(
                        defined_title("Created per day, cumulative", page.kpi("cumulative"), page.id("cum-created")),
                        graph(page.id("cum-created")),
                        subtitle="This month (so far) against the three before it",
                    ),
                    section(
                        defined_title(
                            f"{page.done.capitalize()} per day, cumulative",
                            page.kpi("cumulative"),
                            page.id("cum-resolved"),
                        ),
                        graph(page.id("cum-resolved")),
                        subtitle="This month (so far) against the three before it",
                    ),
                ],
                className="charts-2 chart-row",
            ),
            section(
                defined_title(f"Created and {page.done} per month", page.kpi("history"), page.id("history")),
                graph(page.id("history"), height=340),
                subtitle="All history; the running month hatched, counted so far",
            ),
        ],
        id=page.id("page"),
    )


def window_row(page: TrackerPage) -> html.Div:
    """Where the window columns go."""
    return html.Div(id=page.id("windows"), className="windows")


def table_panel(page: TrackerPage, query: dict[str, Any]) -> html.Div:
    """The records behind the numbers: which figure (worked on, created, resolved, open...) for the window."""
    legend = row_legend(
        [
            (TINTS["resolved"], f"{page.done} in window"),
            (TINTS["created"], "created in window"),
            ("#fff", page.other_rows),
        ]
    )
    return section(
        f"{page.noun.capitalize()} behind the numbers",
        [
            html.Div(
                [
                    html.Span(id=page.id("table-count"), className="table-count"),
                    html.Span(id=page.id("table-caption")),
                ],
                className="section-subtitle mb-1",
            ),
            legend,
            html.Div(data_table(page.id("table"), page.columns(), row_class_rules=ROW_CLASSES)),
            *table_stores(page.id("table"), query),
        ],
        actions=[
            button_choice(page.id("table-kpi"), list(page.table_kpis), page.default_kpi),
            export_link("#", link_id=page.id("export")),
        ],
        section_id=page.id("table-panel"),
    )


# --- builders the callbacks use -----------------------------------------------------------------------------------


RECOMPUTING = "numbers being recomputed (time zone or rules changed): these are the previous ones"


def subtitle(page: TrackerPage, view: TrackerView, state: PageState) -> str:
    when = "Today" if state.follow_today else view.day.strftime("%A %d %B %Y")
    text = f"{view.selector or page.all_label} · {when}"
    return f"{text} · {RECOMPUTING}" if view.recomputing else text


def window_columns(page: TrackerPage, view: TrackerView, state: PageState) -> list[html.Div]:
    """Day, week and month side by side; the selected window is highlighted (and the only one on phones)."""
    columns = []
    for kind, column in view.windows.items():
        board = leaderboard(
            column.leaderboard,
            title=page.leaderboard_title,
            empty=page.leaderboard_empty,
            board_id=page.id(f"{kind}-leaderboard"),
        )
        columns.append(
            window_panel(
                WINDOW_TITLES[kind],
                column.window.label(),
                [window_card(page, card, column, kind, state) for card in page.cards],
                board,
                selected=kind == state.window,
                panel_id=page.id(f"window-{kind}"),
            )
        )
    return columns


def window_card(page: TrackerPage, card: WindowCard, column: WindowColumn, kind: str, state: PageState) -> html.Div:
    rows = (
        export_href(page.prefix, state, card.figure, window=kind, selector_key=page.selector_key) if card.rows else None
    )
    kpi = page.kpi(card.figure)
    return kpi_card(
        card.label,
        getattr(column.figures, card.figure),
        previous=getattr(column.previous_figures, card.figure),
        previous_label=column.comparison.label,
        percent=card.percent,
        export_href=rows,
        card_id=page.id(f"{kind}-{card.figure.replace('_', '-')}"),
        good_when=card.good_when,
        kpi=kpi,
    )


def open_bars(page: TrackerPage, entries: list[tuple[str, int]], revision: str) -> Any:
    """Open records per name (the 15 largest), as horizontal bars."""
    top = entries[:15]
    return bar_figure(
        [name for name, _ in top],
        {"Open": [count for _, count in top]},
        uirevision=revision,
        horizontal=True,
        colors={"Open": COLORS["open"]},
        empty=f"No open {page.noun}",
    )


def cumulative_chart(page: TrackerPage, view: TrackerView, name: str) -> Any:
    """Created or resolved per day, cumulative, in the colour of what it counts; the month under way ends at
    today, marked "so far"."""
    today = view.today
    running = today.day if today and (today.year, today.month) == (view.day.year, view.day.month) else None
    return cumulative_figure(
        view.cumulative.get(name),
        uirevision=page.id(f"cum-{name}-{view.selector}-{view.day:%Y-%m}"),
        empty=f"Nothing {page.done if name == 'resolved' else name} in these four months",
        meaning=name,
        running_day=running,
    )


def history_chart(page: TrackerPage, view: TrackerView) -> Any:
    """Created and resolved (closed) per month; the month under way hatched as "so far"."""
    running = view.today.replace(day=1) if view.today else None
    return history_figure(
        view.history,
        uirevision=page.id(f"history-{view.selector}"),
        empty=f"No {page.noun} yet",
        running=running,
        done=page.done.capitalize(),
    )


def table_caption(page: TrackerPage, kpi: str, view: TrackerView) -> str:
    """What the table lists (its row count beside it comes with the rows: `components.row_count`)."""
    label = next(option["label"] for option in page.table_kpis if option["value"] == kpi)
    if kpi == "open":
        return f" · open {page.noun} now"
    return f" · {label.lower()} · {view.selected_window.window.label()}"

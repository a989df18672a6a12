"""/sales: the point system. At the top, the warning when the sales rules name stages VTiger's picklist lacks
(layouts.components.stage_rules_warning). The shared control bar (date, window, group, auto refresh); three
window columns (day, week, month) each with the team's totals, the goal and a leaderboard of people with their points, a
progress bar toward the goal and the breakdown; the score key generated from kpi.toml; four charts and the
tables of stage changes and calls behind the selected window, with CSV exports.

The declarative parts live here; `window_column`, `person_row`, `score_key_table` and the column lists are
filled by callbacks/sales.py from a view_models.sales SalesView. Must not import callbacks/, models/ or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from dash import html

from layouts.components import (
    column,
    data_table,
    defined_title,
    export_link,
    extra_props,
    format_number,
    graph,
    info_button,
    kpi_card,
    meaning_panel,
    no_data,
    section,
    stage_rules_warning,
    table_stores,
)
from layouts.controls import control_bar, current_now, current_timing, page_header
from metrics.catalogue import entry
from metrics.pace import PACE_WORDS, pace_level
from metrics.sales import PHONE_CALLS, Goal, ScoreKeyRow
from settings import SalesRules
from view_models.page_state import PageState, local_today, parse_page_query
from view_models.page_state import export_href as page_export_href
from view_models.sales import SalesView
from view_models.tracker_view import table_query

PREFIX = "sales"
TABLE_KPI = "rows"  # the tables have no figure to choose (view_models.tracker_view.table_query)
WINDOW_NAMES = {"day": "Day", "week": "Week", "month": "Month"}
CHARTS = {  # chart -> its definition (metrics.catalogue: title and what it counts)
    "calls": "sales.calls_chart",
    "demos": "sales.demos_chart",
    "stages": "sales.stages_chart",
    "pipeline": "sales.pipeline_chart",
}
CHANGE_COLUMNS = [
    column("changed_at", "When", kind="datetime"),
    column("deal", "Deal", kind="link", minWidth=90),
    column("deal_name", "Name", minWidth=140),
    column("stage", "Stage", minWidth=120),
    column("previous_stage", "From", minWidth=100),
    column("credited_to", "Credited to", minWidth=120),
    column("points", "Points", kind="number", width=90),
    column("note", "Note", minWidth=140),
    column("origin", "Recorded by", width=110),
    column("group", "Group", minWidth=90),
]
CALL_COLUMNS = [
    column("started_at", "Started", kind="datetime"),
    column("person", "Person", minWidth=130),
    column("status", "Status", minWidth=100),
    column("direction", "Direction", width=120),
    column("duration_seconds", "Seconds", kind="number", width=110),
    column("customer_number", "Number", minWidth=120),
    column("points", "Points", kind="number", width=100),
    column("call", "Call", kind="link", width=110),
    column("recording", "Recording", kind="link", width=120),
]


def all_groups_label(rules: SalesRules) -> str:
    """The "all" entry's one name on every page, the TV and the exports: the configured sales groups when
    kpi.toml names them, else every group ("All groups", as /cases says)."""
    return "All sales groups" if rules.groups else "All groups"


def layout(query: Mapping[str, str]) -> html.Div:
    from view_models.sales import group_choices, stage_warning
    from web.runtime import current_runtime

    runtime = current_runtime()
    rules = runtime.settings.kpi.sales
    groups = group_choices(runtime.engine, runtime.settings)
    today = local_today(runtime.settings.timezone, current_now())
    state = parse_page_query(query, today, groups)
    return html.Div(
        [
            page_header("Sales", f"{PREFIX}-subtitle"),
            stage_rules_warning(
                stage_warning(runtime.engine, runtime.settings),
                runtime.settings.kpi_file,
                element_id=f"{PREFIX}-stage-warning",
                compact=True,
            ),
            control_bar(PREFIX, state, groups, all_label=all_groups_label(rules), timing=current_timing()),
            html.Div(id=f"{PREFIX}-windows", className="windows sales-windows"),
            meaning_panel(PREFIX, f"{PREFIX}-meaning"),
            html.Div(
                [
                    section(
                        defined_title(entry(kpi).title, kpi, f"{PREFIX}-{name}-chart"),
                        graph(f"{PREFIX}-{name}-chart", height=340),
                        subtitle=_chart_subtitle(name, rules),
                        actions=_slot(name),
                    )
                    for name, kpi in CHARTS.items()
                ],
                className="charts-2 chart-row",
            ),
            section(
                "Stage changes",
                [
                    html.Div(
                        [
                            html.Span(id=f"{PREFIX}-changes-table-count", className="table-count"),
                            html.Span(id=f"{PREFIX}-changes-caption"),
                        ],
                        className="section-subtitle mb-1",
                    ),
                    data_table(f"{PREFIX}-changes-table", CHANGE_COLUMNS, row_id="row_id"),
                    *table_stores(f"{PREFIX}-changes-table", table_query(runtime.engine, state, TABLE_KPI)),
                ],
                subtitle="Every deal entering a stage in the selected window, and what it scored.",
                actions=_slot("changes-table"),
            ),
            section(
                "Calls",
                [
                    html.Div(
                        [
                            html.Span(id=f"{PREFIX}-calls-table-count", className="table-count"),
                            html.Span(id=f"{PREFIX}-calls-caption"),
                        ],
                        className="section-subtitle mb-1",
                    ),
                    data_table(f"{PREFIX}-calls-table", CALL_COLUMNS, row_id="row_id"),
                    *table_stores(f"{PREFIX}-calls-table", table_query(runtime.engine, state, TABLE_KPI)),
                ],
                subtitle="Every call that started in the selected window.",
                actions=_slot("calls-table"),
            ),
            section("Score key", score_key_table(rules), subtitle=score_key_subtitle(rules)),
        ],
        id=f"{PREFIX}-page",
        className="sales-page",
    )


def _chart_subtitle(name: str, rules: SalesRules) -> str:
    if name == "calls" and rules.call_statuses:
        return f"Calls that started in the selected window. Dark: they score (status {', '.join(rules.call_statuses)})."
    if name == "demos":
        return f"Deals entering {rules.demo_stage}, by qualified-by person." if rules.demo_stage else "Off in kpi.toml."
    if name == "pipeline":
        return f"Open deals' amount in {rules.currency}, as it stands now."
    return entry(CHARTS[name]).text


def _slot(name: str) -> html.A:
    """An export link whose href the callback keeps in step with the view."""
    return export_link("", link_id=f"{PREFIX}-export-{name}")


def export_href(state: PageState, kpi: str, window: str | None = None) -> str:
    """The /export/sales.csv link for the rows behind a figure (view_models.page_state.export_href)."""
    return page_export_href("sales", state, kpi, window=window)


def table_caption(noun: str, window_label: str) -> str:
    """What a table lists, after its row count ("1,234 rows · calls · <window>")."""
    return f" · {noun} · {window_label}"


# --- the window columns ---------------------------------------------------------------------------------------


def goal_text(goal: Goal) -> list[Any]:
    """ "Goal 500 per person · 5 business days · so far 300 (3)" plus the holidays that shortened the window."""
    if goal.kind == "day":
        parts: list[Any] = [html.Strong(format_number(goal.total)), " points per person"]
    else:
        parts = [
            html.Strong(format_number(goal.total)),
            f" per person · {goal.business_days} business days",
        ]
        if goal.business_days_so_far < goal.business_days:
            parts += [" · so far ", html.Strong(format_number(goal.so_far)), f" ({goal.business_days_so_far} days)"]
    if goal.holidays:
        names = ", ".join(f"{day:%a %d %b} {name}" for day, name in goal.holidays)
        parts += [html.Div(f"Holiday: {names}", className="sales-holidays")]
    return ["Goal ", *parts]


def goal_with_definition(goal: Goal, info_id: str) -> list[Any]:
    """goal_text with the (i) of what the goal is right after "Goal"."""
    parts = goal_text(goal)
    return [parts[0], *info_button("sales.goal", info_id), " ", *parts[1:]]


def breakdown(row: Mapping[str, Any], rules: SalesRules) -> str:
    """ "12 calls · 2 Demo Scheduled · 1 Demo Given": the counts behind a person's points (zeros left out)."""
    parts = [f"{int(row[PHONE_CALLS])} call{'s' if int(row[PHONE_CALLS]) != 1 else ''}"]
    parts += [f"{int(row[rule.name])} {rule.name}" for rule in rules.stages if int(row[rule.name])]
    return " · ".join(parts)


def person_row(
    rank: int, row: Mapping[str, Any], goal: Goal, rules: SalesRules, expected: float | None = None
) -> html.Li:
    """Rank, name, points, a bar toward the goal with a marker at the pace so far, and the breakdown. `expected`:
    on a day's board, the points a person on pace has by now (metrics.pace), shown as a coloured word."""
    points = float(row["points"])
    total = goal.total or 1.0
    fill = min(100.0, 100.0 * points / total)
    on_pace = points >= goal.so_far
    marker = []
    if goal.so_far < goal.total:
        marker = [html.Span(className="sp-pace", style={"left": f"{100 * goal.so_far / total:.1f}%"})]
    return html.Li(
        [
            html.Div(
                [
                    html.Span(str(rank), className="sp-rank"),
                    html.Span(row["person"], className="sp-name", title=row["person"]),
                    html.Span(format_number(points), className="sp-points"),
                    *_pace_badge(points, expected),
                ],
                className="sp-head",
            ),
            html.Div(
                [html.Span(className="sp-fill", style={"width": f"{fill:.1f}%"}), *marker],
                className="sp-bar" + (" is-on-pace" if on_pace else ""),
                role="progressbar",
                title=f"{format_number(points)} of {format_number(goal.total)} points",
                **extra_props(
                    {"aria-valuenow": f"{points:g}", "aria-valuemin": "0", "aria-valuemax": f"{goal.total:g}"}
                ),
            ),
            html.Div(
                [
                    html.Span(breakdown(row, rules), className="sp-breakdown"),
                    html.Span(f"{fill:.0f}%", className="sp-percent"),
                ],
                className="sp-foot",
            ),
        ],
        className="sales-person",
        **{"data-person": row["person"], "data-points": f"{points:g}"},
    )


def _pace_badge(points: float, expected: float | None) -> list[html.Span]:
    if expected is None:
        return []
    level = pace_level(points, expected)
    return [
        html.Span(
            PACE_WORDS[level],
            className=f"sp-pace-badge is-{level}",
            title=f"{format_number(points)} points against {format_number(round(expected, 1))} on pace by now",
        )
    ]


def window_column(
    kind: str, view: SalesView, *, selected: bool, state: PageState, expected: float | None = None
) -> html.Div:
    """One window's panel: name and dates, the team's totals, the goal and the leaderboard (on the day's, each
    person's pace against `expected`, metrics.pace)."""
    board = view.leaderboard
    people = (
        html.Ol(
            [
                person_row(rank, row, view.goal, view.rules, expected)
                # plain dicts: a Series per row costs more than the row's components
                for rank, row in enumerate(cast(list[dict[str, Any]], board.to_dict("records")), 1)
            ],
            className="sales-board",
        )
        if not board.empty
        else no_data(f"No points scored {_window_phrase(kind)}", compact=True)
    )
    totals, before = view.totals(), view.previous
    compared = {"previous_label": view.comparison.label} if view.comparison else {"compare": False}

    def card(label: str, figure: str, rows: str) -> html.Div:
        return kpi_card(
            label,
            getattr(totals, figure),
            previous=getattr(before, figure) if before else None,
            good_when="up",
            export_href=export_href(state, rows, kind),
            card_id=f"{PREFIX}-{kind}-{figure}",
            kpi=f"sales.{figure}",
            **compared,
        )

    cards = [card("Points", "points", "points"), card("Calls", "calls", "calls")]
    if view.rules.demo_stage:
        cards.append(card("Demos", "demos", "stage_changes"))
    return html.Div(
        [
            html.Div(
                [
                    html.Span(WINDOW_NAMES[kind], className="window-name"),
                    html.Span(view.window.label(), className="sales-window-dates"),
                ],
                className="sales-window-head",
            ),
            html.Div(cards, className="sales-cards"),
            html.Div(goal_with_definition(view.goal, f"{PREFIX}-{kind}-goal-info"), className="sales-goal"),
            people,
        ],
        className="panel window-col" + (" is-selected" if selected else ""),
        id=f"{PREFIX}-window-{kind}",
    )


def _window_phrase(kind: str) -> str:
    return {"day": "on this day", "week": "this week", "month": "this month"}[kind]


# --- the score key ----------------------------------------------------------------------------------------------


def score_key_subtitle(rules: SalesRules) -> str:
    return (
        f"From kpi.toml. The goal is {format_number(rules.daily_goal)} points a day; a week's or month's goal is "
        "that times its business days (Monday to Friday without public holidays)."
    )


def score_key_table(rules: SalesRules) -> html.Table:
    from metrics.sales import score_key

    return html.Table(
        [
            html.Thead(html.Tr([html.Th("What"), html.Th("Points"), html.Th("Goes to"), html.Th("Counts")])),
            html.Tbody([_score_key_row(row) for row in score_key(rules)]),
        ],
        className="table table-sm sales-key",
        id=f"{PREFIX}-score-key",
    )


def _score_key_row(row: ScoreKeyRow) -> html.Tr:
    return html.Tr(
        [
            html.Td(row.what),
            html.Td(format_number(row.points), className="sales-key-points"),
            html.Td(row.credited_to),
            html.Td(row.condition),
        ]
    )

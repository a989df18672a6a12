"""/tv: the kiosk page for the wall screen. Dark, large type, no navigation bar and no controls at all (no links,
buttons or inputs: nobody can touch it, and a kiosk token may only run the callbacks whose outputs start with
"tv-", so every id here does).

What the URL picks (pages, groups, projects, timings) is view_models/tv_state.py; `layout` reads the settings and
the known group and project names through runtime/models and renders the frame. Must not import callbacks/ or
sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dash import dcc, html

from layouts.components import extra_props, format_number, kpi_card, leaderboard
from metrics.pace import pace_level
from metrics.windows import Window
from view_models.tv_state import TvConfig, next_reload, parse_tv_query

CLOCK_TICK_MS = 1000


# --- the frame ---------------------------------------------------------------------------------------------------


def layout(query: Mapping[str, str]) -> html.Div:
    """Read the settings and known names, then render the frame (callbacks/tv.py fills it)."""
    from models.db import utcnow
    from models.queries import vtiger_group_names
    from view_models.redmine import project_choices
    from web.runtime import current_runtime

    runtime = current_runtime()
    settings = runtime.settings
    groups = vtiger_group_names(runtime.engine) if query.get("group") or ":" in query.get("pages", "") else []
    projects = project_choices(runtime.engine) if query.get("project") or ":" in query.get("pages", "") else []
    config = parse_tv_query(
        query,
        tz_name=settings.timezone,
        testing=settings.testing,
        real_now=utcnow(),
        groups=groups or None,
        projects=projects or None,
    )
    from datetime import timedelta

    from settings import current_tv_rules

    now = utcnow() + timedelta(seconds=config.clock_offset_seconds)
    reload_at = next_reload(now, current_tv_rules(settings).reload_at, settings.timezone)
    return frame(config, settings.timezone, reload_at)


def frame(config: TvConfig, tz_name: str, reload_at_ms: int | None = None) -> html.Div:
    """Header (page, group, date, clock), banner slot, the slide, footer (rotation dots, last sync)."""
    return html.Div(
        [
            dcc.Store(id="tv-config", data=config.to_store(tz_name, reload_at_ms)),
            dcc.Store(id="tv-signature", data=None),
            dcc.Store(id="tv-goals", data=None),  # who has reached today's goal (assets/tv-screen.js shows them)
            dcc.Store(id="tv-day", data=None),
            dcc.Store(id="tv-live", data=None),  # the data version assets/tv-live.js last saw: a change re-renders
            dcc.Interval(id="tv-rotate", interval=config.rotate_seconds * 1000),
            dcc.Interval(id="tv-refresh", interval=config.refresh_seconds * 1000),
            dcc.Interval(id="tv-tick", interval=CLOCK_TICK_MS),
            html.Header(
                [
                    html.Div(
                        [
                            html.Span(id="tv-title", className="tv-title"),
                            html.Span(id="tv-group", className="tv-group"),
                        ],
                        className="tv-heading",
                    ),
                    html.Div(id="tv-date", className="tv-date"),
                    html.Div(id="tv-clock", className="tv-clock"),
                ],
                className="tv-header",
            ),
            html.Div(id="tv-banner", className="tv-banner tv-hidden", role="alert"),
            html.Div(  # shown by assets/tv-screen.js while the server cannot be reached
                [
                    html.Span("⟳", className="tv-banner-icon", **extra_props({"aria-hidden": "true"})),
                    html.Span("Reconnecting…"),
                ],
                id="tv-reconnecting",
                className="tv-reconnecting tv-hidden",
                role="status",
            ),
            html.Div(id="tv-celebrate", className="tv-celebrate tv-hidden", role="status"),
            html.Main(id="tv-panel", className="tv-panel"),
            html.Footer(
                [
                    html.Div(id="tv-dots", className="tv-dots"),
                    html.Div(id="tv-progress", className="tv-progress"),
                    html.Div(id="tv-sync", className="tv-sync"),
                ],
                className="tv-footer",
            ),
        ],
        id="tv-root",
        className="tv-root",
        style={"--tv-rotate": f"{config.rotate_seconds}s"},
    )


# --- pieces the callbacks fill in ---------------------------------------------------------------------------------


def dots(count: int, active: int) -> list[html.Span]:
    """One dot per slide, the current one lit (nothing when there is a single slide)."""
    if count <= 1:
        return []
    return [html.Span(className="tv-dot tv-dot-on" if n == active else "tv-dot") for n in range(count)]


def progress(count: int, rotation: int, seconds: int | None = None) -> html.Div | None:
    """A bar that fills over the slide's time; alternating classes restart its CSS animation on every slide."""
    if count <= 1:
        return None
    style = {"animationDuration": f"{seconds}s"} if seconds else None
    return html.Div(className=f"tv-progress-bar tv-progress-{rotation % 2}", style=style)


def banner(headline: str, detail: str) -> list[html.Span]:
    return [
        html.Span("⚠", className="tv-banner-icon", **extra_props({"aria-hidden": "true"})),
        html.Span(headline, className="tv-banner-headline"),
        html.Span(detail, className="tv-banner-detail"),
    ]


def sync_line(text: str, level: str) -> list[html.Span]:
    return [html.Span(className=f"tv-sync-dot tv-sync-{level}"), html.Span(text)]


def slide_frame(panel: Any, entering: bool) -> html.Div:
    """The slide in a frame that fades it in when the rotation brings it, and not when only its data changed."""
    return html.Div(panel, className="tv-frame tv-entering" if entering else "tv-frame")


def placeholder(message: str) -> html.Div:
    return html.Div(message, className="tv-placeholder")


# --- slides ------------------------------------------------------------------------------------------------------
# They reuse the dashboard's own components (layouts/components.py) and restyle them for the wall through the
# `.tv-root` rules in assets/tv.css, so a card on the TV and on /cases are the same card. What has to fit the
# screen is fitted in the browser (assets/tv.js) once the slide is laid out: numbers shrink to their card, and a
# board shows the rows that fit with an "and N more" line for the rest (`board` gives it the total to count with).

BOARD_ROWS = 30  # rows a board sends at most; the browser shows those that fit (a 16:9 screen has room for ~7)
PREVIOUS_DAY = "yesterday"


def _cards(cards: Sequence[Any]) -> html.Div:
    return html.Div(list(cards), className=f"tv-cards tv-cards-{len(cards)}")


def _boards(*boards: Any) -> html.Div:
    return html.Div(list(boards), className="tv-boards")


def board(
    entries: Sequence[tuple[str, float | int]],
    *,
    title: str,
    empty: str,
    scale: float | None = None,
    ranked: bool = True,
    badges: Mapping[str, tuple[str, str]] | None = None,
) -> html.Div:
    """A leaderboard panel with every entry (up to BOARD_ROWS) and an empty "and N more" line; `data-total`
    tells assets/tv.js how many there are, so it can hide the rows that do not fit and count them there."""
    return html.Div(
        [
            leaderboard(
                entries, title=title, empty=empty, max_entries=BOARD_ROWS, scale=scale, ranked=ranked, badges=badges
            ),
            html.Div(className="tv-more"),
        ],
        className="tv-board",
        **extra_props({"data-total": str(len(entries))}),
    )


def compared(
    label: str,
    value: float | int | None,
    previous: float | int | None,
    card_id: str,
    *,
    vs: str = PREVIOUS_DAY,
    **kind: Any,
) -> Any:
    """A figure of today against the same figure of yesterday: every slide's cards compare through here (and
    through layouts.components.kpi_card's change text), so they all say the same thing the same way."""
    return kpi_card(label, value, previous=previous, previous_label=vs, card_id=card_id, **kind)


def quiet_slide(
    page: str, message: str, detail: str, yesterday: Window, cards: Sequence[Any], *boards: Any
) -> html.Div:
    """A day with nothing in it yet: the fact in large type, then yesterday's figures and boards for context."""
    return html.Div(
        [
            html.Div(
                [html.Div(message, className="tv-hero-text"), html.Div(detail, className="tv-hero-detail")],
                className="tv-hero",
            ),
            html.Div(
                [
                    html.Div(
                        f"Yesterday · {yesterday.first_day:%A} {yesterday.first_day.day} {yesterday.first_day:%B}",
                        className="tv-context-title",
                    ),
                    _cards(cards),
                ],
                className="tv-context",
            ),
            _boards(*boards),
        ],
        className=f"tv-slide tv-slide-quiet tv-slide-{page}",
    )


def _yesterday_card(page: str, label: str, value: float | int | None, figure: str, **kind: Any) -> Any:
    return kpi_card(label, value, compare=False, card_id=f"tv-{page}-yesterday-{figure}", **kind)


# --- sales -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesDay:
    """The sales slide's figures for one day (from a view_models.sales.SalesView)."""

    points: float
    calls: int
    demos: int | None  # None: no demo stage configured
    at_goal: int
    points_board: list[tuple[str, float]]
    calls_board: list[tuple[str, int]]
    reached: tuple[str, ...] = ()  # who has reached the goal, by name

    @property
    def quiet(self) -> bool:
        return not self.points and not self.calls and not self.demos

    @classmethod
    def of(cls, view: Any) -> SalesDay:
        from metrics.sales import PHONE_CALLS

        board = view.leaderboard
        people = len(board)
        demo_stage = view.rules.demo_stage
        calls = sorted(
            ((str(row["person"]), int(row[PHONE_CALLS])) for _, row in board.iterrows() if row[PHONE_CALLS] > 0),
            key=lambda item: (-item[1], item[0]),
        )
        return cls(
            points=float(board["points"].sum()) if people else 0,
            calls=int(board[PHONE_CALLS].sum()) if people else 0,
            demos=int(board[demo_stage].sum()) if demo_stage and demo_stage in board else None,
            at_goal=int((board["points"] >= view.goal.total).sum()) if people else 0,
            points_board=[
                (str(row["person"]), float(row["points"])) for _, row in board.iterrows() if row["points"] > 0
            ],
            calls_board=calls,
            reached=tuple(
                sorted(str(row["person"]) for _, row in board.iterrows() if row["points"] >= view.goal.total)
            ),
        )


PACE_SHORT = {"ahead": "▲ ahead", "near": "● near", "behind": "▼ behind"}  # the words beside the colour


def pace_badges(entries: Sequence[tuple[str, float]], expected: float | None) -> dict[str, tuple[str, str]]:
    """Each person's pace (metrics.pace) as a board badge: green ahead, amber near, red behind; none on a day off."""
    if expected is None:
        return {}
    return {name: (level, PACE_SHORT[level]) for name, points in entries if (level := pace_level(points, expected))}


def sales_panel(view: Any, previous: Any, expected: float | None = None) -> html.Div:
    """Today's sales against yesterday's (`previous`, the view of the window before): team points, calls and
    demos, and the points and calls leaderboards; on a quiet morning, yesterday's. `expected`: the points a
    person on pace has by now (metrics.pace), which colours the points board; None on a day off."""
    goal = view.goal.total
    today, before = SalesDay.of(view), SalesDay.of(previous)
    # While today runs, yesterday until the same time (metrics.windows.compare_with); else all of yesterday.
    same = view.previous or before
    vs = view.comparison.label if view.comparison else PREVIOUS_DAY
    demo_stage = view.rules.demo_stage
    if today.quiet:
        cards = [
            _yesterday_card("sales", "Team points", before.points, "points", tone="resolved"),
            _yesterday_card("sales", "Phone calls", before.calls, "calls", tone="worked"),
            *(
                [_yesterday_card("sales", demo_stage, before.demos, "demos", tone="created")]
                if before.demos is not None
                else []
            ),
            _yesterday_card("sales", "At goal", before.at_goal, "at-goal", tone="goal-met"),
        ]
        return quiet_slide(
            "sales",
            "No sales activity yet today",
            f"No calls or points since midnight · goal {goal:g} points each",
            previous.window,
            cards,
            board(before.points_board, title="Points yesterday", empty="No points yesterday", scale=goal),
            board(before.calls_board, title="Phone calls yesterday", empty="No calls yesterday"),
        )
    cards = [
        compared("Team points", today.points, same.points, "tv-sales-points", vs=vs, tone="resolved", good_when="up"),
        compared("Phone calls", today.calls, same.calls, "tv-sales-calls", vs=vs, tone="worked", good_when="up"),
    ]
    if today.demos is not None:
        cards.append(
            compared(demo_stage, today.demos, same.demos, "tv-sales-demos", vs=vs, tone="created", good_when="up")
        )
    cards.append(
        compared("At goal", today.at_goal, before.at_goal, "tv-sales-at-goal", tone="goal-met", good_when="up")
    )
    return html.Div(
        [
            _cards(cards),
            _boards(
                board(
                    today.points_board,
                    title=f"Points today · goal {goal:g}" + (f" · pace now {expected:.0f}" if expected else ""),
                    empty="No points yet today",
                    scale=goal,
                    badges=pace_badges(today.points_board, expected),
                ),
                board(today.calls_board, title="Phone calls today", empty="No calls yet today"),
            ),
        ],
        className="tv-slide tv-slide-sales",
    )


# --- support (optional: pages=support) ---------------------------------------------------------------------------


def support_panel(view: Any) -> html.Div:
    """The help desk now: cases already past their due time and those due within 4 business hours, with today's
    SLA and median resolution time against yesterday."""
    vs = view.comparison.label
    median = view.resolution.median_business_hours
    before = view.previous_resolution.median_business_hours
    cards = [
        kpi_card("Breached now", len(view.breached_now), tone="open", card_id="tv-support-breached"),
        kpi_card("At risk", len(view.at_risk), tone="open", card_id="tv-support-at-risk"),
        compared(
            "SLA met",
            view.sla.met_pct,
            view.previous_sla.met_pct,
            "tv-support-sla",
            vs=vs,
            percent=True,
            tone="rate",
            good_when="up",
        ),
        compared(
            "Median resolution (business h)",
            None if median is None else round(median, 1),
            None if before is None else round(before, 1),
            "tv-support-median",
            vs=vs,
            good_when="down",
        ),
    ]
    return html.Div(
        [
            _cards(cards),
            _boards(
                board(
                    _late(view.breached_now, view.now),
                    title="Breached (hours late)",
                    empty="Nothing breached",
                    ranked=False,
                ),
                board(
                    _due_in(view.at_risk, view.now), title="At risk (hours left)", empty="Nothing at risk", ranked=False
                ),
            ),
        ],
        className="tv-slide tv-slide-support",
    )


def _case_name(case: Any) -> str:
    return " · ".join(part for part in (case.case_no, case.assignee or "Unassigned", case.title) if part)


def _late(cases: Sequence[Any], now: datetime) -> list[tuple[str, float]]:
    late = [(_case_name(case), round((now - case.due_at).total_seconds() / 3600, 1)) for case in cases]
    return sorted(late, key=lambda item: -item[1])


def _due_in(cases: Sequence[Any], now: datetime) -> list[tuple[str, float]]:
    return [(_case_name(case), round((case.due_at - now).total_seconds() / 3600, 1)) for case in cases]


# --- cases -------------------------------------------------------------------------------------------------------


def cases_quiet(view: Any) -> bool:
    """Nothing created, resolved or worked on today (yet)."""
    now = view.windows["day"].figures
    return not (now.created or now.resolved or now.worked)


def _open_cases_board(view: Any) -> html.Div:
    if view.group or not view.open_by_group:
        return board(view.open_by_assignee, title="Open now per person", empty="Nothing open", ranked=False)
    return board(view.open_by_group, title="Open now per group", empty="Nothing open", ranked=False)


def cases_panel(view: Any) -> html.Div:
    """Today's cases: created, resolved, worked on, kill rate and open now, against yesterday; who resolved the
    most today and where the open cases are."""
    today = view.windows["day"]
    now, before = today.figures, today.previous_figures
    vs = today.comparison.label  # "yesterday by 10:42": today so far against yesterday until the same time
    cards = [
        compared("Created", now.created, before.created, "tv-cases-created", vs=vs, tone="created"),
        compared(
            "Resolved", now.resolved, before.resolved, "tv-cases-resolved", vs=vs, tone="resolved", good_when="up"
        ),
        compared("Worked on", now.worked, before.worked, "tv-cases-worked", vs=vs, tone="worked", good_when="up"),
        compared(
            "Kill rate",
            now.kill_rate,
            before.kill_rate,
            "tv-cases-kill-rate",
            vs=vs,
            percent=True,
            tone="rate",
            good_when="up",
        ),
        kpi_card("Open now", view.open_total, tone="open", card_id="tv-cases-open"),
    ]
    return html.Div(
        [
            _cards(cards),
            _boards(
                board(today.leaderboard, title="Resolved today", empty="Nothing resolved yet today"),
                _open_cases_board(view),
            ),
        ],
        className="tv-slide tv-slide-cases",
    )


def quiet_cases_panel(view: Any, yesterday: Any) -> html.Div:
    """Cases on a quiet morning: "No cases yet today", yesterday's figures and who resolved most, open now."""
    return _quiet_tracker_panel(
        "cases",
        "No cases yet today",
        view.open_total,
        yesterday,
        board(yesterday.windows["day"].leaderboard, title="Resolved yesterday", empty="Nothing resolved yesterday"),
        _open_cases_board(view),
    )


# --- redmine -----------------------------------------------------------------------------------------------------


def redmine_quiet(view: Any) -> bool:
    """No issue created, updated or closed today (yet)."""
    now = view.windows["day"].figures
    return not (now.created or now.updated or now.resolved)


def redmine_panel(view: Any) -> html.Div:
    """Today's Redmine issues: created, updated, resolved, kill rate and open now, against yesterday; who closed
    the most today and which statuses the open issues are in."""
    today = view.windows["day"]
    now, before = today.figures, today.previous_figures
    vs = today.comparison.label  # "yesterday by 10:42": today so far against yesterday until the same time
    cards = [
        compared("Created", now.created, before.created, "tv-redmine-created", vs=vs, tone="created"),
        compared("Updated", now.updated, before.updated, "tv-redmine-updated", vs=vs, tone="worked"),
        compared(
            "Closed", now.resolved, before.resolved, "tv-redmine-resolved", vs=vs, tone="resolved", good_when="up"
        ),
        compared(
            "Kill rate",
            now.kill_rate,
            before.kill_rate,
            "tv-redmine-kill-rate",
            vs=vs,
            percent=True,
            tone="rate",
            good_when="up",
        ),
        kpi_card("Open now", view.totals.open, tone="open", card_id="tv-redmine-open"),
    ]
    return html.Div(
        [
            _cards(cards),
            _boards(
                board(today.leaderboard, title="Closed today", empty="Nothing closed yet today"),
                board(view.open_by_status, title="Open now per status", empty="Nothing open", ranked=False),
            ),
        ],
        className="tv-slide tv-slide-redmine",
    )


def quiet_redmine_panel(view: Any, yesterday: Any) -> html.Div:
    """Redmine on a quiet morning: "No issues yet today", yesterday's figures and closers, open by status."""
    return _quiet_tracker_panel(
        "redmine",
        "No issues yet today",
        view.totals.open,
        yesterday,
        board(yesterday.windows["day"].leaderboard, title="Closed yesterday", empty="Nothing closed yesterday"),
        board(view.open_by_status, title="Open by status", empty="Nothing open"),
    )


# Yesterday's cards of a tracker slide on a quiet morning: (label, figure, tone).
QUIET_CARDS = {
    "cases": (("Created", "created", "created"), ("Resolved", "resolved", "resolved"),
              ("Worked on", "worked", "worked"), ("Kill rate", "kill_rate", "rate")),
    "redmine": (("Created", "created", "created"), ("Updated", "updated", "worked"),
                ("Resolved", "resolved", "resolved"), ("Kill rate", "kill_rate", "rate")),
}  # fmt: skip


def _quiet_tracker_panel(page: str, message: str, open_now: int, yesterday: Any, *boards: Any) -> html.Div:
    column = yesterday.windows["day"]
    cards = [
        _yesterday_card(page, label, getattr(column.figures, figure), figure.replace("_", "-"), tone=tone,
                        percent=figure == "kill_rate")
        for label, figure, tone in QUIET_CARDS[page]
    ]  # fmt: skip
    return quiet_slide(page, message, f"{format_number(open_now)} open now", column.window, cards, *boards)

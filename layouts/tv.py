"""/tv: the kiosk page for the wall screen. Dark, large type, no navigation bar and no controls at all (no links,
buttons or inputs: nobody can touch it, and a kiosk token may only run the callbacks whose outputs start with
"tv-", so every id here does).

The URL picks what rotates, e.g. `/tv?pages=cases,sales,redmine&group=Support&rotate=30`:
- `pages`: comma-separated cases, sales, redmine (default: all three); an item may pin its own group or
  project with a colon, `pages=cases:Support,sales:Sales,redmine`.
- `group`: comma-separated VTiger groups for the cases and sales slides (default: all groups together);
  `project`: comma-separated Redmine projects for the redmine slides (default: all projects).
- `rotate`: seconds per slide (default 30), `refresh`: seconds between data refreshes (default 60),
  `reload`: hours between full page reloads (default 6) that keep a browser left on for weeks lean.
- `now`: only when settings.testing, an ISO date-time (local to TIMEZONE unless it has an offset) that the
  page's clock starts from and then runs on; tests use it to cross midnight.
Anything unknown or malformed falls back to its default, silently: a wall screen has nobody to read an error.

`parse_tv_query` is pure; `layout` reads the settings and the known group and project names through runtime/models
and renders the frame. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from layouts.components import format_number, kpi_card, leaderboard
from metrics.windows import Window

PAGES = ("cases", "sales", "redmine")
PAGE_TITLES = {"cases": "Cases", "sales": "Sales", "redmine": "Redmine"}
DEFAULT_ROTATE_SECONDS = 30
DEFAULT_REFRESH_SECONDS = 60
DEFAULT_RELOAD_HOURS = 6.0
LIMITS = {  # (production minimum, testing minimum, maximum)
    "rotate": (5, 1, 3600),
    "refresh": (10, 1, 3600),
}
RELOAD_LIMITS = (0.5, 0.0005, 72.0)  # hours; testing may reload after two seconds
CLOCK_TICK_MS = 1000
MAX_SLIDES = 24
MAX_SELECTOR_LENGTH = 200  # a group or project name; longer is not a name
MAX_CLOCK_OFFSET_SECONDS = 10 * 366 * 86400  # tests move the clock by days or years, never further


@dataclass(frozen=True)
class Slide:
    page: str  # cases, sales, redmine
    selector: str  # the group (cases, sales) or project (redmine); "" = all

    @property
    def title(self) -> str:
        return PAGE_TITLES[self.page]

    @property
    def sources(self) -> tuple[str, ...]:
        """The sync sources whose freshness this slide's numbers depend on."""
        return ("redmine",) if self.page == "redmine" else ("vtiger",)


@dataclass(frozen=True)
class TvConfig:
    slides: tuple[Slide, ...]
    rotate_seconds: int
    refresh_seconds: int
    reload_hours: float
    clock_offset_seconds: float  # injected clock minus the real clock (0 outside tests)

    def slide_at(self, rotation: int | None) -> tuple[int, Slide]:
        index = (rotation or 0) % len(self.slides)
        return index, self.slides[index]

    def to_store(self, tz_name: str) -> dict:
        """What the browser keeps (tv-config) and the clientside clock reads."""
        return {
            "slides": [[slide.page, slide.selector] for slide in self.slides],
            "rotate": self.rotate_seconds,
            "refresh": self.refresh_seconds,
            "reload_ms": int(self.reload_hours * 3600 * 1000),
            "offset_ms": int(self.clock_offset_seconds * 1000),
            "tz": tz_name,
        }

    @classmethod
    def from_store(cls, data: object, *, testing: bool = False) -> TvConfig:
        """The configuration a browser sent back (tv-config), checked as strictly as the URL: known pages, short
        selectors, at most MAX_SLIDES slides, timings in their limits, and a clock offset only when testing."""
        data = data if isinstance(data, Mapping) else {}
        raw_slides = data.get("slides")
        slides = tuple(
            dict.fromkeys(
                Slide(item[0], item[1])
                for item in (raw_slides if isinstance(raw_slides, list) else [])[: MAX_SLIDES * 4]
                if isinstance(item, list | tuple) and len(item) == 2 and item[0] in PAGES and _selector_ok(item[1])
            )
        )[:MAX_SLIDES]
        reload_ms = data.get("reload_ms")
        reload_hours = reload_ms / 3600 / 1000 if isinstance(reload_ms, int | float) else None
        return cls(
            slides=slides or default_slides(PAGES),
            rotate_seconds=_bounded_int(data.get("rotate"), DEFAULT_ROTATE_SECONDS, "rotate", testing),
            refresh_seconds=_bounded_int(data.get("refresh"), DEFAULT_REFRESH_SECONDS, "refresh", testing),
            reload_hours=_bounded_hours(reload_hours, testing),
            clock_offset_seconds=_clock_offset(data.get("offset_ms"), testing),
        )


def _selector_ok(selector: object) -> bool:
    return isinstance(selector, str) and len(selector) <= MAX_SELECTOR_LENGTH and selector.isprintable()


def _clock_offset(offset_ms: object, testing: bool) -> float:
    """Only a test may move the TV's clock (settings.testing); a browser's offset is ignored everywhere else."""
    if not testing or isinstance(offset_ms, bool) or not isinstance(offset_ms, int | float):
        return 0.0
    seconds = offset_ms / 1000
    return seconds if math.isfinite(seconds) and abs(seconds) <= MAX_CLOCK_OFFSET_SECONDS else 0.0


def default_slides(pages: Sequence[str]) -> tuple[Slide, ...]:
    return tuple(Slide(page, "") for page in pages)


# --- the URL -----------------------------------------------------------------------------------------------------


def _names(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _match(name: str, known: Sequence[str] | None) -> str | None:
    """The known spelling of `name` (case-insensitive); the name itself when nothing is known yet."""
    if known is None:
        return name
    return next((candidate for candidate in known if candidate.lower() == name.lower()), None)


def _bounded_int(raw: object, default: int, key: str, testing: bool) -> int:
    low, test_low, high = LIMITS[key]
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return default
    minimum = test_low if testing else low
    return default if value < minimum or value > high else value


def _bounded_hours(raw: object, testing: bool) -> float:
    low, test_low, high = RELOAD_LIMITS
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return DEFAULT_RELOAD_HOURS
    if not math.isfinite(value) or value < (test_low if testing else low) or value > high:
        return DEFAULT_RELOAD_HOURS
    return value


def parse_injected_now(raw: str | None, tz_name: str) -> datetime | None:
    """`now=2026-03-04T23:59:50` (local) or with an offset, as naive UTC; None when absent or malformed."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+") if "T" in raw else raw.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz_name))
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_tv_query(
    query: Mapping[str, str],
    *,
    tz_name: str,
    testing: bool,
    real_now: datetime,
    groups: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
) -> TvConfig:
    """The TV's configuration from its URL. `groups`/`projects` are the known names (None: accept any, e.g.
    before the first sync); unknown ones are dropped. `real_now` is naive UTC."""
    group_names = [name for raw in _names(query.get("group")) if (name := _match(raw, groups)) and _selector_ok(name)]
    project_names = [
        name for raw in _names(query.get("project")) if (name := _match(raw, projects)) and _selector_ok(name)
    ]
    slides: list[Slide] = []
    for item in _names(query.get("pages")) or list(PAGES):
        page, _, pinned = (part.strip() for part in item.partition(":"))
        page = page.lower()
        if page not in PAGES:
            continue
        known = projects if page == "redmine" else groups
        if pinned:
            selectors = [name] if (name := _match(pinned, known)) and _selector_ok(name) else [""]
        else:
            selectors = (project_names if page == "redmine" else group_names) or [""]
        slides.extend(Slide(page, selector) for selector in selectors)
    unique = tuple(dict.fromkeys(slides))[:MAX_SLIDES] or default_slides(PAGES)

    offset = 0.0
    if testing:
        injected = parse_injected_now(query.get("now"), tz_name)
        if injected is not None:
            offset = (injected - real_now).total_seconds()
    return TvConfig(
        slides=unique,
        rotate_seconds=_bounded_int(query.get("rotate"), DEFAULT_ROTATE_SECONDS, "rotate", testing),
        refresh_seconds=_bounded_int(query.get("refresh"), DEFAULT_REFRESH_SECONDS, "refresh", testing),
        reload_hours=_bounded_hours(query.get("reload"), testing),
        clock_offset_seconds=offset,
    )


# --- the frame ---------------------------------------------------------------------------------------------------


def layout(query: Mapping[str, str]) -> html.Div:
    """Read the settings and known names, then render the frame (callbacks/tv.py fills it)."""
    from models.db import utcnow
    from models.queries import vtiger_group_names
    from views.redmine import project_choices
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
    return frame(config, settings.timezone)


def frame(config: TvConfig, tz_name: str) -> html.Div:
    """Header (page, group, date, clock), banner slot, the slide, footer (rotation dots, last sync)."""
    return html.Div(
        [
            dcc.Store(id="tv-config", data=config.to_store(tz_name)),
            dcc.Store(id="tv-signature", data=None),
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


def progress(count: int, rotation: int) -> html.Div | None:
    """A bar that fills over the slide's time; alternating classes restart its CSS animation on every slide."""
    if count <= 1:
        return None
    return html.Div(className=f"tv-progress-bar tv-progress-{rotation % 2}")


def banner(headline: str, detail: str) -> list[html.Span]:
    return [
        html.Span("⚠", className="tv-banner-icon", **{"aria-hidden": "true"}),
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
) -> html.Div:
    """A leaderboard panel with every entry (up to BOARD_ROWS) and an empty "and N more" line; `data-total`
    tells assets/tv.js how many there are, so it can hide the rows that do not fit and count them there."""
    return html.Div(
        [
            leaderboard(entries, title=title, empty=empty, max_entries=BOARD_ROWS, scale=scale, ranked=ranked),
            html.Div(className="tv-more"),
        ],
        className="tv-board",
        **{"data-total": str(len(entries))},
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
    """The sales slide's figures for one day (from a metrics.sales.SalesView)."""

    points: float
    calls: int
    demos: int | None  # None: no demo stage configured
    at_goal: int
    points_board: list[tuple[str, float]]
    calls_board: list[tuple[str, int]]

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
        )


def sales_panel(view: Any, previous: Any) -> html.Div:
    """Today's sales against yesterday's (`previous`, the view of the window before): team points, calls and
    demos, and the points and calls leaderboards; on a quiet morning, yesterday's."""
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
                    today.points_board, title=f"Points today · goal {goal:g}", empty="No points yet today", scale=goal
                ),
                board(today.calls_board, title="Phone calls today", empty="No calls yet today"),
            ),
        ],
        className="tv-slide tv-slide-sales",
    )


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

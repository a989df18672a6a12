"""The state of the TV (/tv) as its URL carries it: which slides rotate, how fast, and (tests only) the clock.

The URL picks what rotates, e.g. `/tv?pages=cases,sales,redmine&group=Support&rotate=30`:
- `pages`: comma-separated cases, sales, redmine (default: all three); an item may pin its own group or
  project with a colon, `pages=cases:Support,sales:Sales,redmine`.
- `group`: comma-separated VTiger groups for the cases and sales slides (default: all groups together);
  `project`: comma-separated Redmine projects for the redmine slides (default: all projects).
- `rotate`: seconds per slide (default 30), `refresh`: seconds between data refreshes (default 60),
  `reload`: hours between full page reloads (default 6) that keep a browser left on for weeks lean.
- `screen`: a signed-in person's preview of a named screen's rotation (`[tv.screens.<name>]` or `kiosk set`);
  a TV on a kiosk token always shows its own screen's rotation, whatever its URL says, when it has one.
- `now`: only when settings.testing, an ISO date-time (local to TIMEZONE unless it has an offset) that the
  page's clock starts from and then runs on; tests use it to cross midnight.
Anything unknown or malformed falls back to its default, silently: a wall screen has nobody to read an error.

Pure (the query string itself is read by view_models/url_query.py, as for every page): must not import Dash,
Flask, SQLAlchemy or sync/.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from view_models.tv_rotation import SLIDE_KINDS, ScreenRotation
from view_models.url_query import comma_separated, known_spelling

OPTIONAL_PAGES = ("support",)  # shown only when `pages=` or a screen's rotation names them, never by default
# The default rotation: the slide kinds in their order (view_models/tv_rotation.py is the one list), less the optional.
PAGES = tuple(kind for kind in SLIDE_KINDS if kind not in OPTIONAL_PAGES)
PAGE_TITLES = {"cases": "Cases", "sales": "Sales", "redmine": "Redmine", "support": "Support"}
DEFAULT_ROTATE_SECONDS = 30
DEFAULT_REFRESH_SECONDS = 60
DEFAULT_RELOAD_HOURS = 6.0
LIMITS = {  # (production minimum, testing minimum, maximum)
    "rotate": (5, 1, 3600),
    "refresh": (10, 1, 3600),
}
RELOAD_LIMITS = (0.5, 0.0005, 72.0)  # hours; testing may reload after two seconds
MAX_SLIDES = 24
MAX_SELECTOR_LENGTH = 200  # a group or project name; longer is not a name
MAX_CLOCK_OFFSET_SECONDS = 10 * 366 * 86400  # tests move the clock by days or years, never further


@dataclass(frozen=True)
class Slide:
    page: str  # cases, sales, redmine
    selector: str  # the group (cases, sales) or project (redmine); "" = all

    @property
    def title(self) -> str:
        return PAGE_TITLES.get(self.page, self.page.title())

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
    screen: str = ""  # a named screen to preview (URL `screen=`); a kiosk's own name comes from its token

    def slide_at(self, rotation: int | None) -> tuple[int, Slide]:
        index = (rotation or 0) % len(self.slides)
        return index, self.slides[index]

    def rotation_at(self, screen: ScreenRotation | None, moment: time) -> tuple[tuple[Slide, ...], tuple[int, ...]]:
        """The slides and their seconds at `moment` (local): the screen's own rotation when it has one (its
        slides whose window covers `moment`), else the URL's slides at the URL's seconds."""
        if screen is None:
            return self.slides, (self.rotate_seconds,) * len(self.slides)
        active = screen.active_at(moment)
        slides = tuple(Slide(item.page, item.selector) for item in active)
        seconds = tuple(item.seconds or screen.seconds or self.rotate_seconds for item in active)
        return slides, seconds

    def to_store(self, tz_name: str, reload_at_ms: int | None = None) -> dict:
        """What the browser keeps (tv-config) and the clientside clock reads. `reload_at_ms`: when the daily full
        reload is due, on the TV's clock (epoch milliseconds, the injected clock in tests)."""
        return {
            "slides": [[slide.page, slide.selector] for slide in self.slides],
            "rotate": self.rotate_seconds,
            "refresh": self.refresh_seconds,
            "reload_ms": int(self.reload_hours * 3600 * 1000),
            "reload_at_ms": reload_at_ms,
            "offset_ms": int(self.clock_offset_seconds * 1000),
            "tz": tz_name,
            "screen": self.screen,
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
                if isinstance(item, list | tuple)
                and len(item) == 2
                and item[0] in (*PAGES, *OPTIONAL_PAGES)
                and _selector_ok(item[1])
            )
        )[:MAX_SLIDES]
        reload_ms = data.get("reload_ms")
        reload_hours = reload_ms / 3600 / 1000 if isinstance(reload_ms, int | float) else None
        screen = data.get("screen")
        return cls(
            slides=slides or default_slides(PAGES),
            rotate_seconds=_bounded_int(data.get("rotate"), DEFAULT_ROTATE_SECONDS, "rotate", testing),
            refresh_seconds=_bounded_int(data.get("refresh"), DEFAULT_REFRESH_SECONDS, "refresh", testing),
            reload_hours=_bounded_hours(reload_hours, testing),
            clock_offset_seconds=_clock_offset(data.get("offset_ms"), testing),
            screen=screen if isinstance(screen, str) and screen and _selector_ok(screen) else "",
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
    group_names = [
        name
        for raw in comma_separated(query.get("group"))
        if (name := known_spelling(raw, groups)) and _selector_ok(name)
    ]
    project_names = [
        name
        for raw in comma_separated(query.get("project"))
        if (name := known_spelling(raw, projects)) and _selector_ok(name)
    ]
    slides: list[Slide] = []
    for item in comma_separated(query.get("pages")) or list(PAGES):
        page, _, pinned = (part.strip() for part in item.partition(":"))
        page = page.lower()
        if page not in (*PAGES, *OPTIONAL_PAGES):
            continue
        known = projects if page == "redmine" else groups
        if pinned:
            selectors = [name] if (name := known_spelling(pinned, known)) and _selector_ok(name) else [""]
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
        screen=screen if (screen := (query.get("screen") or "").strip()) and _selector_ok(screen) else "",
    )


def next_reload(now_utc: datetime, at: time, tz_name: str) -> int:
    """The next moment after `now_utc` (naive UTC) at which the local clock reads `at`, in epoch milliseconds."""
    tz = ZoneInfo(tz_name)
    local = now_utc.replace(tzinfo=UTC).astimezone(tz)
    due = datetime.combine(local.date(), at, tzinfo=tz)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
    return int(due.astimezone(UTC).timestamp() * 1000)

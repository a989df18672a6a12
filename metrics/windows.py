"""Date windows in the organisation's time zone: the selected date's day, its week (Monday first) and its
month, as half-open [start, end) intervals in naive UTC (the form the database stores), correct across
daylight-saving changes because the bounds are local midnights converted one by one.

Pure: no database, no Dash, no clock (callers pass `today`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

WindowKind = Literal["day", "week", "month"]
WINDOW_KINDS: tuple[WindowKind, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    first_day: date  # local calendar dates, inclusive
    last_day: date
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive
    tz_name: str

    def label(self) -> str:
        if self.kind == "day":
            return self.first_day.strftime("%A, %d %B %Y")
        if self.kind == "week":
            return f"{self.first_day:%d %b} – {self.last_day:%d %b %Y}"
        return self.first_day.strftime("%B %Y")

    def contains(self, moment_utc: datetime) -> bool:
        return self.start <= moment_utc < self.end


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz`, as naive UTC."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def window_for(day: date, kind: WindowKind, tz_name: str) -> Window:
    """The day, week (Monday to Sunday) or month that contains `day`."""
    if kind == "day":
        first, last = day, day
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
    elif kind == "month":
        first = day.replace(day=1)
        last = next_month_start(first) - timedelta(days=1)
    else:
        raise ValueError(f"unknown window {kind!r}; expected day, week or month")
    tz = ZoneInfo(tz_name)
    return Window(
        kind, first, last, local_midnight_utc(first, tz), local_midnight_utc(last + timedelta(days=1), tz), tz_name
    )


def previous_window(window: Window) -> Window:
    """The window of the same kind just before this one (yesterday, last week, last month)."""
    return window_for(window.first_day - timedelta(days=1), window.kind, window.tz_name)


# --- what a window is compared with ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What a window's figures are set against: the previous window (`previous`, always whole), counted up to
    `end` (naive UTC, exclusive). A window still running at `now` is compared with the same elapsed span of the
    previous one, from its start to the same wall-clock time (`partial`); a finished one with all of it. `label`
    says which, for "▲ 3 vs <label>"."""

    previous: Window
    end: datetime
    label: str

    @property
    def partial(self) -> bool:
        return self.end < self.previous.end

    @property
    def span(self) -> Window:
        """The compared span as a Window (its start, `end`): for counting rows, never for roll-up lookups, which
        key on the whole window's kind and first day."""
        return replace(self.previous, end=self.end)

    @property
    def last_day(self) -> Window:
        """The span's last local day, counted only up to `end` (a Window of that day, ending at `end`)."""
        day = to_local_datetime(self.end, self.previous.tz_name).date()
        return replace(window_for(day, "day", self.previous.tz_name), end=self.end)

    @property
    def whole_days(self) -> list[Window]:
        """The span's local days before `last_day`, counted in full (day windows)."""
        first, last = self.previous.first_day, self.last_day.first_day
        return [window_for(first + timedelta(days=n), "day", self.previous.tz_name) for n in range((last - first).days)]


def covering(first_day: date, last_day: date) -> list[tuple[WindowKind, date]]:
    """The fewest whole windows (kind, first day) that cover the local days `first_day` to `last_day` exactly:
    whole months where they fit, then whole Monday-to-Sunday weeks, then days. Roll-ups keep each kind, so a span
    that is not one window (the compared part of a running month) reads a handful of counts instead of one per
    day."""
    pieces: list[tuple[WindowKind, date]] = []
    day = first_day
    while day <= last_day:
        month_end = next_month_start(day) - timedelta(days=1)
        if day.day == 1 and month_end <= last_day:
            pieces.append(("month", day))
            day = month_end + timedelta(days=1)
        elif day.weekday() == 0 and day + timedelta(days=6) <= last_day:
            pieces.append(("week", day))
            day += timedelta(days=7)
        else:
            pieces.append(("day", day))
            day += timedelta(days=1)
    return pieces


def starts_by_kind(windows: Iterable[tuple[str, date]]) -> dict[str, list[date]]:
    """(kind, first day) pairs as each kind's distinct first days, sorted: how roll-ups are looked up."""
    starts: dict[str, set[date]] = {}
    for kind, first_day in windows:
        starts.setdefault(kind, set()).add(first_day)
    return {kind: sorted(days) for kind, days in sorted(starts.items())}


@dataclass(frozen=True)
class SpanParts:
    """A span of time as roll-ups count it: whole local windows (`covering`) and the part of a day after them."""

    windows: list[tuple[WindowKind, date]]
    part_day: tuple[datetime, datetime] | None  # naive UTC [start, end) of the last day's counted part, if any

    def by_kind(self) -> dict[str, list[date]]:
        return starts_by_kind(self.windows)


def span_parts(window: Window) -> SpanParts:
    """`window` (a whole window, or a compared span that ends inside a day) as whole windows plus its last
    part-day, which only rows can count."""
    end_local = to_local_datetime(window.end, window.tz_name)
    whole = covering(window.first_day, end_local.date() - timedelta(days=1))
    cut = local_midnight_utc(end_local.date(), ZoneInfo(window.tz_name))
    part = (max(cut, window.start), window.end) if end_local.time() != time.min and cut < window.end else None
    return SpanParts(whole, part)


def compare_with(window: Window, now_utc: datetime | None) -> Comparison:
    """The comparison for `window` at `now_utc` (naive UTC; None: as if the window had ended). "Same elapsed
    span" means the same number of whole days from the window's start and then the same wall-clock time, cut to
    the minute (1-2 Dec 10:42 against 1 Nov 00:00 - 2 Nov 10:42), so a daylight-saving night compares wall
    clocks, not hours. It stops at the previous window's end (31 March against all of February)."""
    previous = previous_window(window)
    if now_utc is None or not window.contains(now_utc):
        return Comparison(previous, previous.end, finished_label(window, previous))
    tz = ZoneInfo(window.tz_name)
    now = to_local_datetime(now_utc, window.tz_name).replace(second=0, microsecond=0)
    same_day = previous.first_day + (now.date() - window.first_day)
    end = min(wall_clock_utc(datetime.combine(same_day, now.time()), tz), previous.end)
    if end == previous.end:
        return Comparison(previous, end, finished_label(window, previous))
    return Comparison(previous, end, running_label(window, previous, same_day, now))


def comparison_moment(day: date, tz_name: str, now_utc: datetime) -> datetime | None:
    """`now_utc` cut to the minute when a window of `day` (its day, week or month) is still running then, else
    None: what the figures of `day` are compared at, and a cache key part that changes only when it matters."""
    moment = now_utc.replace(second=0, microsecond=0)
    month = window_for(day, "month", tz_name)
    week = window_for(day, "week", tz_name)
    return moment if month.contains(moment) or week.contains(moment) else None


NBSP = "\u00a0"  # a label wraps between its parts, never inside "by Fri 16:00" or "1–2 Nov"


def running_label(window: Window, previous: Window, same_day: date, now: datetime) -> str:
    """ "yesterday by 10:42", "last week by Wed 10:42", "1–2 Nov by 10:42" (the compared span, then the time)."""
    clock = f"{now:%H:%M}"
    if window.kind == "day":
        return f"yesterday by{NBSP}{clock}"
    if window.kind == "week":
        return f"last week by{NBSP}{now:%a}{NBSP}{clock}"
    return f"{day_span(previous.first_day, same_day)} by{NBSP}{clock}"


def finished_label(window: Window, previous: Window) -> str:
    """ "Mon 9 Nov", "2–8 Nov", "November": the whole previous window, named by its dates (a past window's
    previous day is not "yesterday")."""
    if window.kind == "day":
        return f"{previous.first_day:%a} {day_span(previous.first_day, previous.first_day)}"
    if window.kind == "week":
        return day_span(previous.first_day, previous.last_day)
    if previous.first_day.year != window.first_day.year:
        return f"{previous.first_day:%B %Y}"
    return f"{previous.first_day:%B}"


def day_span(first: date, last: date) -> str:
    """ "1 Nov", "1–2 Nov", "26 Oct–1 Nov"."""
    if first == last:
        return f"{first.day}{NBSP}{first:%b}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day}{NBSP}{last:%b}"
    return f"{first.day}{NBSP}{first:%b}–{last.day}{NBSP}{last:%b}"


def to_local_datetime(moment_utc: datetime, tz_name: str) -> datetime:
    """A naive-UTC (or aware) instant as naive local wall-clock time in the time zone."""
    aware = moment_utc if moment_utc.tzinfo else moment_utc.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)


def wall_clock_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (naive UTC) at which the wall clock in `tz` reads `wall` or later: the first of the
    two on a fall-back night; on a spring-forward night, when `wall` is skipped, the moment the clock jumps
    past it."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first.replace(tzinfo=None)
    # Skipped: fold=1 reads the wall time with the offset after the jump, an instant when the clock still showed
    # an earlier time; fold=0 with the offset before it, when the clock already showed a later one.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(tzinfo=None, microsecond=0)


def next_month_start(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month `months_back` months before the month of `day`."""
    index = day.year * 12 + (day.month - 1) - months_back
    return date(index // 12, index % 12 + 1, 1)


def today_in(tz_name: str, now_utc: datetime | None = None) -> date:
    """The local calendar date now (or at `now_utc`, naive UTC or aware) in the time zone."""
    now = now_utc or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(ZoneInfo(tz_name)).date()


def to_local(series_utc: pd.Series, tz_name: str) -> pd.Series:
    """A pandas Series of naive UTC timestamps as local naive timestamps (for grouping by local day)."""
    return series_utc.dt.tz_localize("UTC").dt.tz_convert(tz_name).dt.tz_localize(None)


# --- interval edges for per-day and per-month counting (added for the cases/redmine charts) -----------------


def day_edges(first_day: date, last_day: date, tz_name: str) -> list[datetime]:
    """Local midnights from first_day through the day after last_day, as naive UTC: len = days + 1. A
    daylight-saving day is 23 or 25 hours long here, as it is on the wall clock."""
    tz = ZoneInfo(tz_name)
    count = (last_day - first_day).days + 2
    return [local_midnight_utc(first_day + timedelta(days=n), tz) for n in range(count)]


def months_from(first_month: date, count: int) -> list[date]:
    """`count` consecutive month starts beginning with first_month's month."""
    months, current = [], first_month.replace(day=1)
    for _ in range(count):
        months.append(current)
        current = next_month_start(current)
    return months


def month_edges(first_month: date, last_month: date, tz_name: str) -> list[datetime]:
    """Local month starts from first_month's month through the month after last_month's, as naive UTC."""
    tz = ZoneInfo(tz_name)
    count = (last_month.year - first_month.year) * 12 + last_month.month - first_month.month + 2
    return [local_midnight_utc(month, tz) for month in months_from(first_month, count)]

"""Date windows in the organisation's time zone: the selected date's day, its week (Monday first) and its
month, as half-open [start, end) intervals in naive UTC (the form the database stores), correct across
daylight-saving changes because the bounds are local midnights converted one by one.

Pure: no database, no Dash, no clock (callers pass `today`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

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


def to_local(series_utc, tz_name: str):  # type: ignore[no-untyped-def]
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

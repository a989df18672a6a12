"""Business time: the hours a help desk is open (`[calendar]` in kpi.toml), in TIMEZONE, minus public holidays.

`BusinessCalendar.business_hours_between(start, end)` counts the open hours inside an interval and
`add_business_hours(start, hours)` finds the moment a number of open hours after a start (a case's due time).
Both work day by day on local wall-clock hours turned into UTC instants one by one, so a daylight-saving night
and a holiday are exact, and a span outside the opening hours counts nothing.

Instants in and out are naive UTC (the form the database stores) or aware datetimes.
Pure: no database, no Dash, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from metrics.windows import wall_clock_utc

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours [opens, closes) on `weekdays` (0 = Monday) in `tz_name`, except the public holidays of
    `holidays_country` (ISO code; empty: no holidays). `closes` of None means midnight at the end of the day."""

    opens: time = time(9)
    closes: time | None = time(17)
    weekdays: frozenset[int] = frozenset(range(5))
    tz_name: str = "UTC"
    holidays_country: str = ""
    holidays_subdivision: str = ""

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in _holidays(
            self.holidays_country, self.holidays_subdivision, day.year
        )

    def open_interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening hours as naive-UTC [start, end), or None on a day off."""
        if not self.is_business_day(day):
            return None
        return _interval(day, self.opens, self.closes, self.tz_name)

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Open hours inside [start, end); 0 when end is not after start."""
        start, end = _naive_utc(start), _naive_utc(end)
        if end <= start:
            return 0.0
        seconds = 0.0
        for day in self._local_days(start, end):
            interval = self.open_interval(day)
            if interval is None:
                continue
            begin, finish = max(interval[0], start), min(interval[1], end)
            if finish > begin:
                seconds += (finish - begin).total_seconds()
        return seconds / 3600

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The instant (naive UTC) at which `hours` open hours have passed since `start`. Zero hours: `start`
        itself. A start outside the opening hours begins counting when the desk next opens."""
        start = _naive_utc(start)
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return start
        if not self.weekdays:
            raise ValueError("a calendar without business days never reaches a due time")
        day = self._local_date(start)
        for _ in range(3660 + int(hours)):  # ten years of days off at most: a guard, never reached in practice
            interval = self.open_interval(day)
            if interval is not None:
                begin = max(interval[0], start)
                if interval[1] > begin:
                    available = interval[1] - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError(f"no business hours found after {start:%Y-%m-%d}: check [calendar]")

    def timeline(self, first_day: date, last_day: date) -> Timeline:
        """The opening hours from `first_day` to `last_day` (local, inclusive) as arrays, to count many spans at
        once; spans must lie inside those days (`Timeline.covering` picks them)."""
        days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
        intervals = [interval for interval in map(self.open_interval, days) if interval is not None]
        return Timeline(intervals)

    def covering(self, first: datetime, last: datetime, hours_ahead: float = 0) -> Timeline:
        """A timeline holding every instant from `first` to `last` (naive UTC), plus room for `hours_ahead`
        business hours after `last`."""
        end = self.add_business_hours(_naive_utc(last), hours_ahead) if hours_ahead else _naive_utc(last)
        return self.timeline(
            self._local_date(_naive_utc(first)) - timedelta(days=1), self._local_date(end) + timedelta(days=1)
        )

    def local_date(self, moment: datetime) -> date:
        """The local calendar date of an instant (naive UTC or aware)."""
        return self._local_date(_naive_utc(moment))

    def _local_date(self, moment: datetime) -> date:
        return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(self.tz_name)).date()

    def _local_days(self, start: datetime, end: datetime) -> list[date]:
        first, last = self._local_date(start), self._local_date(end)
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Timeline:
    """Opening intervals as sorted numpy arrays: business hours between many pairs of instants, and due times, in
    a few vector steps. `hours_between` and `after_hours` agree with `BusinessCalendar.business_hours_between` and
    `add_business_hours` (tested) for instants inside the days the timeline was built for."""

    def __init__(self, intervals: list[tuple[datetime, datetime]]) -> None:
        self.opens = np.array([start for start, _ in intervals], dtype="datetime64[us]").astype("int64")
        self.closes = np.array([end for _, end in intervals], dtype="datetime64[us]").astype("int64")
        lengths = self.closes - self.opens
        self.ends = np.cumsum(lengths)  # business microseconds up to each interval's close
        self.befores = self.ends - lengths

    def elapsed(self, moments: np.ndarray) -> np.ndarray:
        """Business microseconds from the timeline's start to each instant (int64 microseconds since the epoch)."""
        if not len(self.opens):
            return np.zeros(len(moments), dtype="int64")
        index = np.searchsorted(self.opens, moments, side="right") - 1
        safe = np.clip(index, 0, None)
        inside = np.clip(moments - self.opens[safe], 0, self.closes[safe] - self.opens[safe])
        return np.where(index < 0, 0, self.befores[safe] + inside)

    def hours_between(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Business hours in [start, end) per pair of datetime64 values; NaN where either is missing, 0 where end
        is not after start."""
        starts, ends = np.asarray(starts, dtype="datetime64[us]"), np.asarray(ends, dtype="datetime64[us]")
        missing = np.isnat(starts) | np.isnat(ends)
        first, last = self._micros(starts), self._micros(ends)
        counted = np.clip(self.elapsed(last) - self.elapsed(first), 0, None) / 3_600_000_000
        return np.where(missing, np.nan, counted)

    def after_hours(self, starts: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """The datetime64 at which `hours` business hours have passed since each start (NaT where either is
        missing or the timeline is too short)."""
        starts = np.asarray(starts, dtype="datetime64[us]")
        hours = np.asarray(hours, dtype="float64")
        missing = np.isnat(starts) | np.isnan(hours)
        first = self._micros(starts)
        target = self.elapsed(first) + np.round(np.nan_to_num(hours) * 3_600_000_000).astype("int64")
        index = np.searchsorted(self.ends, target, side="left")
        beyond = index >= len(self.ends)
        safe = np.clip(index, 0, max(len(self.ends) - 1, 0))
        due = self.opens[safe] + (target - self.befores[safe]) if len(self.ends) else first
        due = np.where(hours <= 0, first, due)
        return np.where(missing | (beyond & (hours > 0)), np.datetime64("NaT"), due.astype("datetime64[us]"))

    @staticmethod
    def _micros(values: np.ndarray) -> np.ndarray:
        return np.where(np.isnat(values), 0, values.astype("int64"))


def parse_hours(text: str) -> tuple[time, time | None]:
    """ "09:00-17:00" -> (09:00, 17:00); "00:00-24:00" -> (00:00, None: the end of the day). ValueError names
    what is wrong."""
    parts = [part.strip() for part in text.split("-")]
    if len(parts) != 2:
        raise ValueError(f'must be two times such as "09:00-17:00" (got {text!r})')
    opens = _clock(parts[0], text)
    closes = None if parts[1] == "24:00" else _clock(parts[1], text)
    if closes is not None and closes <= opens:
        raise ValueError(f"must open before it closes, within one day (got {text!r})")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """ "Mon-Fri" -> {0..4}; "Mon-Fri,Sun" or "Sun-Thu" also work (a range may wrap past Sunday)."""
    days: set[int] = set()
    for part in (piece.strip() for piece in text.split(",")):
        ends = [_day(name.strip(), text) for name in part.split("-")]
        if len(ends) == 1:
            days.add(ends[0])
        elif len(ends) == 2:
            length = (ends[1] - ends[0]) % 7 + 1
            days.update((ends[0] + n) % 7 for n in range(length))
        else:
            raise ValueError(f'must be day names or ranges such as "Mon-Fri" (got {text!r})')
    return frozenset(days)


def _clock(text: str, whole: str) -> time:
    try:
        hour, minute = (int(number) for number in text.split(":"))
        return time(hour, minute)
    except ValueError as exc:
        raise ValueError(f'must be two times such as "09:00-17:00" (got {whole!r})') from exc


def _day(name: str, whole: str) -> int:
    title = name.title()
    for index, short in enumerate(DAY_NAMES):
        if title in (short, FULL_DAY_NAMES[index]):
            return index
    raise ValueError(f"names a day that is not one of {', '.join(DAY_NAMES)} (got {whole!r})")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@lru_cache(maxsize=65536)
def _interval(day: date, opens: time, closes: time | None, tz_name: str) -> tuple[datetime, datetime]:
    """A local day's opening hours as naive UTC; a wall time the clock skips (spring forward) starts at the jump,
    so a day that loses an hour inside its opening hours is an hour shorter, as it is on the wall."""
    tz = ZoneInfo(tz_name)
    start = wall_clock_utc(datetime.combine(day, opens), tz)
    if closes is None:
        end = wall_clock_utc(datetime.combine(day + timedelta(days=1), time.min), tz)
    else:
        end = wall_clock_utc(datetime.combine(day, closes), tz)
    return start, end


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=[year]))


def calendar_from(hours: str, days: str, tz_name: str, country: str = "", subdivision: str = "") -> BusinessCalendar:
    """The calendar `[calendar]` describes (its values already checked by settings)."""
    opens, closes = parse_hours(hours)
    return BusinessCalendar(opens, closes, parse_days(days), tz_name, country, subdivision)

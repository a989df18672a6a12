"""The pace of the daily sales goal: how many points a person should have by now, and whether they are ahead.

The pace at a moment is the daily goal times the elapsed fraction of that day's working hours: nothing before the
day opens, half the goal half-way through, the whole goal from closing time on. A day that is not a working day
(a weekend, a public holiday) has no pace. The working day comes from the business calendar (`[calendar]`), the
one calendar the support figures count business hours in.

Pure: settings and moments in, numbers and levels out. Must not import Dash, Flask, SQL or views/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from metrics.windows import to_local_datetime

NEAR_FRACTION = 0.10  # "amber": at most 10 % below the pace


@dataclass(frozen=True)
class WorkingDay:
    opens: datetime  # local wall clock, naive
    closes: datetime

    def elapsed_fraction(self, now: datetime) -> float:
        """0 before opening, 1 from closing on, linear in between (`now`: local wall clock, naive)."""
        if now <= self.opens:
            return 0.0
        if now >= self.closes:
            return 1.0
        return (now - self.opens) / (self.closes - self.opens)


def working_day(settings: Any, day: date) -> WorkingDay | None:
    """The working hours of `day` (local wall clock), or None on a day off: the business calendar's (`[calendar]`
    hours and days in TIMEZONE, minus its public holidays), the same calendar the support figures count in."""
    calendar = settings.business_calendar
    if not calendar.is_business_day(day):
        return None
    start = datetime.combine(day, calendar.opens)
    end = (
        datetime.combine(day + timedelta(days=1), time())
        if calendar.closes is None
        else datetime.combine(day, calendar.closes)
    )
    return WorkingDay(start, end if end > start else end + timedelta(days=1))


@dataclass(frozen=True)
class Pace:
    expected: float  # points a person on pace has by now
    level: str  # "ahead" (at or above the pace), "near" (within NEAR_FRACTION below it), "behind"

    @property
    def word(self) -> str:
        return PACE_WORDS[self.level]


PACE_WORDS = {"ahead": "▲ ahead of pace", "near": "● near pace", "behind": "▼ behind pace"}


def expected_points(goal: float, day: WorkingDay | None, now: datetime) -> float | None:
    """The goal times the elapsed fraction of the working day; None on a day off."""
    if day is None:
        return None
    return goal * day.elapsed_fraction(now)


def pace_level(points: float, expected: float) -> str:
    """Green at or above the pace, amber up to NEAR_FRACTION below it, red further behind."""
    if points >= expected:
        return "ahead"
    if points >= expected * (1 - NEAR_FRACTION):
        return "near"
    return "behind"


def pace_of(points: float, goal: float, day: WorkingDay | None, now: datetime) -> Pace | None:
    """A person's pace at `now` (local wall clock, naive); None on a day off (no pace to keep)."""
    expected = expected_points(goal, day, now)
    if expected is None:
        return None
    return Pace(expected, pace_level(points, expected))


def expected_by(settings: Any, day: date, goal: float, now_utc: datetime | None) -> float | None:
    """The points a person on pace has on `day` at `now_utc` (naive UTC; None: the day is over, the whole goal);
    None when `day` is not a working day."""
    hours = working_day(settings, day)
    if hours is None:
        return None
    if now_utc is None:
        return goal
    local = to_local_datetime(now_utc, settings.timezone)
    return expected_points(goal, hours, local)

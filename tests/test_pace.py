"""metrics/pace.py: the pace of the daily goal, against hand-computed values (goal 100, 09:00-17:00 = 8 hours)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from metrics.pace import WorkingDay, expected_points, pace_level, pace_of, working_day
from settings import CalendarRules, Settings

WEDNESDAY = date(2026, 3, 4)
SETTINGS = Settings()  # the default [calendar]: 09:00-17:00 Monday to Friday, US holidays


def at(hour: int, minute: int = 0, day: date = WEDNESDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def test_a_weekday_runs_from_nine_to_five() -> None:
    assert working_day(SETTINGS, WEDNESDAY) == WorkingDay(at(9), at(17))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(7, 30), 0.0),  # before opening hours: nothing expected yet
        (at(9), 0.0),
        (at(10), 12.5),  # 1 of 8 hours
        (at(13), 50.0),  # half the day: half the goal
        (at(16, 30), 93.75),  # 7.5 of 8 hours
        (at(17), 100.0),
        (at(22), 100.0),  # after hours: the whole goal
    ],
)
def test_the_pace_is_the_goal_times_the_elapsed_part_of_the_day(now: datetime, expected: float) -> None:
    assert expected_points(100, working_day(SETTINGS, WEDNESDAY), now) == expected


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 7), date(2026, 3, 8), date(2026, 12, 25), date(2026, 1, 1)],  # Sat, Sun, Christmas, New Year
)
def test_weekends_and_holidays_have_no_pace(day: date) -> None:
    assert working_day(SETTINGS, day) is None
    assert pace_of(40, 100, working_day(SETTINGS, day), at(13, day=day)) is None


@pytest.mark.parametrize(
    ("points", "level"),
    [(80, "ahead"), (50, "ahead"), (45, "near"), (47.5, "near"), (44.9, "behind"), (0, "behind")],
)
def test_ahead_near_and_behind_at_half_the_day(points: float, level: str) -> None:
    # At 13:00 the pace is 50 points: 45 is exactly 10 % below it (still amber), 44.9 is red.
    pace = pace_of(points, 100, working_day(SETTINGS, WEDNESDAY), at(13))
    assert pace is not None and pace.expected == 50 and pace.level == level


def test_before_opening_nobody_is_behind() -> None:
    assert pace_level(0, expected_points(100, working_day(SETTINGS, WEDNESDAY), at(8)) or 0) == "ahead"


def test_the_words_say_it_without_colour() -> None:
    paces = [pace_of(p, 100, working_day(SETTINGS, WEDNESDAY), at(13)) for p in (60, 46, 10)]
    words = {pace.word for pace in paces if pace is not None}
    assert words == {"▲ ahead of pace", "● near pace", "▼ behind pace"}


def test_the_calendar_section_gives_the_hours() -> None:
    settings = replace(SETTINGS, kpi=replace(SETTINGS.kpi, calendar=CalendarRules(hours="08:00-12:00", days="Mon-Sat")))
    saturday = date(2026, 3, 7)
    assert working_day(settings, saturday) == WorkingDay(at(8, day=saturday), at(12, day=saturday))
    assert expected_points(100, working_day(settings, saturday), at(10, day=saturday)) == 50
    assert working_day(settings, date(2026, 3, 8)) is None  # Sunday is outside Mon-Sat

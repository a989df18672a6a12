"""metrics/windows.py: window bounds in TIMEZONE as naive UTC, with the expected instants written out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from metrics.windows import (
    WindowKind,
    day_edges,
    local_midnight_utc,
    month_edges,
    month_start,
    months_from,
    previous_window,
    today_in,
    window_for,
)


def test_day_window_in_utc_is_the_calendar_day() -> None:
    window = window_for(date(2026, 11, 20), "day", "UTC")
    assert (window.start, window.end) == (datetime(2026, 11, 20), datetime(2026, 11, 21))
    assert window.first_day == window.last_day == date(2026, 11, 20)


def test_day_window_in_berlin_starts_at_local_midnight() -> None:
    window = window_for(date(2026, 11, 20), "day", "Europe/Berlin")
    assert (window.start, window.end) == (datetime(2026, 11, 19, 23), datetime(2026, 11, 20, 23))


def test_spring_forward_day_in_berlin_lasts_23_hours() -> None:
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
    window = window_for(date(2026, 3, 29), "day", "Europe/Berlin")
    assert window.start == datetime(2026, 3, 28, 23)
    assert window.end == datetime(2026, 3, 29, 22)
    assert window.end - window.start == timedelta(hours=23)


def test_fall_back_day_in_berlin_lasts_25_hours() -> None:
    # 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET.
    window = window_for(date(2026, 10, 25), "day", "Europe/Berlin")
    assert (window.start, window.end) == (datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 23))


def test_spring_forward_day_in_new_york() -> None:
    window = window_for(date(2026, 3, 8), "day", "America/New_York")
    assert (window.start, window.end) == (datetime(2026, 3, 8, 5), datetime(2026, 3, 9, 4))


def test_week_across_a_month_boundary_runs_monday_to_sunday() -> None:
    window = window_for(date(2026, 12, 2), "week", "Europe/Berlin")  # a Wednesday
    assert (window.first_day, window.last_day) == (date(2026, 11, 30), date(2026, 12, 6))
    assert (window.start, window.end) == (datetime(2026, 11, 29, 23), datetime(2026, 12, 6, 23))


def test_week_containing_the_dst_change_is_one_hour_short() -> None:
    window = window_for(date(2026, 3, 26), "week", "Europe/Berlin")
    assert (window.first_day, window.last_day) == (date(2026, 3, 23), date(2026, 3, 29))
    assert window.end - window.start == timedelta(days=7) - timedelta(hours=1)


def test_sunday_belongs_to_the_week_that_started_on_monday() -> None:
    window = window_for(date(2026, 11, 29), "week", "UTC")
    assert window.first_day == date(2026, 11, 23)


def test_month_window_in_berlin() -> None:
    window = window_for(date(2026, 11, 20), "month", "Europe/Berlin")
    assert (window.first_day, window.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (window.start, window.end) == (datetime(2026, 10, 31, 23), datetime(2026, 11, 30, 23))


def test_february_of_a_leap_year() -> None:
    window = window_for(date(2028, 2, 10), "month", "UTC")
    assert window.last_day == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("day", "kind", "first", "last"),
    [
        (date(2026, 11, 1), "day", date(2026, 10, 31), date(2026, 10, 31)),
        (date(2026, 12, 2), "week", date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 1, 15), "month", date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_previous_window(day: date, kind: WindowKind, first: date, last: date) -> None:
    before = previous_window(window_for(day, kind, "Europe/Berlin"))
    assert (before.first_day, before.last_day) == (first, last)


def test_window_is_half_open() -> None:
    window = window_for(date(2026, 11, 20), "day", "UTC")
    assert window.contains(datetime(2026, 11, 20))
    assert window.contains(datetime(2026, 11, 20, 23, 59, 59, 999999))
    assert not window.contains(datetime(2026, 11, 21))


def test_unknown_window_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown window"):
        window_for(date(2026, 11, 20), "year", "UTC")  # type: ignore[arg-type]  # an unknown kind, on purpose


def test_today_rolls_over_at_local_midnight() -> None:
    assert today_in("Europe/Berlin", datetime(2026, 11, 20, 22, 59)) == date(2026, 11, 20)
    assert today_in("Europe/Berlin", datetime(2026, 11, 20, 23, 0)) == date(2026, 11, 21)
    assert today_in("America/New_York", datetime(2026, 11, 21, 4, 59)) == date(2026, 11, 20)


def test_day_edges_follow_the_wall_clock_across_dst() -> None:
    edges = day_edges(date(2026, 10, 24), date(2026, 10, 26), "Europe/Berlin")
    assert edges == [
        datetime(2026, 10, 23, 22),
        datetime(2026, 10, 24, 22),
        datetime(2026, 10, 25, 23),  # the 25-hour day
        datetime(2026, 10, 26, 23),
    ]


def test_day_edges_in_a_quarter_hour_zone() -> None:
    assert day_edges(date(2026, 1, 1), date(2026, 1, 1), "Asia/Kathmandu") == [
        datetime(2025, 12, 31, 18, 15),
        datetime(2026, 1, 1, 18, 15),
    ]


def test_month_edges_and_months() -> None:
    assert month_edges(date(2026, 11, 5), date(2027, 1, 20), "Europe/Berlin") == [
        datetime(2026, 10, 31, 23),
        datetime(2026, 11, 30, 23),
        datetime(2026, 12, 31, 23),
        datetime(2027, 1, 31, 23),
    ]
    assert months_from(date(2026, 11, 5), 3) == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert month_start(date(2026, 2, 14), 3) == date(2025, 11, 1)


def test_local_midnight_after_spring_forward() -> None:
    from zoneinfo import ZoneInfo

    assert local_midnight_utc(date(2026, 3, 30), ZoneInfo("Europe/Berlin")) == datetime(2026, 3, 29, 22)

"""metrics/business_time.py against hand-computed hours: weekends, holidays, daylight-saving nights, spans
outside the opening hours, and due times; and `[calendar]` / `[cases.sla]` in kpi.toml."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from metrics.business_time import BusinessCalendar, calendar_from, parse_days, parse_hours
from settings import ConfigError, load_kpi_rules, load_settings

BERLIN = "Europe/Berlin"


def local(text: str, tz_name: str = BERLIN) -> datetime:
    """Naive UTC of a local wall-clock time."""
    wall = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz_name))
    return wall.astimezone(UTC).replace(tzinfo=None)


def office(tz_name: str = BERLIN, country: str = "") -> BusinessCalendar:
    return calendar_from("09:00-17:00", "Mon-Fri", tz_name, country)


def test_friday_afternoon_to_monday_morning_is_one_business_hour():
    # Fri 4 Dec 2026 16:30 -> Mon 7 Dec 09:30: 30 minutes on Friday, 30 on Monday.
    assert office().business_hours_between(local("2026-12-04 16:30"), local("2026-12-07 09:30")) == 1.0


def test_a_public_holiday_counts_nothing():
    # Thu 24 Dec 2026 16:00 -> Mon 28 Dec 10:00 in Germany: Thu 1 h, Fri 25 and Sat/Sun off, Mon 1 h = 2 h
    # (26 Dec is a Saturday). Without holidays Friday adds 8 hours.
    start, end = local("2026-12-24 16:00"), local("2026-12-28 10:00")
    assert office(country="DE").business_hours_between(start, end) == 2.0
    assert office().business_hours_between(start, end) == 10.0


def test_fall_back_night_has_25_hours_on_a_round_the_clock_calendar():
    # Europe/Berlin leaves summer time on Sun 25 Oct 2026 at 03:00 -> 02:00.
    always = calendar_from("00:00-24:00", "Mon-Sun", BERLIN)
    assert always.business_hours_between(local("2026-10-25 00:00"), local("2026-10-26 00:00")) == 25.0
    assert always.business_hours_between(local("2026-03-29 00:00"), local("2026-03-30 00:00")) == 23.0


def test_spring_forward_inside_the_opening_hours_is_an_hour_shorter():
    # 29 Mar 2026: 02:00 -> 03:00 in Berlin, so 01:00-05:00 holds three hours that day.
    night = calendar_from("01:00-05:00", "Mon-Sun", BERLIN)
    assert night.business_hours_between(local("2026-03-29 00:00"), local("2026-03-30 00:00")) == 3.0


def test_office_hours_across_a_dst_weekend_are_unchanged():
    # Fri 23 Oct 2026 12:00 -> Mon 26 Oct 12:00 (the clocks change on Sunday): 5 + 3 = 8 business hours,
    # 73 calendar hours.
    start, end = local("2026-10-23 12:00"), local("2026-10-26 12:00")
    assert office().business_hours_between(start, end) == 8.0
    assert (end - start).total_seconds() / 3600 == 73.0


def test_spans_outside_the_opening_hours():
    cal = office()
    assert cal.business_hours_between(local("2026-12-05 10:00"), local("2026-12-06 18:00")) == 0.0  # weekend
    assert cal.business_hours_between(local("2026-12-07 17:30"), local("2026-12-08 08:00")) == 0.0  # night
    assert cal.business_hours_between(local("2026-12-07 07:00"), local("2026-12-07 19:00")) == 8.0  # whole day
    assert cal.business_hours_between(local("2026-12-08 10:00"), local("2026-12-07 10:00")) == 0.0  # reversed
    # A full week Monday 00:00 -> next Monday 00:00: 5 x 8.
    assert cal.business_hours_between(local("2026-12-07 00:00"), local("2026-12-14 00:00")) == 40.0


def test_aware_datetimes_are_accepted():
    start = datetime(2026, 12, 4, 16, 30, tzinfo=ZoneInfo(BERLIN))
    end = datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo(BERLIN))
    assert office().business_hours_between(start, end) == 1.0


def test_add_business_hours_is_the_inverse():
    cal = office(country="DE")
    # 4 business hours from Friday 15:00: 2 on Friday, 2 on Monday -> Monday 11:00.
    assert cal.add_business_hours(local("2026-12-04 15:00"), 4) == local("2026-12-07 11:00")
    # From Saturday: counting starts Monday 09:00.
    assert cal.add_business_hours(local("2026-12-05 12:00"), 8) == local("2026-12-07 17:00")
    # Across Christmas: Thu 24 Dec 16:00 + 2 h -> Thu 1 h, Fri 25 holiday, Mon 28 09:00 + 1 h.
    assert cal.add_business_hours(local("2026-12-24 16:00"), 2) == local("2026-12-28 10:00")
    # Ending exactly at closing time stays on that day.
    assert cal.add_business_hours(local("2026-12-07 09:00"), 8) == local("2026-12-07 17:00")
    assert cal.add_business_hours(local("2026-12-07 09:00"), 0) == local("2026-12-07 09:00")
    start = local("2026-12-03 13:17")
    due = cal.add_business_hours(start, 24)
    assert cal.business_hours_between(start, due) == pytest.approx(24.0)


def test_parse_hours_and_days():
    assert parse_hours("09:00-17:00") == (time(9), time(17))
    assert parse_hours("00:00-24:00") == (time(0), None)
    assert parse_days("Mon-Fri") == frozenset(range(5))
    assert parse_days("Sun-Thu") == frozenset({6, 0, 1, 2, 3})
    assert parse_days("Mon,Wednesday") == frozenset({0, 2})
    for bad in ("17:00-09:00", "9-5", "09:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    with pytest.raises(ValueError):
        parse_days("Mon-Fry")


def write(tmp_path, text: str):
    path = tmp_path / "kpi.toml"
    path.write_text(text)
    return path


def test_calendar_section_defaults_and_values(tmp_path):
    rules = load_kpi_rules(write(tmp_path, ""))
    assert (rules.calendar.hours, rules.calendar.days, rules.calendar.holidays_country) == (
        "09:00-17:00",
        "Mon-Fri",
        "US",
    )
    rules = load_kpi_rules(
        write(tmp_path, '[calendar]\nhours = "08:00-16:30"\ndays = "Sun-Thu"\nholidays_country = "IL"\n')
    )
    assert rules.calendar.hours == "08:00-16:30" and rules.calendar.holidays_country == "IL"
    assert rules.sales.holidays_country == "IL"  # one calendar for both pages


def test_old_sales_holidays_key_is_still_read(tmp_path):
    rules = load_kpi_rules(write(tmp_path, '[sales]\nholidays_country = "DE"\nholidays_subdivision = "BY"\n'))
    assert (rules.calendar.holidays_country, rules.calendar.holidays_subdivision) == ("DE", "BY")
    settings = load_settings({"TIMEZONE": BERLIN}, env_file=None, credentials_file=None, kpi=rules)
    # 6 Jan (Epiphany) is a holiday in Bavaria.
    assert not settings.business_calendar.is_business_day(datetime(2026, 1, 6).date())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[calendar]\nhours = "17:00-09:00"\n', "calendar.hours must open before it closes"),
        ('[calendar]\ndays = "Mon-Fry"\n', "calendar.days names a day"),
        ('[calendar]\nholidays_country = "XX"\n', "calendar.holidays_country 'XX' is not a known country code"),
        ('[calendar]\nopen = "09:00"\n', "calendar.open is not a known key"),
        ("[cases.sla]\nresolve_hours = { Urgent = -1 }\n", "cases.sla.resolve_hours.Urgent must be a positive"),
        ("[cases.sla]\nresolve_hours = 4\n", "cases.sla.resolve_hours must be a table"),
        ("[cases.sla]\nwithin = 4\n", "cases.sla.within is not a known key"),
    ],
)
def test_bad_calendar_and_sla_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_kpi_rules(write(tmp_path, text))


def test_sla_defaults_and_override(tmp_path):
    rules = load_kpi_rules(write(tmp_path, ""))
    assert rules.cases.sla.target_hours("Urgent") == 4 and rules.cases.sla.target_hours("Low") == 72
    rules = load_kpi_rules(write(tmp_path, '[cases.sla]\nresolve_hours = { P1 = 2 }\ndue_field = "sla_closureon"\n'))
    assert rules.cases.sla.target_hours("P1") == 2 and rules.cases.sla.target_hours("Urgent") is None
    assert rules.cases.sla.due_field == "sla_closureon"


def test_the_timeline_agrees_with_the_plain_calendar_on_random_spans():
    """The vector path (Timeline) against the day-by-day one, on spans across weekends, a German holiday
    season and both daylight-saving nights."""
    import random

    import numpy as np

    cal = office(country="DE")
    rng = random.Random(7)
    base = local("2026-03-01 00:00")
    starts = [base + timedelta(minutes=rng.randrange(0, 60 * 24 * 300)) for _ in range(400)]
    ends = [start + timedelta(minutes=rng.randrange(0, 60 * 24 * 40)) for start in starts]
    hours = [rng.choice([0, 1, 4, 8, 24, 72, 2.5]) for _ in starts]
    timeline = cal.covering(min(starts), max(ends), hours_ahead=72)
    fast = timeline.hours_between(np.array(starts, dtype="datetime64[us]"), np.array(ends, dtype="datetime64[us]"))
    assert fast.tolist() == pytest.approx([cal.business_hours_between(s, e) for s, e in zip(starts, ends, strict=True)])
    due = timeline.after_hours(np.array(starts, dtype="datetime64[us]"), np.array(hours))
    expected = [cal.add_business_hours(s, h) for s, h in zip(starts, hours, strict=True)]
    assert [value.astype("datetime64[us]").item() for value in due] == expected
    # Missing values stay missing.
    blank = timeline.hours_between(
        np.array(["NaT"], dtype="datetime64[us]"), np.array([ends[0]], dtype="datetime64[us]")
    )
    assert np.isnan(blank[0])

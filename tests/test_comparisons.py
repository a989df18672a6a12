"""What a window's figures are compared with (metrics.windows.compare_with): a running window against the same
elapsed span of the previous one, a finished window against all of it; the label says which. Bounds are written
out by hand; the pages' fast path (roll-ups plus the partial day's rows) is checked against counting the rows."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete

from layouts.components import kpi_card
from layouts.tracker_page import window_columns as page_columns
from layouts.tv import cases_panel
from metrics.windows import WindowKind, compare_with, comparison_moment, today_in, wall_clock_utc, window_for
from models import rollups
from models.schema import cases, redmine_issues, rollup_state
from settings import CaseRules, KpiRules, Settings
from tests.test_rollups import random_case, random_issue, write
from view_models.cases import build_cases_view
from view_models.page_state import PageState
from view_models.redmine import build_redmine_view

BERLIN = "Europe/Berlin"


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Berlin wall-clock time in winter (CET, UTC+1) as naive UTC."""
    return datetime(year, month, day, hour, minute, second) - timedelta(hours=1)


# --- the spans, by hand ----------------------------------------------------------------------------------------


def test_month_on_the_second_is_compared_with_the_first_two_days_of_the_month_before() -> None:
    now = berlin(2026, 12, 2, 10, 42, 31)
    comparison = compare_with(window_for(date(2026, 12, 2), "month", BERLIN), now)
    assert comparison.partial
    assert comparison.previous.start == datetime(2026, 10, 31, 23)  # 1 Nov 00:00 CET
    assert comparison.end == datetime(2026, 11, 2, 9, 42)  # 2 Nov 10:42 CET, cut to the minute
    assert comparison.label == "1–2\u00a0Nov by\u00a010:42"
    assert [day.first_day for day in comparison.whole_days] == [date(2026, 11, 1)]
    assert (comparison.last_day.start, comparison.last_day.end) == (datetime(2026, 11, 1, 23), comparison.end)


def test_today_is_compared_with_yesterday_until_the_same_time() -> None:
    comparison = compare_with(window_for(date(2026, 12, 2), "day", BERLIN), berlin(2026, 12, 2, 10, 42))
    assert (comparison.previous.start, comparison.end) == (datetime(2026, 11, 30, 23), datetime(2026, 12, 1, 9, 42))
    assert comparison.label == "yesterday by\u00a010:42"
    assert comparison.whole_days == []


def test_week_to_date_is_compared_with_last_week_until_the_same_weekday_and_time() -> None:
    comparison = compare_with(window_for(date(2026, 12, 2), "week", BERLIN), berlin(2026, 12, 2, 10, 42))
    assert comparison.previous.first_day == date(2026, 11, 23)
    assert comparison.end == datetime(2026, 11, 25, 9, 42)  # Wed 25 Nov 10:42 CET
    assert comparison.label == "last week by\u00a0Wed\u00a010:42"
    assert [day.first_day for day in comparison.whole_days] == [date(2026, 11, 23), date(2026, 11, 24)]


def test_finished_windows_are_compared_with_the_whole_previous_window() -> None:
    now = berlin(2026, 12, 2, 10, 42)
    day = compare_with(window_for(date(2026, 11, 10), "day", BERLIN), now)
    week = compare_with(window_for(date(2026, 11, 4), "week", BERLIN), now)
    month = compare_with(window_for(date(2026, 11, 4), "month", BERLIN), now)
    january = compare_with(window_for(date(2026, 1, 15), "month", BERLIN), now)
    assert not any(c.partial for c in (day, week, month, january))
    assert (day.end, day.label) == (datetime(2026, 11, 9, 23), "Mon 9\u00a0Nov")  # 10 Nov 00:00 CET
    assert (week.end, week.label) == (datetime(2026, 11, 1, 23), "26\u00a0Oct–1\u00a0Nov")
    assert (month.end, month.label) == (datetime(2026, 10, 31, 23), "October")
    assert january.label == "December 2025"
    assert compare_with(window_for(date(2026, 12, 2), "day", BERLIN), None).label == "Tue 1\u00a0Dec"


def test_a_month_longer_than_the_one_before_stops_at_its_end() -> None:
    now = datetime(2026, 3, 31, 8, 42)  # 31 Mar 10:42 CEST
    march = window_for(date(2026, 3, 31), "month", BERLIN)
    comparison = compare_with(march, now)
    assert not comparison.partial and comparison.end == datetime(2026, 2, 28, 23)  # all of February
    assert comparison.label == "February"
    on_the_28th = compare_with(march, datetime(2026, 3, 28, 9, 42))  # 10:42 CET: still winter time
    assert (on_the_28th.end, on_the_28th.label) == (datetime(2026, 2, 28, 9, 42), "1–28\u00a0Feb by\u00a010:42")


def test_daylight_saving_nights_compare_wall_clocks() -> None:
    # The spring-forward day itself (23 hours): 10:00 CEST against 10:00 CET the day before.
    spring = compare_with(window_for(date(2026, 3, 29), "day", BERLIN), datetime(2026, 3, 29, 8))
    assert spring.end == datetime(2026, 3, 28, 9)
    # The day after: 02:30 did not exist on 29 March; the span runs until the clock jumped past it (01:00 UTC).
    skipped = compare_with(window_for(date(2026, 3, 30), "day", BERLIN), datetime(2026, 3, 30, 0, 30))
    assert (skipped.end, skipped.label) == (datetime(2026, 3, 29, 1), "yesterday by\u00a002:30")
    # The day after fall-back: 02:30 came twice on 25 October; the span runs until the first (00:30 UTC).
    twice = compare_with(window_for(date(2026, 10, 26), "day", BERLIN), datetime(2026, 10, 26, 1, 30))
    assert twice.end == datetime(2026, 10, 25, 0, 30)
    # The 25-hour day itself: 10:42 CET against 10:42 CEST.
    long_day = compare_with(window_for(date(2026, 10, 25), "day", BERLIN), datetime(2026, 10, 25, 9, 42))
    assert long_day.end == datetime(2026, 10, 24, 8, 42)


def test_wall_clock_instants() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(BERLIN)
    assert wall_clock_utc(datetime(2026, 3, 29, 2, 0), tz) == datetime(2026, 3, 29, 1)  # skipped: the jump
    assert wall_clock_utc(datetime(2026, 3, 29, 3, 0), tz) == datetime(2026, 3, 29, 1)
    assert wall_clock_utc(datetime(2026, 10, 25, 2, 0), tz) == datetime(2026, 10, 25, 0)  # twice: the first
    assert wall_clock_utc(datetime(2026, 12, 1, 10, 42), tz) == datetime(2026, 12, 1, 9, 42)


def test_the_comparison_moment_matters_only_while_a_window_of_the_day_runs() -> None:
    now = datetime(2026, 12, 2, 9, 42, 59)
    assert comparison_moment(date(2026, 12, 2), BERLIN, now) == datetime(2026, 12, 2, 9, 42)
    assert comparison_moment(date(2026, 12, 1), BERLIN, now) == datetime(2026, 12, 2, 9, 42)  # same week
    assert comparison_moment(date(2026, 11, 29), BERLIN, now) is None  # last week, last month: finished


# --- counting, by hand and against the rows ---------------------------------------------------------------------


@pytest.fixture
def berlin_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    rules = KpiRules(cases=CaseRules(resolved_statuses=("Resolved", "Closed"), closed_statuses=("Closed",)))
    return settings_for(database_url, timezone=BERLIN, kpi=rules)


def case(number: int, created: datetime, *, status: str = "Open", resolved: datetime | None = None) -> dict:
    return {
        "source_id": f"39x{number}",
        "case_no": f"CC{number}",
        "title": f"case {number}",
        "status": status,
        "group_name": "Support",
        "assignee_name": "Ann",
        "created_at": created,
        "updated_at": resolved or created,
        "resolved_at": resolved,
        "raw": {},
    }


@pytest.mark.parametrize("with_rollups", [True, False])
def test_a_record_at_the_cut_off_counts_for_the_later_span(
    engine: Engine, berlin_settings: Settings, with_rollups: bool
) -> None:
    now = berlin(2026, 12, 2, 10, 42, 20)
    cut = berlin(2026, 12, 1, 10, 42)  # yesterday's span ends here (exclusive)
    write(
        engine,
        cases,
        [
            case(1, cut - timedelta(seconds=1)),  # yesterday by 10:42: counted
            case(2, cut),  # exactly at the cut-off: after it
            case(3, berlin(2026, 12, 1, 0, 0)),  # yesterday's first instant: counted
            case(4, berlin(2026, 11, 30, 23, 59, 59)),  # the day before: not yesterday
            case(5, berlin(2026, 11, 2, 10, 41), status="Resolved", resolved=berlin(2026, 11, 2, 10, 41, 59)),
            case(6, berlin(2026, 11, 2, 10, 42), status="Resolved", resolved=berlin(2026, 11, 2, 10, 42)),
            case(7, berlin(2026, 11, 1, 0, 0)),  # 1 Nov: a whole day of the month's span
            case(8, berlin(2026, 12, 2, 8, 0)),  # today
        ],
    )
    if with_rollups:
        rollups.rebuild(engine, "cases", BERLIN)
    else:
        with engine.begin() as conn:
            conn.execute(delete(rollup_state))
    view = build_cases_view(engine, berlin_settings, date(2026, 12, 2), today=date(2026, 12, 2), now=now)
    day, month = view.windows["day"], view.windows["month"]
    assert day.figures.created == 1
    assert (day.previous_figures.created, day.comparison.label) == (2, "yesterday by\u00a010:42")  # cases 1 and 3
    assert month.figures.created == 4  # 1, 2, 3 and 8
    assert (month.previous_figures.created, month.previous_figures.resolved) == (2, 1)  # 5 and 7; 5 resolved
    assert month.previous_figures.worked == 2
    assert month.comparison.label == "1–2\u00a0Nov by\u00a010:42"
    card = kpi_card("Created", month.figures.created, previous=month.previous_figures.created,
                    previous_label=month.comparison.label)  # fmt: skip
    assert "▲ 2 vs 1–2\u00a0Nov by\u00a010:42" in text_of(card)


def text_of(component: object) -> str:
    """The text a component renders, concatenated (what a person reads, without the markup)."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return "".join(text_of(child) for child in component if child is not None)
    children = getattr(component, "children", None)
    return "" if children is None else text_of(children)


NOWS = [
    datetime(2026, 11, 2, 9, 17),  # the day after the 25-hour day (America/New_York: 1 Nov)
    datetime(2026, 11, 1, 6, 30),  # on it, before and after the repeated hour
    datetime(2026, 11, 1, 5, 30),
    datetime(2026, 10, 31, 15, 5),  # a month's last day against a 30-day month
    datetime(2026, 11, 20, 23, 59),
    datetime(2026, 10, 1, 4, 0),  # local midnight: nothing elapsed yet
]


def test_fast_path_gives_what_counting_the_rows_gives(engine: Engine, settings_for: Callable[..., Settings]) -> None:
    tz = "America/New_York"
    rules = KpiRules(cases=CaseRules(resolved_statuses=("Resolved", "Closed"), closed_statuses=("Closed",)))
    settings = settings_for(engine.url.render_as_string(hide_password=False), timezone=tz, kpi=rules)
    rng = random.Random(21)
    write(engine, cases, [random_case(rng, n) for n in range(500)])
    write(engine, redmine_issues, [random_issue(rng, n) for n in range(300)])
    partial = 0
    for now in NOWS:
        day = today_in(tz, now)
        for group in ("", "Support"):
            rollups.rebuild(engine, "cases", tz)
            rollups.rebuild(engine, "redmine", tz)
            fast_cases = build_cases_view(engine, settings, day, group=group, charts=False, now=now)
            fast_issues = build_redmine_view(engine, settings, day, project=group and "Platform", charts=False, now=now)
            with engine.begin() as conn:
                conn.execute(delete(rollup_state))
            rows_cases = build_cases_view(engine, settings, day, group=group, charts=False, now=now)
            rows_issues = build_redmine_view(engine, settings, day, project=group and "Platform", charts=False, now=now)
            for fast, plain in ((fast_cases, rows_cases), (fast_issues, rows_issues)):
                for kind in ("day", "week", "month"):
                    assert fast.windows[kind].comparison == plain.windows[kind].comparison
                    assert fast.windows[kind].previous_figures == plain.windows[kind].previous_figures, (now, kind)
                    partial += fast.windows[kind].comparison.partial
    assert partial > 30  # the running windows were compared in part


def test_plain_definition_by_local_wall_clock(engine: Engine, settings_for: Callable[..., Settings]) -> None:
    """The previous span's created count is the rows whose local wall-clock time lies from the previous window's
    first day 00:00 up to (not including) the same day offset and time of day: a definition written without
    metrics.windows, on a day with no repeated hour."""
    import pandas as pd

    tz = "America/New_York"
    settings = settings_for(engine.url.render_as_string(hide_password=False), timezone=tz)
    rng = random.Random(22)
    rows = [random_case(rng, n) for n in range(400)]
    write(engine, cases, rows)
    rollups.rebuild(engine, "cases", tz)
    now = datetime(2026, 11, 18, 19, 7)  # Wed 18 Nov 14:07 EST
    view = build_cases_view(engine, settings, date(2026, 11, 18), charts=False, now=now)
    created = pd.Series([row["created_at"] for row in rows if row["created_at"] is not None])
    local = created.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    spans: dict[WindowKind, tuple[datetime, datetime]] = {
        "day": (datetime(2026, 11, 17), datetime(2026, 11, 17, 14, 7)),
        "week": (datetime(2026, 11, 9), datetime(2026, 11, 11, 14, 7)),
        "month": (datetime(2026, 10, 1), datetime(2026, 10, 18, 14, 7)),
    }
    for kind, (first, cut) in spans.items():
        expected = int(((local >= first) & (local < cut)).sum())
        assert view.windows[kind].previous_figures.created == expected, kind
        assert expected > 0


def test_pages_and_the_tv_show_the_comparison_label(engine: Engine, berlin_settings: Settings) -> None:
    now = berlin(2026, 12, 2, 10, 42)
    write(engine, cases, [case(1, berlin(2026, 12, 1, 9, 0)), case(2, berlin(2026, 12, 2, 9, 0))])
    view = build_cases_view(engine, berlin_settings, date(2026, 12, 2), today=date(2026, 12, 2), now=now)
    from layouts.cases import PAGE

    state = PageState(date(2026, 12, 2), "day", "", True, date(2026, 12, 2), now=now)
    page = text_of(page_columns(PAGE, view, state))
    assert "= same vs yesterday by\u00a010:42" in page
    assert "vs last week by\u00a0Wed\u00a010:42" in page
    assert "vs 1–2\u00a0Nov by\u00a010:42" in page
    assert "the month before" not in page and "the day before" not in page
    tv = text_of(cases_panel(view))
    assert "= same vs yesterday by\u00a010:42" in tv

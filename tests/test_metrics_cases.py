"""The case figures as the KPI catalogue defines them (metrics/catalogue.py, metrics/cases.py: the rows behind a
card, and the figures through the roll-up counts a page reads) and metrics/series.py on small hand-built frames;
every expected figure is written out.

Time zone Europe/Berlin throughout (UTC+1 in winter, +2 in summer), so a UTC-day implementation fails.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from metrics import cases as m
from metrics.series import (
    CountRow,
    comparison_months,
    counts_by,
    cumulative_by_day_of_month,
    daily_counts,
    kill_rate,
    monthly_counts,
    monthly_history,
    newest_first,
    sums_by,
)
from metrics.windows import Window, previous_window, window_for
from settings import CaseRules
from tests.kpi_counting import counted

TZ = "Europe/Berlin"
RULES = CaseRules(resolved_statuses=("Resolved", "Closed"), closed_statuses=("Closed",))
COLUMNS = ["id", "status", "assignee_name", "group_name", "created_at", "updated_at", "resolved_at", "deleted_at"]


def frame(*rows: dict) -> pd.DataFrame:
    """Cases with defaults: open, Ann in Support, created long before, never resolved or deleted."""
    defaults = {
        "status": "Open",
        "assignee_name": "Ann",
        "group_name": "Support",
        "created_at": datetime(2026, 1, 5, 9),
        "updated_at": None,
        "resolved_at": None,
        "deleted_at": None,
    }
    built = [{"id": n, **defaults, **row} for n, row in enumerate(rows, start=1)]
    result = pd.DataFrame(built, columns=COLUMNS)
    for name in ("created_at", "updated_at", "resolved_at", "deleted_at"):
        result[name] = pd.to_datetime(result[name])
    return result


def figures(rows: pd.DataFrame, window: Window) -> m.CaseFigures:
    """A window's figures as a page counts them: from the roll-ups the rows give."""
    return counted(rows, "cases", RULES, TZ).figures(window)


def ids(rows: pd.DataFrame) -> list[int]:
    return sorted(int(n) for n in rows["id"])


# Friday 2026-11-20 in Berlin is [2026-11-19 23:00, 2026-11-20 23:00) UTC.
DAY = window_for(date(2026, 11, 20), "day", TZ)

FRIDAY = frame(
    {"created_at": datetime(2026, 11, 19, 23, 0)},  # 1: created exactly at the start: in
    {"created_at": datetime(2026, 11, 20, 23, 0)},  # 2: exactly at the end: Saturday, out
    {"created_at": datetime(2026, 11, 19, 22, 59, 59)},  # 3: one second early: Thursday, out
    # 4: resolved on Friday, created earlier
    {"status": "Resolved", "created_at": datetime(2026, 11, 10), "resolved_at": datetime(2026, 11, 20, 10)},
    # 5: reopened: sync cleared resolved_at; edited on Friday, so worked on but not resolved
    {"status": "Open", "updated_at": datetime(2026, 11, 20, 12)},
    # 6: resolved on Friday then reopened without clearing: not resolved, but still worked on (as before)
    {"status": "In Progress", "resolved_at": datetime(2026, 11, 20, 8), "updated_at": datetime(2026, 11, 20, 9)},
    # 7: resolved Wednesday, auto-closed on Friday: that edit is not work
    {"status": "Closed", "resolved_at": datetime(2026, 11, 18, 10), "updated_at": datetime(2026, 11, 20, 7)},
    # 8: deleted at the source: nowhere
    {"created_at": datetime(2026, 11, 20, 9), "deleted_at": datetime(2026, 11, 21)},
    # 9: resolved as Closed on Friday by Bob
    {
        "status": "Closed",
        "assignee_name": "Bob",
        "resolved_at": datetime(2026, 11, 20, 16),
        "updated_at": datetime(2026, 11, 20, 16),
    },
)


def test_created_counts_the_start_edge_but_not_the_end_edge() -> None:
    assert ids(m.kpi_rows(FRIDAY, "created", DAY, RULES)) == [1]


def test_resolved_needs_a_resolved_status_now() -> None:
    assert ids(m.kpi_rows(FRIDAY, "resolved", DAY, RULES)) == [4, 9]


def test_worked_on_is_the_union_without_auto_closes() -> None:
    assert ids(m.kpi_rows(FRIDAY, "worked", DAY, RULES)) == [1, 4, 5, 6, 9]


def test_day_figures_and_kill_rate() -> None:
    assert figures(FRIDAY, DAY) == m.CaseFigures(created=1, resolved=2, worked=5, kill_rate=200.0)


def test_kill_rate_is_none_when_nothing_was_created() -> None:
    saturday_after = window_for(date(2026, 11, 25), "day", TZ)
    assert figures(FRIDAY, saturday_after) == m.CaseFigures(0, 0, 0, None)
    assert kill_rate(resolved=3, created=0) is None  # the old dashboard showed 300%
    assert kill_rate(resolved=2, created=3) == pytest.approx(66.6667, rel=1e-4)


def test_deleted_cases_are_excluded_everywhere() -> None:
    assert 8 not in ids(m.kpi_rows(FRIDAY, "worked", DAY, RULES))
    assert 8 not in ids(m.kpi_rows(FRIDAY, "open", DAY, RULES))


def test_leaderboard_credits_the_current_assignee() -> None:
    rows = frame(
        {"status": "Resolved", "assignee_name": "Bob", "resolved_at": datetime(2026, 11, 20, 10)},
        {"status": "Closed", "assignee_name": "Bob", "resolved_at": datetime(2026, 11, 20, 11)},
        {"status": "Resolved", "assignee_name": "", "resolved_at": datetime(2026, 11, 20, 12)},
        {"status": "Resolved", "assignee_name": "Ann", "resolved_at": datetime(2026, 11, 20, 13)},
        {"status": "Resolved", "assignee_name": "Cid", "resolved_at": datetime(2026, 11, 18, 13)},  # other day
    )
    assert counted(rows, "cases", RULES, TZ).leaderboard(DAY) == [("Bob", 2), ("Ann", 1), ("Unassigned", 1)]


def test_open_now_per_group_and_assignee() -> None:
    rows = frame(
        {"group_name": "Support", "assignee_name": "Ann"},
        {"group_name": "Support", "assignee_name": "Bob", "status": "Wait For Response"},
        {"group_name": "Sales", "assignee_name": "Bob"},
        {"group_name": "", "assignee_name": ""},
        {"group_name": "Sales", "status": "Resolved"},
        {"group_name": "Sales", "status": "Closed"},
    )
    assert counted(rows, "cases", RULES, TZ).open_by("selector") == [("Support", 2), ("No group", 1), ("Sales", 1)]
    assert counted(rows, "cases", RULES, TZ).open_by("person") == [("Bob", 2), ("Ann", 1), ("Unassigned", 1)]


def test_week_across_a_month_boundary() -> None:
    week = window_for(date(2026, 12, 2), "week", TZ)  # Mon 30 Nov .. Sun 6 Dec
    rows = frame(
        {"created_at": datetime(2026, 11, 29, 23, 0)},  # Mon 30 Nov 00:00 local: in
        {"created_at": datetime(2026, 11, 29, 22, 59)},  # Sun 29 Nov 23:59 local: out
        {"created_at": datetime(2026, 12, 6, 22, 59, 59)},  # Sun 6 Dec 23:59:59 local: in
        {"created_at": datetime(2026, 12, 6, 23, 0)},  # Mon 7 Dec: out
        {"created_at": datetime(2026, 12, 1, 12)},  # in
    )
    assert ids(m.kpi_rows(rows, "created", week, RULES)) == [1, 3, 5]
    assert ids(m.kpi_rows(rows, "created", previous_window(week), RULES)) == [2]


def test_a_25_hour_dst_day() -> None:
    sunday = window_for(date(2026, 10, 25), "day", TZ)  # [2026-10-24 22:00, 2026-10-25 23:00) UTC
    rows = frame(
        {"created_at": datetime(2026, 10, 24, 22, 0)},  # 00:00 CEST: in
        {"created_at": datetime(2026, 10, 25, 22, 30)},  # 23:30 CET: in (a UTC day would miss it)
        {"created_at": datetime(2026, 10, 24, 21, 59)},  # Saturday 23:59 CEST: out
        {"created_at": datetime(2026, 10, 25, 23, 0)},  # Monday 00:00 CET: out
    )
    assert ids(m.kpi_rows(rows, "created", sunday, RULES)) == [1, 2]


def test_previous_window_comparison() -> None:
    rows = frame(
        {"created_at": datetime(2026, 11, 19, 10)},  # Thursday
        {"created_at": datetime(2026, 11, 19, 11)},  # Thursday
        {"created_at": datetime(2026, 11, 20, 10)},  # Friday
    )
    assert figures(rows, DAY).created == 1
    assert figures(rows, previous_window(DAY)).created == 2


def test_empty_frame_gives_zeros() -> None:
    empty = frame()
    assert figures(empty, DAY) == m.CaseFigures(0, 0, 0, None)
    assert counted(empty, "cases", RULES, TZ).leaderboard(DAY) == []
    assert counted(empty, "cases", RULES, TZ).open_by("selector") == []


def test_row_kinds_tell_resolved_and_created_apart() -> None:
    worked = m.kpi_rows(FRIDAY, "worked", DAY, RULES)
    kinds = dict(zip(worked["id"], m.row_kinds(worked, DAY, RULES), strict=True))
    assert kinds == {1: "Created", 4: "Resolved", 5: "Worked on", 6: "Worked on", 9: "Resolved"}


def test_kpi_rows_rejects_unknown_kpi() -> None:
    with pytest.raises(ValueError, match="unknown case kpi"):
        m.kpi_rows(FRIDAY, "deleted", DAY, RULES)


# --- per-day and per-month series -------------------------------------------------------------------------


def test_daily_counts_use_local_days() -> None:
    stamps = pd.to_datetime(
        pd.Series(
            [
                datetime(2026, 10, 31, 22, 30),  # 31 Oct 23:30 CET
                datetime(2026, 10, 31, 23, 0),  # 1 Nov 00:00 CET
                datetime(2026, 11, 1, 5),
                None,
            ]
        )
    )
    counts = daily_counts(stamps, date(2026, 10, 30), date(2026, 11, 2), TZ)
    assert counts.to_dict() == {
        date(2026, 10, 30): 0,
        date(2026, 10, 31): 1,
        date(2026, 11, 1): 2,
        date(2026, 11, 2): 0,
    }


def test_cumulative_series_includes_the_last_day_of_previous_months() -> None:
    months = comparison_months(date(2026, 11, 20))
    assert months == [date(2026, 11, 1), date(2026, 10, 1), date(2026, 9, 1), date(2026, 8, 1)]
    daily = pd.Series(
        {
            date(2026, 11, 1): 2,
            date(2026, 11, 20): 1,
            date(2026, 11, 25): 9,  # after "today": not drawn
            date(2026, 10, 1): 1,
            date(2026, 10, 31): 4,  # the last day the old chart dropped
            date(2026, 9, 30): 3,
            date(2026, 8, 31): 5,
        }
    )
    table = cumulative_by_day_of_month(daily, months, through=date(2026, 11, 20))
    assert list(table.columns) == ["November 2026", "October 2026", "September 2026", "August 2026"]
    assert table.loc[1, "November 2026"] == 2
    assert table.loc[20, "November 2026"] == 3
    assert table["November 2026"].isna()[21]  # the future stays empty
    assert table.loc[30, "October 2026"] == 1 and table.loc[31, "October 2026"] == 5
    assert table.loc[30, "September 2026"] == 3 and table["September 2026"].isna()[31]
    assert table.loc[31, "August 2026"] == 5


def test_monthly_history_keeps_empty_months() -> None:
    created = monthly_counts(
        pd.Series(pd.to_datetime([datetime(2026, 8, 31, 22, 30), datetime(2026, 8, 10), datetime(2026, 11, 2)])),
        TZ,
    )
    # 31 Aug 22:30 UTC is 1 Sep 00:30 in Berlin.
    assert created.to_dict() == {date(2026, 8, 1): 1, date(2026, 9, 1): 1, date(2026, 11, 1): 1}
    resolved = pd.Series({date(2026, 9, 1): 2})
    history = monthly_history(created, resolved)
    assert list(history["label"]) == ["Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    assert list(history["created"]) == [1, 1, 0, 1]
    assert list(history["resolved"]) == [0, 2, 0, 0]
    assert list(history["kill_rate"]) == [0.0, 200.0, None, 0.0]


def test_monthly_history_of_nothing_is_empty() -> None:
    assert monthly_history(pd.Series(dtype="int64"), pd.Series(dtype="int64")).empty


def test_counts_by_orders_by_count_then_name() -> None:
    rows = pd.DataFrame({"who": ["b", "a", "b", "c", "a", None]})
    assert counts_by(rows, "who") == [("a", 2), ("b", 2), ("c", 1), ("Unassigned", 1)]


def test_newest_first_puts_missing_times_last_and_breaks_ties_by_highest_id() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3, 4, 5]})
    at = pd.to_datetime(pd.Series(["2026-11-01 10:00", None, "2026-11-02 09:00", "2026-11-01 10:00", None]))
    assert newest_first(frame, at)["id"].tolist() == [3, 4, 1, 5, 2]
    assert newest_first(frame.iloc[:0], at.iloc[:0]).empty


def test_sums_by_adds_counts_per_name_with_blank_names_merged() -> None:
    day = date(2026, 11, 20)
    rows = [
        CountRow("now", day, "live", "*", person, "Open", count)
        for person, count in (("Ann", 2), (" ", 1), ("Bob", 3), ("", 4), ("Ann", 2), ("Cy", 0))
    ]
    assert sums_by(rows, "person", blank="Unassigned") == [("Unassigned", 5), ("Ann", 4), ("Bob", 3)]

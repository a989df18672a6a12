"""The Redmine figures as the KPI catalogue defines them (metrics/catalogue.py, metrics/redmine.py: the rows behind
a card, and the figures through the roll-up counts a page reads) on small hand-built frames; every expected figure
is written out by hand.

Time zone America/New_York (UTC-5 in winter, -4 in summer)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from metrics import redmine as m
from metrics.windows import Window, previous_window, window_for
from settings import RedmineRules
from tests.kpi_counting import counted

TZ = "America/New_York"
REJECTED = ("Rejected", "Duplicate")
COLUMNS = [
    "id",
    "status_name",
    "is_closed",
    "assignee_name",
    "project_name",
    "created_at",
    "updated_at",
    "closed_at",
    "deleted_at",
]


def frame(*rows: dict) -> pd.DataFrame:
    defaults = {
        "status_name": "New",
        "is_closed": False,
        "assignee_name": "Ann",
        "project_name": "Firmware",
        "created_at": datetime(2026, 1, 5, 9),
        "updated_at": None,
        "closed_at": None,
        "deleted_at": None,
    }
    built = [{"id": n, **defaults, **row} for n, row in enumerate(rows, start=1)]
    result = pd.DataFrame(built, columns=COLUMNS)
    for name in ("created_at", "updated_at", "closed_at", "deleted_at"):
        result[name] = pd.to_datetime(result[name])
    return result


RULES = RedmineRules(rejected_statuses=REJECTED)


def figures(rows: pd.DataFrame, window: Window) -> m.IssueFigures:
    """A window's figures as a page counts them: from the roll-ups the rows give."""
    return counted(rows, "redmine", RULES, TZ).figures(window)


def ids(rows: pd.DataFrame) -> list[int]:
    return sorted(int(n) for n in rows["id"])


# Friday 2026-11-20 in New York is [2026-11-20 05:00, 2026-11-21 05:00) UTC.
DAY = window_for(date(2026, 11, 20), "day", TZ)

ISSUES = frame(
    {"created_at": datetime(2026, 11, 20, 5, 0), "updated_at": datetime(2026, 11, 20, 5, 0)},  # 1: start edge
    {"created_at": datetime(2026, 11, 21, 5, 0), "updated_at": datetime(2026, 11, 21, 5, 0)},  # 2: end edge: out
    {"created_at": datetime(2026, 11, 20, 4, 59), "updated_at": datetime(2026, 11, 20, 4, 59)},  # 3: Thursday
    # 4: closed as Done on Friday
    {
        "status_name": "Done",
        "is_closed": True,
        "assignee_name": "Bob",
        "updated_at": datetime(2026, 11, 20, 15),
        "closed_at": datetime(2026, 11, 20, 15),
    },
    # 5: rejected on Friday: counts as resolved (any closed status), state Rejected
    {
        "status_name": "Rejected",
        "is_closed": True,
        "assignee_name": "",
        "updated_at": datetime(2026, 11, 20, 16),
        "closed_at": datetime(2026, 11, 20, 16),
    },
    # 6: closed Friday morning, reopened Friday noon: Redmine keeps closed_on; open, so not resolved
    {
        "status_name": "In Progress",
        "updated_at": datetime(2026, 11, 20, 17),
        "closed_at": datetime(2026, 11, 20, 14),
    },
    # 7: deleted
    {"created_at": datetime(2026, 11, 20, 12), "deleted_at": datetime(2026, 11, 22)},
    # 8: updated on Friday only
    {"updated_at": datetime(2026, 11, 20, 20)},
)


def test_created_updated_resolved_on_window_edges() -> None:
    assert ids(m.kpi_rows(ISSUES, "created", DAY, RULES)) == [1]
    assert ids(m.kpi_rows(ISSUES, "updated", DAY, RULES)) == [1, 4, 5, 6, 8]
    assert ids(m.kpi_rows(ISSUES, "resolved", DAY, RULES)) == [4, 5]


def test_activity_is_the_union() -> None:
    assert ids(m.kpi_rows(ISSUES, "activity", DAY, RULES)) == [1, 4, 5, 6, 8]


def test_figures_and_kill_rate() -> None:
    assert figures(ISSUES, DAY) == m.IssueFigures(created=1, updated=5, resolved=2, kill_rate=200.0)


def test_kill_rate_zero_created_is_none() -> None:
    rows = frame({"status_name": "Done", "is_closed": True, "closed_at": datetime(2026, 11, 20, 12)})
    assert figures(rows, DAY).kill_rate is None


def test_states_use_is_closed_and_the_rejected_names() -> None:
    rows = frame(
        {"status_name": "New"},
        {"status_name": "Paused"},  # an open status the old hard-coded list did not know
        {"status_name": "Done", "is_closed": True},
        {"status_name": "Resolved", "is_closed": True},
        {"status_name": "Rejected", "is_closed": True},
        {"status_name": "Duplicate", "is_closed": True},
        {"status_name": "Rejected", "is_closed": False},  # a reopened "Rejected" named status that is open
        {"status_name": "Done", "is_closed": True, "deleted_at": datetime(2026, 11, 1)},
    )
    assert counted(rows, "redmine", RULES, TZ).totals(REJECTED) == m.StateTotals(open=3, closed=2, rejected=2)


def test_totals_from_sql_counts() -> None:
    counts = pd.DataFrame(
        {
            "status_name": ["New", "Done", "Rejected", "Duplicate", "In Progress"],
            "is_closed": [False, True, True, True, False],
            "count": [4, 10, 2, 1, 3],
        }
    )
    totals = m.totals_from_counts(counts, REJECTED)
    assert totals == m.StateTotals(open=7, closed=10, rejected=3)
    assert totals.total == 20
    assert m.totals_from_counts(counts.iloc[0:0], REJECTED) == m.StateTotals(0, 0, 0)


def test_leaderboard_and_open_breakdowns() -> None:
    assert counted(ISSUES, "redmine", RULES, TZ).leaderboard(DAY) == [("Bob", 1), ("Unassigned", 1)]
    rows = frame(
        {"status_name": "New", "project_name": "Portal", "assignee_name": "Ann"},
        {"status_name": "New", "project_name": "Portal", "assignee_name": ""},
        {"status_name": "In Progress", "project_name": "Firmware", "assignee_name": "Ann"},
        {"status_name": "Done", "is_closed": True, "project_name": "Firmware"},
    )
    assert counted(rows, "redmine", RULES, TZ).open_by("status") == [("New", 2), ("In Progress", 1)]
    assert counted(rows, "redmine", RULES, TZ).open_by("selector") == [("Portal", 2), ("Firmware", 1)]
    assert counted(rows, "redmine", RULES, TZ).open_by("person") == [("Ann", 2), ("Unassigned", 1)]


def test_month_and_previous_month_in_new_york() -> None:
    month = window_for(date(2026, 11, 20), "month", TZ)  # [2026-11-01 04:00, 2026-12-01 05:00) UTC (DST ends 1 Nov)
    assert (month.start, month.end) == (datetime(2026, 11, 1, 4), datetime(2026, 12, 1, 5))
    rows = frame(
        {"created_at": datetime(2026, 11, 1, 3, 59)},  # 31 Oct 23:59 EDT: October
        {"created_at": datetime(2026, 11, 1, 4, 0)},  # 1 Nov 00:00 EDT: November
        {"created_at": datetime(2026, 12, 1, 4, 59)},  # 30 Nov 23:59 EST: November
    )
    assert ids(m.kpi_rows(rows, "created", month, RULES)) == [2, 3]
    assert ids(m.kpi_rows(rows, "created", previous_window(month), RULES)) == [1]


def test_row_kinds() -> None:
    active = m.kpi_rows(ISSUES, "activity", DAY, RULES)
    kinds = dict(zip(active["id"], m.row_kinds(active, DAY), strict=True))
    assert kinds == {1: "Created", 4: "Closed", 5: "Closed", 6: "Updated", 8: "Updated"}


def test_empty_frame() -> None:
    empty = frame()
    assert figures(empty, DAY) == m.IssueFigures(0, 0, 0, None)
    assert counted(empty, "redmine", RULES, TZ).totals(REJECTED) == m.StateTotals(0, 0, 0)
    assert counted(empty, "redmine", RULES, TZ).open_by("status") == []


def test_unknown_kpi() -> None:
    with pytest.raises(ValueError, match="unknown redmine kpi"):
        m.kpi_rows(ISSUES, "worked", DAY, RULES)

"""models/case_reads.py, models/redmine_reads.py, the roll-up reads and the views built on them, on SQLite and the
real PostgreSQL: window-bounded reads, counts per local day and month, empty and one-record databases."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine

from models import case_reads, redmine_reads, rollups
from models.schema import cases, redmine_issues
from settings import Settings
from tests.seed_dashboards import case_row, issue_row, write_rows
from view_models.cases import build_cases_view, case_rows
from view_models.redmine import build_redmine_view
from view_models.tracker_view import read_counts

TZ = "Europe/Berlin"
SETTINGS = Settings(timezone=TZ, testing=True)


def daily_counts(engine: Engine, source: str, first: date, last: date) -> pd.DataFrame:
    """Created and resolved per local day as the page's charts read them (the roll-ups of `last`'s page)."""
    resolved = SETTINGS.kpi.cases.resolved_statuses if source == "cases" else None
    counts = read_counts(engine, source, "", last, TZ, resolved)
    return rollups.daily_counts(counts.per_day, first, last, resolved)


def test_daily_counts_include_the_last_day_of_each_month(engine) -> None:
    write_rows(
        engine,
        cases,
        [
            case_row(1, created_at=datetime(2026, 10, 31, 22, 30)),  # 31 Oct 23:30 CET
            case_row(2, created_at=datetime(2026, 10, 31, 23, 0)),  # 1 Nov 00:00 CET
            case_row(
                3, created_at=datetime(2026, 9, 30, 21, 59), status="Closed", resolved_at=datetime(2026, 9, 30, 21, 59)
            ),  # 30 Sep 23:59 CEST
            case_row(4, created_at=datetime(2026, 10, 31, 12), deleted_at=datetime(2026, 11, 1)),
            # resolved_at set but the case was reopened: not counted as resolved
            case_row(5, created_at=datetime(2026, 9, 1, 12), status="Open", resolved_at=datetime(2026, 9, 30, 12)),
        ],
    )
    counts = daily_counts(engine, "cases", date(2026, 9, 30), date(2026, 11, 1))
    assert list(counts.loc[date(2026, 9, 30)]) == [1, 1]
    assert list(counts.loc[date(2026, 10, 31)]) == [1, 0]
    assert list(counts.loc[date(2026, 11, 1)]) == [1, 0]
    assert int(counts["created"].sum()) == 3


def test_monthly_counts_cover_all_history_with_empty_months(engine) -> None:
    write_rows(
        engine,
        cases,
        [
            case_row(1, created_at=datetime(2026, 6, 30, 22, 30)),  # 1 July 00:30 CEST
            case_row(2, created_at=datetime(2026, 9, 2), status="Resolved", resolved_at=datetime(2026, 9, 3)),
        ],
    )
    resolved = SETTINGS.kpi.cases.resolved_statuses
    counts = read_counts(engine, "cases", "", date(2026, 11, 20), TZ, resolved)
    monthly = rollups.monthly_counts(counts.per_month, date(2026, 11, 20), resolved)
    assert list(monthly.index) == [
        date(2026, 7, 1),
        date(2026, 8, 1),
        date(2026, 9, 1),
        date(2026, 10, 1),
        date(2026, 11, 1),
    ]
    assert monthly["created"].tolist() == [1, 0, 1, 0, 0]
    assert monthly["resolved"].tolist() == [0, 0, 1, 0, 0]


def test_window_read_returns_only_rows_touching_the_window(engine) -> None:
    write_rows(
        engine,
        cases,
        [
            case_row(1, created_at=datetime(2026, 11, 20, 9)),
            case_row(2, created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 11, 20, 9)),
            case_row(3, created_at=datetime(2026, 1, 1), status="Resolved", resolved_at=datetime(2026, 11, 20, 9)),
            case_row(4, created_at=datetime(2026, 1, 1)),
            case_row(5, created_at=datetime(2026, 11, 20, 9), deleted_at=datetime(2026, 11, 21)),
            case_row(6, created_at=datetime(2026, 11, 20, 9), group_name="Sales"),
        ],
    )
    rows = case_reads.cases_touching(engine, datetime(2026, 11, 20), datetime(2026, 11, 21))
    assert sorted(rows["case_no"]) == ["CC1", "CC2", "CC3", "CC6"]
    rows = case_reads.cases_touching(engine, datetime(2026, 11, 20), datetime(2026, 11, 21), "Sales")
    assert list(rows["case_no"]) == ["CC6"]
    assert case_reads.group_names(engine) == ["Sales", "Support"]


def test_open_counts(engine) -> None:
    write_rows(
        engine,
        cases,
        [
            case_row(1, group_name="Support", assignee_name="Ann"),
            case_row(2, group_name="Support", assignee_name="", status="Wait For Response"),
            case_row(3, group_name="", assignee_name="Bob"),
            case_row(4, group_name="Support", status="Closed"),
            case_row(5, group_name="Support", deleted_at=datetime(2026, 11, 1)),
        ],
    )
    everyone = build_cases_view(engine, SETTINGS, date(2026, 11, 20), charts=False)
    support = build_cases_view(engine, SETTINGS, date(2026, 11, 20), group="Support", charts=False)
    assert everyone.open_by_group == [("Support", 2), ("No group", 1)]
    assert support.open_by_assignee == [("Ann", 1), ("Unassigned", 1)]
    assert everyone.open_by_status == [("Open", 2), ("Wait For Response", 1)]


def test_views_render_an_empty_database(engine) -> None:
    view = build_cases_view(engine, SETTINGS, date(2026, 11, 20), today=date(2026, 11, 20))
    assert view.windows["month"].figures.created == 0
    assert view.windows["day"].figures.kill_rate is None
    assert view.open_total == 0 and view.open_by_group == []
    assert view.history.empty
    assert view.cumulative["created"].fillna(0).sum().sum() == 0
    assert case_rows(engine, SETTINGS, date(2026, 11, 20), "week", "worked").empty
    issues_view = build_redmine_view(engine, SETTINGS, date(2026, 11, 20), today=date(2026, 11, 20))
    assert issues_view.totals.total == 0 and issues_view.history.empty


def test_views_with_one_record(engine) -> None:
    write_rows(engine, cases, [case_row(1, created_at=datetime(2026, 11, 20, 9))])
    view = build_cases_view(engine, SETTINGS, date(2026, 11, 20), window="week", today=date(2026, 11, 20))
    assert [view.windows[k].figures.created for k in ("day", "week", "month")] == [1, 1, 1]
    assert view.windows["day"].previous_figures.created == 0
    assert view.open_total == 1 and view.open_by_group == [("Support", 1)]
    assert view.history["created"].tolist() == [1]
    assert view.cumulative["created"].loc[20, "November 2026"] == 1
    # A group with no cases renders with zeros.
    empty_group = build_cases_view(engine, SETTINGS, date(2026, 11, 20), group="Hardware", today=date(2026, 11, 20))
    assert empty_group.windows["month"].figures.created == 0 and empty_group.open_total == 0


def test_redmine_reads(engine) -> None:
    write_rows(
        engine,
        redmine_issues,
        [
            issue_row(1, created_at=datetime(2026, 11, 20, 9)),
            issue_row(
                2,
                status_name="Rejected",
                is_closed=True,
                closed_at=datetime(2026, 11, 20, 10),
                updated_at=datetime(2026, 11, 20, 10),
                project_name="Portal",
            ),
            issue_row(3, status_name="Done", is_closed=True, closed_at=datetime(2026, 10, 31, 22, 30)),
            issue_row(4, deleted_at=datetime(2026, 11, 1)),
        ],
    )
    view = build_redmine_view(engine, SETTINGS, date(2026, 11, 20), today=date(2026, 11, 20))
    assert (view.totals.open, view.totals.closed, view.totals.rejected) == (1, 1, 1)
    assert view.windows["day"].figures.created == 1
    assert view.windows["day"].figures.resolved == 1
    assert view.windows["day"].figures.kill_rate == 100.0
    assert view.open_by_project == [("Firmware", 1)]
    assert redmine_reads.project_names(engine) == ["Firmware", "Portal"]
    daily = daily_counts(engine, "redmine", date(2026, 10, 31), date(2026, 11, 20))
    assert daily.at[date(2026, 10, 31), "resolved"] == 1  # 23:30 CET on the last day of October
    portal = build_redmine_view(engine, SETTINGS, date(2026, 11, 20), project="Portal", today=date(2026, 11, 20))
    assert portal.totals.rejected == 1 and portal.totals.open == 0

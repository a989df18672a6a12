"""The pages' counting path (roll-up counts as sync keeps them, read through metrics' CountedCases / CountedIssues,
from the KPI catalogue) gives exactly what a plain implementation written here from README's definitions gives,
on generated records with reopened, deleted and unassigned ones, across day, week and month windows (DST
included). The plain implementation does not use the catalogue: it is what checks it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from metrics.windows import WINDOW_KINDS, Window, previous_window, window_for
from settings import CaseRules, RedmineRules
from tests.kpi_counting import counted
from tests.kpi_reference import plain_cases, plain_issues
from tests.seed_dashboards import demo_cases, demo_issues

NOW = datetime(2026, 11, 20, 15, 0)
TZ = "America/New_York"
DAYS = [date(2026, 11, 20), date(2026, 11, 1), date(2026, 10, 31), date(2026, 3, 8)]


def frame(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame(rows)
    for name in ("created_at", "updated_at", "resolved_at", "closed_at", "deleted_at"):
        if name in data.columns:
            data[name] = pd.to_datetime(data[name]).astype("datetime64[us]")
    if "deleted_at" not in data.columns:
        data["deleted_at"] = pd.NaT
    return data


def windows() -> list[Window]:
    found = []
    for day in DAYS:
        for kind in WINDOW_KINDS:
            current = window_for(day, kind, TZ)
            found += [current, previous_window(current)]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_case_figures_from_rollups_match_the_plain_definitions(seed: int) -> None:
    rows = demo_cases(NOW, count=400, days=300, seed=seed)
    rows[0]["deleted_at"] = NOW - timedelta(days=1)
    rows[1]["assignee_name"] = ""
    rules = CaseRules()
    fast = counted(frame(rows), "cases", rules, TZ)
    for window in windows():
        figures = fast.figures(window)
        created, resolved, worked, board = plain_cases(rows, window, rules)
        assert (figures.created, figures.resolved, figures.worked) == (created, resolved, worked), window
        assert fast.leaderboard(window) == board
    assert any(fast.figures(window).resolved for window in windows())  # the data exercises the numbers


@pytest.mark.parametrize("seed", [1, 2])
def test_issue_figures_from_rollups_match_the_plain_definitions(seed: int) -> None:
    rows = demo_issues(NOW, count=300, days=300, seed=seed)
    fast = counted(frame(rows), "redmine", RedmineRules(), TZ)
    for window in windows():
        figures = fast.figures(window)
        created, updated, closed, board = plain_issues(rows, window)
        assert (figures.created, figures.updated, figures.resolved) == (created, updated, closed), window
        assert fast.leaderboard(window) == board
    assert any(fast.figures(window).resolved for window in windows())

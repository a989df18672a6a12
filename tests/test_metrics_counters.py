"""metrics.cases.CaseCounter and metrics.redmine.IssueCounter (the pages' fast path: numpy arrays built once for
six windows) give exactly the numbers of metrics.cases.figures / resolved_leaderboard and their Redmine twins,
on generated records with reopened, deleted and unassigned ones, across day, week and month windows (DST
included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from metrics import cases as case_metrics
from metrics import redmine as issue_metrics
from metrics.windows import WINDOW_KINDS, previous_window, window_for
from settings import CaseRules
from tests.seed_dashboards import demo_cases, demo_issues

NOW = datetime(2026, 11, 20, 15, 0)
TZ = "America/New_York"
DAYS = [date(2026, 11, 20), date(2026, 11, 1), date(2026, 10, 31), date(2026, 3, 8)]


def frame(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame(rows)
    for name in ("created_at", "updated_at", "resolved_at", "closed_at", "deleted_at"):
        if name in data.columns:
            data[name] = pd.to_datetime(data[name]).astype("datetime64[us]")
    return data


def windows() -> list:
    found = []
    for day in DAYS:
        for kind in WINDOW_KINDS:
            current = window_for(day, kind, TZ)
            found += [current, previous_window(current)]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_case_counter_matches_the_figures(seed: int) -> None:
    rows = demo_cases(NOW, count=400, days=300, seed=seed)
    rows[0]["deleted_at"] = NOW - timedelta(days=1)
    rows[1]["assignee_name"] = ""
    cases = frame(rows)
    rules = CaseRules()
    counter = case_metrics.CaseCounter(cases, rules)
    for window in windows():
        assert counter.figures(window) == case_metrics.figures(cases, window, rules)
        assert counter.resolved_leaderboard(window) == case_metrics.resolved_leaderboard(cases, window, rules)
    assert any(counter.figures(window).resolved for window in windows())  # the data exercises the numbers


@pytest.mark.parametrize("seed", [1, 2])
def test_issue_counter_matches_the_figures(seed: int) -> None:
    issues = frame(demo_issues(NOW, count=300, days=300, seed=seed))
    counter = issue_metrics.IssueCounter(issues)
    for window in windows():
        assert counter.figures(window) == issue_metrics.figures(issues, window)
        assert counter.resolved_leaderboard(window) == issue_metrics.resolved_leaderboard(issues, window)
    assert any(counter.figures(window).resolved for window in windows())

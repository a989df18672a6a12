"""The pages' counting path on a hand-built frame, without a database: the roll-up counts a sync would keep for
the frame's rows (models.rollups.contributions) read as a page reads them (metrics' CountedCases / CountedIssues,
the open-now breakdowns). Tests compare what it gives with hand-computed expectations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from metrics import cases as case_metrics
from metrics import redmine as issue_metrics
from metrics.series import CountRow
from metrics.windows import Window
from models import rollups


def count_rows(frame: pd.DataFrame, source: str, tz_name: str) -> list[CountRow]:
    counts = rollups.contributions(frame, rollups.SPECS[source], tz_name)
    return [CountRow(*row) for row in counts[["kind", "start", "kpi", "selector", "person", "status", "count"]]
            .itertuples(index=False, name=None)]  # fmt: skip


def now_rows(rows: list[CountRow]) -> dict[str, list[CountRow]]:
    """The "now" counts as models.rollups.read_view_counts picks them for all groups / projects."""
    now = [row for row in rows if row.kind == "now"]
    all_ = rollups.ALL
    return {
        "selector": [row for row in now if row.selector != all_ and row.person == all_],
        "person": [row for row in now if row.selector == all_ and row.person != all_],
        "status": [row for row in now if row.selector == all_ and row.person == all_],
    }


@dataclass
class CountedFrame:
    source: str
    rows: list[CountRow]
    rules: Any

    @property
    def counter(self) -> Any:
        windows = [row for row in self.rows if row.kind != "now" and row.selector == rollups.ALL]
        if self.source == "cases":
            return case_metrics.CountedCases(windows, self.rules)
        return issue_metrics.CountedIssues(windows, self.rules)

    def figures(self, window: Window) -> Any:
        return self.counter.figures(window)

    def leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return self.counter.resolved_leaderboard(window)

    def open_by(self, column: str) -> list[tuple[str, int]]:
        if self.source == "cases":
            return case_metrics.open_counts(now_rows(self.rows), self.rules, column)
        return issue_metrics.open_counts(now_rows(self.rows), column)

    def totals(self, rejected: tuple[str, ...]) -> issue_metrics.StateTotals:
        return issue_metrics.totals_from_counts(issue_metrics.status_counts(now_rows(self.rows)), rejected)


def counted(frame: pd.DataFrame, source: str, rules: Any, tz_name: str) -> CountedFrame:
    return CountedFrame(source, count_rows(frame, source, tz_name), rules)

"""Redmine KPIs (PRODUCT.md Metrics, original-dashboard.md 1.4, with its defects fixed).

An issue frame has the `redmine_issues` table's columns (at least created_at, updated_at, closed_at,
is_closed, status_name, assignee_name, project_name; deleted_at is honoured when present).

- state:     open = not is_closed; rejected = is_closed and the status is in `RedmineRules.rejected_statuses`;
             closed = the other closed statuses. Redmine's own is_closed, not the old hard-coded name lists.
- created, updated, resolved (closed), activity, kill rate, closed per person: as the KPI catalogue
  (metrics/catalogue.py) defines them; the window figures come from roll-up counts (`CountedIssues`).

Pure functions of DataFrames and `metrics.windows.Window`s. Must not import SQLAlchemy, Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import catalogue
from metrics.catalogue import Kpi
from metrics.series import UNASSIGNED, CountRow, WindowTotals, in_window_array, row_kinds_of, stamps, sums_by
from metrics.windows import Comparison, Window
from settings import RedmineRules

REDMINE_KPIS = ("created", "updated", "resolved", "open", "activity")  # catalogue keys with rows behind them
NO_PROJECT, NO_STATUS = "No project", "No status"
PARTIAL_KPIS = ("created", "updated", "resolved")  # the compared cards: counted from rows over a partial day
OPEN, CLOSED, REJECTED = "Open", "Closed", "Rejected"
ROW_RESOLVED, ROW_CREATED, ROW_UPDATED = "Closed", "Created", "Updated"  # Redmine's word: closed


@dataclass(frozen=True)
class IssueFigures:
    created: int
    updated: int
    resolved: int
    kill_rate: float | None


@dataclass(frozen=True)
class StateTotals:
    open: int
    closed: int
    rejected: int

    @property
    def total(self) -> int:
        return self.open + self.closed + self.rejected


def _closed(frame: pd.DataFrame) -> pd.Series:
    return frame["is_closed"].fillna(False).astype(bool)


def state_of(frame: pd.DataFrame, rejected_statuses: Iterable[str]) -> pd.Series:
    """Open, Closed or Rejected for every issue."""
    closed = _closed(frame)
    rejected = closed & frame["status_name"].isin(tuple(rejected_statuses))
    states = pd.Series(OPEN, index=frame.index, dtype="object")
    states[closed] = CLOSED
    states[rejected] = REJECTED
    return states


def totals_from_counts(counts: pd.DataFrame, rejected_statuses: Iterable[str]) -> StateTotals:
    """The same totals from SQL counts: a frame with status_name, is_closed and count."""
    if counts.empty:
        return StateTotals(0, 0, 0)
    states = state_of(counts, rejected_statuses)
    sums = counts["count"].groupby(states).sum()
    return StateTotals(int(sums.get(OPEN, 0)), int(sums.get(CLOSED, 0)), int(sums.get(REJECTED, 0)))


def _figures(count: Callable[[Kpi], int]) -> IssueFigures:
    values = {key: count(catalogue.by_key("redmine", key)) for key in PARTIAL_KPIS}
    return IssueFigures(**values, kill_rate=catalogue.ratio(catalogue.entry("redmine.kill_rate"), count))


class CountedIssues:
    """The window figures and leaderboards from roll-up counts (models.rollups.ViewCounts.windows)."""

    def __init__(self, counts: Sequence[CountRow], rules: RedmineRules) -> None:
        self.totals = WindowTotals(counts)
        self.rules = rules

    def figures(self, window: Window) -> IssueFigures:
        return _figures(lambda kpi: catalogue.window_count(kpi, self.totals, window, self.rules))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return catalogue.leaderboard(catalogue.entry("redmine.closed_per_person"), self.totals, window, self.rules)

    def partial_figures(self, comparison: Comparison, counted: Mapping[str, int]) -> IssueFigures:
        """The figures of a partial comparison span (metrics.windows.Comparison): `counted` is what
        `partial_spans` asks for, counted from rows (models.redmine_reads.counts_in)."""
        return _figures(lambda kpi: catalogue.partial_count(kpi, self.totals, comparison, dict(counted), self.rules))

    def activity(self, window: Window) -> int:
        """Issues created, updated or resolved in the window (the table behind it), each once."""
        return catalogue.window_count(catalogue.entry("redmine.activity"), self.totals, window, self.rules)


def partial_spans(comparison: Comparison) -> dict[str, Window]:
    """What `CountedIssues.partial_figures` needs counted from rows: per card, the span to count over."""
    return catalogue.partial_spans([catalogue.by_key("redmine", key) for key in PARTIAL_KPIS], comparison)


def open_counts(now: Mapping[str, Sequence[CountRow]], column: str) -> list[tuple[str, int]]:
    """Open issues per selector (project), person (assignee) or status from roll-up "now" counts
    (models.rollups.ViewCounts.now)."""
    open_rows = (row for row in now[column] if row.kpi == "open")
    return sums_by(open_rows, column, blank=blank_name(column))


def status_counts(now: Mapping[str, Sequence[CountRow]]) -> pd.DataFrame:
    """Issues per (status_name, is_closed) from roll-up "now" counts, as `totals_from_counts` takes them."""
    sums: dict[tuple[str, bool], int] = {}
    for row in now["status"]:
        if row.kpi in ("open", "closed"):
            key = (row.status, row.kpi == "closed")
            sums[key] = sums.get(key, 0) + row.count
    ordered = sorted(sums.items())
    return pd.DataFrame(
        {
            "status_name": [status for (status, _), _ in ordered],
            "is_closed": [closed for (_, closed), _ in ordered],
            "count": np.array([count for _, count in ordered], dtype="int64"),
        }
    )


def blank_name(column: str) -> str:
    """What an issue with no assignee, project or status is listed as (roll-up or table column names)."""
    if column in ("person", "assignee_name"):
        return UNASSIGNED
    return NO_PROJECT if column in ("selector", "project_name") else NO_STATUS


def kpi_rows(frame: pd.DataFrame, kpi: str, window: Window, rules: RedmineRules) -> pd.DataFrame:
    """The rows behind a card: created, updated, resolved, activity or open."""
    return catalogue.rows_in(catalogue.by_key("redmine", kpi), frame, window, rules)


def counted_at(frame: pd.DataFrame, kpi: str, window: Window, rules: RedmineRules) -> pd.Series:
    """When each issue counted in the window for the card `kpi` (catalogue.counted_at); tables list rows newest
    first by it."""
    return catalogue.counted_at(catalogue.by_key("redmine", kpi), frame, window, rules)


def row_kinds(frame: pd.DataFrame, window: Window) -> pd.Series:
    """Closed (in the window), else Created, else Updated: how a table row is coloured."""
    resolved = in_window_array(stamps(frame["closed_at"]), window) & _closed(frame).to_numpy()
    return row_kinds_of(frame, window, resolved, (ROW_RESOLVED, ROW_CREATED, ROW_UPDATED))

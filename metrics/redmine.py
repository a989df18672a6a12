"""Redmine KPIs (PRODUCT.md Metrics, original-dashboard.md 1.4, with its defects fixed).

An issue frame has the `redmine_issues` table's columns (at least created_at, updated_at, closed_at,
is_closed, status_name, assignee_name, project_name; deleted_at is honoured when present).

- state:     open = not is_closed; rejected = is_closed and the status is in `RedmineRules.rejected_statuses`;
             closed = the other closed statuses. Redmine's own is_closed, not the old hard-coded name lists.
- created:   created_at in the window.   updated: updated_at in the window.
- resolved:  closed_at in the window and the issue closed now, whatever the closed status (rejected ones too,
             as before). Redmine keeps closed_on when an issue is reopened; such an issue is open, not resolved.
- activity:  created, updated or resolved in the window (the table behind the window, as the old page's).
- kill rate: resolved / created in percent; None when nothing was created.
- leaderboard: resolved per assignee (blank: "Unassigned").

Pure functions of DataFrames and `metrics.windows.Window`s. Must not import SQLAlchemy, Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.series import (
    UNASSIGNED,
    CountRow,
    WindowTotals,
    counts_by,
    in_window,
    in_window_array,
    kill_rate,
    latest_in_window,
    live,
    row_kinds_of,
    stamps,
    sums_by,
)
from metrics.windows import Comparison, Window

REDMINE_KPIS = ("created", "updated", "resolved", "open", "activity")
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


def state_totals(frame: pd.DataFrame, rejected_statuses: Iterable[str]) -> StateTotals:
    counts = state_of(live(frame), rejected_statuses).value_counts()
    return StateTotals(int(counts.get(OPEN, 0)), int(counts.get(CLOSED, 0)), int(counts.get(REJECTED, 0)))


def totals_from_counts(counts: pd.DataFrame, rejected_statuses: Iterable[str]) -> StateTotals:
    """The same totals from SQL counts: a frame with status_name, is_closed and count."""
    if counts.empty:
        return StateTotals(0, 0, 0)
    states = state_of(counts, rejected_statuses)
    sums = counts["count"].groupby(states).sum()
    return StateTotals(int(sums.get(OPEN, 0)), int(sums.get(CLOSED, 0)), int(sums.get(REJECTED, 0)))


def created_in(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    frame = live(frame)
    return frame[in_window(frame["created_at"], window)]


def updated_in(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    frame = live(frame)
    return frame[in_window(frame["updated_at"], window)]


def resolved_in(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    frame = live(frame)
    return frame[in_window(frame["closed_at"], window) & _closed(frame)]


def activity_in(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    frame = live(frame)
    mask = (
        in_window(frame["created_at"], window)
        | in_window(frame["updated_at"], window)
        | (in_window(frame["closed_at"], window) & _closed(frame))
    )
    return frame[mask]


def open_issues(frame: pd.DataFrame) -> pd.DataFrame:
    frame = live(frame)
    return frame[~_closed(frame)]


def figures(frame: pd.DataFrame, window: Window) -> IssueFigures:
    created = len(created_in(frame, window))
    resolved = len(resolved_in(frame, window))
    return IssueFigures(created, len(updated_in(frame, window)), resolved, kill_rate(resolved, created))


class IssueCounter:
    """`figures` and `resolved_leaderboard` for many windows of one frame, from numpy arrays built once. Same
    numbers as the functions above."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = live(frame)
        self.created = stamps(self.frame["created_at"])
        self.updated = stamps(self.frame["updated_at"])
        self.closed_at = stamps(self.frame["closed_at"])
        self.closed = _closed(self.frame).to_numpy()

    def _resolved(self, window: Window) -> np.ndarray:
        return in_window_array(self.closed_at, window) & self.closed

    def figures(self, window: Window) -> IssueFigures:
        created = int(in_window_array(self.created, window).sum())
        resolved = int(self._resolved(window).sum())
        updated = int(in_window_array(self.updated, window).sum())
        return IssueFigures(created, updated, resolved, kill_rate(resolved, created))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return counts_by(self.frame[self._resolved(window)], "assignee_name")


class CountedIssues:
    """`IssueCounter`'s figures and leaderboards from roll-up counts (models.rollups.ViewCounts.windows)."""

    def __init__(self, counts: Sequence[CountRow]) -> None:
        self.totals = WindowTotals(counts)

    def figures(self, window: Window) -> IssueFigures:
        created, resolved = self.totals.total(window, "created"), self.totals.total(window, "resolved")
        return IssueFigures(created, self.totals.total(window, "updated"), resolved, kill_rate(resolved, created))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return self.totals.per_person(window, "resolved_by")

    def partial_figures(self, comparison: Comparison, counted: Mapping[str, int]) -> IssueFigures:
        """The figures of a partial comparison span (metrics.windows.Comparison): each card (one timestamp each,
        so a row counts on one day only) as the whole days' roll-ups plus `counted` from the rows of its last,
        partial day (models.redmine_reads.counts_in over `comparison.last_day`)."""
        created, updated, resolved = (
            counted[kpi] + sum(self.totals.total(day, kpi) for day in comparison.whole_days) for kpi in PARTIAL_KPIS
        )
        return IssueFigures(created, updated, resolved, kill_rate(resolved, created))

    def activity(self, window: Window) -> int:
        """Issues created, updated or resolved in the window (the table behind it), each once."""
        return self.totals.total(window, "activity")


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


def resolved_leaderboard(frame: pd.DataFrame, window: Window) -> list[tuple[str, int]]:
    return counts_by(resolved_in(frame, window), "assignee_name")


def open_by(frame: pd.DataFrame, column: str) -> list[tuple[str, int]]:
    """Open issues per status_name, project_name or assignee_name (hand-built frames; pages use SQL)."""
    return counts_by(open_issues(frame), column, blank=blank_name(column))


def blank_name(column: str) -> str:
    """What an issue with no assignee, project or status is listed as (roll-up or table column names)."""
    if column in ("person", "assignee_name"):
        return UNASSIGNED
    return NO_PROJECT if column in ("selector", "project_name") else NO_STATUS


def kpi_rows(frame: pd.DataFrame, kpi: str, window: Window) -> pd.DataFrame:
    if kpi == "created":
        return created_in(frame, window)
    if kpi == "updated":
        return updated_in(frame, window)
    if kpi == "resolved":
        return resolved_in(frame, window)
    if kpi == "activity":
        return activity_in(frame, window)
    if kpi == "open":
        return open_issues(frame)
    raise ValueError(f"unknown redmine kpi {kpi!r}; expected one of {', '.join(REDMINE_KPIS)}")


def counted_at(frame: pd.DataFrame, kpi: str, window: Window) -> pd.Series:
    """When each issue counted in the window for the card `kpi`: the latest of its card times in the window
    (activity: created, updated or resolved); open issues: when last updated. Tables list rows newest first."""
    if kpi == "open":
        return pd.to_datetime(frame["updated_at"])
    resolved = ("closed_at", _closed(frame))
    terms: dict[str, list[tuple[str, pd.Series | None]]] = {
        "created": [("created_at", None)],
        "updated": [("updated_at", None)],
        "resolved": [resolved],
        "activity": [("created_at", None), ("updated_at", None), resolved],
    }
    if kpi not in terms:
        raise ValueError(f"unknown redmine kpi {kpi!r}; expected one of {', '.join(REDMINE_KPIS)}")
    return latest_in_window(frame, terms[kpi], window)


def row_kinds(frame: pd.DataFrame, window: Window) -> pd.Series:
    """Closed (in the window), else Created, else Updated: how a table row is coloured."""
    resolved = in_window_array(stamps(frame["closed_at"]), window) & _closed(frame).to_numpy()
    return row_kinds_of(frame, window, resolved, (ROW_RESOLVED, ROW_CREATED, ROW_UPDATED))

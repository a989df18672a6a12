"""Case KPIs (PRODUCT.md Metrics, original-dashboard.md 1.1, with its defects fixed).

A case frame has the `cases` table's columns (at least created_at, updated_at, resolved_at, status,
assignee_name, group_name; deleted_at is honoured when present). Per window:

- created:   created_at in the window.
- resolved:  resolved_at in the window and the status now in `CaseRules.resolved_statuses`. A reopened case
             (sync clears resolved_at, or its status left the resolved set) is not resolved.
- worked on: (updated_at in the window and status not in `closed_statuses`) or resolved_at in the window (any
             status) or created in the window. VTiger auto-closes resolved cases later; that edit is not work.
- kill rate: resolved / created in percent; None ("—") when nothing was created (the old 300% is gone).
- leaderboard: resolved per current assignee, highest first (blank assignee: "Unassigned").
- open now:  status not in the resolved set, per group, assignee or status.

Pure functions of DataFrames and `metrics.windows.Window`s. Must not import SQLAlchemy, Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.series import (
    NO_GROUP,
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
from settings import CaseRules

CASE_KPIS = ("created", "resolved", "worked", "open")

ROW_RESOLVED, ROW_CREATED, ROW_WORKED = "Resolved", "Created", "Worked on"


@dataclass(frozen=True)
class CaseFigures:
    """The four numbers of one window."""

    created: int
    resolved: int
    worked: int
    kill_rate: float | None


def created_in(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    frame = live(frame)
    return frame[in_window(frame["created_at"], window)]


def resolved_in(frame: pd.DataFrame, window: Window, rules: CaseRules) -> pd.DataFrame:
    frame = live(frame)
    mask = in_window(frame["resolved_at"], window) & frame["status"].isin(rules.resolved_statuses)
    return frame[mask]


def worked_in(frame: pd.DataFrame, window: Window, rules: CaseRules) -> pd.DataFrame:
    frame = live(frame)
    modified = in_window(frame["updated_at"], window) & ~frame["status"].isin(rules.closed_statuses)
    mask = modified | in_window(frame["resolved_at"], window) | in_window(frame["created_at"], window)
    return frame[mask]


def open_cases(frame: pd.DataFrame, rules: CaseRules) -> pd.DataFrame:
    frame = live(frame)
    return frame[~frame["status"].isin(rules.resolved_statuses)]


def figures(frame: pd.DataFrame, window: Window, rules: CaseRules) -> CaseFigures:
    created = len(created_in(frame, window))
    resolved = len(resolved_in(frame, window, rules))
    return CaseFigures(created, resolved, len(worked_in(frame, window, rules)), kill_rate(resolved, created))


class CaseCounter:
    """`figures` and `resolved_leaderboard` for many windows of one frame (a page shows six windows): the columns
    become numpy arrays once instead of once per window and figure. Same numbers as the functions above."""

    def __init__(self, frame: pd.DataFrame, rules: CaseRules) -> None:
        self.frame = live(frame)
        self.created = stamps(self.frame["created_at"])
        self.updated = stamps(self.frame["updated_at"])
        self.resolved = stamps(self.frame["resolved_at"])
        self.in_resolved_set = self.frame["status"].isin(rules.resolved_statuses).to_numpy()
        self.not_closed = ~self.frame["status"].isin(rules.closed_statuses).to_numpy()

    def _resolved(self, window: Window) -> np.ndarray:
        return in_window_array(self.resolved, window) & self.in_resolved_set

    def figures(self, window: Window) -> CaseFigures:
        created = in_window_array(self.created, window)
        resolved_at = in_window_array(self.resolved, window)
        worked = (in_window_array(self.updated, window) & self.not_closed) | resolved_at | created
        count_created, count_resolved = int(created.sum()), int((resolved_at & self.in_resolved_set).sum())
        return CaseFigures(count_created, count_resolved, int(worked.sum()), kill_rate(count_resolved, count_created))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return counts_by(self.frame[self._resolved(window)], "assignee_name")


class CountedCases:
    """`CaseCounter`'s figures and leaderboards from roll-up counts (models.rollups.ViewCounts.windows) instead of
    rows: the same numbers, with kpi.toml's status sets applied here."""

    def __init__(self, counts: Sequence[CountRow], rules: CaseRules) -> None:
        self.totals = WindowTotals(counts)
        self.rules = rules

    def figures(self, window: Window) -> CaseFigures:
        total, closed = self.totals.total, self.rules.closed_statuses
        created = total(window, "created")
        resolved = total(window, "resolved", self.rules.resolved_statuses)
        # A modification is work unless the case is closed now: closed cases count only when created or resolved.
        worked = total(window, "worked", closed, exclude=True) + total(window, "worked_rc", closed)
        return CaseFigures(created, resolved, worked, kill_rate(resolved, created))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return self.totals.per_person(window, "resolved_by", self.rules.resolved_statuses)

    def partial_figures(self, comparison: Comparison, counted: Mapping[str, int]) -> CaseFigures:
        """The figures of a partial comparison span (metrics.windows.Comparison): created and resolved as the
        whole days' roll-ups plus `counted` over its last, partial day; worked on as `counted["worked"]` over the
        whole span (a case worked on two days is one case: day counts do not add up). `counted` is what
        `partial_spans` asks for, counted from rows (models.case_reads.counts_in)."""
        days = comparison.whole_days
        created = counted["created"] + sum(self.totals.total(day, "created") for day in days)
        resolved_statuses = self.rules.resolved_statuses
        resolved = counted["resolved"] + sum(self.totals.total(day, "resolved", resolved_statuses) for day in days)
        return CaseFigures(created, resolved, counted["worked"], kill_rate(resolved, created))


def partial_spans(comparison: Comparison) -> dict[str, Window]:
    """What `CountedCases.partial_figures` needs counted from rows: per card, the span to count over."""
    return {"created": comparison.last_day, "resolved": comparison.last_day, "worked": comparison.span}


def open_counts(now: Mapping[str, Sequence[CountRow]], rules: CaseRules, column: str) -> list[tuple[str, int]]:
    """Open cases per selector (group), person (assignee) or status from roll-up "now" counts
    (models.rollups.ViewCounts.now)."""
    resolved = set(rules.resolved_statuses)
    live_rows = (row for row in now[column] if row.kpi == "live" and row.status not in resolved)
    return sums_by(live_rows, column, blank=NO_GROUP if column == "selector" else "Unassigned")


def resolved_leaderboard(frame: pd.DataFrame, window: Window, rules: CaseRules) -> list[tuple[str, int]]:
    """Resolved cases per current assignee in the window (credit goes to the assignee, as before)."""
    return counts_by(resolved_in(frame, window, rules), "assignee_name")


def open_by(frame: pd.DataFrame, column: str, rules: CaseRules) -> list[tuple[str, int]]:
    """Open cases per group_name, assignee_name or status (for hand-built frames; pages use SQL counts)."""
    blank = NO_GROUP if column == "group_name" else "Unassigned"
    return counts_by(open_cases(frame, rules), column, blank=blank)


def kpi_rows(frame: pd.DataFrame, kpi: str, window: Window, rules: CaseRules) -> pd.DataFrame:
    """The rows behind a card: created, resolved or worked (open rows come from `open_cases`)."""
    if kpi == "created":
        return created_in(frame, window)
    if kpi == "resolved":
        return resolved_in(frame, window, rules)
    if kpi == "worked":
        return worked_in(frame, window, rules)
    if kpi == "open":
        return open_cases(frame, rules)
    raise ValueError(f"unknown case kpi {kpi!r}; expected one of {', '.join(CASE_KPIS)}")


def counted_at(frame: pd.DataFrame, kpi: str, window: Window, rules: CaseRules) -> pd.Series:
    """When each row counted in the window for the card `kpi`: the latest of its card times in the window
    (created: created_at; resolved: resolved_at; worked: modified while not closed, resolved or created); open
    cases: when last modified. Tables list rows newest first by it."""
    if kpi == "open":
        return pd.to_datetime(frame["updated_at"])
    status = frame["status"]
    terms: dict[str, list[tuple[str, pd.Series | None]]] = {
        "created": [("created_at", None)],
        "resolved": [("resolved_at", status.isin(rules.resolved_statuses))],
        "worked": [("updated_at", ~status.isin(rules.closed_statuses)), ("resolved_at", None), ("created_at", None)],
    }
    if kpi not in terms:
        raise ValueError(f"unknown case kpi {kpi!r}; expected one of {', '.join(CASE_KPIS)}")
    return latest_in_window(frame, terms[kpi], window)


def row_kinds(frame: pd.DataFrame, window: Window, rules: CaseRules) -> pd.Series:
    """Why each row is in the window's table: Resolved (in the resolved set), else Created, else Worked on."""
    resolved = in_window_array(stamps(frame["resolved_at"]), window)
    resolved &= frame["status"].isin(rules.resolved_statuses).to_numpy()
    return row_kinds_of(frame, window, resolved, (ROW_RESOLVED, ROW_CREATED, ROW_WORKED))

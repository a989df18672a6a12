"""Case figures (PRODUCT.md Metrics, original-dashboard.md 1.1, with its defects fixed), as the KPI catalogue
(metrics/catalogue.py) defines them: created, resolved, worked on, kill rate, resolved per person, open now.

The window figures come from roll-up counts (`CountedCases`, models.rollups.ViewCounts); the rows behind a card
from a frame with the `cases` table's columns (`kpi_rows`, `counted_at`, `row_kinds`). kpi.toml's status sets
(`CaseRules`) are applied here, when counts or rows are read.

Pure functions of DataFrames, roll-up counts and `metrics.windows.Window`s. Must not import SQLAlchemy, Dash or
sync/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from metrics import catalogue
from metrics.catalogue import Kpi
from metrics.series import NO_GROUP, CountRow, WindowTotals, in_window_array, row_kinds_of, stamps, sums_by
from metrics.windows import Comparison, Window
from settings import CaseRules

CASE_KPIS = catalogue.row_keys("cases")  # created, resolved, worked, open: the cards with rows behind them
WINDOW_KPIS = ("created", "resolved", "worked")  # the window cards

ROW_RESOLVED, ROW_CREATED, ROW_WORKED = "Resolved", "Created", "Worked on"


@dataclass(frozen=True)
class CaseFigures:
    """The four numbers of one window."""

    created: int
    resolved: int
    worked: int
    kill_rate: float | None


def _figures(count: Callable[[Kpi], int]) -> CaseFigures:
    values = {key: count(catalogue.by_key("cases", key)) for key in WINDOW_KPIS}
    return CaseFigures(**values, kill_rate=catalogue.ratio(catalogue.entry("cases.kill_rate"), count))


class CountedCases:
    """The window figures and leaderboards from roll-up counts (models.rollups.ViewCounts.windows), with
    kpi.toml's status sets applied here."""

    def __init__(self, counts: Sequence[CountRow], rules: CaseRules) -> None:
        self.totals = WindowTotals(counts)
        self.rules = rules

    def figures(self, window: Window) -> CaseFigures:
        return _figures(lambda kpi: catalogue.window_count(kpi, self.totals, window, self.rules))

    def resolved_leaderboard(self, window: Window) -> list[tuple[str, int]]:
        return catalogue.leaderboard(catalogue.entry("cases.resolved_per_person"), self.totals, window, self.rules)

    def partial_figures(self, comparison: Comparison, counted: Mapping[str, int]) -> CaseFigures:
        """The figures of a partial comparison span (metrics.windows.Comparison); `counted` is what
        `partial_spans` asks for, counted from rows (models.case_reads.counts_in)."""
        return _figures(lambda kpi: catalogue.partial_count(kpi, self.totals, comparison, dict(counted), self.rules))


def partial_spans(comparison: Comparison) -> dict[str, Window]:
    """What `CountedCases.partial_figures` needs counted from rows: per card, the span to count over."""
    return catalogue.partial_spans([catalogue.by_key("cases", key) for key in WINDOW_KPIS], comparison)


def open_counts(now: Mapping[str, Sequence[CountRow]], rules: CaseRules, column: str) -> list[tuple[str, int]]:
    """Open cases per selector (group), person (assignee) or status from roll-up "now" counts
    (models.rollups.ViewCounts.now)."""
    resolved = set(rules.resolved_statuses)
    live_rows = (row for row in now[column] if row.kpi == "live" and row.status not in resolved)
    return sums_by(live_rows, column, blank=NO_GROUP if column == "selector" else "Unassigned")


def kpi_rows(frame: pd.DataFrame, kpi: str, window: Window, rules: CaseRules) -> pd.DataFrame:
    """The rows behind a card: created, resolved, worked or open."""
    return catalogue.rows_in(catalogue.by_key("cases", kpi), frame, window, rules)


def counted_at(frame: pd.DataFrame, kpi: str, window: Window, rules: CaseRules) -> pd.Series:
    """When each row counted in the window for the card `kpi` (catalogue.counted_at); tables list rows newest
    first by it."""
    return catalogue.counted_at(catalogue.by_key("cases", kpi), frame, window, rules)


def row_kinds(frame: pd.DataFrame, window: Window, rules: CaseRules) -> pd.Series:
    """Why each row is in the window's table: Resolved (in the resolved set), else Created, else Worked on."""
    resolved = in_window_array(stamps(frame["resolved_at"]), window)
    resolved &= frame["status"].isin(rules.resolved_statuses).to_numpy()
    return row_kinds_of(frame, window, resolved, (ROW_RESOLVED, ROW_CREATED, ROW_WORKED))

"""Window arithmetic shared by the cases, redmine (and sales) metrics: which timestamps fall in a window, counts
per person or group, kill rate, per-day series and their cumulative month-over-month comparison, and the
per-month history.

Timestamps are naive UTC (as stored); windows are `metrics.windows.Window` ([start, end) in naive UTC); local
days and months are TIMEZONE days and months. Pure: pandas in, pandas or numbers out. Must not import
SQLAlchemy, Dash or sync/, and never reads the clock (callers pass `through`/today).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from metrics.windows import Window, month_start, next_month_start, to_local

UNASSIGNED = "Unassigned"
NO_GROUP = "No group"


def in_window(timestamps: pd.Series, window: Window) -> pd.Series:
    """True where a naive-UTC timestamp lies in [window.start, window.end); missing timestamps are False."""
    values = pd.to_datetime(timestamps)
    return (values >= window.start) & (values < window.end)


def stamps(timestamps: pd.Series) -> np.ndarray:
    """Naive-UTC timestamps as a numpy datetime64[us] array (NaT where missing), for testing many windows."""
    return pd.to_datetime(timestamps).to_numpy(dtype="datetime64[us]")


def in_window_array(values: np.ndarray, window: Window) -> np.ndarray:
    """`in_window` on a `stamps` array (NaT compares False, as missing timestamps must)."""
    start, end = np.datetime64(window.start, "us"), np.datetime64(window.end, "us")
    return (values >= start) & (values < end)


def live(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows not deleted at the source (reads already exclude them; metrics stay safe on any frame)."""
    if "deleted_at" not in frame.columns:
        return frame
    return frame[frame["deleted_at"].isna()]


def kill_rate(resolved: int, created: int) -> float | None:
    """Resolved as a percentage of created; None when nothing was created (shown as "—", never 300%)."""
    if created <= 0:
        return None
    return 100.0 * resolved / created


def counts_by(frame: pd.DataFrame, column: str, *, blank: str = UNASSIGNED) -> list[tuple[str, int]]:
    """(name, count) per value of `column`, highest first, then by name; blank names become `blank`."""
    if frame.empty:
        return []
    names = frame[column].fillna("").astype(str).str.strip().replace("", blank)
    return ranked(names.value_counts().items())


class CountRow(NamedTuple):
    """One roll-up count (models.rollups.ViewCounts): how many rows of a KPI fell in the window of `kind`
    starting `start` ("now": live rows), per selector (group / project), person and status; "*" is a total."""

    kind: str
    start: date
    kpi: str
    selector: str
    person: str
    status: str
    count: int  # type: ignore[assignment]  # the roll-up column's name; shadows tuple.count, which nothing calls


def sums_by(rows: Iterable[CountRow], column: str, *, blank: str = UNASSIGNED) -> list[tuple[str, int]]:
    """`counts_by` for roll-up counts: sums `count` per value of `column` (selector, person or status)."""
    totals: dict[str, int] = {}
    for row in rows:
        name = getattr(row, column)
        label = (name.strip() if isinstance(name, str) else "") or blank
        totals[label] = totals.get(label, 0) + row.count
    return ranked(totals.items())


def ranked(totals: Iterable[tuple[Any, Any]]) -> list[tuple[str, int]]:
    """Highest count first, then by name; zero counts left out."""
    ordered = sorted(((str(name), int(count)) for name, count in totals), key=lambda item: (-item[1], item[0].lower()))
    return [item for item in ordered if item[1] != 0]


class WindowTotals:
    """Roll-up counts of several windows (models.rollups.ViewCounts.windows) summed once per window, KPI and
    status (and person), so a page's six windows cost dictionary lookups."""

    def __init__(self, counts: Iterable[CountRow]) -> None:
        self.by_status: dict[tuple[str, date, str], dict[str, int]] = {}
        self.by_person: dict[tuple[str, date, str], list[tuple[str, str, int]]] = {}
        for kind, start, kpi, _selector, person, status, count in counts:
            key = (kind, start, kpi)
            statuses = self.by_status.setdefault(key, {})
            statuses[status] = statuses.get(status, 0) + count
            self.by_person.setdefault(key, []).append((person, status, count))

    def total(self, window: Window, kpi: str, statuses: Sequence[str] | None = None, *, exclude: bool = False) -> int:
        """One KPI's count in the window, only over `statuses` (or all but them, with exclude=True) when given."""
        found = self.by_status.get((window.kind, window.first_day, kpi), {})
        if statuses is None:
            return sum(found.values())
        return sum(count for status, count in found.items() if (status in statuses) != exclude)

    def per_person(
        self, window: Window, kpi: str, statuses: Sequence[str] | None = None, *, exclude: bool = False
    ) -> dict[str, int]:
        """One KPI's count in the window per person (blank: "Unassigned"), only over `statuses` (or all but them,
        with exclude=True) when given."""
        totals: dict[str, int] = {}
        for person, status, count in self.by_person.get((window.kind, window.first_day, kpi), []):
            if statuses is None or (status in statuses) != exclude:
                label = person.strip() or UNASSIGNED
                totals[label] = totals.get(label, 0) + count
        return totals


def latest_in_window(
    frame: pd.DataFrame, terms: Sequence[tuple[str, pd.Series | np.ndarray | None]], window: Window
) -> pd.Series:
    """Per row, the latest of the named timestamps that fall in the window (each only where its mask, if any, is
    true); NaT where none does. When a row counted in a window, for ordering tables newest first. On numpy
    arrays: a table's hundred rows should not pay pandas' cost per operation."""
    latest = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
    for column, mask in terms:
        values = stamps(frame[column])
        inside = in_window_array(values, window)
        if mask is not None:
            inside &= np.asarray(mask, dtype=bool)
        latest = np.where(inside & (np.isnat(latest) | (values > latest)), values, latest)
    return pd.Series(latest, index=frame.index)


def row_kinds_of(frame: pd.DataFrame, window: Window, resolved: np.ndarray, labels: tuple[str, str, str]) -> pd.Series:
    """Why each row is in a window's table: labels[0] where `resolved` (already tested against the window), else
    labels[1] where created in the window, else labels[2]."""
    created = in_window_array(stamps(frame["created_at"]), window)
    kinds = np.where(resolved, labels[0], np.where(created, labels[1], labels[2]))
    return pd.Series(kinds, index=frame.index, dtype="object")


def newest_first(frame: pd.DataFrame, counted_at: pd.Series) -> pd.DataFrame:
    """The rows by `counted_at`, newest first (missing last), then highest id. One numpy lexsort: a page's table
    sorts a hundred rows per click, where pandas' multi-column sort costs more than the rows."""
    at = counted_at.to_numpy(dtype="datetime64[us]").astype("int64")  # NaT: the smallest int64, so last
    order = np.lexsort((-frame["id"].to_numpy(dtype="int64"), -at.astype("float64")))
    return frame.take(order)


def local_dates(timestamps: pd.Series, tz_name: str) -> pd.Series:
    """The TIMEZONE calendar date of each naive-UTC timestamp (missing stay missing)."""
    values = pd.to_datetime(timestamps.dropna())
    if values.empty:
        return pd.Series([], dtype="object")
    return to_local(values, tz_name).dt.date


def daily_counts(timestamps: pd.Series, first_day: date, last_day: date, tz_name: str) -> pd.Series:
    """Events per local day from first_day to last_day inclusive (every day present, zeros included)."""
    days = pd.Index([d.date() for d in pd.date_range(first_day, last_day, freq="D")], name="day")
    dates = local_dates(timestamps, tz_name)
    counts = dates.value_counts() if not dates.empty else pd.Series(dtype="int64")
    return counts.reindex(days, fill_value=0).astype("int64")


def comparison_months(day: date, months_back: int = 3) -> list[date]:
    """The first day of the month of `day` and of the `months_back` months before it, newest first."""
    return [month_start(day, back) for back in range(months_back + 1)]


def cumulative_by_day_of_month(daily: pd.Series, months: Sequence[date], through: date | None = None) -> pd.DataFrame:
    """Running totals per day of month (index 1..31), one column per month (label "November 2026").

    `daily` maps local dates to counts (missing dates count 0). Every day of each month counts, its last day
    included (the old dashboard dropped it). Days a month does not have, and days after `through` (today, for
    the current month), are left empty (NaN) so lines stop there instead of running flat into the future.
    """
    index = pd.RangeIndex(1, 32, name="day_of_month")
    columns: dict[str, list[float]] = {}
    counts = dict(zip(daily.index, daily.tolist(), strict=True))
    for first in months:
        running, total = [], 0.0
        for day_number in range(1, 32):
            if day_number > (next_month_start(first) - first).days:
                running.append(float("nan"))  # the month has no such day
                continue
            day = first.replace(day=day_number)
            total += int(counts.get(day, 0))
            running.append(float("nan") if through is not None and day > through else total)
        columns[first.strftime("%B %Y")] = running
    return pd.DataFrame(columns, index=index, dtype="float64")


def monthly_counts(timestamps: pd.Series, tz_name: str) -> pd.Series:
    """Events per local month (index: first day of the month), for hand-built frames and the TV."""
    dates = local_dates(timestamps, tz_name)
    if dates.empty:
        return pd.Series([], dtype="int64")
    months = dates.map(lambda d: d.replace(day=1))
    return months.value_counts().sort_index().astype("int64")


def monthly_history(created: pd.Series, resolved: pd.Series) -> pd.DataFrame:
    """Created and resolved per month from the first month with either to the last, empty months kept as 0
    (the old chart silently dropped months where either was zero). Columns: month (date), label, created,
    resolved, kill_rate (None when nothing was created)."""
    known = [d for d in list(created.index) + list(resolved.index)]
    if not known:
        return pd.DataFrame(columns=["month", "label", "created", "resolved", "kill_rate"])
    months = []
    current, last = min(known), max(known)
    while current <= last:
        months.append(current)
        current = next_month_start(current)
    frame = pd.DataFrame({"month": months})
    frame["label"] = [m.strftime("%b %Y") for m in months]
    frame["created"] = [int(created.get(m, 0)) for m in months]
    frame["resolved"] = [int(resolved.get(m, 0)) for m in months]
    rates = [kill_rate(r, c) for r, c in zip(frame["resolved"], frame["created"], strict=True)]
    frame["kill_rate"] = pd.Series(rates, dtype="object")  # None stays None ("—"), not NaN
    return frame

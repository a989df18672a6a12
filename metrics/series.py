"""Window arithmetic shared by the cases, redmine (and sales) metrics: which timestamps fall in a window, counts
per person or group, kill rate, per-day series and their cumulative month-over-month comparison, and the
per-month history.

Timestamps are naive UTC (as stored); windows are `metrics.windows.Window` ([start, end) in naive UTC); local
days and months are TIMEZONE days and months. Pure: pandas in, pandas or numbers out. Must not import
SQLAlchemy, Dash or sync/, and never reads the clock (callers pass `through`/today).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

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
    counts = names.value_counts()
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0]).lower()))
    return [(str(name), int(count)) for name, count in ordered]


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
    columns: dict[str, pd.Series] = {}
    for first in months:
        last = next_month_start(first) - pd.Timedelta(days=1)
        days = [d.date() for d in pd.date_range(first, last, freq="D")]
        values = pd.Series([int(daily.get(d, 0)) for d in days], index=[d.day for d in days], dtype="float64")
        running = values.cumsum()
        if through is not None:
            running[[d.day for d in days if d > through]] = float("nan")
        columns[first.strftime("%B %Y")] = running.reindex(index)
    return pd.DataFrame(columns, index=index)


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

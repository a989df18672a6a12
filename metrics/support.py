"""The help-desk figures: resolution time (calendar and business hours), SLA met / breached by due time, backlog
age, reopens, and Redmine's time to close and overdue issues. Each figure is defined once here (its words in
the KPI catalogue, metrics/catalogue.py); view_models/support.py reads the rows and calls these.

Frames hold naive-UTC datetime64 columns as models/ reads them. Pure: no database, no Dash, no clock (callers
pass `now`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from metrics.business_time import BusinessCalendar, Timeline

AGE_BUCKETS: tuple[tuple[str, float], ...] = (("<1d", 1), ("1-3d", 3), ("3-7d", 7), ("7-30d", 30), (">30d", np.inf))
AT_RISK_BUSINESS_HOURS = 4  # an open case due within this many business hours from now is at risk
RESOLVED_WITHIN = ("1 h", "4 h", "1 business day", "3 business days", "7 business days", "more")


@dataclass(frozen=True)
class ResolutionFigures:
    """Cases resolved in a window and how long they took from creation: median and 90th percentile, in calendar
    hours and in business hours (None when nothing was resolved)."""

    count: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    median_business_hours: float | None = None
    p90_business_hours: float | None = None


@dataclass(frozen=True)
class SlaFigures:
    """Cases due in a window: met (resolved by the due time), breached (resolved later, or open past it)."""

    met: int = 0
    breached: int = 0
    met_pct: float | None = None  # met ÷ (met + breached) in percent, None when nothing was decided; computed

    def __post_init__(self) -> None:
        decided = self.met + self.breached
        object.__setattr__(self, "met_pct", None if decided == 0 else 100 * self.met / decided)


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    case_no: str
    title: str
    group: str
    assignee: str
    priority: str
    created_at: datetime  # naive UTC
    due_at: datetime | None  # naive UTC; None: no target for its priority
    url: str


@dataclass(frozen=True)
class BacklogFigures:
    """Open items now by age (since creation)."""

    open: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in AGE_BUCKETS})
    oldest: OpenCase | None = None
    median_age_days: float | None = None


@dataclass(frozen=True)
class NamedResolution:
    """Resolution figures of one person, group or project."""

    name: str
    figures: ResolutionFigures


# --- resolution time --------------------------------------------------------------------------------------------


def hours_between(starts: pd.Series, ends: pd.Series) -> np.ndarray:
    """Calendar hours from each start to its end (NaN where either is missing)."""
    delta = pd.to_datetime(ends).to_numpy("datetime64[us]") - pd.to_datetime(starts).to_numpy("datetime64[us]")
    return delta / np.timedelta64(1, "h")


def business_hours(timeline: Timeline, starts: pd.Series, ends: pd.Series) -> np.ndarray:
    return timeline.hours_between(
        pd.to_datetime(starts).to_numpy("datetime64[us]"), pd.to_datetime(ends).to_numpy("datetime64[us]")
    )


def with_durations(frame: pd.DataFrame, calendar: BusinessCalendar, start: str, end: str) -> pd.DataFrame:
    """The frame with `hours` and `business_hours` from column `start` to column `end`."""
    frame = frame.copy()
    frame["hours"] = hours_between(frame[start], frame[end]) if len(frame) else np.array([], dtype=float)
    if len(frame):
        timeline = calendar.covering(frame[start].min().to_pydatetime(), frame[end].max().to_pydatetime())
        frame["business_hours"] = business_hours(timeline, frame[start], frame[end])
    else:
        frame["business_hours"] = np.array([], dtype=float)
    return frame


def resolution_figures(
    hours: Sequence[float] | np.ndarray | pd.Series, business: Sequence[float] | np.ndarray | pd.Series
) -> ResolutionFigures:
    """Median and 90th percentile (linear between the two nearest values, as pandas' quantile) of the durations."""
    hours, business = np.asarray(hours, dtype=float), np.asarray(business, dtype=float)
    if not len(hours):
        return ResolutionFigures()
    return ResolutionFigures(
        count=len(hours),
        median_hours=float(np.quantile(hours, 0.5)),
        p90_hours=float(np.quantile(hours, 0.9)),
        median_business_hours=float(np.quantile(business, 0.5)),
        p90_business_hours=float(np.quantile(business, 0.9)),
    )


def resolution_by(frame: pd.DataFrame, column: str, blank: str) -> list[NamedResolution]:
    """Resolution figures per value of `column` (most resolved first); frame from `with_durations`."""
    if not len(frame):
        return []
    names = frame[column].fillna("").astype(str).str.strip().replace("", blank)
    grouped = frame.groupby(names, sort=False)
    counts = grouped.size()
    # One vectorised quantile per measure (numpy's linear rule, as resolution_figures).
    # As {quantile: {name: hours}}.
    hours = grouped["hours"].quantile(np.array([0.5, 0.9])).unstack().to_dict()
    business = grouped["business_hours"].quantile(np.array([0.5, 0.9])).unstack().to_dict()
    found = [
        NamedResolution(
            str(name),
            ResolutionFigures(
                count=int(count),
                median_hours=float(hours[0.5][name]),
                p90_hours=float(hours[0.9][name]),
                median_business_hours=float(business[0.5][name]),
                p90_business_hours=float(business[0.9][name]),
            ),
        )
        for name, count in counts.items()
    ]
    return sorted(found, key=lambda item: (-item.figures.count, item.name.lower()))


def resolved_within(business: Sequence[float] | np.ndarray | pd.Series, day_hours: float) -> dict[str, int]:
    """How many took at most 1 h, 4 h, 1, 3, 7 business days (of `day_hours` each), and more; each case in
    exactly one bucket (the first it fits)."""
    edges = np.array([1, 4, day_hours, 3 * day_hours, 7 * day_hours], dtype=float)
    values = np.asarray(business, dtype=float)
    index = np.searchsorted(edges, values, side="left")  # a value equal to an edge is "within" it
    counts = np.bincount(index, minlength=len(RESOLVED_WITHIN))
    return {name: int(count) for name, count in zip(RESOLVED_WITHIN, counts, strict=True)}


# --- SLA ----------------------------------------------------------------------------------------------------------


def due_times(frame: pd.DataFrame, targets: dict[str, float], timeline: Timeline) -> np.ndarray:
    """Each case's due time: `source_due_at` where set (the configured VTiger field), else its created time plus
    its priority's target in business hours; NaT for a priority without a target."""
    hours = frame["priority"].map(targets).astype(float).to_numpy()
    computed = timeline.after_hours(pd.to_datetime(frame["created_at"]).to_numpy("datetime64[us]"), hours)
    given = pd.to_datetime(frame["source_due_at"]).to_numpy("datetime64[us]")
    return np.where(np.isnat(given), computed, given)


def sla_outcomes(frame: pd.DataFrame, now: datetime) -> pd.Series:
    """ "met", "breached" or "" (not decided yet: open and not yet due, or no due time) per case; frame has
    `due_at` and `resolved_at` (set only while the case is resolved)."""
    due = pd.to_datetime(frame["due_at"])
    resolved = pd.to_datetime(frame["resolved_at"])
    met = resolved.notna() & due.notna() & (resolved <= due)
    breached = due.notna() & ((resolved.notna() & (resolved > due)) | (resolved.isna() & (due < pd.Timestamp(now))))
    return pd.Series(np.select([met, breached], ["met", "breached"], ""), index=frame.index, dtype=object)


def sla_figures(frame: pd.DataFrame, start: datetime, end: datetime, now: datetime) -> SlaFigures:
    """SLA figures of the cases due in [start, end)."""
    due = pd.to_datetime(frame["due_at"])
    outcomes = sla_outcomes(frame, now)[(due >= pd.Timestamp(start)) & (due < pd.Timestamp(end))]
    return SlaFigures(met=int((outcomes == "met").sum()), breached=int((outcomes == "breached").sum()))


# --- backlog --------------------------------------------------------------------------------------------------------


def age_days(created: pd.Series, now: datetime) -> np.ndarray:
    return (pd.Timestamp(now) - pd.to_datetime(created)).to_numpy() / np.timedelta64(1, "D")


def age_buckets(ages: Sequence[float] | np.ndarray) -> dict[str, int]:
    """Open items per age bucket: under 1 day, 1-3, 3-7, 7-30, over 30 days (a bucket holds its upper edge's
    exclusive side: exactly 3 days old is in 3-7d)."""
    counts = np.bincount(_bucket_index(ages), minlength=len(AGE_BUCKETS))
    return {name: int(count) for (name, _), count in zip(AGE_BUCKETS, counts, strict=True)}


def _bucket_index(ages: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each age's position in AGE_BUCKETS."""
    edges = np.array([limit for _, limit in AGE_BUCKETS[:-1]])
    return np.searchsorted(edges, np.asarray(ages, dtype=float), side="right")


def backlog_figures(ages: np.ndarray, oldest: OpenCase | None) -> BacklogFigures:
    return BacklogFigures(
        open=len(ages),
        buckets=age_buckets(ages),
        oldest=oldest,
        median_age_days=float(np.median(ages)) if len(ages) else None,
    )


def buckets_by(frame: pd.DataFrame, ages: np.ndarray, column: str, blank: str) -> list[tuple[str, dict[str, int]]]:
    """Age buckets per value of `column`, the largest backlog first."""
    names = frame[column].fillna("").astype(str).str.strip().replace("", blank).to_numpy()
    # One pass: each name's code and each age's bucket, counted together (a mask per name was most of the page).
    codes, unique = pd.factorize(names)
    counts = np.bincount(codes * len(AGE_BUCKETS) + _bucket_index(ages), minlength=len(unique) * len(AGE_BUCKETS))
    per_name = counts.reshape(len(unique), len(AGE_BUCKETS)).tolist()
    found = [
        (str(name), {bucket_name: int(n) for (bucket_name, _), n in zip(AGE_BUCKETS, row, strict=True)})
        for name, row in zip(unique, per_name, strict=True)
    ]
    return sorted(found, key=lambda item: (-sum(item[1].values()), item[0].lower()))


def median_age_per_day(frame: pd.DataFrame, day_ends: Sequence[datetime]) -> list[float | None]:
    """The median age in days of the items open at each instant: created before it and not resolved by it
    (`resolved_at` NaT: still open)."""
    created = pd.to_datetime(frame["created_at"]).to_numpy("datetime64[us]")
    resolved = pd.to_datetime(frame["resolved_at"]).to_numpy("datetime64[us]")
    medians: list[float | None] = []
    for moment in day_ends:
        at = np.datetime64(moment, "us")
        open_then = (created < at) & (np.isnat(resolved) | (resolved > at))
        ages = (at - created[open_then]) / np.timedelta64(1, "D")
        medians.append(float(np.median(ages)) if len(ages) else None)
    return medians


# --- reopens --------------------------------------------------------------------------------------------------------


def is_reopen(changes: pd.DataFrame, resolved_statuses: Sequence[str]) -> pd.Series:
    """A status change from a resolved status to an open one, or a reopen only VTiger's reopen_count reported."""
    resolved = set(resolved_statuses)
    observed = changes["from_status"].isin(resolved) & ~changes["to_status"].isin(resolved)
    return observed | (changes["origin"] == "reopen_count")


def reopen_rates(reopened: pd.Series, resolved: pd.Series) -> list[tuple[str, float]]:
    """Per person: reopens in the window / cases resolved in the window, in percent (people with resolutions
    only), highest first."""
    rates = [
        (str(name), 100 * float(reopened.get(name, 0)) / float(count)) for name, count in resolved.items() if count > 0
    ]
    return sorted(rates, key=lambda item: (-item[1], item[0].lower()))

"""Everything /support shows for a date, window and group, as plain data: `build_support_view(...) -> SupportView`
(cases) and `build_redmine_support(...) -> RedmineSupportView` (Redmine issues).

Used by the /support page, the morning digest, the TV's support slide and the CSV exports:

    view = build_support_view(engine, settings, day, group="Support", window="week", today=today)
    view.resolution.median_business_hours, view.previous_resolution.p90_hours   # previous: same elapsed span
    view.sla.met_pct, view.backlog.buckets["7-30d"], view.at_risk[0].url, view.reopen_rate_by_person

The window figures (resolution time, resolved within, SLA met / resolved late, resolved per person) come from the
roll-ups sync keeps (models/support_rollups.py) when they are kept with the configured TIMEZONE, `[calendar]`,
`[cases.sla]` and resolved statuses, else from the rows (`window_figures_from_rows`, models/support_reads.py, the
tests' plain reference); the open cases, the median-age trend and reopens are row reads. Figures are computed by
metrics/support.py; business hours follow `[calendar]` (metrics/business_time.py), due times `[cases.sla]`. Must
not import Dash, Flask or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics import support as figures
from metrics.business_time import BusinessCalendar
from metrics.support import (
    BacklogFigures,
    NamedResolution,
    OpenCase,
    ResolutionFigures,
    SlaFigures,
)
from metrics.windows import Comparison, Window, WindowKind, compare_with, local_midnight_utc, today_in, window_for
from models import support_reads, support_rollups
from settings import Settings
from view_models.tracker_view import record_links

__all__ = [
    "BacklogFigures",
    "NamedResolution",
    "OpenCase",
    "OpenIssue",
    "RedmineSupportView",
    "ResolutionFigures",
    "SlaFigures",
    "SupportView",
    "build_redmine_support",
    "build_support_view",
]

TREND_DAYS = 14  # the median-age trend of a day window shows the two weeks up to that day


@dataclass(frozen=True)
class SupportView:
    day: date
    window: Window
    comparison: Comparison  # previous_*: the previous window up to the same elapsed span (comparison.label)
    group: str
    resolution: ResolutionFigures
    previous_resolution: ResolutionFigures
    resolution_by_person: list[NamedResolution]
    resolution_by_group: list[NamedResolution]
    resolved_within: dict[str, int]  # RESOLVED_WITHIN buckets of business hours -> cases
    sla: SlaFigures
    previous_sla: SlaFigures
    backlog: BacklogFigures
    backlog_by_group: list[tuple[str, dict[str, int]]]
    backlog_by_person: list[tuple[str, dict[str, int]]]
    median_age_trend: list[tuple[date, float | None]]  # local day -> median age (days) of the backlog at its end
    at_risk: list[OpenCase]  # open, due within the next 4 business hours, soonest first
    breached_now: list[OpenCase]  # open and past their due time, longest overdue first
    reopened: int
    previous_reopened: int
    reopens_by_person: list[tuple[str, int]]
    reopen_rate_by_person: list[tuple[str, float]]  # percent of the person's resolved cases in the window
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


@dataclass(frozen=True)
class OpenIssue:
    issue_id: str
    subject: str
    project: str
    assignee: str
    priority: str
    created_at: datetime  # naive UTC
    due_date: date | None
    url: str


@dataclass(frozen=True)
class RedmineSupportView:
    window: Window
    comparison: Comparison
    project: str
    close_time: ResolutionFigures  # created -> closed, issues closed in the window
    previous_close_time: ResolutionFigures
    close_time_by_project: list[NamedResolution]
    overdue: list[OpenIssue]  # open with due_date passed, most overdue first
    backlog: BacklogFigures
    backlog_by_project: list[tuple[str, dict[str, int]]]


def build_support_view(
    engine: Engine,
    settings: Settings,
    day: date,
    group: str = "",
    window: WindowKind = "day",
    today: date | None = None,
    *,
    now: datetime | None = None,
) -> SupportView:
    """The help-desk figures of `day`'s window (day, week or month in TIMEZONE) for one group (""; all)."""
    now = _now(now, today, settings.timezone)
    calendar = settings.business_calendar
    rules = settings.kpi.cases
    selected = window_for(day, window, settings.timezone)
    comparison = compare_with(selected, now)
    previous = comparison.span

    open_now = open_cases_with_due_times(engine, settings, group)
    ages = figures.age_days(open_now["created_at"], now)
    at_risk, breached = _at_risk_and_breached(open_now, calendar, now)
    kept = _rollups_ready(engine, settings)
    if kept:
        counted = _window_figures_from_rollups(engine, settings, selected, comparison, group, open_now, now)
    else:
        counted = window_figures_from_rows(engine, settings, selected, comparison, group, now)

    changes = support_reads.reopens(engine, rules.resolved_statuses, previous.start, selected.end, group)
    reopens = changes[figures.is_reopen(changes, rules.resolved_statuses)]
    reopens_now = reopens[reopens["changed_at"] >= pd.Timestamp(selected.start)]
    reopens_before = reopens[reopens["changed_at"] < pd.Timestamp(previous.end)]
    reopened_cases = reopens_now.drop_duplicates(["case_source_id", "assignee_name"])
    reopened_per_person = _people(reopened_cases).value_counts()

    return SupportView(
        day=day,
        window=selected,
        comparison=comparison,
        group=group,
        resolution=counted.resolution,
        previous_resolution=counted.previous_resolution,
        resolution_by_person=counted.resolution_by_person,
        resolution_by_group=counted.resolution_by_group,
        resolved_within=counted.resolved_within,
        sla=counted.sla,
        previous_sla=counted.previous_sla,
        backlog=figures.backlog_figures(ages, _oldest(open_now, settings)),
        backlog_by_group=figures.buckets_by(open_now, ages, "group_name", "No group"),
        backlog_by_person=figures.buckets_by(open_now, ages, "assignee_name", "Unassigned"),
        median_age_trend=_median_age_trend(engine, settings, selected, now, group, open_now, kept=kept),
        at_risk=_open_cases(at_risk, settings),
        breached_now=_open_cases(breached, settings),
        reopened=int(reopens_now["case_source_id"].nunique()),
        previous_reopened=int(reopens_before["case_source_id"].nunique()),
        reopens_by_person=sorted(
            ((str(name), int(count)) for name, count in reopened_per_person.items()),
            key=lambda item: (-item[1], item[0].lower()),
        ),
        reopen_rate_by_person=figures.reopen_rates(reopened_per_person, counted.resolved_per_person),
        now=now,
    )


@dataclass(frozen=True)
class WindowFigures:
    """The figures of the window and its compared span: from the roll-ups, or (the plain reference) the rows."""

    resolution: ResolutionFigures
    previous_resolution: ResolutionFigures
    resolution_by_person: list[NamedResolution]
    resolution_by_group: list[NamedResolution]
    resolved_within: dict[str, int]
    sla: SlaFigures
    previous_sla: SlaFigures
    resolved_per_person: pd.Series  # display name -> cases resolved in the window


def window_figures_from_rows(
    engine: Engine, settings: Settings, selected: Window, comparison: Comparison, group: str, now: datetime
) -> WindowFigures:
    """The window figures computed from the rows they count (models/support_reads.py): the plain path, used
    while the roll-ups are not kept with the configured rules, and the reference the roll-ups are tested against."""
    previous = comparison.span
    resolved = resolved_with_durations(engine, settings, previous.start, selected.end, group)
    in_window = resolved[resolved["resolved_at"] >= pd.Timestamp(selected.start)]
    in_previous = resolved[resolved["resolved_at"] < pd.Timestamp(previous.end)]
    due = cases_with_due_times(engine, settings, previous.start, selected.end, group)
    return WindowFigures(
        resolution=figures.resolution_figures(in_window["hours"], in_window["business_hours"]),
        previous_resolution=figures.resolution_figures(in_previous["hours"], in_previous["business_hours"]),
        resolution_by_person=figures.resolution_by(in_window, "assignee_name", "Unassigned"),
        resolution_by_group=figures.resolution_by(in_window, "group_name", "No group"),
        resolved_within=figures.resolved_within(in_window["business_hours"], _day_hours(settings.business_calendar)),
        sla=figures.sla_figures(due, selected.start, selected.end, now),
        previous_sla=figures.sla_figures(due, previous.start, previous.end, now),
        resolved_per_person=_people(in_window).value_counts(),
    )


def _rollups_ready(engine: Engine, settings: Settings) -> bool:
    with engine.connect() as conn:
        return support_rollups.ready(conn, support_rollups.SupportRules.of(settings))


def _window_figures_from_rollups(
    engine: Engine,
    settings: Settings,
    selected: Window,
    comparison: Comparison,
    group: str,
    open_now: pd.DataFrame,
    now: datetime,
) -> WindowFigures:
    """The window figures from the roll-ups sync keeps (models/support_rollups.py): whole windows and days from
    the histograms, the compared span's last part-day and the open cases' SLA from rows (both bounded)."""
    spans = [(selected.kind, [selected.first_day])]
    previous = comparison.previous
    whole_days = [day.first_day for day in comparison.whole_days]
    previous_spans = [("day", whole_days)] if comparison.partial else [(previous.kind, [previous.first_day])]
    with engine.connect() as conn:
        hours, business = support_rollups.resolution(conn, spans, group)
        by_person = support_rollups.resolution_by_person(conn, spans, group)
        by_group = support_rollups.resolution_by_group(conn, spans) if not group else {}
        if group:
            by_group = {group: (hours, business)} if hours.count else {}
        within = support_rollups.resolved_within(conn, spans, group)
        previous_hours, previous_business = support_rollups.resolution(conn, previous_spans, group)
        met, late = support_rollups.sla_resolved(conn, spans, group)
        previous_met, previous_late = support_rollups.sla_resolved(conn, previous_spans, group)
    if comparison.partial:
        last = comparison.last_day
        rows = resolved_with_durations(engine, settings, last.start, last.end, group)
        previous_hours = _plus(previous_hours, rows["hours"])
        previous_business = _plus(previous_business, rows["business_hours"])
        due = cases_with_due_times(engine, settings, last.start, last.end, group)
        done = due[due["resolved_at"].notna()]
        previous_met += int((done["sla"] == "met").sum())
        previous_late += int((done["sla"] == "breached").sum())
    people = _named(by_person, "Unassigned")
    return WindowFigures(
        resolution=_figures_of(hours, business),
        previous_resolution=_figures_of(previous_hours, previous_business),
        resolution_by_person=people,
        resolution_by_group=_named(by_group, "No group"),
        resolved_within=within,
        sla=SlaFigures(met=met, breached=late + _open_breached(open_now, selected.start, selected.end, now)),
        previous_sla=SlaFigures(
            met=previous_met, breached=previous_late + _open_breached(open_now, previous.start, comparison.end, now)
        ),
        resolved_per_person=pd.Series({item.name: item.figures.count for item in people}, dtype="int64"),
    )


def _open_breached(open_now: pd.DataFrame, start: datetime, end: datetime, now: datetime) -> int:
    """Open cases (no resolution time) due in [start, end) and past due at `now`: breached."""
    due = pd.to_datetime(open_now["due_at"])
    past = open_now["resolved_at"].isna() & (due >= pd.Timestamp(start)) & (due < pd.Timestamp(end))
    return int((past & (due < pd.Timestamp(now))).sum())


def _plus(histogram: support_rollups.Histogram, hours: pd.Series) -> support_rollups.Histogram:
    """A histogram with more durations added (the compared span's last part-day, read from rows)."""
    if not len(hours):
        return histogram
    bins, counts = np.unique(support_rollups.bin_of(hours.to_numpy()), return_counts=True)
    return _joined(histogram, support_rollups.Histogram(len(hours), bins, counts.astype(np.int64)))


def _figures_of(hours: support_rollups.Histogram, business: support_rollups.Histogram) -> ResolutionFigures:
    if not hours.count:
        return ResolutionFigures()
    median_hours, p90_hours = hours.quantiles((0.5, 0.9))
    median_business, p90_business = business.quantiles((0.5, 0.9))
    return ResolutionFigures(
        count=hours.count,
        median_hours=median_hours,
        p90_hours=p90_hours,
        median_business_hours=median_business,
        p90_business_hours=p90_business,
    )


def _named(
    found: dict[str, tuple[support_rollups.Histogram, support_rollups.Histogram]], blank: str
) -> list[NamedResolution]:
    """Per display name (blank names as `blank`, names equal once stripped summed), most resolved first."""
    merged: dict[str, tuple[support_rollups.Histogram, support_rollups.Histogram]] = {}
    for name, (hours, business) in found.items():
        shown = name.strip() or blank
        if shown in merged:
            hours, business = _joined(merged[shown][0], hours), _joined(merged[shown][1], business)
        merged[shown] = (hours, business)
    items = [NamedResolution(name, _figures_of(*pair)) for name, pair in merged.items() if pair[0].count]
    return sorted(items, key=lambda item: (-item.figures.count, item.name.lower()))


def _joined(one: support_rollups.Histogram, other: support_rollups.Histogram) -> support_rollups.Histogram:
    bins = np.concatenate([one.bins, other.bins])
    unique, inverse = np.unique(bins, return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([one.counts, other.counts])).astype(np.int64)
    return support_rollups.Histogram(one.count + other.count, unique, counts)


# --- the rows behind the figures (also the exports) ------------------------------------------------------------------


def resolved_with_durations(
    engine: Engine, settings: Settings, start: datetime, end: datetime, group: str = ""
) -> pd.DataFrame:
    """Cases resolved in [start, end) with `hours`, `business_hours`, `due_at` and `sla` (met / breached / "")."""
    frame = support_reads.resolved_cases(engine, settings.kpi.cases.resolved_statuses, start, end, group)
    frame = figures.with_durations(frame, settings.business_calendar, "created_at", "resolved_at")
    return _with_due(frame, settings, datetime.now(UTC).replace(tzinfo=None))


def cases_with_due_times(
    engine: Engine, settings: Settings, start: datetime, end: datetime, group: str = ""
) -> pd.DataFrame:
    """Cases due in [start, end) with `due_at` and `sla`."""
    calendar = settings.business_calendar
    created_from = _earliest_created(settings, calendar, start)
    due_field = bool(settings.kpi.cases.sla.due_field)
    frame = support_reads.cases_created_or_due(engine, created_from, start, end, group, due_field=due_field)
    frame = _with_due(frame, settings, None)
    due = pd.to_datetime(frame["due_at"])
    return frame[(due >= pd.Timestamp(start)) & (due < pd.Timestamp(end))].reset_index(drop=True)


def open_cases_with_due_times(engine: Engine, settings: Settings, group: str = "") -> pd.DataFrame:
    frame = support_reads.open_cases(engine, settings.kpi.cases.resolved_statuses, group)
    return _with_due(frame, settings, None)


def _with_due(frame: pd.DataFrame, settings: Settings, now: datetime | None) -> pd.DataFrame:
    frame = frame.copy()
    sla = settings.kpi.cases.sla
    if not len(frame):
        frame["due_at"] = pd.Series([], dtype="datetime64[us]")
        frame["sla"] = pd.Series([], dtype=object)
        return frame
    longest = max((hours for _, hours in sla.resolve_hours), default=0)
    timeline = settings.business_calendar.covering(
        frame["created_at"].min().to_pydatetime(), frame["created_at"].max().to_pydatetime(), hours_ahead=longest
    )
    frame["due_at"] = pd.Series(figures.due_times(frame, dict(sla.resolve_hours), timeline), index=frame.index)
    frame["sla"] = figures.sla_outcomes(frame, now or datetime.now(UTC).replace(tzinfo=None))
    return frame


def _earliest_created(settings: Settings, calendar: BusinessCalendar, start: datetime) -> datetime:
    """The start of the local day from which the longest SLA target, counted in business hours, reaches `start`:
    a case created earlier was due before `start` whatever its priority."""
    longest = max((hours for _, hours in settings.kpi.cases.sla.resolve_hours), default=0)
    day = calendar.local_date(start)
    counted = calendar.business_hours_between(local_midnight_utc(day, settings.tz), start)
    for _ in range(3660):  # ten years of days off at most: a guard
        if counted >= longest:
            break
        day -= timedelta(days=1)
        interval = calendar.open_interval(day)
        counted += 0 if interval is None else (interval[1] - interval[0]).total_seconds() / 3600
    return local_midnight_utc(day, settings.tz)


def _day_hours(calendar: BusinessCalendar) -> float:
    """The length of one business day in hours (8 for 09:00-17:00)."""
    opens = calendar.opens.hour + calendar.opens.minute / 60
    closes = 24 if calendar.closes is None else calendar.closes.hour + calendar.closes.minute / 60
    return closes - opens


def _at_risk_and_breached(
    open_now: pd.DataFrame, calendar: BusinessCalendar, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    due = pd.to_datetime(open_now["due_at"])
    horizon = calendar.add_business_hours(now, figures.AT_RISK_BUSINESS_HOURS)
    soonest = ["due_at", "case_no"]
    at_risk = open_now[(due >= pd.Timestamp(now)) & (due <= pd.Timestamp(horizon))].sort_values(soonest, kind="stable")
    breached = open_now[due < pd.Timestamp(now)].sort_values(soonest, kind="stable")
    return at_risk, breached


def _people(frame: pd.DataFrame) -> pd.Series:
    return frame["assignee_name"].fillna("").astype(str).str.strip().replace("", "Unassigned")


def _open_cases(frame: pd.DataFrame, settings: Settings) -> list[OpenCase]:
    """The cases of `frame` (open_cases_with_due_times' rows) as the lists show them, read column by column: a
    backlog can hold thousands of breached cases."""
    columns = zip(
        *(
            frame[name].tolist()
            for name in ("source_id", "case_no", "title", "group_name", "assignee_name", "priority")
        ),
        pd.to_datetime(frame["created_at"]).dt.to_pydatetime().tolist(),
        pd.to_datetime(frame["due_at"]).dt.to_pydatetime().tolist(),
        record_links(settings, "Cases", frame["source_id"].tolist()),
        strict=True,
    )
    return [
        OpenCase(
            case_id=str(source_id),
            case_no=str(case_no or ""),
            title=str(title or ""),
            group=str(group or ""),
            assignee=str(assignee or ""),
            priority=str(priority or ""),
            created_at=created_at,
            due_at=None if pd.isna(due_at) else due_at,
            url=url,
        )
        for source_id, case_no, title, group, assignee, priority, created_at, due_at, url in columns
    ]


def _oldest(open_now: pd.DataFrame, settings: Settings) -> OpenCase | None:
    if not len(open_now):
        return None
    return _open_cases(open_now.sort_values(["created_at", "case_no"], kind="stable").head(1), settings)[0]


def _median_age_trend(
    engine: Engine,
    settings: Settings,
    selected: Window,
    now: datetime,
    group: str,
    open_now: pd.DataFrame,
    *,
    kept: bool = False,
) -> list[tuple[date, float | None]]:
    """The backlog's median age at the end of each day of the window (the last two weeks for a day window), up
    to now. `kept`: the ages of the cases resolved since come from the roll-ups (within their bins' error),
    the open cases' from their rows; else every case open on those days is read (the plain reference)."""
    last = min(selected.last_day, today_in(settings.timezone, now))
    first = selected.first_day if selected.kind != "day" else last - timedelta(days=TREND_DAYS - 1)
    if last < first:
        return []
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    tz = settings.tz
    ends = [min(local_midnight_utc(day + timedelta(days=1), tz), now) for day in days]
    if kept:
        medians = _kept_median_ages(engine, settings, days, ends, group, open_now)
        return list(zip(days, medians, strict=True))
    since = support_reads.cases_resolved_since(
        engine, settings.kpi.cases.resolved_statuses, local_midnight_utc(first, tz), group, created_before=ends[-1]
    )
    frame = pd.concat([open_now[since.columns], since], ignore_index=True) if len(open_now) else since
    return list(zip(days, figures.median_age_per_day(frame, ends), strict=True))


def _kept_median_ages(
    engine: Engine, settings: Settings, days: list[date], ends: list[datetime], group: str, open_now: pd.DataFrame
) -> list[float | None]:
    """figures.median_age_per_day from the roll-ups' ages of the cases resolved since (at each day's end) and the
    open cases' rows. A day cut short by now (today) is not a kept day's end: its resolved-since cases are the ones
    resolved after now, read from the rows (none, unless clocks disagree)."""
    with engine.connect() as conn:
        resolved_since = support_rollups.backlog_ages(conn, days, group)
    rows = open_now
    cut = ends[-1] < local_midnight_utc(days[-1] + timedelta(days=1), settings.tz)
    if cut:
        later = support_reads.cases_resolved_since(engine, settings.kpi.cases.resolved_statuses, ends[-1], group)
        rows = pd.concat([open_now[later.columns], later], ignore_index=True) if len(open_now) else later
    created = pd.to_datetime(rows["created_at"]).to_numpy("datetime64[us]")
    resolved = pd.to_datetime(rows["resolved_at"]).to_numpy("datetime64[us]")
    is_open = np.arange(len(rows)) < len(open_now)
    medians: list[float | None] = []
    for position, (day, end) in enumerate(zip(days, ends, strict=True)):
        at = np.datetime64(end, "us")
        counted = is_open if not (cut and position == len(days) - 1) else np.ones(len(rows), dtype=bool)
        open_then = counted & (created < at) & (np.isnat(resolved) | (resolved > at))
        hours = pd.Series((at - created[open_then]) / np.timedelta64(1, "h"))
        kept = support_rollups.EMPTY if cut and position == len(days) - 1 else resolved_since.get(day)
        median = _plus(kept or support_rollups.EMPTY, hours).quantile(0.5)
        medians.append(None if median is None else median / 24)
    return medians


def _now(now: datetime | None, today: date | None, tz_name: str) -> datetime:
    """Now as naive UTC; a `today` other than the real one stands for the end of that day (a past day's view)."""
    current = now or datetime.now(UTC).replace(tzinfo=None)
    if now is None and today is not None and today != today_in(tz_name, current):
        from zoneinfo import ZoneInfo

        return local_midnight_utc(today + timedelta(days=1), ZoneInfo(tz_name)) - timedelta(seconds=1)
    return current


# --- Redmine -------------------------------------------------------------------------------------------------------


def build_redmine_support(
    engine: Engine,
    settings: Settings,
    day: date,
    project: str = "",
    window: WindowKind = "day",
    today: date | None = None,
    *,
    now: datetime | None = None,
) -> RedmineSupportView:
    """Redmine's time to close, overdue issues and backlog age, the same way as the cases'."""
    now = _now(now, today, settings.timezone)
    selected = window_for(day, window, settings.timezone)
    comparison = compare_with(selected, now)
    previous = comparison.span
    closed = closed_with_durations(engine, settings, previous.start, selected.end, project)
    in_window = closed[closed["closed_at"] >= pd.Timestamp(selected.start)]
    in_previous = closed[closed["closed_at"] < pd.Timestamp(previous.end)]
    open_now = support_reads.open_issues(engine, project)
    ages = figures.age_days(open_now["created_at"], now)
    return RedmineSupportView(
        window=selected,
        comparison=comparison,
        project=project,
        close_time=figures.resolution_figures(in_window["hours"], in_window["business_hours"]),
        previous_close_time=figures.resolution_figures(in_previous["hours"], in_previous["business_hours"]),
        close_time_by_project=figures.resolution_by(in_window, "project_name", "No project"),
        overdue=[_open_issue(row, settings) for row in overdue_issues(open_now, settings, now).itertuples()],
        backlog=figures.backlog_figures(ages, None),
        backlog_by_project=figures.buckets_by(open_now, ages, "project_name", "No project"),
    )


def closed_with_durations(
    engine: Engine, settings: Settings, start: datetime, end: datetime, project: str = ""
) -> pd.DataFrame:
    frame = support_reads.closed_issues(engine, start, end, project, columns=support_reads.CLOSE_TIME_COLUMNS)
    return figures.with_durations(frame, settings.business_calendar, "created_at", "closed_at")


def overdue_issues(open_now: pd.DataFrame, settings: Settings, now: datetime) -> pd.DataFrame:
    """Open issues whose due date is before today (TIMEZONE), most overdue first."""
    today = pd.Timestamp(today_in(settings.timezone, now))
    due = pd.to_datetime(open_now["due_date"])
    return open_now[due.notna() & (due < today)].sort_values(["due_date", "source_id"], kind="stable")


def _open_issue(row: Any, settings: Settings) -> OpenIssue:  # row: a DataFrame.itertuples row
    redmine = settings.redmine
    return OpenIssue(
        issue_id=str(row.source_id),
        subject=str(row.subject or ""),
        project=str(row.project_name or ""),
        assignee=str(row.assignee_name or ""),
        priority=str(row.priority_name or ""),
        created_at=pd.Timestamp(row.created_at).to_pydatetime(),
        due_date=None if pd.isna(row.due_date) else pd.Timestamp(row.due_date).date(),
        url=redmine.issue_link(int(row.source_id)) if redmine else "",
    )


# --- exports: the rows behind the figures -----------------------------------------------------------------------

CASE_EXPORT_KINDS = ("breached", "breached_now", "at_risk", "reopened", "backlog")
REDMINE_EXPORT_KINDS = ("overdue", "backlog", "closed")


def case_export_rows(
    engine: Engine, settings: Settings, day: date, window_kind: WindowKind, kpi: str, group: str = ""
) -> pd.DataFrame:
    """/export/cases.csv: the cases page's kinds (resolved with its durations and SLA outcome) and the support
    kinds."""
    from view_models.cases import case_rows

    if kpi not in CASE_EXPORT_KINDS:
        rows = case_rows(engine, settings, day, window_kind, kpi, group)
        return with_resolution_columns(engine, settings, rows, day, window_kind, group) if kpi == "resolved" else rows
    return support_case_rows(engine, settings, day, window_kind, kpi, group)


def with_resolution_columns(
    engine: Engine, settings: Settings, rows: pd.DataFrame, day: date, window_kind: WindowKind, group: str
) -> pd.DataFrame:
    """The resolved rows with `resolution_hours`, `business_hours` (two decimals) and `sla` (met / breached /
    "" without a target)."""
    window = window_for(day, window_kind, settings.timezone)
    found = resolved_with_durations(engine, settings, window.start, window.end, group).set_index("id")
    ids = rows["id"]
    rows = rows.copy()
    rows["resolution_hours"] = ids.map(found["hours"].round(2)).to_numpy()
    rows["business_hours"] = ids.map(found["business_hours"].round(2)).to_numpy()
    rows["sla"] = ids.map(found["sla"]).fillna("").to_numpy()
    return rows


def support_case_rows(
    engine: Engine,
    settings: Settings,
    day: date,
    window_kind: WindowKind,
    kpi: str,
    group: str = "",
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The cases behind a support figure: `breached` (due in the window and breached, the card), `breached_now`
    and `at_risk` (the lists), `reopened` (in the window, one row per case), `backlog` (open now, with
    `age_days`)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    window = window_for(day, window_kind, settings.timezone)
    if kpi == "breached":
        frame = cases_with_due_times(engine, settings, window.start, window.end, group)
        frame["sla"] = figures.sla_outcomes(frame, now)
        breached = frame[frame["sla"] == "breached"].sort_values(["due_at", "case_no"], kind="stable")
        return _case_table(breached, settings, now)
    if kpi == "reopened":
        return _reopened_rows(engine, settings, window, group)
    open_now = open_cases_with_due_times(engine, settings, group)
    if kpi == "backlog":
        oldest_first = open_now.sort_values(["created_at", "case_no"], kind="stable")
        frame = _case_table(oldest_first, settings, now)
        frame["age_days"] = np.round(figures.age_days(oldest_first["created_at"], now), 2)
        return frame
    at_risk, breached = _at_risk_and_breached(open_now, settings.business_calendar, now)
    return _case_table(at_risk if kpi == "at_risk" else breached, settings, now)


def _case_table(frame: pd.DataFrame, settings: Settings, now: datetime) -> pd.DataFrame:
    tz_name = settings.timezone
    from view_models.tracker_view import local_text, texts

    return pd.DataFrame(
        {
            "case_no": texts(frame["case_no"]),
            "link": record_links(settings, "Cases", frame["source_id"].tolist()),
            "title": texts(frame["title"]),
            "status": texts(frame["status"]),
            "priority": texts(frame["priority"]),
            "group": texts(frame["group_name"]),
            "assignee": texts(frame["assignee_name"]),
            "created": local_text(frame["created_at"], tz_name),
            "due": local_text(frame["due_at"], tz_name),
            "resolved": local_text(frame["resolved_at"], tz_name),
        }
    )


def _reopened_rows(engine: Engine, settings: Settings, window: Window, group: str) -> pd.DataFrame:
    from view_models.tracker_view import local_text, texts

    changes = support_reads.status_changes(engine, window.start, window.end, group)
    reopens = changes[figures.is_reopen(changes, settings.kpi.cases.resolved_statuses)]
    reopens = reopens.sort_values("changed_at", kind="stable").drop_duplicates("case_source_id", keep="last")
    return pd.DataFrame(
        {
            "case_id": texts(reopens["case_source_id"]),
            "link": record_links(settings, "Cases", reopens["case_source_id"].tolist()),
            "reopened_at": local_text(reopens["changed_at"], settings.timezone),
            "from_status": texts(reopens["from_status"]),
            "to_status": texts(reopens["to_status"]),
            "recorded_by": ["reopen_count" if origin == "reopen_count" else "sync" for origin in reopens["origin"]],
            "assignee": texts(reopens["assignee_name"]),
            "group": texts(reopens["group_name"]),
        }
    )


def issue_export_rows(
    engine: Engine, settings: Settings, day: date, window_kind: WindowKind, kpi: str, project: str = ""
) -> pd.DataFrame:
    """/export/redmine.csv: the Redmine page's kinds (resolved with its time to close) and `overdue`, `backlog`
    (with `age_days`) and `closed` (resolved's rows with `close_hours` and `business_hours`)."""
    from view_models.redmine import issue_rows

    now = datetime.now(UTC).replace(tzinfo=None)
    if kpi in ("overdue", "backlog"):
        open_now = support_reads.open_issues(engine, project)
        chosen = overdue_issues(open_now, settings, now) if kpi == "overdue" else open_now
        chosen = chosen.sort_values(["created_at", "source_id"], kind="stable") if kpi == "backlog" else chosen
        rows = _issue_table(chosen, settings)
        if kpi == "backlog":
            rows["age_days"] = np.round(figures.age_days(chosen["created_at"], now), 2)
        return rows
    rows = issue_rows(engine, settings, day, window_kind, "resolved" if kpi == "closed" else kpi, project)
    if kpi not in ("resolved", "closed"):
        return rows
    window = window_for(day, window_kind, settings.timezone)
    found = closed_with_durations(engine, settings, window.start, window.end, project).set_index("id")
    rows = rows.copy()
    rows["close_hours"] = rows["id"].map(found["hours"].round(2)).to_numpy()
    rows["business_hours"] = rows["id"].map(found["business_hours"].round(2)).to_numpy()
    return rows


def _issue_table(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    from view_models.tracker_view import local_text, texts

    redmine = settings.redmine
    ids = [str(value) for value in frame["source_id"].tolist()]
    return pd.DataFrame(
        {
            "issue_id": ids,
            "link": [redmine.issue_link(int(sid)) if redmine and sid.isdigit() else "" for sid in ids],
            "subject": texts(frame["subject"]),
            "project": texts(frame["project_name"]),
            "status": texts(frame["status_name"]),
            "priority": texts(frame["priority_name"]),
            "assignee": texts(frame["assignee_name"]),
            "created": local_text(frame["created_at"], settings.timezone),
            "due_date": [value.date().isoformat() if not pd.isna(value) else "" for value in frame["due_date"]],
        }
    )

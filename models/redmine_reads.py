"""The SQL behind /redmine (and the TV's Redmine figures and /export/redmine.csv).

Window reads use the indexed created_at / updated_at / closed_at columns and return only the issues touching
the window; open-now and open/closed/rejected totals are SQL GROUP BYs; the charts are SQL counts per local day
and month (models/buckets.py). Issues deleted at the source are excluded everywhere. The project selector
filters on project_name. Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Integer, case, cast, func, or_, select

from metrics import catalogue
from metrics.redmine import CLOSED, OPEN, REJECTED, blank_name
from metrics.windows import Window, day_edges, month_edges, month_start, months_from, today_in
from models import kpi_reads, rollups
from models.buckets import counts_per_interval
from models.frames import frame_of
from models.recent_rows import Branch, GridColumn, TableRequest, count_behind, day_bounds_in, read_block
from models.schema import redmine_issues as issues

ISSUE_COLUMNS = (
    "id",
    "source_id",
    "subject",
    "project_name",
    "tracker_name",
    "status_name",
    "is_closed",
    "priority_name",
    "author_name",
    "assignee_name",
    "created_at",
    "updated_at",
    "closed_at",
)
TIMESTAMPS = ("created_at", "updated_at", "closed_at")


def issue_grid(rejected_statuses: Sequence[str]) -> dict[str, GridColumn]:
    """The page table's columns (layouts/redmine.py) as the grid sorts and filters them; the state as
    metrics.redmine.state_of names it."""
    c = issues.c
    state = case(
        (c.is_closed.is_(False), OPEN),
        (c.status_name.in_(rejected_statuses), REJECTED),
        else_=CLOSED,
    )
    return {
        "issue": GridColumn(cast(c.source_id, Integer), "number"),  # Redmine's ids are numbers
        "subject": GridColumn(c.subject),
        "project": GridColumn(c.project_name),
        "tracker": GridColumn(c.tracker_name),
        "status": GridColumn(c.status_name),
        "state": GridColumn(state),
        "priority": GridColumn(c.priority_name),
        "author": GridColumn(c.author_name),
        "assignee": GridColumn(c.assignee_name),
        "created": GridColumn(c.created_at, "datetime"),
        "updated": GridColumn(c.updated_at, "datetime"),
        "closed": GridColumn(c.closed_at, "datetime"),
    }


def _filters(project: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [issues.c.deleted_at.is_(None)]
    if project:
        conditions.append(issues.c.project_name == project)
    return conditions


def _in(column: ColumnElement, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def issues_touching(engine: Engine, start: datetime, end: datetime, project: str = "") -> pd.DataFrame:
    """Issues created, updated or closed in [start, end) (naive UTC)."""
    statement = select(*(issues.c[name] for name in ISSUE_COLUMNS)).where(
        *_filters(project),
        or_(
            _in(issues.c.created_at, start, end),
            _in(issues.c.updated_at, start, end),
            _in(issues.c.closed_at, start, end),
        ),
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, ISSUE_COLUMNS, TIMESTAMPS)


def open_issues(engine: Engine, project: str = "") -> pd.DataFrame:
    """Every issue open now (Redmine's is_closed false), most recently updated first."""
    statement = (
        select(*(issues.c[name] for name in ISSUE_COLUMNS))
        .where(*_filters(project), issues.c.is_closed.is_(False))
        .order_by(issues.c.updated_at.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, ISSUE_COLUMNS, TIMESTAMPS)


def open_counts(engine: Engine, by: str, project: str = "") -> list[tuple[str, int]]:
    """Open issues per status_name, project_name or assignee_name, counted in SQL (highest first)."""
    column = issues.c[by]
    statement = select(column, func.count()).where(*_filters(project), issues.c.is_closed.is_(False)).group_by(column)
    with engine.connect() as conn:
        found = conn.execute(statement).all()
    blank = blank_name(by)
    merged: dict[str, int] = {}
    for name, count in found:
        label = (name or "").strip() or blank
        merged[label] = merged.get(label, 0) + int(count)
    return sorted(merged.items(), key=lambda item: (-item[1], item[0].lower()))


def status_counts(engine: Engine, project: str = "") -> pd.DataFrame:
    """Issues per (status_name, is_closed): what metrics.redmine.totals_from_counts turns into open / closed /
    rejected."""
    statement = (
        select(issues.c.status_name, issues.c.is_closed, func.count())
        .where(*_filters(project))
        .group_by(issues.c.status_name, issues.c.is_closed)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=["status_name", "is_closed", "count"])
    frame["is_closed"] = frame["is_closed"].astype(bool)
    return frame


def project_names(engine: Engine) -> list[str]:
    statement = (
        select(issues.c.project_name).distinct().where(issues.c.deleted_at.is_(None), issues.c.project_name != "")
    )
    with engine.connect() as conn:
        if rollups.state_of(conn, "redmine") is not None:
            names = rollups.selectors(conn, "redmine")
        else:
            names = [name for (name,) in conn.execute(statement)]
    return sorted(names, key=str.lower)


def kpi_branches(window: Window, kpi: str, project: str = "") -> list[Branch]:
    """The rows behind a card as SQL branches, any of which puts a row in (models/kpi_reads.py). Redmine's
    entries name no kpi.toml status set."""
    return kpi_reads.branches(catalogue.by_key("redmine", kpi), None, window, project)


def table_block(
    engine: Engine, window: Window, kpi: str, project: str, request: TableRequest, rejected_statuses: Sequence[str]
) -> tuple[pd.DataFrame, int | None]:
    """The block of the issues behind a card of `window` the page's table asks for (sorted and filtered over all of
    them, newest counted first otherwise), in order, and how many pass its filter (None: no filter)."""
    branches = kpi_branches(window, kpi, project)
    grid = issue_grid(rejected_statuses)
    with engine.connect() as conn:
        rows, count = read_block(conn, issues, ISSUE_COLUMNS, branches, grid, request, day_bounds_in(window.tz_name))
    return frame_of(rows, ISSUE_COLUMNS, TIMESTAMPS), count


def counts_in(engine: Engine, spans: Mapping[str, Window], project: str = "") -> dict[str, int]:
    """Cards (created, updated, resolved) counted from their rows, each over its own span (`spans`: card -> a
    Window of any length, such as the part of a day a running window is compared with), each from its branch's
    covering index."""
    with engine.connect() as conn:
        return {kpi: count_behind(conn, issues, kpi_branches(span, kpi, project)) for kpi, span in spans.items()}


def daily_counts(engine: Engine, first_day: date, last_day: date, tz_name: str, project: str = "") -> pd.DataFrame:
    """Created and resolved (closed now, closed_at that day) per local day, counted in SQL."""
    edges = day_edges(first_day, last_day, tz_name)
    days = [date.fromordinal(first_day.toordinal() + n) for n in range(len(edges) - 1)]
    with engine.connect() as conn:
        created = counts_per_interval(conn, issues.c.created_at, edges, *_filters(project))
        resolved = counts_per_interval(conn, issues.c.closed_at, edges, *_filters(project), issues.c.is_closed)
    return pd.DataFrame({"created": created, "resolved": resolved}, index=pd.Index(days, name="day"))


def monthly_counts(engine: Engine, through: date, tz_name: str, project: str = "") -> pd.DataFrame:
    """Created and resolved per local month for all history (index: month starts), counted in SQL."""
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(issues.c.created_at), func.max(issues.c.created_at)).where(*_filters(project))
        ).one()
        if first is None:
            return pd.DataFrame({"created": [], "resolved": []}, dtype="int64")
        first_month = month_start(today_in(tz_name, first))
        last_month = max(month_start(through), month_start(today_in(tz_name, last)))
        edges = month_edges(first_month, last_month, tz_name)
        created = counts_per_interval(conn, issues.c.created_at, edges, *_filters(project))
        resolved = counts_per_interval(conn, issues.c.closed_at, edges, *_filters(project), issues.c.is_closed)
    months = months_from(first_month, len(edges) - 1)
    return pd.DataFrame({"created": created, "resolved": resolved}, index=pd.Index(months, name="month"))

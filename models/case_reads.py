"""The SQL behind /cases (and the TV's case figures and /export/cases.csv).

Every read is bounded: window reads go through the indexed created_at / updated_at / resolved_at columns and
return only the rows touching the window; "open now" reads filter on status (indexed) and aggregate in SQL
where only counts are needed; the per-day and per-month charts come back as counts (models/buckets.py).
Records deleted at the source are excluded everywhere. Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import pandas as pd
from sqlalchemy import ColumnElement, Engine, func, or_, select

from metrics import catalogue
from metrics.windows import Window, day_edges, month_edges, month_start, months_from, today_in
from models import kpi_reads, rollups
from models.buckets import counts_per_interval
from models.frames import frame_of
from models.recent_rows import Branch, GridColumn, TableRequest, count_behind, day_bounds_in, read_block
from models.schema import cases
from settings import CaseRules

CASE_COLUMNS = (
    "id",
    "source_id",
    "case_no",
    "title",
    "status",
    "priority",
    "assignee_name",
    "group_name",
    "modified_by_name",
    "created_at",
    "updated_at",
    "resolved_at",
    "time_spent_hours",
)
TIMESTAMPS = ("created_at", "updated_at", "resolved_at")
# The page table's columns (layouts/cases.py) as the grid sorts and filters them.
CASE_GRID = {
    "case": GridColumn(cases.c.case_no),
    "title": GridColumn(cases.c.title),
    "status": GridColumn(cases.c.status),
    "priority": GridColumn(cases.c.priority),
    "group": GridColumn(cases.c.group_name),
    "assignee": GridColumn(cases.c.assignee_name),
    "modified_by": GridColumn(cases.c.modified_by_name),
    "created": GridColumn(cases.c.created_at, "datetime"),
    "modified": GridColumn(cases.c.updated_at, "datetime"),
    "resolved": GridColumn(cases.c.resolved_at, "datetime"),
    "time_spent_hours": GridColumn(cases.c.time_spent_hours, "number"),
}


def _filters(group: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [cases.c.deleted_at.is_(None)]
    if group:
        conditions.append(cases.c.group_name == group)
    return conditions


def _in(column: ColumnElement, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def cases_touching(engine: Engine, start: datetime, end: datetime, group: str = "") -> pd.DataFrame:
    """Cases created, modified or resolved in [start, end) (naive UTC): every row any window metric in that
    span needs, and nothing else."""
    statement = select(*(cases.c[name] for name in CASE_COLUMNS)).where(
        *_filters(group),
        or_(
            _in(cases.c.created_at, start, end),
            _in(cases.c.updated_at, start, end),
            _in(cases.c.resolved_at, start, end),
        ),
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, CASE_COLUMNS, TIMESTAMPS)


def open_cases(engine: Engine, rules: CaseRules, group: str = "") -> pd.DataFrame:
    """Every case open now (status not in the resolved set), newest activity first."""
    statement = (
        select(*(cases.c[name] for name in CASE_COLUMNS))
        .where(*_filters(group), cases.c.status.not_in(rules.resolved_statuses))
        .order_by(cases.c.updated_at.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, CASE_COLUMNS, TIMESTAMPS)


def open_counts(engine: Engine, rules: CaseRules, by: str, group: str = "") -> list[tuple[str, int]]:
    """Open cases per group_name, assignee_name or status, counted in SQL (highest first)."""
    column = cases.c[by]
    statement = (
        select(column, func.count())
        .where(*_filters(group), cases.c.status.not_in(rules.resolved_statuses))
        .group_by(column)
    )
    with engine.connect() as conn:
        found = conn.execute(statement).all()
    blank = "No group" if by == "group_name" else "Unassigned"
    merged: dict[str, int] = {}
    for name, count in found:
        label = (name or "").strip() or blank
        merged[label] = merged.get(label, 0) + int(count)
    return sorted(merged.items(), key=lambda item: (-item[1], item[0].lower()))


def group_names(engine: Engine) -> list[str]:
    """Groups that have cases, alphabetically (the group selector's choices)."""
    statement = select(cases.c.group_name).distinct().where(cases.c.deleted_at.is_(None), cases.c.group_name != "")
    with engine.connect() as conn:
        if rollups.state_of(conn, "cases") is not None:
            names = rollups.selectors(conn, "cases")
        else:
            names = [name for (name,) in conn.execute(statement)]
    return sorted(names, key=str.lower)


def kpi_branches(rules: CaseRules, window: Window, kpi: str, group: str = "") -> list[Branch]:
    """The rows behind a card as SQL branches, any of which puts a row in (models/kpi_reads.py)."""
    return kpi_reads.branches(catalogue.by_key("cases", kpi), rules, window, group)


def table_block(
    engine: Engine, rules: CaseRules, window: Window, kpi: str, group: str, request: TableRequest
) -> tuple[pd.DataFrame, int | None]:
    """The block of the cases behind a card of `window` the page's table asks for (sorted and filtered over all of
    them, newest counted first otherwise), in order, and how many pass its filter (None: no filter)."""
    branches = kpi_branches(rules, window, kpi, group)
    with engine.connect() as conn:
        rows, count = read_block(conn, cases, CASE_COLUMNS, branches, CASE_GRID, request, day_bounds_in(window.tz_name))
    return frame_of(rows, CASE_COLUMNS, TIMESTAMPS), count


def counts_in(engine: Engine, rules: CaseRules, spans: Mapping[str, Window], group: str = "") -> dict[str, int]:
    """Cards (created, resolved, worked) counted from their rows, each over its own span (`spans`: card -> a
    Window of any length, such as the part of a day a running window is compared with); each is a count of the
    ids its branches' covering indexes hold."""
    with engine.connect() as conn:
        return {kpi: count_behind(conn, cases, kpi_branches(rules, span, kpi, group)) for kpi, span in spans.items()}


def daily_counts(
    engine: Engine, rules: CaseRules, first_day: date, last_day: date, tz_name: str, group: str = ""
) -> pd.DataFrame:
    """Created and resolved per local day (index: date), counted in SQL over [first_day, last_day]."""
    edges = day_edges(first_day, last_day, tz_name)
    days = [date.fromordinal(first_day.toordinal() + n) for n in range(len(edges) - 1)]
    with engine.connect() as conn:
        created = counts_per_interval(conn, cases.c.created_at, edges, *_filters(group))
        resolved = counts_per_interval(
            conn, cases.c.resolved_at, edges, *_filters(group), cases.c.status.in_(rules.resolved_statuses)
        )
    return pd.DataFrame({"created": created, "resolved": resolved}, index=pd.Index(days, name="day"))


def monthly_counts(engine: Engine, rules: CaseRules, through: date, tz_name: str, group: str = "") -> pd.DataFrame:
    """Created and resolved per local month, from the first case's month to `through`'s month (or the last
    case's, if later), counted in SQL. Index: first day of each month; empty when there are no cases."""
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(cases.c.created_at), func.max(cases.c.created_at)).where(*_filters(group))
        ).one()
        if first is None:
            return pd.DataFrame({"created": [], "resolved": []}, dtype="int64")
        first_month = month_start(_local_date(first, tz_name))
        last_month = max(month_start(through), month_start(_local_date(last, tz_name)))
        edges = month_edges(first_month, last_month, tz_name)
        created = counts_per_interval(conn, cases.c.created_at, edges, *_filters(group))
        resolved = counts_per_interval(
            conn, cases.c.resolved_at, edges, *_filters(group), cases.c.status.in_(rules.resolved_statuses)
        )
    months = months_from(first_month, len(edges) - 1)
    return pd.DataFrame({"created": created, "resolved": resolved}, index=pd.Index(months, name="month"))


def _local_date(moment: datetime, tz_name: str) -> date:
    return today_in(tz_name, moment)

"""The SQL behind /support (and the digest's and the TV's help-desk figures, and their CSV exports).

Every read is bounded by an indexed column (`resolved_at`, `created_at`, `status`, `changed_at`, `closed_at`) or
by "open now"; records deleted at the source are excluded. Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, Engine, and_, false, or_, select

from models.frames import frame_of
from models.schema import case_status_changes, cases, redmine_issues

SUPPORT_COLUMNS = (
    "id",
    "source_id",
    "case_no",
    "title",
    "status",
    "priority",
    "assignee_name",
    "group_name",
    "created_at",
    "resolved_at",
    "source_due_at",
)
SUPPORT_TIMES = ("created_at", "resolved_at", "source_due_at")
CHANGE_COLUMNS = ("case_source_id", "from_status", "to_status", "changed_at", "origin", "assignee_name", "group_name")
ISSUE_COLUMNS = (
    "id",
    "source_id",
    "subject",
    "project_name",
    "status_name",
    "priority_name",
    "assignee_name",
    "created_at",
    "closed_at",
    "due_date",
)


def _live(group: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [cases.c.deleted_at.is_(None), cases.c.created_at.is_not(None)]
    if group:
        conditions.append(cases.c.group_name == group)
    return conditions


def _cases(engine: Engine, *conditions: ColumnElement[bool]) -> pd.DataFrame:
    statement = select(*(cases.c[name] for name in SUPPORT_COLUMNS)).where(*conditions)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, SUPPORT_COLUMNS, SUPPORT_TIMES)


def resolved_cases(
    engine: Engine, resolved_statuses: Sequence[str], start: datetime, end: datetime, group: str = ""
) -> pd.DataFrame:
    """Cases resolved in [start, end) and resolved still (the cases page's "Resolved")."""
    c = cases.c
    return _cases(engine, *_live(group), c.resolved_at >= start, c.resolved_at < end, c.status.in_(resolved_statuses))


def open_cases(engine: Engine, resolved_statuses: Sequence[str], group: str = "") -> pd.DataFrame:
    """Every case open now. The open statuses are listed first (a scan of the status index), so the read goes
    through that index instead of testing every case against NOT IN."""
    with engine.connect() as conn:
        statuses = [status for (status,) in conn.execute(select(cases.c.status).distinct())]
    open_statuses = [status for status in statuses if status not in set(resolved_statuses)]
    found = _cases(engine, *_live(""), cases.c.status.in_(open_statuses))
    # The group is picked here, not in SQL: with it there, SQLite (whose statistics see a status as a third of
    # the cases) walks the whole table rather than the open statuses' index.
    return found[found["group_name"] == group].reset_index(drop=True) if group else found


def cases_created_or_due(
    engine: Engine, created_from: datetime, start: datetime, end: datetime, group: str = "", *, due_field: bool = False
) -> pd.DataFrame:
    """Cases that may fall due in [start, end): created from `created_from` (early enough for the longest
    target) until `end`, or, with a configured due field, whose VTiger due time is in [start, end)."""
    c = cases.c
    created = and_(c.created_at >= created_from, c.created_at < end)
    if not due_field:
        return _cases(engine, *_live(group), created)
    return _cases(engine, *_live(group), or_(created, and_(c.source_due_at >= start, c.source_due_at < end)))


def cases_resolved_since(
    engine: Engine,
    resolved_statuses: Sequence[str],
    start: datetime,
    group: str = "",
    created_before: datetime | None = None,
) -> pd.DataFrame:
    """`created_at` and `resolved_at` of the cases resolved since `start` and resolved still; with the open cases,
    every case open at some moment after `start` (a case that is not resolved now has no resolution time); with
    `created_before`, only those created before it. Only the two times: a month of a big help desk is tens of
    thousands of them."""
    c = cases.c
    columns = ("created_at", "resolved_at")
    conditions = [*_live(group), c.resolved_at >= start, c.status.in_(resolved_statuses)]
    if created_before is not None:  # a past window: the cases created after it were never open in it
        conditions.append(c.created_at < created_before)
    with engine.connect() as conn:
        rows = conn.execute(select(c.created_at, c.resolved_at).where(*conditions)).all()
    return frame_of(rows, columns, columns)


def status_changes(engine: Engine, start: datetime, end: datetime, group: str = "") -> pd.DataFrame:
    """Observed status changes of live cases in [start, end), with the assignee and group of the time."""
    c = case_status_changes.c
    conditions = [c.deleted_at.is_(None), c.changed_at >= start, c.changed_at < end]
    if group:
        conditions.append(c.group_name == group)
    statement = select(*(c[name] for name in CHANGE_COLUMNS)).where(*conditions)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, CHANGE_COLUMNS, ("changed_at",))


def reopens(
    engine: Engine, resolved_statuses: Sequence[str], start: datetime, end: datetime, group: str = ""
) -> pd.DataFrame:
    """The status changes of live cases in [start, end) that are reopens (`metrics.support.is_reopen`), filtered
    in SQL: a window's changes are many, its reopens few."""
    c = case_status_changes.c
    resolved = list(resolved_statuses)
    is_reopen = or_(and_(c.from_status.in_(resolved), c.to_status.not_in(resolved)), c.origin == "reopen_count")
    conditions = [c.deleted_at.is_(None), c.changed_at >= start, c.changed_at < end, is_reopen]
    if group:
        conditions.append(c.group_name == group)
    statement = select(*(c[name] for name in CHANGE_COLUMNS)).where(*conditions)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return frame_of(rows, CHANGE_COLUMNS, ("changed_at",))


# --- Redmine ----------------------------------------------------------------------------------------------------------


def _issues(
    engine: Engine,
    project: str,
    *conditions: ColumnElement[bool],
    columns: Sequence[str] = ISSUE_COLUMNS,
    created_in_sql: bool = True,
) -> pd.DataFrame:
    r = redmine_issues.c
    where = [r.deleted_at.is_(None), *conditions]
    if created_in_sql:
        where.append(r.created_at.is_not(None))
    if project:
        where.append(r.project_name == project)
    statement = select(*(r[name] for name in columns)).where(*where)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    frame = frame_of(rows, columns, tuple(name for name in ("created_at", "closed_at") if name in columns))
    if not created_in_sql:
        frame = frame[frame["created_at"].notna()].reset_index(drop=True)
    if "due_date" in columns:
        frame["due_date"] = pd.to_datetime(frame["due_date"]).astype("datetime64[us]")
    return frame


CLOSE_TIME_COLUMNS = ("id", "project_name", "created_at", "closed_at")


def closed_issues(
    engine: Engine, start: datetime, end: datetime, project: str = "", *, columns: Sequence[str] = ISSUE_COLUMNS
) -> pd.DataFrame:
    """Issues closed in [start, end) and closed still (the Redmine page's "Closed"); `columns`: CLOSE_TIME_COLUMNS
    for their close times only (a month of a busy tracker is thousands of issues)."""
    r = redmine_issues.c
    return _issues(engine, project, r.closed_at >= start, r.closed_at < end, r.is_closed.is_(True), columns=columns)


def open_issues(engine: Engine, project: str = "") -> pd.DataFrame:
    """Issues open now, through the partial index of them, ix_redmine_issues_live_open (`= false` as it is
    written: PostgreSQL's planner matches no index to `IS false`; the unknown creation times are dropped here, as
    SQLite would take "created_at IS NOT NULL" for a range of the created_at index and walk every issue)."""
    return _issues(engine, project, redmine_issues.c.is_closed == false(), created_in_sql=False)

"""The rows behind /redmine (the page's table, /export/redmine.csv, the part of a day a running window is
compared with) and its project choices; the figures themselves come from the roll-ups (models/rollups.py).

Window reads use the indexed created_at / updated_at / closed_at columns and return only the issues touching
the window; the rows behind a card are the catalogue entry's SQL branches (models/kpi_reads.py). Issues deleted
at the source are excluded everywhere. The project selector filters on project_name. Must not import Dash or
sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Integer, case, cast, or_, select

from metrics import catalogue
from metrics.redmine import CLOSED, OPEN, REJECTED
from metrics.windows import Window
from models import kpi_reads, rollups
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

"""The rows behind /cases (the page's table, /export/cases.csv, the part of a day a running window is compared
with) and its group choices; the figures themselves come from the roll-ups (models/rollups.py).

Every read is bounded: window reads go through the indexed created_at / updated_at / resolved_at columns and
return only the rows touching the window; the rows behind a card are the catalogue entry's SQL branches
(models/kpi_reads.py). Records deleted at the source are excluded everywhere. Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, Engine, or_, select

from metrics import catalogue
from metrics.windows import Window
from models import kpi_reads, rollups
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

"""Counting rows per time interval in SQL, for the per-day and per-month charts.

`counts_per_interval` takes interval edges computed in Python (local midnights or local month starts in
TIMEZONE, converted to naive UTC by metrics.windows, so daylight-saving days of 23 or 25 hours and +05:45-style
offsets are exact) and counts the rows whose timestamp falls in each interval with ONE query: the edges are a
derived table joined on the indexed timestamp column by range. Only counts leave the database, never the rows,
and it works the same on SQLite and PostgreSQL (which SQL-side time-zone conversion would not).

Must not import Dash or sync/.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    and_,
    bindparam,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import array

# SQLite allows at most 500 SELECTs in one compound statement and 32766 bound parameters.
MAX_INTERVALS_PER_QUERY = 400


def counts_per_interval(
    conn: Connection, column: ColumnElement[Any], edges: Sequence[datetime], *conditions: ColumnElement[bool]
) -> list[int]:
    """Rows with `column` in [edges[i], edges[i+1]) for each i, filtered by `conditions`; len(edges) - 1 counts."""
    counts: list[int] = []
    for offset in range(0, max(len(edges) - 1, 0), MAX_INTERVALS_PER_QUERY):
        chunk = edges[offset : offset + MAX_INTERVALS_PER_QUERY + 1]
        counts.extend(_counts(conn, column, chunk, conditions))
    return counts


def _counts(
    conn: Connection, column: ColumnElement[Any], edges: Sequence[datetime], conditions: Sequence[ColumnElement[bool]]
) -> list[int]:
    if conn.dialect.name == "postgresql":
        return _counts_by_width_bucket(conn, column, edges, conditions)
    statement, names = _statement(conn, column, len(edges) - 1, conditions)
    params = {name: edge for name, edge in zip(names, edges, strict=True)}
    found = dict(conn.execute(statement, params).all())
    return [int(found.get(n, 0)) for n in range(len(edges) - 1)]


def _counts_by_width_bucket(
    conn: Connection, column: ColumnElement[Any], edges: Sequence[datetime], conditions: Sequence[ColumnElement[bool]]
) -> list[int]:
    """PostgreSQL: ONE index range scan [edges[0], edges[-1]) whose rows width_bucket() sorts into the intervals
    (it takes the sorted edges as an array: exact for any edges, DST days and odd offsets included), where a
    join against a derived table of intervals makes the planner loop."""
    thresholds = cast(
        array([bindparam(f"edge_{n}", edge, type_=DateTime) for n, edge in enumerate(edges)]), ARRAY(DateTime)
    )
    bucket = func.width_bucket(column, thresholds).label("bucket")
    statement = select(bucket, func.count()).where(column >= edges[0], column < edges[-1], *conditions).group_by(bucket)
    found = {int(number) - 1: int(count) for number, count in conn.execute(statement).all()}
    return [found.get(n, 0) for n in range(len(edges) - 1)]


# Building a UNION of a hundred SELECTs is most of the cost of a chart (SQLAlchemy constructs, then compiles it):
# the statement depends only on the column, the number of intervals and the filters, so it is built once, with the
# edges as bound parameters, and compiled once per dialect (SQLAlchemy's compiled cache).
_STATEMENTS: dict[tuple[Any, ...], tuple[Any, list[str]]] = {}
MAX_STATEMENTS = 256
_STATEMENTS_LOCK = threading.Lock()


def _statement(
    conn: Connection, column: ColumnElement[Any], intervals: int, conditions: Sequence[ColumnElement[bool]]
) -> tuple[Any, list[str]]:
    table = column.table
    filters = tuple(
        str(condition.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})) for condition in conditions
    )
    key = (conn.dialect.name, table.name, column.key, intervals, filters)
    with _STATEMENTS_LOCK:
        found = _STATEMENTS.get(key)
    if found is not None:
        return found
    names = [f"edge_{n}" for n in range(intervals + 1)]
    # A UNION ALL of one-row SELECTs rather than VALUES: SQLite cannot name the columns of a VALUES list.
    union = union_all(
        *(
            select(
                literal(n, Integer).label("n"),
                bindparam(names[n], type_=DateTime).label("lo"),
                bindparam(names[n + 1], type_=DateTime).label("hi"),
            )
            for n in range(intervals)
        )
    ).subquery("intervals")
    statement = (
        select(union.c.n, func.count())
        .select_from(union.join(table, and_(column >= union.c.lo, column < union.c.hi, *conditions)))
        .group_by(union.c.n)
    )
    with _STATEMENTS_LOCK:
        if len(_STATEMENTS) >= MAX_STATEMENTS:
            _STATEMENTS.clear()
        _STATEMENTS[key] = (statement, names)
    return statement, names

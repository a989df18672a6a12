"""Counting rows per time interval in SQL, for the per-day and per-month charts.

`counts_per_interval` takes interval edges computed in Python (local midnights or local month starts in
TIMEZONE, converted to naive UTC by metrics.windows, so daylight-saving days of 23 or 25 hours and +05:45-style
offsets are exact) and counts the rows whose timestamp falls in each interval with ONE query: the edges are a
derived table joined on the indexed timestamp column by range. Only counts leave the database, never the rows,
and it works the same on SQLite and PostgreSQL (which SQL-side time-zone conversion would not).

Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, DateTime, Integer, and_, func, literal, select, union_all

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
    # A UNION ALL of one-row SELECTs rather than VALUES: SQLite cannot name the columns of a VALUES list.
    intervals = union_all(
        *(
            select(
                literal(n, Integer).label("n"),
                literal(edges[n], DateTime).label("lo"),
                literal(edges[n + 1], DateTime).label("hi"),
            )
            for n in range(len(edges) - 1)
        )
    ).subquery("intervals")
    table = column.table  # type: ignore[attr-defined]
    statement = (
        select(intervals.c.n, func.count())
        .select_from(intervals.join(table, and_(column >= intervals.c.lo, column < intervals.c.hi, *conditions)))
        .group_by(intervals.c.n)
    )
    found = dict(conn.execute(statement).all())
    return [int(found.get(n, 0)) for n in range(len(edges) - 1)]

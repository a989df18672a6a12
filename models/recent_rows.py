"""The rows a page's table shows: the `limit` rows behind a card that counted in the window most recently, read
without reading every row behind it. A card's rows are the union of a few branches (for "worked on": modified,
resolved or created in the window), each tied to one timestamp column. A row's place in the table is the latest
of its branch times that fall in the window (metrics' `counted_at`: newest first), so:

- each branch's newest `limit` rows come from a range scan of a covering index on live rows read backwards
  (models/schema.py LIVE_ROW_INDEXES), stopping after `limit` matches, whatever the window's size;
- the newest `limit` of the union are among those: a row in the overall top `limit` takes its time from one
  branch, and every row above it in that branch is above it overall too, so it is in that branch's top `limit`;
- only the shown rows are fetched from the table.

    branches = [Branch("ix_cases_live_created", cases.c.created_at, [created_in_window]), ...]
    rows = most_recent(conn, cases, CASE_COLUMNS, branches, limit=500)

Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, func, select, union, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Branch:
    index: str  # the covering index that answers it (SQLite's planner is told; PostgreSQL's finds it)
    at: ColumnElement[Any]  # the branch's time: rows are newest first by it
    conditions: Sequence[ColumnElement[bool]] = field(default_factory=list)  # joined by AND
    # Conditions that keep `at` inside a window keep it non-null: then the index is read backwards as it is
    # (PostgreSQL's DESC puts nulls first, SQLite's last), with no sort.
    at_may_be_null: bool = False


def most_recent(
    conn: Connection, table: Table, columns: Sequence[str], branches: Sequence[Branch], limit: int
) -> list[Any]:
    """Rows (the named columns) of the `limit` rows whose latest branch time is newest (then highest id). The
    caller orders them (metrics' counted_at)."""
    parts = union_all(*(_newest(table, branch, limit) for branch in branches)).subquery("branches")
    latest = func.max(parts.c.at)
    chosen = (
        select(parts.c.id).group_by(parts.c.id).order_by(latest.desc().nulls_last(), parts.c.id.desc()).limit(limit)
    )
    statement = select(*(table.c[name] for name in columns)).where(table.c.id.in_(chosen))
    return list(conn.execute(statement).all())


def count_behind(conn: Connection, table: Table, branches: Sequence[Branch]) -> int:
    """How many distinct rows any of the branches puts in (a card's figure counted from its rows): the ids come
    from the branches' covering indexes alone, and UNION counts a row in several branches once."""
    ids = union(*(_ids(table, branch) for branch in branches)).subquery("behind")
    return int(conn.execute(select(func.count()).select_from(ids)).scalar_one())


def _ids(table: Table, branch: Branch) -> Select[Any]:
    statement = select(table.c.id).where(*branch.conditions)
    return statement.with_hint(table, f"INDEXED BY {branch.index}", dialect_name="sqlite")


def _newest(table: Table, branch: Branch, limit: int) -> Select[Any]:
    statement = select(table.c.id, branch.at.label("at")).where(*branch.conditions)
    statement = statement.with_hint(table, f"INDEXED BY {branch.index}", dialect_name="sqlite")
    # A parenthesised SELECT with its own ORDER BY / LIMIT inside the UNION ALL.
    newest = branch.at.desc().nulls_last() if branch.at_may_be_null else branch.at.desc()
    return statement.order_by(newest, table.c.id.desc()).limit(limit).subquery().select()


@compiles(Table, "sqlite")
def _sqlite_table(element: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite's dialect drops `with_hint` texts; render "cases INDEXED BY ix_..." where a statement gives one
    (its planner otherwise takes a plain index and checks every row's deleted_at in the table)."""
    text = compiler.visit_table(element, **kw)
    hint = (kw.get("fromhints") or {}).get(element)
    return f"{text} {hint}" if hint and kw.get("asfrom") else text

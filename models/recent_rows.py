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
    rows = window_page(conn, cases, CASE_COLUMNS, branches, limit=500)

A page's table reads one block at a time of ALL the window's rows (`window_page`), sorted and filtered in SQL the
way the grid asks (`GridColumn`, `SortKey`, `grid_conditions`): with neither, a block is the same index scans
stopping after `offset + limit` matches; with either, every row of the window is considered.

    page = window_page(conn, cases, CASE_COLUMNS, branches, where=conditions, order=keys, offset=100, limit=100)
    total = window_count(conn, cases, branches, where=conditions)

Must not import Dash or sync/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    false,
    func,
    not_,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from metrics.windows import window_for


@dataclass(frozen=True)
class Branch:
    index: str  # the covering index that answers it (SQLite's planner is told; PostgreSQL's finds it)
    at: ColumnElement[Any]  # the branch's time: rows are newest first by it
    conditions: Sequence[ColumnElement[bool]] = field(default_factory=list)  # joined by AND
    # Conditions that keep `at` inside a window keep it non-null: then the index is read backwards as it is
    # (PostgreSQL's DESC puts nulls first, SQLite's last), with no sort.
    at_may_be_null: bool = False


def count_behind(conn: Connection, table: Table, branches: Sequence[Branch]) -> int:
    """How many distinct rows any of the branches puts in (a card's figure counted from its rows): the ids come
    from the branches' covering indexes alone, and UNION counts a row in several branches once."""
    ids = union(*(_ids(table, branch) for branch in branches)).subquery("behind")
    return int(conn.execute(select(func.count()).select_from(ids)).scalar_one())


def _ids(table: Table, branch: Branch) -> Select[Any]:
    statement = select(table.c.id).where(*branch.conditions)
    return statement.with_hint(table, f"INDEXED BY {branch.index}", dialect_name="sqlite")


def _newest(table: Table, branch: Branch, limit: int | None, where: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
    statement = select(table.c.id, branch.at.label("at")).where(*branch.conditions, *where)
    statement = statement.with_hint(table, f"INDEXED BY {branch.index}", dialect_name="sqlite")
    if limit is None:  # every matching row of the branch
        return statement
    # A parenthesised SELECT with its own ORDER BY / LIMIT inside the UNION ALL.
    newest = branch.at.desc().nulls_last() if branch.at_may_be_null else branch.at.desc()
    return statement.order_by(newest, table.c.id.desc()).limit(limit).subquery().select()


# --- a block of the window's rows, sorted and filtered as the table asks -------------------------------------------

ColumnKind = Literal["text", "number", "datetime"]


DayBounds = Callable[[date], tuple[datetime, datetime]]  # a local day -> its naive-UTC [start, end)


@dataclass(frozen=True)
class GridColumn:
    """A table column the grid may sort and filter on: the SQL value behind it and how it compares. Text compares
    case-insensitively with NULL and "" both empty; datetime filters take local calendar days (naive-UTC
    `day_bounds(day)` gives the day's [start, end))."""

    value: ColumnElement[Any]
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class SortKey:
    column: GridColumn
    descending: bool = False


class GridRequestError(ValueError):
    """A sort or filter the table cannot ask for (an unknown column or filter type)."""


def window_page(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    branches: Sequence[Branch],
    *,
    where: Sequence[ColumnElement[bool]] = (),
    order: Sequence[SortKey] = (),
    offset: int = 0,
    limit: int = 100,
) -> list[Any]:
    """Rows `offset` to `offset + limit` (the named columns, in order) of the window's rows (the union of
    `branches`) that pass `where`: by `order` (empty values last whichever the direction), then newest counted
    first (the latest of its branch times), then highest id."""
    plain = not where and not order  # the newest `offset + limit` of each branch are enough (module docstring)
    parts = union_all(*(_newest(table, branch, offset + limit if plain else None, where) for branch in branches))
    branch_rows = parts.subquery("branches")
    counted = (
        select(branch_rows.c.id, func.max(branch_rows.c.at).label("at")).group_by(branch_rows.c.id).subquery("counted")
    )
    keys = [term for key in order for term in _sort_terms(key)]
    statement = (
        select(*(table.c[name] for name in columns))
        .join_from(counted, table, table.c.id == counted.c.id)
        .order_by(*keys, counted.c.at.desc().nulls_last(), counted.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(statement).all())


def window_count(
    conn: Connection, table: Table, branches: Sequence[Branch], *, where: Sequence[ColumnElement[bool]] = ()
) -> int:
    """How many of the window's rows pass `where`."""
    ids = union(*(select(table.c.id).where(*branch.conditions, *where) for branch in branches)).subquery("ids")
    return int(conn.execute(select(func.count()).select_from(ids)).scalar_one())


def _sort_terms(key: SortKey) -> list[ColumnElement[Any]]:
    value = key.column.value
    if key.column.kind == "text":
        empty = case((func.coalesce(value, "") == "", 1), else_=0)
        value = func.lower(value)
    else:
        empty = case((value.is_(None), 1), else_=0)
    return [empty.asc(), value.desc() if key.descending else value.asc()]


def grid_conditions(
    model: Mapping[str, Any], columns: Mapping[str, GridColumn], day_bounds: DayBounds
) -> list[ColumnElement[bool]]:
    """AG Grid's filter model ({field: {"filterType", "type", "filter"...} or {"operator", "conditions"}}) as SQL
    conditions on `columns`. `day_bounds(day) -> (start, end)` turns a local day into naive-UTC bounds."""
    conditions = []
    for name, spec in model.items():
        if name not in columns:
            raise GridRequestError(f"the table cannot filter on {name!r}")
        conditions.append(_filter_condition(spec, columns[name], day_bounds))
    return conditions


def _filter_condition(spec: Mapping[str, Any], column: GridColumn, day_bounds: DayBounds) -> ColumnElement[bool]:
    if "conditions" in spec:
        parts = [_filter_condition(part, column, day_bounds) for part in spec["conditions"]]
        return or_(*parts) if spec.get("operator") == "OR" else and_(*parts)
    kind, value = spec.get("type"), column.value
    if column.kind == "text":
        return _text_condition(kind, func.lower(func.coalesce(value, "")), str(spec.get("filter") or "").lower())
    if kind in ("blank", "notBlank"):
        return value.is_(None) if kind == "blank" else value.is_not(None)
    if column.kind == "number":
        return _number_condition(kind, value, number_of(spec.get("filter")), number_of(spec.get("filterTo")))
    return _date_condition(kind, value, day_bounds, spec.get("dateFrom"), spec.get("dateTo"))


def _text_condition(kind: Any, value: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    if kind == "blank":
        return value == ""
    if kind == "notBlank":
        return value != ""
    tests = {
        "contains": lambda: value.contains(text, autoescape=True),
        "notContains": lambda: not_(value.contains(text, autoescape=True)),
        "equals": lambda: value == text,
        "notEqual": lambda: value != text,
        "startsWith": lambda: value.startswith(text, autoescape=True),
        "endsWith": lambda: value.endswith(text, autoescape=True),
    }
    if kind not in tests:
        raise GridRequestError(f"unknown text filter {kind!r}")
    return tests[kind]() if text or kind in ("equals", "notEqual") else true()


def _number_condition(
    kind: Any, value: ColumnElement[Any], low: float | None, high: float | None
) -> ColumnElement[bool]:
    if low is None:  # an empty box filters nothing
        return true()
    tests = {
        "equals": lambda: value == low,
        "notEqual": lambda: value != low,
        "lessThan": lambda: value < low,
        "lessThanOrEqual": lambda: value <= low,
        "greaterThan": lambda: value > low,
        "greaterThanOrEqual": lambda: value >= low,
        "inRange": lambda: and_(value >= low, value <= (low if high is None else high)),
    }
    if kind not in tests:
        raise GridRequestError(f"unknown number filter {kind!r}")
    return tests[kind]()


def _date_condition(
    kind: Any, value: ColumnElement[Any], day_bounds: DayBounds, first: Any, last: Any
) -> ColumnElement[bool]:
    day = day_of(first)
    if day is None:
        return true()
    start, end = day_bounds(day)
    if kind == "equals":
        return and_(value >= start, value < end)
    if kind == "notEqual":
        return or_(value < start, value >= end)
    if kind == "lessThan":
        return value < start
    if kind == "greaterThan":
        return value >= end
    if kind == "inRange":
        last_day = day_of(last) or day
        return and_(value >= start, value < day_bounds(last_day)[1]) if last_day >= day else false()
    raise GridRequestError(f"unknown date filter {kind!r}")


def number_of(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise GridRequestError(f"not a number: {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise GridRequestError(f"not a number: {raw!r}") from None


def day_of(raw: Any) -> date | None:
    """AG Grid sends dates as "YYYY-MM-DD HH:MM:SS" (local, midnight)."""
    if not raw:
        return None
    try:
        return datetime.strptime(str(raw)[:10], "%Y-%m-%d").date()
    except ValueError:
        raise GridRequestError(f"not a date: {raw!r}") from None


def sort_keys(model: Sequence[Mapping[str, Any]], columns: Mapping[str, GridColumn]) -> list[SortKey]:
    """AG Grid's sort model ([{"colId", "sort": "asc"|"desc"}]) as sort keys on `columns`."""
    keys = []
    for entry in model:
        name = entry.get("colId")
        if not isinstance(name, str) or name not in columns or entry.get("sort") not in ("asc", "desc"):
            raise GridRequestError(f"the table cannot sort on {name!r}")
        keys.append(SortKey(columns[name], descending=entry["sort"] == "desc"))
    return keys


@compiles(Table, "sqlite")
def _sqlite_table(element: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite's dialect drops `with_hint` texts; render "cases INDEXED BY ix_..." where a statement gives one
    (its planner otherwise takes a plain index and checks every row's deleted_at in the table)."""
    text = compiler.visit_table(element, **kw)
    hint = (kw.get("fromhints") or {}).get(element)
    return f"{text} {hint}" if hint and kw.get("asfrom") else text


@dataclass(frozen=True)
class TableRequest:
    """One block of a table as the grid asks for it (dash-ag-grid's getRowsRequest): rows [offset, offset +
    limit), AG Grid's sort model and filter model (JSON text, so a request can key a cache)."""

    offset: int = 0
    limit: int = 100
    sort: str = "[]"
    filters: str = "{}"

    @classmethod
    def from_grid(cls, request: Mapping[str, Any], max_rows: int = 1000) -> TableRequest:
        """GridRequestError when the block is malformed or larger than `max_rows`."""
        start, end = request.get("startRow", 0), request.get("endRow", 100)
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= start + max_rows:
            raise GridRequestError(f"rows {start!r} to {end!r} are not a block of at most {max_rows}")
        sort, filters = request.get("sortModel") or [], request.get("filterModel") or {}
        if not isinstance(sort, list) or not isinstance(filters, dict):
            raise GridRequestError("the sort model is a list and the filter model a dict")
        return cls(start, end - start, json.dumps(sort, sort_keys=True), json.dumps(filters, sort_keys=True))

    @property
    def sort_model(self) -> list[dict[str, Any]]:
        return json.loads(self.sort)

    @property
    def filter_model(self) -> dict[str, Any]:
        return json.loads(self.filters)

    @property
    def filtered(self) -> bool:
        return self.filters != "{}"


def read_block(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    branches: Sequence[Branch],
    grid: Mapping[str, GridColumn],
    request: TableRequest,
    day_bounds: DayBounds,
) -> tuple[list[Any], int | None]:
    """The block of rows `request` asks for, and how many rows pass its filter (None when it filters nothing:
    the caller knows the window's total, its card's figure)."""
    where = grid_conditions(request.filter_model, grid, day_bounds)
    order = sort_keys(request.sort_model, grid)
    rows = window_page(
        conn, table, columns, branches, where=where, order=order, offset=request.offset, limit=request.limit
    )
    return rows, window_count(conn, table, branches, where=where) if request.filtered else None


def day_bounds_in(tz_name: str) -> DayBounds:
    """A local day of TIMEZONE -> its naive-UTC [start, end), for date filters."""

    def bounds(day: date) -> tuple[datetime, datetime]:
        window = window_for(day, "day", tz_name)
        return window.start, window.end

    return bounds

"""A catalogue entry (metrics/catalogue.py) as SQL: the rows behind a card as `models.recent_rows.Branch`es, one
per term (a row in any branch is behind the card), each answered by the covering index on its time column.

    branches(catalogue.by_key("cases", "worked"), rules, window, selector="Support")

Must not import Dash or sync/.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table

from metrics import catalogue
from metrics.catalogue import Condition, Flag, Kpi
from metrics.windows import Window
from models.recent_rows import Branch
from models.schema import LIVE_ROW_INDEXES, SOURCE_TABLES


def table_of(kpi: Kpi) -> Table:
    assert kpi.rows is not None
    return SOURCE_TABLES[kpi.rows.source.table]


def live(kpi: Kpi, selector: str = "") -> list[ColumnElement[bool]]:
    """Rows not deleted at the source, of one group / project (or all: "")."""
    assert kpi.rows is not None
    table = table_of(kpi)
    conditions: list[ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
    if selector:
        conditions.append(table.c[kpi.rows.source.selector] == selector)
    return conditions


def condition(kpi: Kpi, when: Condition, rules: Any) -> ColumnElement[bool]:
    """A catalogue condition as SQL (`rules`: the source's kpi.toml section)."""
    assert kpi.rows is not None
    table = table_of(kpi)
    if isinstance(when, Flag):
        return table.c[when.column].is_(when.value)
    named = catalogue.statuses(when, rules)
    status = table.c[kpi.rows.source.status]
    return status.not_in(named) if when.negate else status.in_(named)


def _index_on(table: Table, column: str) -> str:
    """The covering index of live rows that starts with `column` (models.schema.LIVE_ROW_INDEXES)."""
    return next(name for name, columns in LIVE_ROW_INDEXES[table.name].items() if columns[0] == column)


def branches(kpi: Kpi, rules: Any, window: Window, selector: str = "") -> list[Branch]:
    """The rows behind the entry's card in `window` (entries of "now": now), newest counted first."""
    rows = kpi.rows
    if rows is None:
        raise ValueError(f"{kpi.id} is not counted from rows")
    table, base = table_of(kpi), live(kpi, selector)
    if not rows.windowed:
        now = [*base, condition(kpi, rows.now, rules)] if rows.now else base
        return [Branch(_index_on(table, "updated_at"), table.c.updated_at, now, at_may_be_null=True)]
    found = []
    for term in rows.terms:
        at = table.c[term.column]
        conditions = [*base, at >= window.start, at < window.end]
        if term.when is not None:
            conditions.append(condition(kpi, term.when, rules))
        found.append(Branch(_index_on(table, term.column), at, conditions))
    return found

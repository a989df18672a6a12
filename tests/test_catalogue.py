"""The KPI catalogue (metrics/catalogue.py): every entry is well formed, and an entry's rows read the same as SQL
(models/kpi_reads.py, what the tables and exports read) and as pandas (catalogue.row_mask), on SQLite and
PostgreSQL, at the window's edges and for the status conditions kpi.toml names."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from metrics import catalogue
from metrics.windows import window_for
from models import kpi_reads, rollups
from models.recent_rows import count_behind
from models.schema import cases, redmine_issues
from settings import CaseRules, RedmineRules
from tests.seed_dashboards import case_row, issue_row, write_rows

TZ = "Europe/Berlin"
DAY = window_for(date(2026, 11, 20), "day", TZ)  # [2026-11-19 23:00, 2026-11-20 23:00) UTC
RULES = {"cases": CaseRules(resolved_statuses=("Resolved", "Closed"), closed_statuses=("Closed",)),
         "redmine": RedmineRules()}  # fmt: skip


def test_every_entry_is_well_formed() -> None:
    assert len(catalogue.CATALOGUE) == len(catalogue.ENTRIES)  # ids are unique
    for kpi in catalogue.ENTRIES:
        assert kpi.page in catalogue.PAGES and kpi.title and kpi.text.endswith(".")
        assert len(kpi.short) <= 16  # rollup_counts.kpi
        if kpi.ratio:
            assert all(catalogue.entry(name).rows for name in kpi.ratio)
    for source in catalogue.SOURCES:
        keys = [kpi.name for kpi in rollups.spec_for(source).kpis]
        assert len(keys) == len(set(keys)) and all(len(key) <= 16 for key in keys)


def test_worked_on_adds_up_from_two_kinds_of_counts() -> None:
    parts = catalogue.count_parts(catalogue.entry("cases.worked"), RULES["cases"])
    assert parts == [
        catalogue.Part("worked", ("Closed",), exclude=True),  # not closed: created, resolved or modified
        catalogue.Part("worked_base", ("Closed",), exclude=False),  # closed: only created or resolved
    ]
    assert catalogue.count_parts(catalogue.entry("cases.created"), RULES["cases"]) == [catalogue.Part("created")]


def test_an_unknown_key_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown case kpi 'gone'; expected one of created, resolved, worked"):
        catalogue.by_key("cases", "gone")


EDGE_CASES = [
    case_row(1, created_at=datetime(2026, 11, 19, 23)),  # the first moment of the day
    case_row(2, created_at=datetime(2026, 11, 20, 23)),  # the first moment of the next day: out
    case_row(3, created_at=datetime(2026, 1, 1), status="Closed", resolved_at=datetime(2026, 11, 18),
             updated_at=datetime(2026, 11, 20, 10)),  # auto-closed today: not worked on
    case_row(4, created_at=datetime(2026, 1, 1), status="Open", resolved_at=datetime(2026, 11, 20, 9),
             updated_at=datetime(2026, 11, 20, 9)),  # reopened: worked on, not resolved
    case_row(5, created_at=datetime(2026, 1, 1), status="Resolved", resolved_at=datetime(2026, 11, 20, 22, 59)),
    case_row(6, created_at=datetime(2026, 11, 20, 9), deleted_at=datetime(2026, 11, 21)),  # deleted: nowhere
]  # fmt: skip
EDGE_ISSUES = [
    issue_row(1, created_at=datetime(2026, 11, 19, 23), updated_at=datetime(2026, 11, 19, 23)),
    issue_row(2, created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 11, 20, 10), is_closed=False,
              closed_at=datetime(2026, 11, 20, 10)),  # reopened: Redmine keeps closed_on
    issue_row(3, created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 11, 20, 11), is_closed=True,
              status_name="Closed", closed_at=datetime(2026, 11, 20, 11)),
]  # fmt: skip
EXPECTED = {  # by hand, from README's definitions
    "cases.created": {"1"},
    "cases.resolved": {"5"},
    "cases.worked": {"1", "4", "5"},
    "cases.open": {"1", "2", "4"},
    "redmine.created": {"1"},
    "redmine.updated": {"1", "2", "3"},
    "redmine.resolved": {"3"},
    "redmine.activity": {"1", "2", "3"},
    "redmine.open_total": {"1", "2"},
}


@pytest.mark.parametrize("kpi_id", sorted(EXPECTED))
def test_an_entry_reads_the_same_rows_in_sql_and_in_pandas(engine: Engine, kpi_id: str) -> None:
    write_rows(engine, cases, EDGE_CASES)
    write_rows(engine, redmine_issues, EDGE_ISSUES)
    kpi = catalogue.entry(kpi_id)
    table, rules = kpi_reads.table_of(kpi), RULES[kpi.page]
    with engine.connect() as conn:
        frame = pd.DataFrame([dict(row) for row in conn.execute(select(table)).mappings()])
        in_sql = count_behind(conn, table, kpi_reads.branches(kpi, rules, DAY))
    case_id = "case_no" if kpi.page == "cases" else "source_id"
    in_pandas = catalogue.rows_in(kpi, frame, DAY, rules)
    numbers = {str(value).removeprefix("CC").removeprefix("39x") for value in in_pandas[case_id]}
    assert numbers == EXPECTED[kpi_id]
    assert in_sql == len(EXPECTED[kpi_id])

"""The benchmark's dataset generator and references (bench/dataset.py, bench/references.py): the generator is
deterministic and writes rows every NOT NULL column accepts, the loader fills SQLite and PostgreSQL and reuses a
matching dataset, and the two references give the hand-computed figures on hand-built rows and agree with each
other on a generated dataset. No timings are asserted: speed is measured by `make bench`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url

from bench import dataset
from bench.dataset import DatasetSpec, generate, prepare, read_marker, reset_database
from bench.references import Context, View, differences, naive_figures, sql_figures
from models.db import drop_postgres_database, make_engine, normalise_url
from models.schema import cases, deal_stage_changes, metadata, phone_calls, redmine_issues
from settings import KpiRules
from tests.conftest import service_missing

TINY = DatasetSpec(scale=0.0005)  # 500 cases, 150 deals, 1,000 calls, 100 issues
TZ = "America/New_York"


def _rows(spec: DatasetSpec) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for chunk in generate(spec):
        rows.setdefault(chunk.table, []).extend(chunk.rows())
    return rows


# --- the generator ------------------------------------------------------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first, again = _rows(TINY), _rows(TINY)
    assert first == again
    other = _rows(DatasetSpec(scale=TINY.scale, seed=TINY.seed + 1))
    assert other["cases"] != first["cases"]
    assert {table: len(rows) for table, rows in first.items() if table in dataset.FULL_COUNTS} == TINY.counts


def test_rows_fill_every_not_null_column_and_stay_consistent() -> None:
    anchor = f"{dataset.ANCHOR:%Y-%m-%d %H:%M:%S}.000000"
    for chunk in generate(TINY):
        table = metadata.tables[chunk.table]
        for name, values in chunk.columns.items():
            if not table.c[name].nullable:
                assert None not in values, f"{chunk.table}.{name} has a NULL"
        if chunk.table == "cases":
            for row in (dict(zip(chunk.columns, values, strict=True)) for values in chunk.rows()):
                assert row["created_at"] <= row["updated_at"] <= anchor
                assert row["resolved_at"] is None or row["created_at"] < row["resolved_at"]
                if row["status"] in ("Resolved", "Closed"):
                    assert row["resolved_at"] is not None  # resolved rows always carry their resolution time
            statuses = chunk.columns["status"]
            assert statuses.count("Closed") > len(statuses) / 2  # most cases are long resolved and closed


def test_spec_from_env_rejects_nonsense() -> None:
    assert dataset.spec_from_env({"BENCH_SCALE": "0.01"}).counts["cases"] == 10_000
    with pytest.raises(SystemExit, match="BENCH_SCALE"):
        dataset.spec_from_env({"BENCH_SCALE": "lots"})
    with pytest.raises(SystemExit, match="BENCH_SCALE"):
        dataset.spec_from_env({"BENCH_SCALE": "0"})


def test_reset_refuses_a_postgres_database_not_named_for_benchmarks() -> None:
    with pytest.raises(SystemExit, match="refusing to drop"):
        reset_database("postgresql://postgres@127.0.0.1:5432/kpi", environ={})


# --- loading ---------------------------------------------------------------------------------------------------------


def _postgres_bench_url() -> str:
    """A PostgreSQL database of this test process only (its name says "bench", so the loader may reset it)."""
    base = make_url(normalise_url(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")))
    url = base.set(database=f"kpi_bench_test_{os.getpid()}").render_as_string(hide_password=False)
    try:
        reset_database(url)
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL means the service is missing
        service_missing(f"PostgreSQL for the bench test database: {exc}")
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny dataset loaded once per database for this module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'bench.db'}"
    else:
        url = _postgres_bench_url()
    reports = prepare(TINY, [url], log=lambda _line: None)
    assert not reports[0].cached
    yield url
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_loaded_counts_match_and_a_second_prepare_reuses_them(loaded_url: str) -> None:
    engine = make_engine(loaded_url)
    try:
        with engine.connect() as conn:
            for table, expected in TINY.counts.items():
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == expected
            assert conn.execute(text("SELECT count(*) FROM redmine_statuses")).scalar_one() == 6
            assert conn.execute(text("SELECT count(*) FROM vtiger_users")).scalar_one() == 200
            assert conn.execute(text("SELECT count(DISTINCT name) FROM vtiger_groups")).scalar_one() == 20
            changes = conn.execute(text("SELECT count(*) FROM deal_stage_changes")).scalar_one()
            assert changes > TINY.counts["deals"] * 2  # several stage changes per deal
            # Read back through SQLAlchemy: timestamps are datetimes and JSON is parsed, as for synced rows.
            row = conn.execute(select(cases).order_by(cases.c.id).limit(1)).mappings().one()
            assert isinstance(row["created_at"], datetime)
            assert row["raw"]["ticket_no"] == row["case_no"]
            indexes = {name for name in _index_names(engine, "cases")}
            assert {"ix_cases_created_at", "ix_cases_resolved_at", "ix_cases_updated_at"} <= indexes
    finally:
        engine.dispose()
    marker = read_marker(loaded_url)
    assert marker is not None and marker["fingerprint"] == TINY.fingerprint()
    again = prepare(TINY, [loaded_url], log=lambda _line: None)
    assert again[0].cached and again[0].counts["cases"] == TINY.counts["cases"]


def test_warming_reads_every_table_and_index_into_the_page_cache(loaded_url: str) -> None:
    engine = make_engine(loaded_url)
    try:
        with engine.connect() as conn:
            if loaded_url.startswith("sqlite"):
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
                expected = pages * conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            else:
                expected = conn.exec_driver_sql(
                    "SELECT sum(pg_relation_size(c.oid))::bigint FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
                ).scalar_one()
    finally:
        engine.dispose()
    read = dataset.warm_page_cache(loaded_url)
    assert expected > 1_000_000
    # SQLite: the file (and a write-ahead log, if one is left); PostgreSQL: every block of every table and index.
    assert expected <= read <= expected * 1.05 + 4_000_000


def _index_names(engine: Engine, table: str) -> list[str]:
    from sqlalchemy import inspect

    return [str(index["name"]) for index in inspect(engine).get_indexes(table)]


def test_a_damaged_dataset_is_reloaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    prepare(TINY, [url], log=lambda _line: None)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM cases WHERE id = 1"))
    engine.dispose()
    report = prepare(TINY, [url], log=lambda _line: None)[0]
    assert not report.cached
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == TINY.counts["cases"]
    engine.dispose()


VIEWS = [
    View("cases", date(2026, 11, 20), "day"),
    View("cases", date(2026, 3, 10), "week", "Support"),
    View("cases", date(2026, 10, 14), "month"),
    View("sales", date(2026, 6, 17), "month"),
    View("sales", date(2026, 6, 17), "week", "Sales"),
    View("redmine", date(2026, 3, 31), "month"),
    View("redmine", date(2025, 11, 2), "week", "Platform"),
]


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: view.describe().replace(" ", "-"))
def test_references_agree_on_the_generated_dataset(loaded_url: str, view: View) -> None:
    engine = make_engine(loaded_url)
    try:
        context = Context(KpiRules(), TZ)
        naive, per_figure = naive_figures(engine, view, context), sql_figures(engine, view, context)
    finally:
        engine.dispose()
    assert differences(naive, per_figure) == []
    busy = "calls_by_person" if view.page == "sales" else "created_per_month"
    assert naive[busy]  # the figures are about real data, not two empty answers


# --- hand-built rows, hand-computed figures -------------------------------------------------------------------------

# The week of Tuesday 10 March 2026 in New York: Monday 9 March 00:00 EDT (04:00 UTC, the day after the clocks went
# forward) to Monday 16 March 00:00 EDT. The week before starts Monday 2 March 00:00 EST (05:00 UTC).
HAND_VIEW = View("cases", date(2026, 3, 10), "week")


def _case(source_id: str, created: str, status: str, **extra: Any) -> dict[str, Any]:
    row = {
        "source_id": source_id,
        "case_no": source_id,
        "created_at": datetime.fromisoformat(created),
        "updated_at": datetime.fromisoformat(extra.pop("updated", created)),
        "status": status,
        "assignee_name": extra.pop("assignee", "Ann"),
        "group_name": extra.pop("group", "Support"),
        "raw": {},
    }
    # Every row names every column: an executemany takes its columns from the first row.
    row["resolved_at"] = datetime.fromisoformat(extra["resolved"]) if "resolved" in extra else None
    row["deleted_at"] = datetime.fromisoformat(extra["deleted"]) if "deleted" in extra else None
    return row


HAND_CASES = [
    _case("A", "2026-03-09 04:00", "Open"),  # created at the very start of the week
    _case("B", "2026-03-09 03:59", "Resolved", resolved="2026-03-10 12:00", updated="2026-03-10 12:00"),
    _case("C", "2026-02-01 12:00", "Closed", resolved="2026-02-03 12:00", updated="2026-03-11 09:00"),  # auto-close
    _case("D", "2026-02-01 12:00", "In Progress", updated="2026-03-12 09:00"),
    _case("E", "2026-03-10 12:00", "Open", resolved="2026-03-11 12:00", updated="2026-03-13 09:00"),  # reopened
    _case("F", "2026-03-16 04:00", "Open"),  # the end is exclusive
    _case("G", "2026-03-10 12:00", "Resolved", resolved="2026-03-10 13:00", deleted="2026-03-12 00:00"),
    _case("H", "2026-03-11 12:00", "Closed", resolved="2026-03-12 12:00", updated="2026-03-14 09:00",
          assignee="Bo", group="Billing"),
]  # fmt: skip


def test_case_references_give_the_hand_computed_figures(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(cases), HAND_CASES)
    context = Context(KpiRules(), TZ)
    for reference in (naive_figures, sql_figures):
        figures = reference(engine, HAND_VIEW, context)
        assert (figures["created"], figures["resolved"], figures["worked"]) == (3, 2, 5), reference.__name__
        assert figures["kill_rate"] == pytest.approx(66.6667)
        assert figures["resolved_by_assignee"] == {"Ann": 1, "Bo": 1}
        assert (figures["prev_created"], figures["prev_resolved"], figures["prev_worked"]) == (1, 0, 1)
        assert figures["prev_kill_rate"] == 0.0
        assert figures["open"] == 4 and figures["open_by_group"] == {"Support": 4}  # A, D, E and F
        assert figures["table_ids"] == ["H", "E", "D", "B", "A"]  # newest modification first
        assert figures["created_per_day"] == {
            "2026-02-01": 2, "2026-03-08": 1, "2026-03-09": 1, "2026-03-10": 1, "2026-03-11": 1, "2026-03-16": 1,
        }  # fmt: skip
        assert figures["resolved_per_month"] == {"2026-02": 1, "2026-03": 2}  # E is open again: not resolved
        support = reference(engine, View("cases", HAND_VIEW.day, "week", "Support"), context)
        assert (support["created"], support["resolved"], support["worked"]) == (2, 1, 4)
        assert support["kill_rate"] == 50.0


def test_sales_references_give_the_hand_computed_figures(engine: Engine) -> None:
    def change(deal: str, stage: str, at: str, **extra: Any) -> dict[str, Any]:
        return {
            "deal_source_id": deal,
            "stage": stage,
            "changed_at": datetime.fromisoformat(at),
            "origin": "field",
            "assignee_name": "Ann",
            "qualified_by_name": "Quinn",
            "group_name": "Sales",
            "deleted_at": None,  # every row names every column: an executemany takes them from the first row
            **extra,
        }

    def call(source_id: str, at: str, who: str, **extra: Any) -> dict[str, Any]:
        started = datetime.fromisoformat(at)
        row = {"source_id": source_id, "started_at": started, "assignee_name": who, "group_name": "Sales"}
        return {**row, "deleted_at": None, **extra}

    with engine.begin() as conn:
        conn.execute(
            insert(deal_stage_changes),
            [
                change("X", "Demo Scheduled", "2026-03-10 15:00"),  # 5 to the qualifier
                change("X", "Needs Analysis", "2026-03-11 15:00"),
                change("X", "Demo Scheduled", "2026-03-12 15:00"),  # again: scores only once per deal
                change("X", "Demo Given", "2026-03-13 15:00"),  # 5 to the assignee
                change("Y", "Demo Scheduled", "2026-03-03 15:00"),  # first entry in the week before
                change("Y", "Demo Scheduled", "2026-03-10 16:00"),  # no points: not the first entry
                change("Z", "Demo Given", "2026-03-11 15:00", deleted_at=datetime(2026, 3, 12)),  # deleted
            ],
        )
        conn.execute(
            insert(phone_calls),
            [
                call("c1", "2026-03-09 14:00", "Ann"),
                call("c2", "2026-03-10 14:00", "Ann"),
                call("c3", "2026-03-15 23:00", "Ann"),  # Sunday 19:00 in New York: still this week
                call("c4", "2026-03-11 14:00", "Quinn"),
                call("c5", "2026-03-11 14:00", "Quinn", deleted_at=datetime(2026, 3, 12)),
                call("c6", "2026-03-16 04:30", "Quinn"),  # next week
                call("c7", "2026-03-04 14:00", "Ann"),  # the week before
            ],
        )
    context = Context(KpiRules(), TZ)
    view = View("sales", date(2026, 3, 10), "week")
    for reference in (naive_figures, sql_figures):
        figures = reference(engine, view, context)
        assert figures["calls_by_person"] == {"Ann": 3, "Quinn": 1}, reference.__name__
        assert figures["stage_points_by_person"] == {"Ann": 5.0, "Quinn": 5.0}
        assert figures["points_by_person"] == {"Ann": 8.0, "Quinn": 6.0}
        assert figures["demos_by_qualifier"] == {"Quinn": 1}
        assert figures["changes_by_stage"] == {"Demo Given": 1, "Demo Scheduled": 3, "Needs Analysis": 1}
        assert (figures["prev_calls"], figures["prev_points"]) == (1, 6.0)  # c7 and Y's first demo
        assert reference(engine, View("sales", view.day, "week", "Support"), context)["points_by_person"] == {}


def test_redmine_references_give_the_hand_computed_figures(engine: Engine) -> None:
    def issue(source_id: str, created: str, updated: str, status: str, closed: bool, **extra: Any) -> dict[str, Any]:
        row = {
            "source_id": source_id,
            "created_at": datetime.fromisoformat(created),
            "updated_at": datetime.fromisoformat(updated),
            "status_name": status,
            "is_closed": closed,
            "project_name": "Platform",
            "assignee_name": "Ann",
            "closed_at": None,
            "deleted_at": None,  # every row names every column: an executemany takes them from the first row
            "raw": {},
        }
        return {**row, **extra}

    with engine.begin() as conn:
        conn.execute(
            insert(redmine_issues),
            [
                issue("101", "2026-03-10 12:00", "2026-03-10 12:00", "New", False),
                issue("102", "2026-02-01 12:00", "2026-03-11 12:00", "Closed", True,
                      closed_at=datetime(2026, 3, 11, 12)),
                # Reopened: Redmine keeps closed_on, but the issue is open now, so it is not resolved.
                issue("103", "2026-02-01 12:00", "2026-03-13 09:00", "In Progress", False,
                      closed_at=datetime(2026, 3, 11, 12)),
                issue("104", "2026-03-12 12:00", "2026-03-13 08:00", "Rejected", True,
                      closed_at=datetime(2026, 3, 13, 8), assignee_name=""),
                issue("105", "2026-03-12 12:00", "2026-03-12 12:00", "New", False, deleted_at=datetime(2026, 3, 13)),
                issue("106", "2026-03-12 12:00", "2026-03-12 12:00", "New", False, project_name="Mobile App"),
            ],
        )  # fmt: skip
    context = Context(KpiRules(), TZ)
    view = View("redmine", date(2026, 3, 10), "week", "Platform")
    for reference in (naive_figures, sql_figures):
        figures = reference(engine, view, context)
        assert (figures["created"], figures["updated"], figures["resolved"]) == (2, 4, 2), reference.__name__
        assert figures["kill_rate"] == 100.0
        assert figures["closed_by_assignee"] == {"": 1, "Ann": 1}
        assert (figures["open"], figures["closed"], figures["rejected"]) == (2, 1, 1)
        assert figures["open_by_status"] == {"In Progress": 1, "New": 1}
        assert figures["table_ids"] == ["103", "104", "102", "101"]
        assert figures["resolved_per_month"] == {"2026-03": 2}
        assert reference(engine, replace(view, group=None), context)["created"] == 3  # 106 is another project

"""sync/engine.py on SQLite and real PostgreSQL: idempotent upserts, deletions, watermarks, the per-source
lock, and a sync_runs row for every run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from models import rollups
from models.schema import cases, rollup_counts, sync_locks, sync_runs
from sync.engine import (
    SourceBusy,
    SourceLock,
    existing_rows,
    mark_deleted,
    read_state,
    recorded_run,
    source_lock,
    upsert_rows,
    write_state,
)


def case_row(source_id: str, status: str = "Open", **extra: object) -> dict:
    row = {
        "source_id": source_id,
        "case_no": f"CC{source_id}",
        "title": "Printer on fire",
        "status": status,
        "created_at": datetime(2026, 11, 20, 9, 0),
        "updated_at": datetime(2026, 11, 20, 10, 0),
        "first_seen_at": datetime(2026, 11, 20, 10, 5),
        "raw": {"id": source_id, "casestatus": status},
    }
    row.update(extra)
    return row


def test_upsert_inserts_then_updates_only_what_changed(engine: Engine) -> None:
    with engine.begin() as conn:
        first = upsert_rows(conn, cases, [case_row("39x1"), case_row("39x2")])
    with engine.begin() as conn:
        again = upsert_rows(conn, cases, [case_row("39x1"), case_row("39x2")])
    with engine.begin() as conn:
        changed = upsert_rows(conn, cases, [case_row("39x1", "Resolved"), case_row("39x3")])
    assert (first.inserted, first.updated) == (2, 0)
    assert (again.inserted, again.updated) == (0, 0)
    assert (changed.inserted, changed.updated) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 3
        status = conn.execute(select(cases.c.status).where(cases.c.source_id == "39x1")).scalar_one()
    assert status == "Resolved"


def test_upsert_keeps_first_seen_and_dedupes_a_repeated_key(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_rows(conn, cases, [case_row("39x1")])
    later = case_row("39x1", "Closed", first_seen_at=datetime(2026, 11, 21))
    with engine.begin() as conn:
        result = upsert_rows(conn, cases, [case_row("39x1", "Assigned"), later])
    assert (result.inserted, result.updated) == (0, 1)
    with engine.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.source_id == "39x1")).mappings().one()
    assert row["status"] == "Closed"
    assert row["first_seen_at"] == datetime(2026, 11, 20, 10, 5)


def test_upsert_with_the_rows_already_read_gives_the_same_result_without_reading_them_again(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_rows(conn, cases, [case_row("39x1"), case_row("39x2")])
    selects: list[str] = []

    def count_selects(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count_selects)
    try:
        with engine.begin() as conn:
            stored = existing_rows(conn, cases, ["39x1", "39x2", "39x3"])
            read = len(selects)
            result = upsert_rows(
                conn, cases, [case_row("39x1"), case_row("39x2", "Closed"), case_row("39x3")], stored=stored
            )
            assert len(selects) == read  # the upsert did not read the rows a second time
    finally:
        event.remove(engine, "before_cursor_execute", count_selects)
    assert (result.inserted, result.updated) == (1, 1)  # 39x1 unchanged: not written, not counted
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(cases.c.source_id, cases.c.status)).all())
    assert statuses == {"39x1": "Open", "39x2": "Closed", "39x3": "Open"}


def test_upsert_of_many_rows_spans_batches(engine: Engine) -> None:
    rows = [case_row(f"39x{n}") for n in range(1234)]
    with engine.begin() as conn:
        result = upsert_rows(conn, cases, rows)
    assert result.inserted == 1234
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 1234


def created_this_month(engine: Engine) -> int:
    c = rollup_counts.c
    statement = select(func.coalesce(func.sum(c["count"]), 0)).where(
        c.source == "cases", c.kind == "month", c.kpi == "created", c.selector == rollups.ALL
    )
    with engine.connect() as conn:
        return int(conn.execute(statement).scalar_one())


def test_the_roll_ups_change_only_when_the_store_step_asks(engine: Engine) -> None:
    rollups.rebuild(engine, "cases", "UTC")  # kept from the empty table on
    with engine.begin() as conn:
        written = upsert_rows(conn, cases, [case_row("39x1"), case_row("39x2")])
    assert created_this_month(engine) == 0  # the generic upsert has no side effect on them
    with engine.begin() as conn:
        rollups.upkeep(conn, cases, written.replaced, written.written)  # what sync's store step does next
    assert created_this_month(engine) == 2
    with engine.begin() as conn:
        gone = mark_deleted(conn, cases, ["39x1"], datetime(2026, 11, 22))
        rollups.upkeep(conn, cases, gone.replaced, gone.written)
    assert created_this_month(engine) == 1


def test_mark_deleted_sets_the_date_once(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_rows(conn, cases, [case_row("39x1"), case_row("39x2")])
        assert mark_deleted(conn, cases, ["39x1", "39x9"], datetime(2026, 11, 22)).updated == 1
        assert mark_deleted(conn, cases, ["39x1"], datetime(2026, 11, 23)).updated == 0
        deleted_at = conn.execute(select(cases.c.deleted_at).where(cases.c.source_id == "39x1")).scalar_one()
    assert deleted_at == datetime(2026, 11, 22)


def test_watermark_round_trip_and_rollback(engine: Engine) -> None:
    assert read_state(engine, "vtiger", "Cases") == ("", {})
    with engine.begin() as conn:
        write_state(conn, "vtiger", "Cases", "1700000000", {"picklists": {"casestatus": ["Open"]}})
    with pytest.raises(RuntimeError), engine.begin() as conn:
        write_state(conn, "vtiger", "Cases", "1800000000")
        raise RuntimeError("crash before commit")
    assert read_state(engine, "vtiger", "Cases") == ("1700000000", {"picklists": {"casestatus": ["Open"]}})


def test_lock_admits_one_holder_per_source(engine: Engine) -> None:
    first = SourceLock(engine, "vtiger")
    second = SourceLock(engine, "vtiger")
    other_source = SourceLock(engine, "redmine")
    assert first.acquire()
    assert not second.acquire()
    assert other_source.acquire()
    first.release()
    assert second.acquire()


def test_expired_lock_is_taken_over_and_its_run_marked_interrupted(engine: Engine) -> None:
    from datetime import timedelta

    dead = SourceLock(engine, "vtiger", ttl=timedelta(seconds=-1))
    assert dead.acquire()
    with pytest.raises(KeyboardInterrupt), recorded_run(engine, "vtiger", "Cases"):
        # Simulate a process that dies in the middle: the row stays "running" only if we bypass the finaliser,
        # so write a running row directly instead.
        raise KeyboardInterrupt
    with engine.begin() as conn:
        conn.execute(sync_runs.insert().values(source="vtiger", module="Cases", started_at=datetime(2026, 1, 1),
                                               status="running"))  # fmt: skip
    assert SourceLock(engine, "vtiger").acquire()
    with engine.connect() as conn:
        statuses = conn.execute(select(sync_runs.c.status, sync_runs.c.error)).all()
    assert all(status == "failed" for status, _ in statuses)
    assert any("interrupted" in error for _, error in statuses)


def test_lock_refresh_writes_the_lease_at_most_once_a_minute(engine: Engine) -> None:
    now = [1000.0]
    lock = SourceLock(engine, "vtiger", clock=lambda: now[0])
    assert lock.acquire()

    def expires_at() -> datetime:
        with engine.connect() as conn:
            return conn.execute(select(sync_locks.c.expires_at)).scalar_one()

    def backdate() -> None:
        with engine.begin() as conn:
            conn.execute(sync_locks.update().values(expires_at=datetime(2026, 1, 1)))

    backdate()
    now[0] += 59
    lock.refresh()  # within a minute of acquiring: nothing written
    assert expires_at() == datetime(2026, 1, 1)
    now[0] += 2
    lock.refresh()
    assert expires_at() > datetime(2026, 1, 1) + timedelta(days=30)
    backdate()
    lock.refresh()  # within a minute of the last write
    assert expires_at() == datetime(2026, 1, 1)
    now[0] += 60
    lock.refresh()
    assert expires_at() > datetime(2026, 1, 1) + timedelta(days=30)


def test_a_short_lease_is_refreshed_within_half_its_ttl(engine: Engine) -> None:
    now = [1000.0]
    lock = SourceLock(engine, "vtiger", ttl=timedelta(seconds=20), clock=lambda: now[0])
    assert lock.acquire()
    with engine.begin() as conn:
        conn.execute(sync_locks.update().values(expires_at=datetime(2026, 1, 1)))
    now[0] += 11
    lock.refresh()
    with engine.connect() as conn:
        assert conn.execute(select(sync_locks.c.expires_at)).scalar_one() > datetime(2026, 1, 2)


def test_source_lock_context_raises_busy(engine: Engine) -> None:

    with source_lock(engine, "redmine"), pytest.raises(SourceBusy), source_lock(engine, "redmine"):
        pass


def test_recorded_run_writes_success_and_failure(engine: Engine) -> None:
    with recorded_run(engine, "redmine", "issues", trigger="cli") as run:
        run.inserted, run.updated, run.requests = 3, 1, 2
    with pytest.raises(ValueError), recorded_run(engine, "redmine", "issues"):
        raise ValueError("Redmine said 500")
    with engine.connect() as conn:
        rows = conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings().all()
    assert [(r["status"], r["rows_inserted"], r["rows_updated"], r["requests"]) for r in rows] == [
        ("success", 3, 1, 2),
        ("failed", 0, 0, 0),
    ]
    assert "Redmine said 500" in rows[1]["error"]
    assert all(r["finished_at"] is not None for r in rows)

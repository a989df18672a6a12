"""The source-agnostic half of sync: idempotent batched upserts, watermarks, a lock per source, and a
`sync_runs` row for every run.

Sources (vtiger, redmine, demo) call these; they never write SQL of their own for these concerns.
Must not import Dash or Flask.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from models.db import utcnow
from models.schema import sync_locks, sync_runs, sync_state
from sync import scrub

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# A lease a killed holder on another machine leaves behind blocks syncing this long at most; the heartbeat renews
# it every minute, so two missed renewals in a row are needed before anybody takes it over.
LOCK_TTL = timedelta(minutes=3)
LOCK_REFRESH_EVERY = timedelta(minutes=1)
ORPHANED_RUN_ERROR = (
    "interrupted: the process running this sync stopped before it finished (killed or crashed); "
    "the next run continues from the last stored page"
)


class SyncError(RuntimeError):
    """A sync failed for a reason the user can act on; the message says what and how to fix it."""


class SourceBusy(SyncError):
    """Another process is already syncing this source."""


@dataclass
class UpsertResult:
    """What an upsert wrote: counts, and the stored versions it replaced and the versions it wrote (for the
    roll-up upkeep the store step calls next, models.rollups.upkeep)."""

    inserted: int = 0
    updated: int = 0
    replaced: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.updated += other.updated
        self.replaced += other.replaced
        self.written += other.written
        return self


# --- upserts -------------------------------------------------------------------------------------------------


def _dialect_insert(conn: Connection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def existing_rows(conn: Connection, table: Table, keys: Sequence[Any], key: str = "source_id") -> dict[Any, dict]:
    """The stored rows for these keys, by key (in chunks, so large key lists stay within parameter limits)."""
    found: dict[Any, dict] = {}
    for start in range(0, len(keys), BATCH_SIZE):
        chunk = list(keys[start : start + BATCH_SIZE])
        for row in conn.execute(select(table).where(table.c[key].in_(chunk))).mappings():
            found[row[key]] = dict(row)
    return found


def upsert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: str | tuple[str, ...] = "source_id",
    insert_only: Iterable[str] = ("first_seen_at",),
    stored: Mapping[Any, Mapping[str, Any]] | None = None,
) -> UpsertResult:
    """Insert new rows and update changed ones, by unique key. Unchanged rows are not written, so running the
    same sync twice reports (and changes) nothing. Columns in `insert_only` are kept once written.

    `stored`: the rows the caller has already read in this transaction for these keys (as `existing_rows`
    returns them, by key); a key missing from it counts as new. Given, it saves reading the same rows twice."""
    keys = (key,) if isinstance(key, str) else key
    result = UpsertResult()
    for start in range(0, len(rows), BATCH_SIZE):
        batch = _dedupe(rows[start : start + BATCH_SIZE], keys)
        known = _stored_by_key(conn, table, batch, keys) if stored is None else stored
        changed = [row for row in batch if _differs(row, known.get(_key_of(row, keys)), insert_only)]
        if not changed:
            continue
        statement = _dialect_insert(conn, table)
        update_columns = {
            name: statement.excluded[name]
            for name in changed[0]
            if name not in keys and name not in insert_only and name != "id"
        }
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=update_columns)
        previous = [known.get(_key_of(row, keys)) for row in changed]  # None: a new row
        result.replaced += [dict(row) for row in previous if row]
        result.written += [{**(old or {}), **row} for old, row in zip(previous, changed, strict=True)]
        conn.execute(statement, changed)
        new = sum(1 for row in previous if row is None)
        result.inserted += new
        result.updated += len(changed) - new
    return result


def _dedupe(rows: Sequence[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Keep the last row per key: a page may repeat a record (VTiger ties, Redmine overlap seconds)."""
    by_key = {_key_of(row, keys): row for row in rows}
    return list(by_key.values())


def _key_of(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return row[keys[0]] if len(keys) == 1 else tuple(row[name] for name in keys)


def _stored_by_key(conn: Connection, table: Table, rows: list[dict], keys: tuple[str, ...]) -> dict[Any, dict]:
    if len(keys) == 1:
        return existing_rows(conn, table, [row[keys[0]] for row in rows], keys[0])
    wanted = [tuple(row[name] for name in keys) for row in rows]
    columns = tuple_(*(table.c[name] for name in keys))
    result = conn.execute(select(table).where(columns.in_(wanted))).mappings()
    return {tuple(row[name] for name in keys): dict(row) for row in result}


def _differs(row: dict[str, Any], stored: Mapping[str, Any] | None, insert_only: Iterable[str]) -> bool:
    if stored is None:
        return True
    skip = set(insert_only)
    return any(stored.get(name) != value for name, value in row.items() if name not in skip)


def mark_deleted(conn: Connection, table: Table, source_ids: Iterable[Any], when: datetime) -> UpsertResult:
    """Set deleted_at on rows that the source no longer has; rows already marked keep their first date. The
    result's `replaced` are the rows as they were (for the roll-up upkeep), `updated` how many were marked."""
    ids = list(source_ids)
    result = UpsertResult()
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        live = and_(table.c.source_id.in_(chunk), table.c.deleted_at.is_(None))
        gone = [dict(row) for row in conn.execute(select(table).where(live)).mappings()]
        conn.execute(update(table).where(live).values(deleted_at=when))
        result.replaced += gone
        result.written += [{**row, "deleted_at": when} for row in gone]
        result.updated += len(gone)
    return result


# --- watermarks ----------------------------------------------------------------------------------------------


def read_state(engine_or_conn: Engine | Connection, source: str, module: str) -> tuple[str, dict[str, Any]]:
    """(watermark, extra) for a source module; ("", {}) before its first successful run."""
    query = select(sync_state.c.watermark, sync_state.c.extra).where(
        sync_state.c.source == source, sync_state.c.module == module
    )
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            row = conn.execute(query).first()
    else:
        row = engine_or_conn.execute(query).first()
    return (row.watermark, dict(row.extra or {})) if row else ("", {})


def write_state(
    conn: Connection, source: str, module: str, watermark: str, extra: dict[str, Any] | None = None
) -> None:
    """Store the watermark in the same transaction as the rows it covers, so it never runs ahead of them."""
    values: dict[str, Any] = {"source": source, "module": module, "watermark": watermark, "updated_at": utcnow()}
    if extra is not None:
        values["extra"] = extra
    statement = _dialect_insert(conn, sync_state).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "module"], set_={k: v for k, v in values.items() if k not in ("source", "module")}
    )
    conn.execute(statement)


# --- one sync per source at a time ---------------------------------------------------------------------------
#
# The lease is short and kept alive by a heartbeat thread while the sync runs, so a holder that vanished without
# releasing (kill -9, a crashed machine) blocks others for at most LOCK_TTL; a holder on this machine whose process
# is gone blocks nobody: the next acquire takes its lock over at once.


def lock_holder() -> str:
    """host:pid:random:scope:start. `scope` names the kernel boot and PID namespace (two containers may share a
    host name but not a PID space); `start` is the process's start time, so a recycled PID is not mistaken for
    the holder."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}:{_pid_scope()}:{_process_start(pid) or '-'}"


def _pid_scope() -> str:
    """Which PIDs this process can see: boot id and PID namespace, hashed short; "-" where /proc is absent."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:12]


def _process_start(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22); "" when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def _process_state(pid: int) -> str:
    """'gone', 'zombie' or 'alive' (a PID we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "alive"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "alive"
    return "zombie" if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"] else "alive"


def holder_is_dead(holder: str) -> bool:
    """True only when we know for sure: the holder ran on this machine, in our PID space, and its process is gone
    (or a zombie, or its PID now belongs to a process started later). Anything else waits for the lease."""
    parts = holder.split(":")
    if len(parts) != 5 or parts[0] != socket.gethostname() or parts[3] != _pid_scope() or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[4]
    state = _process_state(pid)
    if state != "alive":
        return True
    return started not in ("", "-") and _process_start(pid) not in ("", started)


@dataclass
class SourceLock:
    """A row in sync_locks; works across threads, processes and machines sharing the database."""

    engine: Engine
    source: str
    holder: str = field(default_factory=lock_holder)
    ttl: timedelta = LOCK_TTL
    refresh_every: timedelta = LOCK_REFRESH_EVERY
    clock: Callable[[], float] = time.monotonic  # monotonic: a wall-clock jump must not skip or force refreshes
    _written_at: float | None = field(default=None, init=False, repr=False)  # clock() when expires_at was set

    def acquire(self) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(delete(sync_locks).where(sync_locks.c.source == self.source, sync_locks.c.expires_at < now))
            self._take_over_from_the_dead(conn)
            statement = _dialect_insert(conn, sync_locks).values(
                source=self.source, holder=self.holder, acquired_at=now, expires_at=now + self.ttl
            )
            statement = statement.on_conflict_do_nothing(index_elements=["source"]).returning(sync_locks.c.source)
            taken = conn.execute(statement).first() is not None
            if taken:
                _fail_orphaned_runs(conn, self.source)
        if taken:
            self._written_at = self.clock()
        return taken

    def _take_over_from_the_dead(self, conn: Connection) -> None:
        holder = conn.execute(select(sync_locks.c.holder).where(sync_locks.c.source == self.source)).scalar()
        if holder and holder != self.holder and holder_is_dead(holder):
            # Conditional on the holder: of two processes racing for a dead lock, one insert wins below.
            conn.execute(delete(sync_locks).where(sync_locks.c.source == self.source, sync_locks.c.holder == holder))

    def refresh(self) -> None:
        """Extend the lease during a long run so nobody takes it over. Callers may call it as often as they like
        (every page): the lease is written at most once per `refresh_every` (or half the ttl, if shorter)."""
        now = self.clock()
        interval = min(self.refresh_every, self.ttl / 2).total_seconds()
        if self._written_at is not None and now - self._written_at < interval:
            return
        self.renew()
        self._written_at = now

    def renew(self) -> bool:
        """Write a fresh lease now; False when the lock is no longer ours (it expired and was taken over)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(sync_locks)
                .where(sync_locks.c.source == self.source, sync_locks.c.holder == self.holder)
                .values(expires_at=utcnow() + self.ttl)
            )
        return result.rowcount > 0

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(sync_locks).where(sync_locks.c.source == self.source, sync_locks.c.holder == self.holder)
            )


class LeaseKeeper:
    """Renews a held lock every `refresh_every` on a daemon thread, whatever the sync is doing (one slow request
    may take longer than the short lease), until stopped. Dies with its process, and so does the lease."""

    def __init__(self, lock: SourceLock) -> None:
        self.lock = lock
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"kpi-lease-{lock.source}", daemon=True)

    def start(self) -> LeaseKeeper:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        interval = min(self.lock.refresh_every, self.lock.ttl / 2).total_seconds()
        while not self.stopped.wait(interval):
            try:
                if not self.lock.renew():
                    log.error("the %s sync lost its lock (lease expired and taken over)", self.lock.source)
                    return
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried next interval; the lease is 3x
                log.warning("could not renew the %s sync lock: %s", self.lock.source, scrub.scrub(str(exc)))


def _fail_orphaned_runs(conn: Connection, source: str) -> None:
    """Runs still 'running' when we take the lock belong to a process that died: say so in their rows."""
    conn.execute(
        update(sync_runs)
        .where(sync_runs.c.source == source, sync_runs.c.status == "running")
        .values(status="failed", finished_at=utcnow(), error=ORPHANED_RUN_ERROR)
    )


def is_locked(engine: Engine, source: str) -> bool:
    """A sync of `source` holds a live lease (a holder known dead holds nothing)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(sync_locks.c.expires_at, sync_locks.c.holder).where(sync_locks.c.source == source)
        ).first()
    return bool(row and row.expires_at >= utcnow() and not holder_is_dead(row.holder))


@contextmanager
def source_lock(engine: Engine, source: str) -> Iterator[SourceLock]:
    lock = SourceLock(engine, source)
    if not lock.acquire():
        raise SourceBusy(f"a sync of {source} is already running; wait for it to finish")
    keeper = LeaseKeeper(lock).start()
    try:
        yield lock
    finally:
        keeper.stop()
        lock.release()


# --- sync_runs -------------------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """Counts a module sync accumulates; written to its sync_runs row when the run ends."""

    run_id: int
    source: str
    module: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0

    def add(self, result: UpsertResult) -> None:
        self.inserted += result.inserted
        self.updated += result.updated


@contextmanager
def recorded_run(engine: Engine, source: str, module: str, trigger: str = "", job_id: str = "") -> Iterator[RunRecord]:
    """Insert a 'running' row, then finish it as success or failed (with the error) whatever happens."""
    with engine.begin() as conn:
        inserted = conn.execute(
            sync_runs.insert().values(
                source=source, module=module, trigger=trigger, job_id=job_id, started_at=utcnow(), status="running"
            )
        ).inserted_primary_key
    if inserted is None:  # SQLAlchemy types it optional; a one-row insert always has its key
        raise SyncError("the sync_runs insert returned no id")
    run_id = inserted[0]
    record = RunRecord(run_id=run_id, source=source, module=module)
    try:
        yield record
    except BaseException as exc:
        _finish_run(engine, record, "failed", describe_error(exc))
        raise
    _finish_run(engine, record, "success", "")


def _finish_run(engine: Engine, record: RunRecord, status: str, error: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(sync_runs)
            .where(sync_runs.c.id == record.run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                rows_inserted=record.inserted,
                rows_updated=record.updated,
                rows_deleted=record.deleted,
                requests=record.requests,
                error=error,
            )
        )


def describe_error(exc: BaseException) -> str:
    """One readable line for users; the traceback only for errors we did not anticipate. Without credentials:
    by the scrubber of the running sync (sync/scrub.py), which knows the configured secrets."""
    if isinstance(exc, SyncError):
        return scrub.scrub(str(exc))
    lines = traceback.format_exception_only(type(exc), exc)
    return scrub.scrub("".join(lines).strip())[:2000]

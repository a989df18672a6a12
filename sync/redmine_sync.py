"""Redmine into the database: modules "statuses" (/issue_statuses.json) and "issues" (the keyset loop, then a
periodic id reconciliation that marks issues gone from Redmine as deleted).

Guarantees: the credentials are checked before anything else; every page of issues is committed in the same
transaction as the watermark that covers it, so a crash or an error between pages loses nothing and the next
run resumes where the last commit left off; every module run leaves a sync_runs row.

Called by sync/service.py with the source lock held. Must not import Dash or Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select, update

from models import rollups
from models.db import utcnow
from models.schema import redmine_issues, redmine_statuses
from settings import Settings
from sync.engine import (
    RunRecord,
    SourceLock,
    SyncError,
    mark_deleted,
    read_state,
    recorded_run,
    upsert_rows,
    write_state,
)
from sync.redmine import IssuePage
from sync.redmine_mapping import format_time, issue_row, parse_time, status_rows

SOURCE = "redmine"
MODULES = ("statuses", "issues")


class RedmineSource(Protocol):
    """What the sync needs from a client: sync.redmine.RedmineClient, or one pointed at the emulator."""

    @property
    def requests(self) -> int: ...

    def current_user(self) -> dict[str, Any]: ...

    def statuses(self) -> list[dict[str, Any]]: ...

    def issue_pages(self, since: str = "") -> Any: ...

    def all_issue_ids(self) -> set[int]: ...

    def issues_by_ids(self, issue_ids: Any) -> list[dict[str, Any]]: ...


def sync_redmine(
    engine: Engine,
    settings: Settings,
    *,
    client: RedmineSource,
    full: bool = False,
    trigger: str = "",
    job_id: str = "",
    lock: SourceLock | None = None,
) -> list[RunRecord]:
    """Sync statuses, then issues. `full` re-reads every issue and reconciles ids whatever the schedule."""
    before = client.requests
    check_credentials(engine, client, trigger=trigger, job_id=job_id)
    records = []
    with recorded_run(engine, SOURCE, "statuses", trigger, job_id) as record:
        record.requests = client.requests - before  # the credential check counts with the first module
        sync_statuses(engine, client, record)
    records.append(record)
    with recorded_run(engine, SOURCE, "issues", trigger, job_id) as record:
        reconcile_hours = settings.kpi.redmine.reconcile_every_hours
        sync_issues(engine, client, record, full=full, reconcile_every=timedelta(hours=reconcile_hours), lock=lock)
    records.append(record)
    return records


def check_credentials(engine: Engine, client: RedmineSource, *, trigger: str = "", job_id: str = "") -> dict:
    """/users/current.json first: a refused key fails every module's run with one clear error, then raises."""
    before = client.requests
    try:
        return client.current_user()
    except Exception as exc:
        for module in MODULES:
            _record_failure(engine, module, exc, requests=client.requests - before, trigger=trigger, job_id=job_id)
        raise


def _record_failure(engine: Engine, module: str, exc: Exception, *, requests: int, trigger: str, job_id: str) -> None:
    with suppress(type(exc)), recorded_run(engine, SOURCE, module, trigger, job_id) as record:
        record.requests = requests
        raise exc


def sync_statuses(engine: Engine, client: RedmineSource, record: RunRecord) -> None:
    before = client.requests
    rows = status_rows(client.statuses())
    with engine.begin() as conn:
        previous = {row.id: row.is_closed for row in conn.execute(select(redmine_statuses))}
        record.add(upsert_rows(conn, redmine_statuses, rows, key="id", insert_only=()))
        # An admin can flip a status between open and closed without touching its issues' updated_on, so the
        # incremental loop would never re-read them: carry the flip over to the stored issues here.
        for row in rows:
            if row["id"] in previous and previous[row["id"]] != row["is_closed"]:
                conn.execute(
                    update(redmine_issues)
                    .where(redmine_issues.c.status_id == row["id"])
                    .values(is_closed=row["is_closed"])
                )
                rollups.invalidate(conn, "redmine")  # every issue of the status moved: recount at the run's end
    record.requests += client.requests - before


def sync_issues(
    engine: Engine,
    client: RedmineSource,
    record: RunRecord,
    *,
    full: bool = False,
    reconcile_every: timedelta = timedelta(hours=24),
    lock: SourceLock | None = None,
) -> None:
    """The keyset loop from the stored watermark (from the beginning when `full`), then the reconciliation when
    it is due. The stored watermark only ever moves forward."""
    before = client.requests
    watermark, extra = read_state(engine, SOURCE, "issues")
    watermark = usable_watermark(watermark)
    closed_by_status = _closed_by_status(engine)
    try:
        for page in client.issue_pages("" if full else watermark):
            watermark = _store_page(engine, page, watermark, record, closed_by_status)
            record.requests = client.requests - before
            if lock is not None:
                lock.refresh()
        if full or reconcile_due(extra, utcnow(), reconcile_every):
            reconcile_issues(engine, client, record, watermark, extra, closed_by_status)
    finally:
        record.requests = client.requests - before


def _store_page(
    engine: Engine, page: IssuePage, watermark: str, record: RunRecord, closed_by_status: Mapping[int, bool]
) -> str:
    """Upsert one page and move the watermark in one transaction; returns the stored watermark."""
    seen_at = utcnow()
    rows = [issue_row(issue, seen_at=seen_at, closed_status_ids=closed_by_status) for issue in page.issues]
    new_watermark = later(watermark, page.watermark)
    if not rows and new_watermark == watermark:
        return watermark
    with engine.begin() as conn:
        store_issues(conn, record, rows)
        write_state(conn, SOURCE, "issues", new_watermark)
    return new_watermark


def reconcile_issues(
    engine: Engine,
    client: RedmineSource,
    record: RunRecord,
    watermark: str,
    extra: dict[str, Any],
    closed_by_status: Mapping[int, bool],
) -> None:
    """Compare every id Redmine shows with the stored ones: rows Redmine no longer shows get deleted_at; issues
    Redmine shows that we lack, or had marked deleted (a project unarchived, an issue made public again, often
    with an old updated_on the keyset loop will never reach), are fetched and stored."""
    source_ids = client.all_issue_ids()
    with engine.connect() as conn:
        stored = dict(conn.execute(select(redmine_issues.c.source_id, redmine_issues.c.deleted_at)).all())
    absent_here = [issue_id for issue_id in source_ids if str(issue_id) not in stored or stored[str(issue_id)]]
    if absent_here:
        seen_at = utcnow()
        rows = [
            issue_row(issue, seen_at=seen_at, closed_status_ids=closed_by_status)
            for issue in client.issues_by_ids(absent_here)
        ]
        with engine.begin() as conn:
            store_issues(conn, record, rows)
    wanted = {str(issue_id) for issue_id in source_ids}
    gone = [source_id for source_id, deleted_at in stored.items() if deleted_at is None and source_id not in wanted]
    now = utcnow()
    with engine.begin() as conn:
        deletion = mark_deleted(conn, redmine_issues, gone, now)
        rollups.upkeep(conn, redmine_issues, deletion.replaced, deletion.written)
        record.deleted += deletion.updated
        write_state(conn, SOURCE, "issues", watermark, {**extra, "reconciled_at": format_time(now)})


def store_issues(conn: Connection, record: RunRecord, rows: list[dict[str, Any]]) -> None:
    """The store step: the issues, then their roll-ups' upkeep in the same transaction."""
    result = upsert_rows(conn, redmine_issues, rows)
    rollups.upkeep(conn, redmine_issues, result.replaced, result.written)
    record.add(result)


def reconcile_due(extra: Mapping[str, Any], now: datetime, every: timedelta) -> bool:
    """The local clock is fine here: it schedules a check, it does not decide which records to read."""
    try:
        last = parse_time(extra.get("reconciled_at"), field="reconciled_at")
    except SyncError:  # an unreadable date: reconcile now, which rewrites it
        return True
    return last is None or now - last >= every


def usable_watermark(stored: str) -> str:
    """The stored watermark, or "" (read everything again, which is safe: upserts are idempotent) when it is not
    a Redmine timestamp, e.g. after someone edited sync_state by hand."""
    try:
        moment = parse_time(stored, field="watermark")
    except SyncError:
        return ""
    return format_time(moment) if moment else ""


def later(stored: str, candidate: str) -> str:
    """The later of two watermarks (same fixed-width UTC format, so text order is time order); never backwards."""
    return max(stored, candidate) if stored and candidate else stored or candidate


def _closed_by_status(engine: Engine) -> dict[int, bool]:
    with engine.connect() as conn:
        return {row.id: row.is_closed for row in conn.execute(select(redmine_statuses))}

"""VTiger into the database: the credential check, users and groups, then Cases, Potentials and PhoneCalls
incrementally, each module as its own `sync_runs` row.

How a run goes (the README section "Syncing VTiger Cloud" has the user's view):
1. Run "users": `/me` first, so a bad key is one clear failed row and nothing else runs. Users, groups and the
   Employees → user map are (re)read on the first run, on `full`, once a day, and whenever a page names an id
   nobody knows (that refresh is its own "users" row).
2. Per module: `describe` (id prefix and picklists, kept in sync_state.extra, with notes in `checks` on rule
   names the picklists lack; such a name never fails a run, /status and /sales warn about it), then `/sync` with
   `syncType=application` from the stored watermark. The watermark is VTiger's own `lastModifiedTime` (unix
   seconds); a run restarts from watermark - 1 because records committed in that second after the last call
   would otherwise be missed, and the re-read rows dedupe in the upsert (unchanged rows are not written).
3. Each page is mapped and upserted, its deleted ids marked, and the watermark written in ONE transaction, so the
   watermark never passes rows that are not committed; the source lock is refreshed between pages. While a page
   is stored, the next one is fetched on a background thread (one page ahead, no more, so memory stays flat); it
   only reads HTTP, every database write stays on the calling thread, and a fetch error reaches the caller after
   the pages fetched before it are stored. The client is used by one thread at a time (`client_lock`).
4. When the first `/sync` call of a run is refused (ACCESS_DENIED for a non-admin API user, or a 4xx/5xx that
   persisted through the retries), the module is read with the keyset query over `modifiedtime,id` instead, and
   sync_state.extra says so in `warning`. A failure after pages were stored fails the run; the next run resumes
   from the last committed page.
5. `full=True` re-reads everything from 0 and then reconciles ids (`SELECT id FROM M ... LIMIT off,100`): local
   rows VTiger no longer lists, re-checked by id, get deleted_at (the backstop for an emptied recycle bin).
A module that fails does not stop the others; the first error is raised at the end (an auth error at once).

Must not import Dash or Flask.
"""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, Table, and_, delete, select, tuple_, update
from sqlalchemy.engine import Connection

from models import rollups, sales_rollups, support_rollups
from models.db import utcnow
from models.schema import (
    case_status_changes,
    cases,
    deal_stage_changes,
    deals,
    phone_calls,
    vtiger_groups,
    vtiger_users,
)
from settings import Settings, compare_stages_with_picklist
from sync.engine import (
    RunRecord,
    SourceLock,
    existing_rows,
    mark_deleted,
    read_state,
    recorded_run,
    upsert_rows,
    write_state,
)
from sync.vtiger import SyncPage, VtigerAuthError, VtigerClient, VtigerError
from sync.vtiger_mapping import (
    Directory,
    StageTimeProblem,
    call_row,
    case_row,
    deal_row,
    field_stage_changes,
    group_row,
    observed_stage_change,
    observed_status_changes,
    parse_utc,
    reconcile_stage_changes,
    reference_fields,
    unknown_ids,
    user_row,
)

SOURCE = "vtiger"
USERS = "users"
MODULES: tuple[tuple[str, Table], ...] = (("Cases", cases), ("Potentials", deals), ("PhoneCalls", phone_calls))
USERS_REFRESH_EVERY = timedelta(hours=24)
# Kept as first written: a stage change names who was involved when it happened.
STAGE_CHANGE_HISTORY = ("assignee_name", "group_name", "qualified_by_name", "previous_stage", "deal_no")
STAGE_CHANGE_KEY = ("deal_source_id", "stage", "changed_at")
STATUS_CHANGE_KEY = ("case_source_id", "changed_at", "to_status", "origin")
STATUS_CHANGE_HISTORY = ("assignee_name", "group_name", "from_status")
PAGES_AHEAD = 1  # pages fetched but not yet stored, besides the one being fetched: memory stays at ~3 pages


def sync_vtiger(
    engine: Engine,
    settings: Settings,
    *,
    client: VtigerClient,
    full: bool = False,
    trigger: str = "",
    job_id: str = "",
    lock: SourceLock | None = None,
    modules: Collection[str] | None = None,
) -> list[RunRecord]:
    """Sync VTiger into the database; one RunRecord per module run (users first). Raises on failure, after
    every module has had its turn (a credential failure stops at once). `modules` (names in MODULES) limits the
    run to those, as a webhook asks; None or empty: every module."""
    return _VtigerSync(
        engine, settings, client, full=full, trigger=trigger, job_id=job_id, lock=lock, modules=frozenset(modules or ())
    ).run()


@dataclass
class _VtigerSync:
    engine: Engine
    settings: Settings
    client: VtigerClient
    full: bool = False
    trigger: str = ""
    job_id: str = ""
    lock: SourceLock | None = None
    modules: frozenset[str] = frozenset()  # empty: every module
    runs: list[RunRecord] = field(default_factory=list)
    directory: Directory = field(default_factory=Directory)
    user_tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    stage_tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    refresh_requests: int = 0  # requests spent on mid-module users refreshes (counted in their own rows)
    unresolvable: set[str] = field(default_factory=set)  # ids a refresh could not name: no second refresh for them
    stage_problems: list[StageTimeProblem] = field(default_factory=list)
    # requests.Session is not thread-safe: whoever calls the client holds this (the page fetcher, or a users
    # refresh in the middle of a module), so the client is never used by two threads at once.
    client_lock: threading.Lock = field(default_factory=threading.Lock)
    written_extra: dict[str, Any] | None = None  # the module's extra as last written: unchanged, not rewritten
    page_conn: Connection | None = None  # while a module stores pages (see pages_connection)

    def run(self) -> list[RunRecord]:
        self.check_account()
        errors: list[Exception] = []
        for module, table in MODULES:
            if self.modules and module not in self.modules:
                continue
            try:
                self.sync_module(module, table)
            except VtigerAuthError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded in its sync_runs row; the other modules still run
                errors.append(exc)
        if errors:
            raise errors[0]
        return self.runs

    # --- runs and request counting -----------------------------------------------------------------------------

    @contextmanager
    def recorded(self, module: str) -> Iterator[RunRecord]:
        """A sync_runs row whose `requests` are this run's own (refreshes inside it count in their own rows)."""
        with recorded_run(self.engine, SOURCE, module, self.trigger, self.job_id) as run:
            self.runs.append(run)
            requests, refreshes = self.client.requests, self.refresh_requests
            try:
                yield run
            finally:
                run.requests = (self.client.requests - requests) - (self.refresh_requests - refreshes)

    def refresh_lock(self) -> None:
        if self.lock is not None:
            self.lock.refresh()

    # --- account, users and groups -----------------------------------------------------------------------------

    def check_account(self) -> None:
        with self.recorded(USERS) as run:
            me = self.client.me()
            self.user_tz = _zone(str(me.get("time_zone") or ""), self.settings.timezone)
            stage_zone = self.settings.kpi.sales.stage_time_zone
            self.stage_tz = ZoneInfo(stage_zone) if stage_zone else self.user_tz
            self.directory = load_directory(self.engine)
            _, extra = read_state(self.engine, SOURCE, USERS)
            refreshed = parse_utc(extra.get("refreshed_at"))
            stale = refreshed is None or utcnow() - refreshed > USERS_REFRESH_EVERY
            if self.full or stale or not self.directory.users:
                self.refresh_directory(run)

    def refresh_directory(self, run: RunRecord) -> None:
        users = [user_row(u) for u in self.client.users() if u.get("id")]
        groups = [group_row(g) for g in self.client.groups() if g.get("id")]
        employees = self.client.employee_users()
        me = self.client.user or {}
        now = utcnow()
        extra: dict[str, Any] = {
            "refreshed_at": now.strftime("%Y-%m-%d %H:%M:%S"),
            "employees": employees,
            "api_user": {k: me.get(k, "") for k in ("id", "user_name", "time_zone")},
        }
        with self.engine.begin() as conn:
            run.add(upsert_rows(conn, vtiger_users, users))
            run.add(upsert_rows(conn, vtiger_groups, groups))
            write_state(conn, SOURCE, USERS, extra["refreshed_at"], extra)
        self.directory = load_directory(self.engine)

    def ensure_known(self, module: str, records: Sequence[dict[str, Any]]) -> None:
        """Re-read users and groups (as a "users" run of its own) when a page names an id nobody knows."""
        fields = reference_fields(module, self.settings.kpi.sales)
        missing = unknown_ids(records, fields, self.directory) - self.unresolvable
        if not missing:
            return
        with self.client_lock:  # the page fetcher waits; its requests do not count in this refresh either
            before = self.client.requests
            try:
                with self.recorded(USERS) as run:
                    self.refresh_directory(run)
            finally:
                self.refresh_requests += self.client.requests - before
        self.unresolvable |= unknown_ids(records, fields, self.directory)

    # --- one module -----------------------------------------------------------------------------------------------

    def sync_module(self, module: str, table: Table) -> None:
        with self.recorded(module) as run:
            info = self.client.describe(module)
            stored_watermark, extra = read_state(self.engine, SOURCE, module)
            watermark = _watermark(stored_watermark)
            extra = {**extra, "picklists": info.picklists, "idPrefix": info.id_prefix}
            for stale in ("warning", "stage_time_problems"):
                extra.pop(stale, None)
            extra["checks"] = self.check_rules(module, info.picklists)
            self.stage_problems = []
            self.written_extra = None
            base = 0 if self.full else watermark
            first = self.first_sync_page(module, max(0, base - 1) if base else 0, extra)
            with self.pages_connection():
                if first is None:
                    with self.fetched_ahead(self.client.keyset_pages(module, base)) as pages:
                        for page in pages:
                            watermark_now = max(watermark, page.watermark)
                            self.store_page(module, table, run, page.records, (), watermark_now, extra)
                else:
                    self.read_sync_pages(module, table, run, first, watermark, extra)
            if self.full:
                self.reconcile(module, table, run, extra)

    def check_rules(self, module: str, picklists: dict[str, list[str]]) -> list[str]:
        """Notes on rule names the picklists lack. Never a failure: deals and every stage change are stored whatever
        the rules say; /status and /sales show the stage mismatch (models.sales.stage_rules_mismatch)."""
        notes = []
        if module == "Potentials":
            stages = picklists.get("sales_stage")
            mismatch = compare_stages_with_picklist(self.settings.kpi.sales, stages) if stages else None
            if not stages:
                notes.append("describe Potentials has no sales_stage picklist: stage names in kpi.toml not checked")
            elif mismatch is not None:
                notes.append(
                    f"the sales rules name {', '.join(map(repr, mismatch.missing_names()))}, not in VTiger's "
                    f"sales_stage picklist ({', '.join(stages)}): they score nothing until kpi.toml is fixed"
                )
        if module == "Cases" and picklists.get("casestatus"):
            unknown = [s for s in self.settings.kpi.cases.resolved_statuses if s not in picklists["casestatus"]]
            if unknown:
                notes.append(
                    f"kpi.toml cases.resolved_statuses names {', '.join(map(repr, unknown))}, not in VTiger's "
                    f"casestatus picklist ({', '.join(picklists['casestatus'])})"
                )
        return notes

    def first_sync_page(self, module: str, since: int, extra: dict[str, Any]) -> SyncPage | None:
        """The first /sync page, or None when /sync is refused and the keyset query must be used."""
        try:
            page = self.client.sync_page(module, since)
        except VtigerAuthError:
            raise
        except VtigerError as exc:
            if not (exc.code or (exc.status or 0) >= 400):
                raise
            extra["method"] = "query"
            extra["warning"] = (
                f"/sync was refused ({exc}); read with the keyset query instead, which cannot see deletions: "
                "give the API user admin rights (syncType=application needs them) or run a full sync regularly"
            )
            return None
        extra["method"] = "sync"
        return page

    def read_sync_pages(
        self, module: str, table: Table, run: RunRecord, first: SyncPage, watermark: int, extra: dict[str, Any]
    ) -> None:
        watermark = max(watermark, first.last_modified_time)
        if not first.more:
            self.store_page(module, table, run, first.updated, first.deleted, watermark, extra)
            return
        with self.fetched_ahead(self.later_sync_pages(module, first.last_modified_time)) as pages:
            self.store_page(module, table, run, first.updated, first.deleted, watermark, extra)
            for page in pages:
                watermark = max(watermark, page.last_modified_time)
                self.store_page(module, table, run, page.updated, page.deleted, watermark, extra)

    def later_sync_pages(self, module: str, since: int) -> Iterator[SyncPage]:
        """The /sync pages after the one that ended at `since`, until one says there is no more."""
        while True:
            page = self.client.sync_page(module, since)
            if page.more and page.last_modified_time <= since:
                raise VtigerError(f"VTiger's /sync for {module} stopped moving at {since}; the next run will retry")
            yield page
            if not page.more:
                return
            since = page.last_modified_time

    @contextmanager
    def fetched_ahead(self, pages: Iterator[_Page]) -> Iterator[Iterator[_Page]]:
        """`pages`, fetched on a background thread while the caller stores the previous one."""
        ahead = _PagesAhead(pages, self.client_lock)
        try:
            yield iter(ahead)
        finally:
            ahead.close()

    # --- storing a page -------------------------------------------------------------------------------------------

    @contextmanager
    def pages_connection(self) -> Iterator[None]:
        """One connection for a module's page transactions: a pool checkout (and its pre-ping round trip) per
        page costs more than the page's own SELECT. Each page still commits on its own."""
        with self.engine.connect() as conn:
            self.page_conn = conn
            try:
                yield
            finally:
                self.page_conn = None

    @contextmanager
    def page_transaction(self) -> Iterator[Connection]:
        if self.page_conn is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self.page_conn.begin():
                yield self.page_conn

    def store_page(
        self,
        module: str,
        table: Table,
        run: RunRecord,
        records: Sequence[dict[str, Any]],
        deleted_ids: Iterable[str],
        watermark: int,
        extra: dict[str, Any],
    ) -> None:
        """Rows, deletions and the watermark in one transaction: all of the page or none of it."""
        self.ensure_known(module, records)
        deleted_ids = list(deleted_ids)
        seen_at = utcnow()
        with self.page_transaction() as conn:
            stored = existing_rows(conn, table, [str(r["id"]) for r in records])
            records = [r for r in records if not _older_than_stored(r, stored.get(str(r["id"])))]
            rows = [self.map_record(module, r, stored.get(str(r["id"])), seen_at) for r in records]
            result = upsert_rows(conn, table, rows, stored=stored)
            rollups.upkeep(conn, table, result.replaced, result.written)  # the cases' roll-ups, in this transaction
            support_rollups.track(conn, table, result.replaced, result.written)  # the help-desk figures' (cases)
            sales_rollups.track(conn, table, result.replaced, result.written)  # the open pipeline (deals)
            if module == "Potentials":
                self.store_stage_changes(conn, records, rows, stored)
            if module == "Cases":
                self.store_status_changes(conn, records, rows, stored)
            deletion = mark_deleted(conn, table, deleted_ids, seen_at)
            rollups.upkeep(conn, table, deletion.replaced, deletion.written)
            support_rollups.track(conn, table, deletion.replaced, deletion.written)
            sales_rollups.track(conn, table, deletion.replaced, deletion.written)
            removed = deletion.updated
            if module == "Potentials" and deleted_ids:
                _mark_changes_deleted(conn, deleted_ids, seen_at)
            if module == "Cases" and deleted_ids:
                _mark_status_changes_deleted(conn, deleted_ids, seen_at)
            if module == "Potentials":
                self.keep_sales_rollups(conn, [row["source_id"] for row in rows] + deleted_ids)
            if self.stage_problems:
                example = self.stage_problems[-1]
                extra["stage_time_problems"] = {
                    "count": len(self.stage_problems),
                    "example": f"{example.deal_id} {example.field}={example.value!r}",
                }
            # The picklists in extra make it the bulk of this write: only the watermark, unless extra changed.
            changed_extra = extra if extra != self.written_extra else None
            write_state(conn, SOURCE, module, str(watermark), changed_extra)
        if changed_extra is not None:
            self.written_extra = copy.deepcopy(extra)  # a copy: the caller keeps changing `extra` in place
        run.add(result)
        run.deleted += removed
        self.refresh_lock()

    def map_record(
        self, module: str, record: dict[str, Any], stored: dict[str, Any] | None, seen_at: datetime
    ) -> dict[str, Any]:
        if module == "Cases":
            return case_row(record, self.directory, self.settings.kpi.cases, seen_at=seen_at, stored=stored)
        if module == "Potentials":
            return deal_row(record, self.directory, self.settings.kpi.sales, seen_at=seen_at)
        return call_row(record, self.directory, self.user_tz, seen_at=seen_at)

    def store_stage_changes(
        self,
        conn: Connection,
        records: Sequence[dict[str, Any]],
        rows: Sequence[dict[str, Any]],
        stored: dict[Any, dict],
    ) -> None:
        changes: list[dict[str, Any]] = []
        for record, row in zip(records, rows, strict=True):
            from_fields, problems = field_stage_changes(record, row, self.settings.kpi.sales, self.stage_tz)
            self.stage_problems += problems
            changes += from_fields
            observed = observed_stage_change(record, row, stored.get(row["source_id"]))
            if observed is not None:
                changes.append(observed)
        deal_ids = [row["source_id"] for row in rows]
        keep, drop = reconcile_stage_changes(changes, _stored_changes(conn, deal_ids))
        upsert_rows(conn, deal_stage_changes, keep, key=STAGE_CHANGE_KEY, insert_only=STAGE_CHANGE_HISTORY)
        if drop:
            c = deal_stage_changes.c
            conn.execute(
                delete(deal_stage_changes).where(
                    c.origin == "observed", tuple_(c.deal_source_id, c.stage, c.changed_at).in_(drop)
                )
            )
        restored = [sid for sid, row in stored.items() if row.get("deleted_at") is not None and sid in deal_ids]
        if restored:
            conn.execute(
                update(deal_stage_changes)
                .where(deal_stage_changes.c.deal_source_id.in_(restored), deal_stage_changes.c.deleted_at.is_not(None))
                .values(deleted_at=None)
            )

    def keep_sales_rollups(self, conn: Connection, deal_ids: Sequence[str]) -> None:
        """The sales roll-ups' upkeep, after the stage changes, deals and deletions of these deals are written
        (models/sales_rollups.py): in the same transaction, so the counts never disagree with the rows."""
        sales_rollups.keep(conn, deal_ids, self.settings.kpi.sales, self.settings.timezone)

    def store_status_changes(
        self,
        conn: Connection,
        records: Sequence[dict[str, Any]],
        rows: Sequence[dict[str, Any]],
        stored: dict[Any, dict],
    ) -> None:
        """The status changes (reopens among them) this page shows against the stored cases; history is only
        added, and a case that comes back from deletion brings its history back."""
        rules = self.settings.kpi.cases
        changes = []
        for record, row in zip(records, rows, strict=True):
            changes += observed_status_changes(record, row, stored.get(row["source_id"]), rules)
        upsert_rows(conn, case_status_changes, changes, key=STATUS_CHANGE_KEY, insert_only=STATUS_CHANGE_HISTORY)
        restored = [sid for sid, row in stored.items() if row.get("deleted_at") is not None]
        if restored:
            c = case_status_changes.c
            conn.execute(
                update(case_status_changes)
                .where(c.case_source_id.in_(restored), c.deleted_at.is_not(None))
                .values(deleted_at=None)
            )

    # --- deletions backstop ---------------------------------------------------------------------------------------

    def reconcile(self, module: str, table: Table, run: RunRecord, extra: dict[str, Any]) -> None:
        """Rows VTiger no longer lists get deleted_at. Offset paging can skip an id while records are deleted
        during the walk, so the candidates are re-checked by id before anything is marked."""
        with self.engine.connect() as conn:
            local = set(conn.scalars(select(table.c.source_id).where(table.c.deleted_at.is_(None))))
        remote: set[str] = set()
        for ids in self.client.ids(module):
            remote.update(ids)
            self.refresh_lock()
        candidates = sorted(local - remote)
        gone = sorted(set(candidates) - self.client.existing_ids(module, candidates)) if candidates else []
        now = utcnow()
        extra["reconciled_at"] = now.strftime("%Y-%m-%d %H:%M:%S")
        with self.engine.begin() as conn:
            deletion = mark_deleted(conn, table, gone, now)
            rollups.upkeep(conn, table, deletion.replaced, deletion.written)
            support_rollups.track(conn, table, deletion.replaced, deletion.written)
            sales_rollups.track(conn, table, deletion.replaced, deletion.written)
            removed = deletion.updated
            if module == "Potentials" and gone:
                _mark_changes_deleted(conn, gone, now)
                self.keep_sales_rollups(conn, gone)
            if module == "Cases" and gone:
                _mark_status_changes_deleted(conn, gone, now)
            stored_watermark, _ = read_state(conn, SOURCE, module)
            write_state(conn, SOURCE, module, stored_watermark, extra)
        run.deleted += removed


# --- fetching one page ahead -------------------------------------------------------------------------------------

_Page = TypeVar("_Page")
_END = object()  # the fetcher's last item: no more pages


@dataclass
class _Failed:
    """What the fetcher hands over instead of a page when fetching raised."""

    error: BaseException


class _PagesAhead(Generic[_Page]):
    """Runs a page iterator on a daemon thread, at most PAGES_AHEAD pages ahead of the consumer; each step of the
    iterator holds `client_lock`. Iterating gives the pages in order, then raises the fetcher's error, if any,
    in the consumer's thread, after every page fetched before it. `close()` stops the fetcher and waits for the
    call it has in flight (retries included), so nothing uses the client once it returns."""

    def __init__(self, pages: Iterator[_Page], client_lock: threading.Lock) -> None:
        self._pages = pages
        self._client_lock = client_lock
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=PAGES_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name="vtiger-page-fetcher", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[_Page]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _fetch(self) -> None:
        try:
            while not self._stop.is_set():
                with self._client_lock:
                    page = next(self._pages, _END)
                if not self._hand_over(page) or page is _END:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it in its thread
            self._hand_over(_Failed(exc))

    def _hand_over(self, item: Any) -> bool:
        """Queue an item, waiting while the consumer is behind; False when told to stop meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


# --- helpers -------------------------------------------------------------------------------------------------------


def load_directory(engine: Engine) -> Directory:
    """The users, groups and Employees map as stored by the last refresh."""
    with engine.connect() as conn:
        users: dict[str, Mapping[str, Any]] = {
            row.source_id: dict(row._mapping) for row in conn.execute(select(vtiger_users))
        }
        groups = {row.source_id: row.name for row in conn.execute(select(vtiger_groups))}
        _, extra = read_state(conn, SOURCE, USERS)
    employees = extra.get("employees")
    return Directory(users=users, groups=groups, employees=dict(employees) if isinstance(employees, dict) else {})


def _stored_changes(conn: Connection, deal_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not deal_ids:
        return []
    rows = conn.execute(select(deal_stage_changes).where(deal_stage_changes.c.deal_source_id.in_(list(deal_ids))))
    return [dict(row._mapping) for row in rows]


def _mark_changes_deleted(conn: Connection, deal_ids: Sequence[str], when: datetime) -> None:
    c = deal_stage_changes.c
    conn.execute(
        update(deal_stage_changes)
        .where(and_(c.deal_source_id.in_(list(deal_ids)), c.deleted_at.is_(None)))
        .values(deleted_at=when)
    )


def _mark_status_changes_deleted(conn: Connection, case_ids: Sequence[str], when: datetime) -> None:
    c = case_status_changes.c
    conn.execute(
        update(case_status_changes)
        .where(c.case_source_id.in_(list(case_ids)), c.deleted_at.is_(None))
        .values(deleted_at=when)
    )


def _older_than_stored(record: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    """A record older than the stored row (a stale read) must not overwrite newer data."""
    if not stored or stored.get("updated_at") is None:
        return False
    modified = parse_utc(record.get("modifiedtime"))
    return modified is not None and modified < stored["updated_at"]


def _watermark(value: str) -> int:
    try:
        return max(0, int(float(value))) if value else 0
    except ValueError:
        return 0  # unreadable: read everything again, which the idempotent upsert makes safe


def _zone(name: str, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo(fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)

"""Syncs asked for by a webhook: which modules a call names, and how many calls become one sync.

A call asks for modules of one source. Requests wait in a set until a sync takes the source's lock and claims
them all at once, so:
- a sync that is queued (or waiting for the lock) absorbs every call that arrives before it starts;
- a call that arrives while a sync runs queues one follow-up (that sync may have read past the change), and the
  follow-up absorbs every later call until it starts. So there is one running sync and one follow-up at most.

With Redis the set and the queued job's id live in Redis (`request_rq_sync`, the job `sync_requested`); without
it the embedded scheduler keeps them (`PendingRequests`, sync/scheduler.py). The payload of a call only names a
module: rows always come through the sync.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from redis import Redis
from redis.lock import Lock
from rq import Queue, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from sync.engine import SourceBusy

log = logging.getLogger(__name__)

# The modules sync runs per source, in the names sync_runs records (sync/vtiger_sync.py, sync/redmine_sync.py).
SOURCE_MODULES: dict[str, tuple[str, ...]] = {
    "vtiger": ("Cases", "Potentials", "PhoneCalls"),
    "redmine": ("statuses", "issues"),
}
# What a payload may call a module (lower case): VTiger's module names old and new, and the words people use.
MODULE_WORDS: dict[str, dict[str, str]] = {
    "vtiger": {
        "cases": "Cases",
        "case": "Cases",
        "helpdesk": "Cases",
        "tickets": "Cases",
        "potentials": "Potentials",
        "potential": "Potentials",
        "deals": "Potentials",
        "deal": "Potentials",
        "opportunities": "Potentials",
        "phonecalls": "PhoneCalls",
        "phonecall": "PhoneCalls",
        "calls": "PhoneCalls",
        "call": "PhoneCalls",
    },
    "redmine": {"issues": "issues", "issue": "issues"},
}
MODULE_KEYS = ("module", "modulename", "module_name", "elementtype", "setype", "type")
WAIT_FOR_LOCK_SECONDS = 15 * 60  # a follow-up waits this long for the running sync to end, then leaves it to cron
LOCK_POLL_SECONDS = 0.5
JOB_TIMEOUT = 60 * 60
RESULT_TTL = 24 * 60 * 60
ALIVE_STATUSES = frozenset({JobStatus.CREATED, JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


# --- which modules ------------------------------------------------------------------------------------------------


def modules_named(source: str, payload: object, id_prefixes: Mapping[str, str] | None = None) -> frozenset[str]:
    """The modules of `source` a webhook payload names: a module key ("module": "Cases", VTiger's "setype"), a
    key that is itself a module ("issue" in Redmine's plugin payload), or, for VTiger, a record id whose prefix
    is a module's ("39x916810", prefixes from sync_state). Every module of the source when it names none."""
    words = MODULE_WORDS[source]
    found: set[str] = set()
    if isinstance(payload, Mapping):
        for key, value in _flattened(payload):
            lowered = key.lower()
            if lowered in MODULE_KEYS and isinstance(value, str) and value.strip().lower() in words:
                found.add(words[value.strip().lower()])
            elif lowered in words and source == "redmine":
                found.add(words[lowered])
            elif lowered in ("id", "record", "recordid") and isinstance(value, str) and id_prefixes:
                found.update(module for module, prefix in id_prefixes.items() if prefix and value.startswith(prefix))
    return frozenset(found) or frozenset(SOURCE_MODULES[source])


def _flattened(payload: Mapping[str, Any], depth: int = 0) -> list[tuple[str, Any]]:
    """(key, value) pairs of the payload and of objects inside it, two levels down ({"payload": {"issue": ...}})."""
    pairs: list[tuple[str, Any]] = []
    for key, value in list(payload.items())[:200]:
        if not isinstance(key, str):
            continue
        pairs.append((key, value))
        if isinstance(value, Mapping) and depth < 2:
            pairs.extend(_flattened(value, depth + 1))
    return pairs


# --- without Redis: the embedded scheduler's requests ----------------------------------------------------------------


class PendingRequests:
    """Modules asked for per source, not yet claimed by a sync (thread-safe)."""

    def __init__(self) -> None:
        self._modules: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, source: str, modules: Collection[str]) -> bool:
        """Note a request; True when the source already had one waiting (this call is absorbed)."""
        with self._lock:
            waiting = source in self._modules
            self._modules.setdefault(source, set()).update(modules)
            return waiting

    def sources(self) -> list[str]:
        with self._lock:
            return [source for source in SOURCE_MODULES if source in self._modules]

    def claim(self, source: str) -> frozenset[str]:
        """Take every module asked for so far (called once the source's lock is held)."""
        with self._lock:
            return frozenset(self._modules.pop(source, ()))

    def give_back(self, source: str, modules: Collection[str]) -> None:
        """A claimed request that could not run (the source was busy elsewhere) waits again."""
        self.add(source, modules)


# --- with Redis: RQ ---------------------------------------------------------------------------------------------


def requested_key(source: str) -> str:
    return f"kpi:webhook:{source}:modules"


def queued_key(source: str) -> str:
    return f"kpi:webhook:{source}:queued-job"


def _enqueue_lock(connection: Redis, source: str) -> Lock:
    return connection.lock(f"kpi:webhook:{source}:lock", timeout=30, blocking_timeout=30)


def request_rq_sync(connection: Redis, source: str, modules: Collection[str], *, queue: str = "sync") -> str:
    """Ask for a sync of `modules`: "absorbed" when a job that has not claimed yet will take them, else "queued"
    (a new job, the one follow-up of a running sync)."""
    with _enqueue_lock(connection, source):
        connection.sadd(requested_key(source), *sorted(modules))
        connection.expire(requested_key(source), RESULT_TTL)
        if _waiting_job(connection, source) is not None:
            return "absorbed"
        job = Queue(queue, connection=connection).enqueue(
            sync_requested,
            args=(source,),
            job_id=f"webhook-{source}-{uuid.uuid4().hex[:12]}",
            description=f"sync {source} (webhook)",
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=7 * RESULT_TTL,
        )
        connection.set(queued_key(source), job.id, ex=JOB_TIMEOUT)
    return "queued"


def _waiting_job(connection: Redis, source: str) -> Job | None:
    """The source's webhook job that has not claimed its request yet: queued, or started and waiting for the lock
    in a live worker."""
    from sync.jobs import worker_is_dead

    job_id = _queued_job_id(connection, source)
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status()
    except (NoSuchJobError, InvalidJobOperation):
        return None
    if status in ALIVE_STATUSES or (status == JobStatus.STARTED and not worker_is_dead(connection, job)):
        return job
    return None


def claim_rq_request(connection: Redis, source: str, job_id: str) -> frozenset[str]:
    """The modules asked for until now, taken (under the enqueue lock, so no call falls between); from here on a
    new call queues a follow-up instead of counting on this job."""
    with _enqueue_lock(connection, source):
        modules = {_text(member) for member in connection.smembers(requested_key(source))}
        connection.delete(requested_key(source))
        if _queued_job_id(connection, source) == job_id:
            connection.delete(queued_key(source))
    return frozenset(modules)


def _queued_job_id(connection: Redis, source: str) -> str:
    return _text(connection.get(queued_key(source)) or b"")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def sync_requested(source: str) -> dict[str, Any]:
    """The RQ job a webhook queues: wait for the source's lock (a running sync finishes first), claim every module
    asked for until then, and sync those."""
    from models.db import make_engine
    from settings import load_settings
    from sync.service import run_sync

    job = get_current_job()
    if job is None:
        raise RuntimeError("sync_requested runs inside an RQ worker")
    settings = load_settings()
    engine = make_engine(settings.database_url)
    claimed: frozenset[str] = frozenset()

    def claim() -> frozenset[str]:
        nonlocal claimed
        claimed = claim_rq_request(job.connection, source, job.id)
        return claimed

    try:
        records = run_waiting(
            lambda: run_sync(engine, settings, source, trigger="webhook", job_id=job.id, modules=claim)
        )
    except SourceBusy:
        with _enqueue_lock(job.connection, source):  # leave the request for the next call or the schedule
            if _queued_job_id(job.connection, source) == job.id:
                job.connection.delete(queued_key(source))
        return {"source": source, "status": "busy", "modules": []}
    finally:
        engine.dispose()
    return {"source": source, "status": "ok" if records else "nothing asked", "modules": sorted(claimed)}


def run_waiting(run: Any, wait_seconds: float = WAIT_FOR_LOCK_SECONDS) -> Any:
    """`run()`, tried again while the source is busy (a sync elsewhere holds its lock), for `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return run()
        except SourceBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_POLL_SECONDS)

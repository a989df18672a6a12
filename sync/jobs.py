"""RQ job functions, imported by dotted path (`sync.jobs.sync_source`) by `rq worker`, plus the one way to
enqueue them (`enqueue_sync`) without piling up duplicates.

A job gets a source name, never objects: it loads the settings and makes its own engine (disposed at the end),
as a worker process has no app to borrow them from. Every run leaves its rows in `sync_runs` with the RQ job id,
which is what the status page and rq-dashboard have in common.

Must not import Dash or Flask, nor build the web app.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from redis import Redis
from rq import Queue, Retry, Worker, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from models.db import make_engine
from settings import load_settings
from sync.engine import RunRecord, SourceBusy
from sync.service import SOURCES, run_all, run_sync

QUEUE_NAME = "sync"
JOB_TIMEOUT = 60 * 60  # a first backfill of a large instance takes minutes; an hour means something is stuck
RESULT_TTL = 24 * 60 * 60  # finished jobs stay visible in rq-dashboard for a day
RETRY_INTERVALS = [10, 60, 300]  # seconds: a network blip, a restarting server, a longer outage
SCHEDULE_TIMEOUT = 60  # `schedule_sync` only looks at Redis and enqueues
# A job in one of these states will sync soon or is syncing now: enqueueing another would only queue a duplicate.
PENDING_STATUSES = frozenset(
    {JobStatus.CREATED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
)


def sync_source(source: str, full: bool = False) -> dict[str, Any]:
    """Sync one source now (the worker's job). Returns the counts per module, which RQ keeps as the result.

    Another process already syncing the source is not a failure (it is doing the work), so it is reported as
    "busy" instead of raising, which would only make RQ retry for nothing.
    """
    settings = load_settings()
    engine = make_engine(settings.database_url)
    job = get_current_job()
    try:
        records = run_sync(engine, settings, source, full=full, trigger="rq", job_id=job.id if job else "")
    except SourceBusy:
        return {"source": source, "status": "busy", "modules": {}}
    finally:
        engine.dispose()
    return {"source": source, "status": "ok", "modules": {record.module: counts(record) for record in records}}


def sync_all(full: bool = False) -> dict[str, str]:
    """Sync every configured source in turn; one failing does not stop the others. Returns a word per source."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        return run_all(engine, settings, trigger="rq", full=full)
    finally:
        engine.dispose()


def schedule_sync(source: str) -> str:
    """What `rq cron` enqueues every SYNC_INTERVAL_MINUTES: a tiny job that enqueues the real sync unless one is
    already pending. (RQ's cron cannot give its jobs an id or skip a tick, so the check runs here, in the worker.)
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("schedule_sync runs inside an RQ worker; call enqueue_sync elsewhere")
    queued = enqueue_job(job.connection, source)
    return f"enqueued {queued.id}" if queued else "skipped: a sync of this source is already pending"


def counts(record: RunRecord) -> dict[str, int]:
    return {
        "inserted": record.inserted,
        "updated": record.updated,
        "deleted": record.deleted,
        "requests": record.requests,
    }


# --- enqueueing -------------------------------------------------------------------------------------------------


def enqueue_sync(redis_url: str, source: str, full: bool = False) -> Job | None:
    """Enqueue a sync of `source`; None when one is already queued, running or waiting for a retry."""
    connection = Redis.from_url(redis_url)
    try:
        return enqueue_job(connection, source, full=full)
    finally:
        connection.close()


def enqueue_job(connection: Redis, source: str, *, full: bool = False) -> Job | None:
    """The duplicate check and the enqueue, under a short Redis lock so two callers (cron, the status page's
    button, the CLI) cannot both see "nothing pending" and both enqueue.

    Each run gets its own job id, so `sync_runs.job_id` names one run; the id of the source's latest job is kept
    under `pending_key(source)`.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    with connection.lock(f"kpi:sync:enqueue-lock:{source}", timeout=30, blocking_timeout=30):
        if pending_job(connection, source) is not None:
            return None
        job = Queue(QUEUE_NAME, connection=connection).enqueue(
            sync_source,
            args=(source, full),
            job_id=f"sync-{source}-{uuid.uuid4().hex[:12]}",
            description=f"sync {source}" + (" (full)" if full else ""),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=7 * RESULT_TTL,
        )
        connection.set(pending_key(source), job.id, ex=7 * RESULT_TTL)
    return job


def pending_job(connection: Redis, source: str) -> Job | None:
    """The source's latest job if it has not finished yet (queued, running or scheduled for a retry), unless the
    worker running it is dead."""
    job_id = connection.get(pending_key(source))
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id.decode() if isinstance(job_id, bytes) else job_id, connection=connection)
        status = job.get_status()
    except (NoSuchJobError, InvalidJobOperation):  # expired or deleted: nothing is pending
        return None
    if status == JobStatus.STARTED and worker_is_dead(connection, job):
        return None
    return job if status in PENDING_STATUSES else None


def worker_is_dead(connection: Redis, job: Job) -> bool:
    """The worker that started `job` is gone: its heartbeat key expired (any machine, ~90 s after it died), or it
    ran on this machine and its process no longer exists. RQ marks such a job failed only at a later maintenance
    pass (up to ten minutes on); until then it would count as a pending sync, and "Sync now" and every cron tick
    would skip the source. Mistaking a live worker for dead costs one extra job, which the database lock turns
    into a "busy" no-op."""
    if not job.worker_name:
        return False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection)
    if worker is None:
        return True
    return worker.hostname == socket.gethostname() and worker.pid is not None and not _process_exists(worker.pid)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process, but it exists
        return True
    return True


def pending_key(source: str) -> str:
    return f"kpi:sync:latest-job:{source}"

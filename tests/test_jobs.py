"""sync/jobs.py on real Redis and real PostgreSQL: an RQ worker in burst mode runs the real job end to end (the
job loads its settings from the environment and makes its own engine, as in production), failures are retried
on the configured schedule, and enqueueing never piles up duplicates."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis import Redis
from rq import Queue, Worker
from rq.job import JobStatus
from sqlalchemy import func, select

from models.db import make_engine
from models.schema import cases, redmine_issues, sync_runs
from sync import jobs
from sync.demo import source as demo
from tests.conftest import postgres_url, truncate_all

DEMO_NOW = datetime(2026, 3, 2, 15, 0)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The real PostgreSQL test database, emptied: the worker's job connects to it by URL."""
    url = postgres_url()
    engine = make_engine(url)
    truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def job_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> str:
    """What a worker process sees: DATABASE_URL set, no credentials (demo mode), no .env or kpi.toml."""
    monkeypatch.chdir(tmp_path)
    for name in ("VTIGER_URL", "REDMINE_URL", "REDIS_URL", "KPI_CONFIG", "TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setattr(demo, "clock", lambda: DEMO_NOW)
    monkeypatch.setattr(demo, "HISTORY_DAYS", 10)  # the forked work horse inherits both; a short history is quick
    return pg_url


def run_worker(redis: Redis) -> None:
    Worker([Queue(jobs.QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)


def runs(url: str) -> list[dict]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings()]
    engine.dispose()
    return rows


def count(url: str, table) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return total


def test_worker_runs_the_sync_job_end_to_end(job_environment: str, redis_url: str, redis: Redis) -> None:
    job = jobs.enqueue_sync(redis_url, "redmine")
    assert job is not None
    assert job.retries_left == 3 and job.retry_intervals == [10, 60, 300]
    assert job.timeout == jobs.JOB_TIMEOUT

    run_worker(redis)

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    result = job.return_value()
    assert result is not None and result["status"] == "ok"
    assert result["modules"]["issues"]["inserted"] > 40
    rows = runs(job_environment)
    assert {(row["source"], row["module"]) for row in rows} == {("redmine", "statuses"), ("redmine", "issues")}
    assert all(row["status"] == "success" and row["trigger"] == "rq" and row["job_id"] == job.id for row in rows)
    assert count(job_environment, redmine_issues) == result["modules"]["issues"]["inserted"]


def test_worker_runs_the_vtiger_demo_sync(job_environment: str, redis_url: str, redis: Redis) -> None:
    job = jobs.enqueue_sync(redis_url, "vtiger")
    assert job is not None

    run_worker(redis)

    job.refresh()
    latest = job.latest_result()
    assert job.get_status() == JobStatus.FINISHED, latest.exc_string if latest else ""
    result = job.return_value()
    assert result is not None and result["status"] == "ok"
    assert count(job_environment, cases) > 200
    assert {row["status"] for row in runs(job_environment)} == {"success"}


def test_enqueue_skips_while_a_sync_is_pending(job_environment: str, redis_url: str, redis: Redis) -> None:
    first = jobs.enqueue_sync(redis_url, "redmine")
    assert first is not None
    assert jobs.enqueue_sync(redis_url, "redmine") is None  # queued: no duplicate
    other = jobs.enqueue_sync(redis_url, "vtiger")  # another source is not a duplicate
    assert other is not None
    assert Queue(jobs.QUEUE_NAME, connection=redis).count == 2

    first.cancel()
    other.cancel()
    second = jobs.enqueue_sync(redis_url, "redmine")  # nothing pending any more
    assert second is not None and second.id != first.id


def test_a_failed_sync_is_retried_later_and_recorded(
    job_environment: str, redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/users/current.json").respond_with_data("", status=401)
    monkeypatch.setenv("REDMINE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("REDMINE_API_KEY", "wrong-key")
    job = jobs.enqueue_sync(redis_url, "redmine")
    assert job is not None

    run_worker(redis)

    job.refresh()
    # Not failed for good: scheduled for the first retry, 10 s later, and still counted as pending.
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    assert jobs.enqueue_sync(redis_url, "redmine") is None
    rows = runs(job_environment)
    assert rows and all(row["status"] == "failed" and row["job_id"] == job.id for row in rows)
    assert "401" in rows[0]["error"] or "key" in rows[0]["error"].lower()


def test_a_busy_source_is_not_an_error(job_environment: str, redis_url: str, redis: Redis) -> None:
    from sync.engine import SourceLock

    engine = make_engine(job_environment)
    lock = SourceLock(engine, "redmine")
    assert lock.acquire()
    try:
        job = jobs.enqueue_sync(redis_url, "redmine")
        assert job is not None
        run_worker(redis)
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == {"source": "redmine", "status": "busy", "modules": {}}
    finally:
        lock.release()
        engine.dispose()


def test_unknown_source_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="unknown source"):
        jobs.enqueue_sync(redis_url, "jira")


def test_a_started_sync_whose_worker_died_is_not_pending(redis_url: str, redis: Redis) -> None:
    """A worker killed mid-run leaves its job "started" until RQ's maintenance (minutes later): "Sync now" and
    cron must not wait for it. Known dead: its heartbeat key expired, or it ran here and its process is gone."""
    job = jobs.enqueue_sync(redis_url, "vtiger")
    assert job is not None
    worker = Worker([Queue(jobs.QUEUE_NAME, connection=redis)], connection=redis, name="kpi-test-worker")
    worker.register_birth()
    job.set_status(JobStatus.STARTED)
    redis.hset(job.key, "worker_name", worker.name)
    assert jobs.enqueue_sync(redis_url, "vtiger") is None  # its worker (this very process) lives: pending

    exited = subprocess.Popen(["true"])
    exited.wait()
    redis.hset(worker.key, mapping={"hostname": "another-machine", "pid": exited.pid})
    assert jobs.enqueue_sync(redis_url, "vtiger") is None  # a PID of another machine says nothing here

    redis.hset(worker.key, "hostname", socket.gethostname())
    replacement = jobs.enqueue_sync(redis_url, "vtiger")  # ran here, process gone: dead
    assert replacement is not None and replacement.id != job.id

    replacement.set_status(JobStatus.STARTED)
    redis.hset(replacement.key, "worker_name", worker.name)
    redis.hset(worker.key, mapping={"hostname": "another-machine", "pid": os.getpid()})
    assert jobs.enqueue_sync(redis_url, "vtiger") is None
    redis.delete(worker.key)  # its heartbeat expired: dead wherever it ran
    assert jobs.enqueue_sync(redis_url, "vtiger") is not None

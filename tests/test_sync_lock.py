"""A killed sync does not block syncing: the lock of a holder known dead (this machine, process gone) is taken
over at once, any other lock lives on a short lease that a heartbeat renews, and the killed run's row is marked
failed. On SQLite and PostgreSQL (the `engine` and `database_url` fixtures run each test on both)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select
from werkzeug import Request, Response

from models.db import make_engine, utcnow
from models.schema import sync_locks, sync_runs
from settings import PROJECT_DIR, RedmineSettings, Settings
from sync import engine as sync_engine
from sync.engine import (
    LOCK_TTL,
    ORPHANED_RUN_ERROR,
    LeaseKeeper,
    SourceLock,
    holder_is_dead,
    is_locked,
    lock_holder,
)
from sync.service import run_sync
from tests.browser import wait_for

REDMINE_KEY = "0123456789abcdef0123456789abcdef01234567"


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def holder_for(pid: int, start: str | None = None) -> str:
    """A holder string as `lock_holder()` writes it, for another process of this machine."""
    host, _pid, token, scope, own_start = lock_holder().split(":")
    return f"{host}:{pid}:{token}:{scope}:{own_start if start is None else start}"


def put_lock(engine: Engine, holder: str, expires_in: timedelta = timedelta(minutes=3)) -> None:
    with engine.begin() as conn:
        conn.execute(sync_locks.insert().values(source="redmine", holder=holder, acquired_at=utcnow(),
                                                expires_at=utcnow() + expires_in))  # fmt: skip


# --- who is dead ------------------------------------------------------------------------------------------------


def test_a_holder_is_dead_only_when_known_dead() -> None:
    assert not holder_is_dead(lock_holder())  # this very process
    assert holder_is_dead(holder_for(dead_pid()))  # this machine, process gone
    assert holder_is_dead(holder_for(os.getpid(), start="1"))  # our PID, but a process started at another time
    assert not holder_is_dead(f"elsewhere.example:{dead_pid()}:abcdef12:-:-")  # another machine: wait for the lease
    other_scope = holder_for(dead_pid()).split(":")
    other_scope[3] = "0" * 12  # another container with the same host name: its PIDs are not ours to judge
    assert not holder_is_dead(":".join(other_scope))
    assert not holder_is_dead(f"{socket.gethostname()}:{dead_pid()}:abcdef12")  # an old-format row: the lease


def test_the_lease_is_short_and_renewed_every_minute() -> None:
    assert timedelta(minutes=3) >= LOCK_TTL
    assert sync_engine.LOCK_REFRESH_EVERY <= LOCK_TTL / 2


def test_a_dead_local_holders_lock_is_taken_over_at_once(engine: Engine) -> None:
    put_lock(engine, holder_for(dead_pid()))
    assert not is_locked(engine, "redmine")  # /status enables "Sync now" again
    assert SourceLock(engine, "redmine").acquire()


def test_a_live_or_foreign_holder_keeps_its_lock_until_the_lease_ends(engine: Engine) -> None:
    put_lock(engine, f"elsewhere.example:{dead_pid()}:abcdef12:-:-")
    assert is_locked(engine, "redmine")
    assert not SourceLock(engine, "redmine").acquire()
    with engine.begin() as conn:
        conn.execute(sync_locks.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert SourceLock(engine, "redmine").acquire()


def test_the_heartbeat_renews_the_lease_while_the_sync_runs(engine: Engine) -> None:
    lock = SourceLock(engine, "redmine", ttl=timedelta(seconds=2), refresh_every=timedelta(seconds=0.2))
    assert lock.acquire()
    with engine.begin() as conn:
        conn.execute(sync_locks.update().values(expires_at=datetime(2026, 1, 1)))
    keeper = LeaseKeeper(lock).start()
    try:
        wait_for(lambda: is_locked(engine, "redmine"), timeout=10, message="the heartbeat's renewal")
    finally:
        keeper.stop()
        lock.release()


# --- a real `sync run`, killed ----------------------------------------------------------------------------------


@pytest.fixture
def slow_redmine(httpserver: HTTPServer) -> Iterator[tuple[HTTPServer, threading.Event, threading.Event]]:
    """A Redmine whose first /issues.json hangs until released: the sync asking for it is mid-run."""
    asked, released = threading.Event(), threading.Event()

    def issues(_request: Request) -> Response:
        if not released.is_set():
            asked.set()
            released.wait(60)
        return Response('{"issues": [], "total_count": 0, "offset": 0, "limit": 100}', content_type="application/json")

    httpserver.expect_request("/users/current.json").respond_with_json({"user": {"id": 1, "login": "sync"}})
    httpserver.expect_request("/issue_statuses.json").respond_with_json(
        {"issue_statuses": [{"id": 1, "name": "New", "is_closed": False}]}
    )
    httpserver.expect_request("/issues.json").respond_with_handler(issues)
    yield httpserver, asked, released
    released.set()


def test_a_killed_sync_run_blocks_nothing_and_is_marked_failed(
    database_url: str, settings_for, slow_redmine: tuple[HTTPServer, threading.Event, threading.Event]
) -> None:
    server, asked, released = slow_redmine
    url = server.url_for("/").rstrip("/")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("VTIGER_", "REDMINE_", "KPI_"))}
    environment.update(DATABASE_URL=database_url, REDMINE_URL=url, REDMINE_API_KEY=REDMINE_KEY, AUTH_DISABLED="true",
                       PYTHONPATH=str(PROJECT_DIR))  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app:server", "sync", "run", "redmine"],
        cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert asked.wait(60), "the sync never asked for issues"
        engine = make_engine(database_url)
        assert is_locked(engine, "redmine")  # mid-run: it holds the lock
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        released.set()  # the peer answers normally from now on

    settings: Settings = settings_for(database_url, redmine=RedmineSettings(url=url, api_key=REDMINE_KEY))
    try:
        assert not is_locked(engine, "redmine")  # "Sync now" is enabled again at once
        records = run_sync(engine, settings, "redmine", trigger="cli")  # at once: no lease to wait out
        assert [record.module for record in records] == ["statuses", "issues"]
        with engine.connect() as conn:
            runs = conn.execute(select(sync_runs.c.module, sync_runs.c.status, sync_runs.c.error)
                                .order_by(sync_runs.c.id)).all()  # fmt: skip
    finally:
        engine.dispose()
    assert runs == [
        ("statuses", "success", ""),
        ("issues", "failed", ORPHANED_RUN_ERROR),  # the killed run, marked with why
        ("statuses", "success", ""),
        ("issues", "success", ""),
    ]

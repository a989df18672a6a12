"""sync/scheduler.py: the embedded scheduler (no Redis) syncs on its thread, can be woken and stopped, starts
with the first web request (never when the app is merely built), and the per-source lock keeps it from
overlapping with a run elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from app import create_app
from models.schema import sync_runs
from settings import Settings
from sync.demo import source as demo
from sync.engine import SourceLock
from sync.scheduler import EmbeddedScheduler
from tests.browser import wait_for


@pytest.fixture(autouse=True)
def quick_demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(demo, "clock", lambda: datetime(2026, 3, 4, 15, 30))
    monkeypatch.setattr(demo, "HISTORY_DAYS", 5)
    demo.reset_cache()
    yield
    demo.reset_cache()


@pytest.fixture
def scheduler_settings(settings_for: Callable[..., Settings], sqlite_url: str) -> Settings:
    return settings_for(sqlite_url, sync_interval_minutes=60)


def finished_runs(engine: Engine, source: str) -> list[str]:
    with engine.connect() as conn:
        query = select(sync_runs.c.status).where(sync_runs.c.source == source, sync_runs.c.status != "running")
        return list(conn.execute(query).scalars())


def test_scheduler_syncs_every_source_and_stops(scheduler_settings: Settings, sqlite_engine: Engine) -> None:
    scheduler = EmbeddedScheduler(scheduler_settings, sqlite_engine).start()
    try:
        wait_for(lambda: finished_runs(sqlite_engine, "redmine"), 60, message="the first redmine sync")
        wait_for(lambda: finished_runs(sqlite_engine, "vtiger"), 60, message="the first vtiger sync")
    finally:
        scheduler.stop()

    assert not scheduler.thread.is_alive()
    assert set(finished_runs(sqlite_engine, "vtiger") + finished_runs(sqlite_engine, "redmine")) == {"success"}
    with sqlite_engine.connect() as conn:
        assert set(conn.execute(select(sync_runs.c.trigger)).scalars()) == {"embedded"}


def test_run_now_wakes_the_scheduler_before_the_interval(scheduler_settings: Settings, sqlite_engine: Engine) -> None:
    scheduler = EmbeddedScheduler(scheduler_settings, sqlite_engine).start()
    try:
        first = wait_for(lambda: finished_runs(sqlite_engine, "redmine"), 60, message="the first sync")
        scheduler.run_now()  # the interval is an hour: only the wake-up can start a second run
        wait_for(lambda: len(finished_runs(sqlite_engine, "redmine")) > len(first), 60, message="a second sync")
    finally:
        scheduler.stop()
    with sqlite_engine.connect() as conn:
        triggers = conn.execute(select(sync_runs.c.trigger).order_by(sync_runs.c.id)).scalars().all()
    assert triggers[0] == "embedded" and triggers[-1] == "manual"  # the press is recorded as what it was


def test_the_source_lock_keeps_runs_from_overlapping(scheduler_settings: Settings, sqlite_engine: Engine) -> None:
    elsewhere = SourceLock(sqlite_engine, "redmine")  # a CLI run or another web process syncing redmine
    assert elsewhere.acquire()
    scheduler = EmbeddedScheduler(scheduler_settings, sqlite_engine).start()
    try:
        wait_for(lambda: finished_runs(sqlite_engine, "vtiger"), 60, message="the vtiger sync")
        assert finished_runs(sqlite_engine, "redmine") == []  # skipped as busy, not run alongside

        elsewhere.release()
        scheduler.run_now()
        wait_for(lambda: finished_runs(sqlite_engine, "redmine"), 60, message="redmine once the lock is free")
    finally:
        scheduler.stop()
        elsewhere.release()


def test_the_first_web_request_starts_the_scheduler_once(
    settings_for: Callable[..., Settings], sqlite_url: str
) -> None:
    settings = settings_for(sqlite_url, embedded_sync=True, testing=False, auth_disabled=True, sync_interval_minutes=60)
    dash_app = create_app(settings)
    runtime = dash_app.server.extensions["kpi"]
    assert runtime.scheduler is None  # building the app (as the CLI does) starts nothing

    client = dash_app.server.test_client()
    responses = [client.get("/healthz") for _ in range(3)]
    scheduler = runtime.scheduler
    assert scheduler is not None  # the first request started it
    try:
        assert [response.status_code for response in responses] == [200, 200, 200]
        assert scheduler.thread.is_alive()
        assert [thread.name for thread in threading.enumerate()].count("kpi-sync") >= 1
        client.get("/healthz")
        assert runtime.scheduler is scheduler
    finally:
        scheduler.stop()
        runtime.engine.dispose()


def test_no_scheduler_with_redis(settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    settings = settings_for(
        sqlite_url, embedded_sync=True, testing=False, auth_disabled=True, redis_url="redis://127.0.0.1:6379/15"
    )
    dash_app = create_app(settings)

    dash_app.server.test_client().get("/healthz")

    assert dash_app.server.extensions["kpi"].scheduler is None  # RQ workers sync instead
    dash_app.server.extensions["kpi"].engine.dispose()

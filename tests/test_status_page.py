"""/status (layouts/status.py, callbacks/status.py): sync health per source and module, the last 50 runs, the next
run, "Sync now" (embedded, on a thread, or through RQ with a real Redis), refused while a sync runs, and
rq-dashboard at /rq when Redis is configured."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from selenium.webdriver.common.by import By
from sqlalchemy import Engine, func, select

from app import create_app
from callbacks import status as status_callbacks
from models.db import utcnow
from models.schema import sync_runs
from settings import Settings
from sync.engine import SourceLock, recorded_run
from tests.browser import console_errors, screenshot, wait_for
from tests.tv_seed import record_runs
from web.runtime import Runtime


def runtime_for(engine: Engine, settings: Settings) -> Runtime:
    return Runtime(settings=settings, engine=engine)


def run_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(sync_runs)).scalar_one()


# --- the rows ------------------------------------------------------------------------------------------------


def test_module_rows_show_counts_errors_duration_and_next_run(engine: Engine, settings_for) -> None:
    settings = settings_for(str(engine.url), timezone="Europe/Berlin", sync_interval_minutes=10)
    finished = utcnow() - timedelta(minutes=4)
    record_runs(engine, finished - timedelta(hours=1), status="failed", error="Redmine answered 401: check the key")
    record_runs(engine, finished)
    rows = {(row["Source"], row["Module"]): row for row in status_callbacks.module_rows(runtime_for(engine, settings))}

    assert set(rows) == {("vtiger", "Cases"), ("vtiger", "Potentials"), ("vtiger", "PhoneCalls"), ("redmine", "issues")}
    issues = rows[("redmine", "issues")]
    assert issues["Result"] == "success"
    assert (issues["Inserted"], issues["Updated"], issues["Deleted"]) == (3, 2, 1)
    assert issues["Duration"] == "4.0 s"
    assert "Redmine answered 401: check the key" in issues["Last error"]
    local = finished.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert issues["Last success"] == local.strftime("%Y-%m-%d %H:%M:%S")
    # Embedded (no rq cron to ask): an estimate from the last start plus the interval, in about 6 minutes.
    assert issues["Next run"].startswith("≈ ") and "in 5 min" in issues["Next run"]
    assert issues["Rows"] == "0"


def test_status_says_which_numbers_are_being_recomputed_and_how_far(engine: Engine, settings_for) -> None:
    from models import rollups
    from models.schema import rollup_state

    settings = settings_for(str(engine.url), timezone="Europe/Berlin")
    runtime = runtime_for(engine, settings)
    rollups.rebuild(engine, "redmine", "UTC")
    assert status_callbacks.recomputing_texts(runtime) == []
    started = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    with engine.begin() as conn:  # a background rebuild claimed them and has counted 1,200 of 5,000 records
        conn.execute(rollup_state.update().values(rebuilding_since=started, rebuild_counted=1200, rebuild_of=5000))
    local = started.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S")
    assert status_callbacks.recomputing_texts(runtime) == [
        f"Numbers being recomputed: redmine, since {local} (1,200 of 5,000 records counted)."
    ]
    with engine.begin() as conn:  # a claim older than an hour is a rebuild that died: not shown as running
        conn.execute(rollup_state.update().values(rebuilding_since=started - timedelta(hours=2)))
    assert status_callbacks.recomputing_texts(runtime) == []


def test_runs_table_holds_the_last_50_newest_first(engine: Engine, settings_for) -> None:
    settings = settings_for(str(engine.url))
    start = utcnow() - timedelta(hours=30)
    for n in range(15):  # 15 x 4 modules = 60 runs
        record_runs(engine, start + timedelta(hours=n))
    rows = status_callbacks.run_rows(runtime_for(engine, settings))
    assert len(rows) == 50
    numbers = [row["#"] for row in rows]
    assert numbers == sorted(numbers, reverse=True)


def test_counts_read_with_thousands_separators_like_the_rows_column() -> None:
    from layouts.components import json_ready
    from layouts.status import runs_table, status_table

    module = {"Source": "vtiger", "Module": "Cases", "Rows": "19,194", "Inserted": 19194, "Updated": 1200,
              "Deleted": 0, "Result": "success"}  # fmt: skip
    text = str(json_ready(status_table([module])))
    assert "'19,194'" in text and "'1,200'" in text and "19194" not in text
    run = {"#": 12345, "Source": "vtiger", "Result": "success", "Inserted": 2500, "Requests": 1001}
    text = str(json_ready(runs_table([run])))
    assert "'12345'" in text  # a run's number is a name, not a count
    assert "'2,500'" in text and "'1,001'" in text


# --- sync now --------------------------------------------------------------------------------------------------


def test_sync_now_is_refused_while_a_source_is_locked(engine: Engine, settings_for) -> None:
    runtime = runtime_for(engine, settings_for(str(engine.url)))
    lock = SourceLock(engine, "redmine")
    assert lock.acquire()
    try:
        message, colour = status_callbacks.start_sync(runtime)
        assert colour == "warning" and message.startswith("Refused") and "redmine" in message
        assert status_callbacks.busy_sources(runtime) == ["redmine"]
    finally:
        lock.release()
    assert status_callbacks.busy_sources(runtime) == []


def test_sync_now_wakes_the_embedded_scheduler(sqlite_engine: Engine, settings_for) -> None:
    class Scheduler:
        def __init__(self) -> None:
            self.triggers: list[str] = []

        def run_now(self, trigger: str) -> None:
            self.triggers.append(trigger)

    runtime = runtime_for(sqlite_engine, settings_for(str(sqlite_engine.url)))
    scheduler = Scheduler()
    runtime.scheduler = scheduler  # type: ignore[assignment]  # a stand-in with the one method start_sync calls
    _message, colour = status_callbacks.start_sync(runtime)
    assert colour == "success" and scheduler.triggers == ["manual"]  # recorded as a press, not as the schedule


def test_sync_now_without_a_scheduler_runs_on_a_thread_and_refuses_a_second(
    sqlite_engine: Engine, settings_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def fake_run_all(engine: Engine, settings, *, trigger: str = "", health=None) -> dict[str, str]:
        with recorded_run(engine, "redmine", "issues", trigger=trigger):
            release.wait(10)
        return {"redmine": "ok"}

    monkeypatch.setattr("sync.scheduler.run_all", fake_run_all)
    runtime = runtime_for(sqlite_engine, settings_for(str(sqlite_engine.url)))
    assert status_callbacks.start_sync(runtime)[1] == "success"
    refused, colour = status_callbacks.start_sync(runtime)  # the thread is still running
    assert colour == "warning" and refused.startswith("Refused")
    release.set()
    assert runtime.manual_sync is not None
    runtime.manual_sync.join(10)
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(sync_runs.c.trigger, sync_runs.c.status)).all() == [("manual", "success")]


def test_sync_now_with_redis_enqueues_once(sqlite_engine: Engine, settings_for, redis_url: str, redis) -> None:
    runtime = runtime_for(sqlite_engine, settings_for(str(sqlite_engine.url), redis_url=redis_url))
    message, colour = status_callbacks.start_sync(runtime)
    assert colour == "success" and "queued" in message
    queue = Queue("sync", connection=redis)
    assert sorted(job.args[0] for job in queue.jobs) == ["redmine", "vtiger"]
    message, colour = status_callbacks.start_sync(runtime)  # both still queued: no duplicates
    assert colour == "warning" and "already queued" in message
    assert queue.count == 2


def test_next_run_comes_from_rq_cron_when_it_runs(settings_for, redis_url: str, redis) -> None:
    from rq.cron import CronScheduler

    from sync.jobs import schedule_sync

    scheduler = CronScheduler(redis, name="test-cron")
    job = scheduler.register(schedule_sync, "sync", args=("redmine",), interval=600, name="sync-redmine")
    job.set_enqueue_time(datetime.now(UTC) - timedelta(minutes=3))
    scheduler.register_birth()
    settings = settings_for(redis_url=redis_url)
    scheduled = status_callbacks.scheduled_next_runs(settings)
    assert set(scheduled) == {"redmine"}
    assert abs((scheduled["redmine"] - (utcnow() + timedelta(minutes=7))).total_seconds()) < 60


def test_rq_dashboard_is_mounted_only_with_redis(settings_for, sqlite_url: str, redis_url: str) -> None:
    with_redis = create_app(settings_for(sqlite_url, auth_disabled=True, redis_url=redis_url))
    page = with_redis.server.test_client().get("/rq/")
    assert page.status_code == 200 and b"_dash-config" not in page.data and b"Queues" in page.data
    without = create_app(settings_for(sqlite_url, auth_disabled=True))
    assert b"_dash-config" in without.server.test_client().get("/rq/").data  # just Dash's "page not found"


def test_rq_dashboard_is_behind_the_sign_in_gate(settings_for, sqlite_url: str, redis_url: str) -> None:
    from tests.auth_support import AUTH_ON

    gated = create_app(settings_for(sqlite_url, redis_url=redis_url, **AUTH_ON))
    response = gated.server.test_client().get("/rq/")
    assert response.status_code in (302, 401)  # to Google sign-in; never the dashboard


# --- in the browser --------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_status_page_in_chromium(app, live_server, browser, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = app.server.extensions["kpi"].engine
    record_runs(engine, utcnow() - timedelta(minutes=8), status="failed", error="VTiger said INVALID_AUTH_TOKEN")
    record_runs(engine, utcnow() - timedelta(minutes=2), sources=("redmine",))

    def fake_run_all(engine_: Engine, settings, *, trigger: str = "", health=None) -> dict[str, str]:
        with recorded_run(engine_, "vtiger", "Cases", trigger=trigger):
            time.sleep(0.2)
        return {"vtiger": "ok"}

    monkeypatch.setattr("sync.scheduler.run_all", fake_run_all)

    browser.get(live_server.url + "/status")
    table = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#status-rows tbody tr"), message="module rows")
    assert len(table) == 4
    assert "INVALID_AUTH_TOKEN" in browser.find_element(By.ID, "status-rows").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#status-run-rows tbody tr")) == 5
    screenshot(browser, "status-1280")

    before = run_count(engine)
    browser.find_element(By.ID, "status-sync-now").click()
    wait_for(lambda: "Sync started" in browser.find_element(By.ID, "status-sync-message").text, message="message")
    wait_for(lambda: run_count(engine) == before + 1, message="the manual run's row")
    wait_for(
        lambda: "manual" in browser.find_element(By.ID, "status-run-rows").text, message="the run listed (5 s poll)"
    )

    lock = SourceLock(engine, "vtiger")
    assert lock.acquire()
    try:
        wait_for(lambda: not browser.find_element(By.ID, "status-sync-now").is_enabled(), message="button disabled")
        assert "A sync is running now" in browser.find_element(By.ID, "status-mode").text
    finally:
        lock.release()
    wait_for(lambda: browser.find_element(By.ID, "status-sync-now").is_enabled(), message="button enabled again")
    assert console_errors(browser) == []

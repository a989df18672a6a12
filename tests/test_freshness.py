"""The freshness verdict (layouts/freshness.py), the sync-health reads behind it (models/queries.py), and the
badge every page shows in the navbar (callbacks/freshness.py), down to headless Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import Engine, insert

from layouts.freshness import assess_freshness, banner_text, describe
from models.db import utcnow
from models.queries import data_version, module_health, recent_runs
from models.schema import sync_runs
from tests.browser import console_errors, wait_for
from tests.tv_seed import record_runs

NOW = datetime(2026, 3, 4, 12, 0, 0)


def run(engine: Engine, source: str, module: str, started: datetime, status: str, error: str = "") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(sync_runs).values(
                source=source,
                module=module,
                started_at=started,
                finished_at=None if status == "running" else started + timedelta(seconds=30),
                status=status,
                error=error,
            )
        )


def test_health_reads_latest_success_failure_and_running(engine: Engine) -> None:
    run(engine, "vtiger", "Cases", NOW - timedelta(hours=2), "success")
    run(engine, "vtiger", "Cases", NOW - timedelta(hours=1), "failed", "VTIGER_ACCESS_KEY is wrong: fix it")
    run(engine, "vtiger", "Cases", NOW - timedelta(minutes=1), "running")
    run(engine, "redmine", "issues", NOW - timedelta(minutes=5), "success")

    health = {(item.source, item.module): item for item in module_health(engine)}
    cases = health[("vtiger", "Cases")]
    assert cases.running and cases.failing
    assert cases.last_success_at == NOW - timedelta(hours=2) + timedelta(seconds=30)
    assert cases.last_failure is not None and "VTIGER_ACCESS_KEY" in cases.last_failure.error
    assert not health[("redmine", "issues")].failing
    assert [item.source for item in module_health(engine, ["redmine"])] == ["redmine"]
    assert [r.status for r in recent_runs(engine, 2)] == ["success", "running"]  # newest id first
    before = data_version(engine)
    run(engine, "redmine", "issues", NOW, "success")
    assert data_version(engine) > before  # any new or finished run changes it


def test_fresh_when_every_module_succeeded_within_three_intervals(engine: Engine) -> None:
    record_runs(engine, NOW - timedelta(minutes=29))
    verdict = assess_freshness(module_health(engine), NOW, 10)
    assert verdict.level == "fresh" and verdict.ok
    assert verdict.as_of == NOW - timedelta(minutes=29)
    assert banner_text(verdict) == ""


def test_stale_after_three_intervals(engine: Engine) -> None:
    record_runs(engine, NOW - timedelta(minutes=31), sources=("vtiger",))
    record_runs(engine, NOW - timedelta(minutes=2), sources=("redmine",))
    verdict = assess_freshness(module_health(engine), NOW, 10)
    assert verdict.level == "stale"
    assert verdict.as_of == NOW - timedelta(minutes=31)  # the oldest source decides what the data covers
    assert verdict.problems == ("vtiger: last success 31 min ago.",)
    # Only the sources a page depends on count: Redmine alone is fresh.
    assert assess_freshness(module_health(engine), NOW, 10, ["redmine"]).level == "fresh"
    assert "stale" in banner_text(verdict).lower()


def test_failed_when_the_latest_finished_run_failed(engine: Engine) -> None:
    record_runs(engine, NOW - timedelta(minutes=5))
    record_runs(
        engine,
        NOW - timedelta(minutes=1),
        status="failed",
        error="Redmine answered 401\ntraceback",
        sources=("redmine",),
    )
    verdict = assess_freshness(module_health(engine), NOW, 10)
    assert verdict.level == "failed"
    assert "Redmine answered 401" in describe(verdict, NOW, "UTC")
    assert "traceback" not in describe(verdict, NOW, "UTC")  # one line per problem


def test_never_without_any_success(engine: Engine) -> None:
    assert assess_freshness(module_health(engine), NOW, 10).level == "never"
    run(engine, "vtiger", "Cases", NOW, "running")
    assert assess_freshness(module_health(engine), NOW, 10).level == "never"


@pytest.mark.browser
def test_badge_shows_last_sync_and_turns_stale(app, live_server, browser) -> None:
    engine = app.server.extensions["kpi"].engine
    record_runs(engine, utcnow() - timedelta(minutes=3))
    browser.get(live_server.url + "/status")
    badge = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#freshness-badge .freshness"), message="badge")[0]
    assert "freshness-fresh" in badge.get_attribute("class")
    assert "Synced" in badge.text
    assert badge.get_attribute("href").endswith("/status")

    record_runs(engine, utcnow() - timedelta(minutes=1), status="failed", error="boom", sources=("redmine",))
    browser.get(live_server.url + "/cases")
    wait_for(
        lambda: (
            "freshness-failed"
            in browser.find_element(By.CSS_SELECTOR, "#freshness-badge .freshness").get_attribute("class")
        ),
        message="the badge to turn red after a failed run",
    )
    assert console_errors(browser) == []

"""/redmine in headless Chromium: loads without console errors, date / window / project change the numbers and
the table, previous / next and the URL agree, issue ids link to Redmine, auto refresh shows new issues, and an
empty database shows "no data" states."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from layouts.controls import ControlTiming
from models.schema import redmine_issues
from settings import RedmineSettings
from tests.browser import LiveServer, console_errors, screenshot, serve, text_of, wait_for
from tests.control_bar import choose, number
from tests.seed_dashboards import demo_issues, issue_row, seed_statuses, write_rows

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 20, 15, 0)
TZ = "America/New_York"
REDMINE = RedmineSettings(url="https://redmine.example", api_key="k")


def build_live(settings_for: Any, url: str) -> LiveServer:
    dash_app = create_app(settings_for(url, auth_disabled=True, timezone=TZ, redmine=REDMINE))
    runtime = dash_app.server.extensions["kpi"]
    runtime.clock = lambda: NOW
    runtime.control_timing = ControlTiming(refresh_unit_ms=1000)
    return serve(dash_app)


@pytest.fixture
def live(settings_for: Any, sqlite_url: str) -> Iterator[LiveServer]:
    running = build_live(settings_for, sqlite_url)
    yield running
    running.stop()
    running.app.server.extensions["kpi"].engine.dispose()


def engine_of(live: LiveServer) -> Any:
    return live.app.server.extensions["kpi"].engine


def test_redmine_page_follows_the_controls(live: LiveServer, browser: Any) -> None:
    seed_statuses(engine_of(live))
    write_rows(engine_of(live), redmine_issues, demo_issues(NOW, count=300, days=120))
    browser.get(live.url + "/redmine?window=week")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#redmine-table .ag-row"), message="table rows")
    assert console_errors(browser) == []
    totals = [number(browser, f"redmine-total-{name}") for name in ("all", "open", "closed", "rejected")]
    assert int(totals[0].replace(",", "")) == 300
    assert sum(int(value) for value in totals[1:]) == 300

    # Issue ids link to Redmine.
    link = browser.find_element(By.CSS_SELECTOR, "#redmine-table .ag-row a")
    assert link.get_attribute("href") == f"https://redmine.example/issues/{link.text}"

    caption = text_of(browser, "#redmine-table-caption")
    browser.find_element(By.ID, "redmine-prev").click()
    wait_for(lambda: browser.current_url.endswith("/redmine?date=2026-11-19&window=week"), message="the URL")
    browser.find_element(By.ID, "redmine-prev").click()
    browser.find_element(By.ID, "redmine-prev").click()
    browser.find_element(By.ID, "redmine-prev").click()  # Monday 16 Nov: still the same week
    wait_for(lambda: browser.current_url.endswith("?date=2026-11-16&window=week"), message="16 Nov in the URL")
    browser.find_element(By.ID, "redmine-prev").click()  # Sunday 15 Nov: the week before
    wait_for(lambda: "09 Nov – 15 Nov 2026" in text_of(browser, "#redmine-table-caption"), message="last week")
    assert text_of(browser, "#redmine-table-caption") != caption
    browser.find_element(By.ID, "redmine-next").click()
    wait_for(lambda: browser.current_url.endswith("?date=2026-11-16&window=week"), message="next: 16 Nov")

    all_open = number(browser, "redmine-total-open")
    choose(browser, "redmine", "Portal")
    wait_for(lambda: "project=Portal" in browser.current_url, message="project=Portal in the URL")
    wait_for(lambda: number(browser, "redmine-total-open") != all_open, message="the Portal numbers")
    wait_for(lambda: "Open in Portal" in text_of(browser, "#redmine-open-b-title"), message="the project chart")
    assert console_errors(browser) == []
    screenshot(browser, "redmine-1280")

    # The navigation bar switches pages without a reload; each page renders its own state.
    browser.find_element(By.LINK_TEXT, "Cases").click()
    wait_for(lambda: browser.find_elements(By.ID, "cases-day-created"), message="the cases page")
    wait_for(lambda: browser.current_url.endswith("/cases"), message="the cases URL")
    browser.find_element(By.LINK_TEXT, "Redmine").click()
    wait_for(lambda: browser.find_elements(By.ID, "redmine-total-all"), message="the redmine page again")
    wait_for(lambda: number(browser, "redmine-total-all") == "300", message="the redmine numbers again")
    assert console_errors(browser) == []


def test_auto_refresh_and_an_empty_database(live: LiveServer, browser: Any) -> None:
    browser.get(live.url + "/redmine")
    wait_for(lambda: browser.find_elements(By.ID, "redmine-day-created"), message="the cards")
    assert number(browser, "redmine-day-created") == "0"
    assert number(browser, "redmine-day-kill-rate") == "—"
    assert "No issue closed" in text_of(browser, "#redmine-day-leaderboard")
    wait_for(lambda: "No issues yet" in text_of(browser, "#redmine-history"), message="the empty history")
    assert console_errors(browser) == []

    minutes = browser.find_element(By.ID, "redmine-refresh-minutes")
    minutes.send_keys(Keys.CONTROL, "a")
    minutes.send_keys("1", Keys.ENTER)
    browser.find_element(By.ID, "redmine-refresh-on").click()
    write_rows(
        engine_of(live),
        redmine_issues,
        [issue_row(1, created_at=NOW - timedelta(hours=1)), issue_row(2, created_at=NOW - timedelta(hours=2))],
    )
    wait_for(lambda: number(browser, "redmine-day-created") == "2", message="the new issues to show")
    # the page refreshes every second here: read the total once it has settled, not mid-render
    wait_for(lambda: number(browser, "redmine-total-open") == "2", message="the new issues in the open total")

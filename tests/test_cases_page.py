"""/cases in headless Chromium: loads without console errors, date / window / group change the numbers and the
table, previous / next and the URL agree (back button included), bad URLs give a notice, auto refresh shows
new rows without a reload, "today" rolls over at midnight, and an empty database shows "no data" states."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import create_app
from layouts.controls import ControlTiming
from models.schema import cases
from tests.browser import LiveServer, console_errors, screenshot, serve, start_chromium, text_of, wait_for
from tests.control_bar import choose, number
from tests.seed_dashboards import case_row, demo_cases, write_rows

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 20, 15, 0)  # naive UTC: Friday 20 November 2026, 16:00 in Berlin
TZ = "Europe/Berlin"


class Clock:
    """The app's injectable clock (Runtime.clock); tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_live(settings_for: Any, url: str, *, clock: Clock, timing: ControlTiming | None = None) -> LiveServer:
    dash_app = create_app(settings_for(url, auth_disabled=True, timezone=TZ))
    runtime = dash_app.server.extensions["kpi"]
    runtime.clock = clock
    if timing:
        runtime.control_timing = timing
    return serve(dash_app)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def seeded(settings_for: Any, sqlite_url: str, clock: Clock) -> Iterator[LiveServer]:
    live = build_live(settings_for, sqlite_url, clock=clock, timing=ControlTiming(refresh_unit_ms=1000))
    write_rows(live.app.server.extensions["kpi"].engine, cases, demo_cases(NOW, count=500, days=120))
    yield live
    live.stop()
    live.app.server.extensions["kpi"].engine.dispose()


def start_browser(width: int, height: int) -> Any:
    """Chromium at this size. Desktop Chromium will not make a window narrower than about 500 px, so phone
    sizes are emulated (as DevTools' device mode does) to get a real 390 px layout viewport."""
    driver = start_chromium(max(width, 500), height)
    if width < 500:
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    return driver


def resize(driver: Any, width: int, height: int) -> None:
    if width < 500:
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    else:
        driver.set_window_size(width, height)


def wait_loaded(driver: Any) -> None:
    wait_for(lambda: driver.find_elements(By.ID, "cases-day-created"), message="the cases cards")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#cases-table .ag-row"), message="table rows")


def table_caption(driver: Any) -> str:
    return text_of(driver, "#cases-table-caption")


def choose_window(driver: Any, label: str) -> None:
    driver.find_element(By.XPATH, f"//*[@id='cases-window']//label[normalize-space()='{label}']").click()


def test_cases_page_loads_and_follows_the_controls(seeded: LiveServer, browser: Any) -> None:
    browser.get(seeded.url + "/cases")
    wait_loaded(browser)
    assert console_errors(browser) == []
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(seeded.url) for name in resources)  # nothing from a CDN
    assert "Today" in text_of(browser, "#cases-subtitle")
    today_numbers = [number(browser, f"cases-day-{kpi}") for kpi in ("created", "resolved", "worked")]
    first_caption = table_caption(browser)
    assert "Friday, 20 November 2026" in first_caption

    # Previous day: the URL gets the date, the numbers and the table follow.
    browser.find_element(By.ID, "cases-prev").click()
    wait_for(lambda: browser.current_url.endswith("/cases?date=2026-11-19"), message="the URL to show 19 Nov")
    wait_for(lambda: "Thursday, 19 November 2026" in table_caption(browser), message="the table for 19 Nov")
    yesterday_numbers = [number(browser, f"cases-day-{kpi}") for kpi in ("created", "resolved", "worked")]
    assert yesterday_numbers != today_numbers
    browser.find_element(By.ID, "cases-prev").click()
    wait_for(lambda: browser.current_url.endswith("?date=2026-11-18"), message="the URL to show 18 Nov")
    browser.find_element(By.ID, "cases-next").click()
    wait_for(lambda: browser.current_url.endswith("?date=2026-11-19"), message="next to go back to 19 Nov")
    wait_for(
        lambda: [number(browser, f"cases-day-{k}") for k in ("created", "resolved", "worked")] == yesterday_numbers
    )

    # The browser's back button restores the earlier view from the URL.
    browser.back()
    wait_for(lambda: browser.current_url.endswith("?date=2026-11-18"), message="back to 18 Nov")
    wait_for(lambda: "Wednesday, 18 November 2026" in table_caption(browser), message="the table for 18 Nov")

    # Window: the table now lists the week, and the URL says so.
    choose_window(browser, "Week")
    wait_for(lambda: "window=week" in browser.current_url, message="window=week in the URL")
    wait_for(lambda: "16 Nov – 22 Nov 2026" in table_caption(browser), message="the week's table")
    week_worked = number(browser, "cases-week-worked")
    # the table is the card's rows (all of them, a block at a time)
    wait_for(lambda: text_of(browser, "#cases-table-count") == f"{week_worked} rows", message="the week's rows")

    # Group: every number follows.
    all_groups_month = number(browser, "cases-month-created")
    choose(browser, "cases", "Support")
    wait_for(lambda: "group=Support" in browser.current_url, message="group=Support in the URL")
    wait_for(lambda: number(browser, "cases-month-created") != all_groups_month, message="the Support numbers")
    assert "Support" in text_of(browser, "#cases-subtitle")

    # Today: back to following today (no date in the URL).
    browser.find_element(By.ID, "cases-today").click()
    wait_for(lambda: "date=" not in browser.current_url, message="the date to leave the URL")
    assert console_errors(browser) == []
    screenshot(browser, "cases-desktop")


def test_a_link_reproduces_the_view_and_bad_values_give_a_notice(seeded: LiveServer, browser: Any) -> None:
    browser.get(seeded.url + "/cases?date=2026-11-02&window=month&group=Support")
    wait_loaded(browser)
    assert "November 2026" in table_caption(browser)
    assert browser.find_element(By.ID, "cases-date").get_attribute("value").endswith("2 Nov 2026")
    assert "Support" in text_of(browser, "#cases-subtitle")
    assert "is-selected" in browser.find_element(By.ID, "cases-window-month").get_attribute("class")

    browser.get(seeded.url + "/cases?date=2026-13-45&group=Nope&window=year")
    wait_loaded(browser)
    notice = wait_for(lambda: text_of(browser, "#cases-notice"), message="the notice")
    assert "2026-13-45" in notice and "year" in notice and "Nope" in notice
    assert "All groups · Today" in text_of(browser, "#cases-subtitle")
    assert console_errors(browser) == []


def test_auto_refresh_shows_new_rows_without_a_reload(seeded: LiveServer, browser: Any) -> None:
    browser.get(seeded.url + "/cases")
    wait_loaded(browser)
    before = int(number(browser, "cases-day-created"))
    browser.execute_script("window.__not_reloaded = true")
    minutes = browser.find_element(By.ID, "cases-refresh-minutes")
    minutes.send_keys(Keys.CONTROL, "a")
    minutes.send_keys("2", Keys.ENTER)  # "minutes" last one second in this app (ControlTiming)
    browser.find_element(By.CSS_SELECTOR, "#cases-refresh-on").click()
    wait_for(lambda: "next in" in text_of(browser, "#cases-countdown"), message="a visible countdown")
    engine = seeded.app.server.extensions["kpi"].engine
    write_rows(engine, cases, [case_row(9001 + n, created_at=NOW - timedelta(minutes=n + 1)) for n in range(3)])
    wait_for(lambda: int(number(browser, "cases-day-created")) == before + 3, message="the new cases to show")
    assert browser.execute_script("return window.__not_reloaded") is True
    # The choice is remembered by the browser.
    browser.refresh()
    wait_loaded(browser)
    wait_for(lambda: browser.find_element(By.ID, "cases-refresh-on").is_selected(), message="the switch to stay on")
    assert browser.find_element(By.ID, "cases-refresh-minutes").get_attribute("value") == "2"
    assert console_errors(browser) == []


def test_today_rolls_over_at_midnight(settings_for: Any, sqlite_url: str) -> None:
    clock = Clock(datetime(2026, 11, 20, 22, 59))  # 23:59 in Berlin
    live = build_live(settings_for, sqlite_url, clock=clock, timing=ControlTiming(clock_ms=300))
    engine = live.app.server.extensions["kpi"].engine
    write_rows(engine, cases, [case_row(1, created_at=datetime(2026, 11, 20, 23, 30))])  # Saturday 00:30
    driver = start_chromium(1280, 900)
    try:
        driver.get(live.url + "/cases")
        wait_for(lambda: number(driver, "cases-day-created") == "0", message="Friday's figures")
        clock.now = datetime(2026, 11, 20, 23, 1)  # 00:01 on Saturday in Berlin
        wait_for(lambda: number(driver, "cases-day-created") == "1", message="the page to roll over to Saturday")
        assert driver.find_element(By.ID, "cases-date").get_attribute("value").endswith("21 Nov 2026")
        assert "date=" not in driver.current_url
    finally:
        driver.quit()
        live.stop()
        engine.dispose()


def test_empty_database_and_an_empty_group_show_no_data(settings_for: Any, sqlite_url: str, clock: Clock) -> None:
    live = build_live(settings_for, sqlite_url, clock=clock)
    driver = start_browser(390, 844)
    try:
        driver.get(live.url + "/cases")
        wait_for(lambda: driver.find_elements(By.ID, "cases-day-created"), message="the cards")
        assert number(driver, "cases-day-created") == "0"
        assert number(driver, "cases-day-kill-rate") == "—"
        assert "No case resolved" in text_of(driver, "#cases-day-leaderboard")
        wait_for(lambda: "No open cases" in text_of(driver, "#cases-open-panel"), message="no open cases")
        wait_for(lambda: "No cases yet" in text_of(driver, "#cases-history"), message="the empty history chart")
        assert console_errors(driver) == []
        engine = live.app.server.extensions["kpi"].engine
        write_rows(engine, cases, [case_row(1, created_at=NOW - timedelta(hours=1), group_name="Support")])
        driver.get(live.url + "/cases?group=Support")
        wait_for(lambda: number(driver, "cases-day-created") == "1", message="one record")
        screenshot(driver, "cases-mobile-one-record")
    finally:
        driver.quit()
        live.stop()


def test_screenshots_with_demo_data(seeded: LiveServer) -> None:
    for width, height, name in ((1280, 900, "cases-1280"), (390, 844, "cases-390")):
        driver = start_browser(width, height)
        try:
            driver.get(seeded.url + "/cases?window=week")
            wait_loaded(driver)
            wait_for(lambda d=driver: d.find_elements(By.CSS_SELECTOR, "#cases-history .bars"), message="the history")
            assert driver.execute_script("return document.documentElement.scrollWidth") <= width
            screenshot(driver, name)
            resize(driver, width, driver.execute_script("return document.body.scrollHeight") + 120)
            screenshot(driver, name + "-full")
            assert console_errors(driver) == []
        finally:
            driver.quit()

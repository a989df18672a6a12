"""Issue 12 item 5 in headless Chromium: a figure's (i) shows its definition on hover at 1920×1080 and on a tap at
390×844 (a real touch, through the DevTools protocol), the "What the numbers mean" panel opens and lists every
definition of the page, and a kill rate above 100 % carries its explanation under the card."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from metrics.catalogue import BACKLOG_SHRANK, entry, page_entries
from models.schema import cases
from tests.browser import LiveServer, console_errors, start_chromium, wait_for
from tests.seed_dashboards import case_row, demo_cases, write_rows
from tests.test_cases_page import Clock, build_live

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 20, 15, 0)  # naive UTC: Friday 20 November 2026, 16:00 in Berlin


@pytest.fixture
def live(settings_for: Any, sqlite_url: str) -> Iterator[LiveServer]:
    """/cases with a day on which far more cases were resolved than created: a kill rate above 100 %."""
    server = build_live(settings_for, sqlite_url, clock=Clock(NOW))
    engine = server.app.server.extensions["kpi"].engine
    write_rows(engine, cases, demo_cases(NOW, count=200, days=60))
    morning = datetime(2026, 11, 20, 9)
    backlog = [
        case_row(9000 + n, created_at=datetime(2026, 10, 1), status="Resolved", resolved_at=morning, updated_at=morning)
        for n in range(40)
    ]
    write_rows(engine, cases, backlog)
    yield server
    server.stop()
    engine.dispose()


def open_cases(driver: Any, url: str) -> None:
    driver.get(url + "/cases")
    wait_for(lambda: driver.find_elements(By.ID, "cases-day-kill-rate-info"), message="the kill rate's (i)")


def shown_definition(driver: Any) -> str:
    """The text of the definition popover on screen ("" when none is visible)."""
    found = driver.find_elements(By.CSS_SELECTOR, ".kpi-definition")
    return " ".join(element.text for element in found if element.is_displayed())


def inside_viewport(driver: Any, css: str) -> bool:
    box = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.left, r.top, r.right, r.bottom, innerWidth, innerHeight];",
        css,
    )
    left, top, right, bottom, width, height = box
    return left >= 0 and top >= 0 and right <= width and bottom <= height and right > left


def test_hovering_the_i_shows_the_definition_on_a_desktop(live: LiveServer) -> None:
    driver = start_chromium(1920, 1080)
    try:
        open_cases(driver, live.url)
        assert shown_definition(driver) == ""
        button = driver.find_element(By.ID, "cases-day-kill-rate-info")
        assert button.is_displayed()
        ActionChains(driver).move_to_element(button).perform()
        text = entry("cases.kill_rate").text
        wait_for(lambda: shown_definition(driver) == text, message="the kill rate's definition on hover")
        assert inside_viewport(driver, ".kpi-definition")
        # Moving away hides it again.
        ActionChains(driver).move_to_element(driver.find_element(By.ID, "cases-subtitle")).perform()
        wait_for(lambda: shown_definition(driver) == "", message="the definition to go when the mouse leaves")
        assert console_errors(driver) == []
    finally:
        driver.quit()


def tap(driver: Any, element: Any) -> None:
    """A finger's tap at the element's centre (touch events, as a phone sends them)."""
    x, y = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2];", element
    )
    point = [{"x": x, "y": y}]
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_tapping_the_i_shows_the_definition_on_a_phone(live: LiveServer) -> None:
    driver = start_chromium(500, 844)
    try:
        metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
        open_cases(driver, live.url)
        button = driver.find_element(By.ID, "cases-day-created-info")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        assert button.is_displayed() and button.size["width"] >= 16
        tap(driver, button)
        text = entry("cases.created").text
        wait_for(lambda: shown_definition(driver) == text, message="the definition after a tap")
        assert inside_viewport(driver, ".kpi-definition")  # readable: not cut at the screen's edge
        # A tap elsewhere closes it.
        tap(driver, driver.find_element(By.ID, "cases-subtitle"))
        wait_for(lambda: shown_definition(driver) == "", message="the definition to close on a tap elsewhere")
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_the_panel_opens_and_lists_the_definitions_and_a_high_kill_rate_says_why(live: LiveServer) -> None:
    driver = start_chromium(1920, 1080)
    try:
        open_cases(driver, live.url)
        rate = driver.find_element(By.ID, "cases-day-kill-rate")
        assert int(rate.text.rstrip("%")) > 100
        note = rate.find_element(By.XPATH, "following-sibling::div[contains(@class, 'kpi-note')]")
        assert note.is_displayed() and note.text == BACKLOG_SHRANK
        assert note.size["height"] > 0 and driver.execute_script(
            "return arguments[0].scrollWidth <= arguments[0].clientWidth", note
        )

        panel = driver.find_element(By.ID, "cases-meaning")
        terms = panel.find_elements(By.TAG_NAME, "dt")
        assert not any(term.is_displayed() for term in terms)  # folded until asked
        summary = panel.find_element(By.TAG_NAME, "summary")
        assert summary.text == "What the numbers mean"

        def open_panel() -> bool:
            # The table's rows arrive in a second request and can move the panel between the scroll and the click.
            if not terms[0].is_displayed():
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
                summary.click()
            return all(term.is_displayed() for term in terms)

        wait_for(open_panel, timeout=40, message="the panel to open")  # a loaded machine re-renders slowly
        shown = [(t.text, d.text) for t, d in zip(terms, panel.find_elements(By.TAG_NAME, "dd"), strict=True)]
        assert shown == [(found.title, found.text) for found in page_entries("cases")]
        assert console_errors(driver) == []
    finally:
        driver.quit()

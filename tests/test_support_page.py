"""/support in headless Chromium: the figures a person sees match the hand-computed ones (tests/test_support.py's
cases), the at-risk and breached lists link to VTiger and the links can be clicked, nothing reads NaN / None /
NaT, and at 390 px the page does not scroll sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from settings import RedmineSettings, VtigerSettings
from tests.browser import LiveServer, console_errors, screenshot, serve, start_chromium, wait_for
from tests.test_mobile import assert_no_sideways_scroll, sized
from tests.test_support import BERLIN, NOW, RECORD_URL, seed_support_rows

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings_for: Any, sqlite_url: str) -> Iterator[LiveServer]:
    vtiger = VtigerSettings("https://acme.od1.vtiger.com", "api", "key", record_url=RECORD_URL)
    settings = settings_for(
        sqlite_url, auth_disabled=True, timezone=BERLIN, vtiger=vtiger,
        redmine=RedmineSettings("https://redmine.example", "k"),
    )  # fmt: skip
    dash_app = create_app(settings)
    dash_app.server.extensions["kpi"].clock = lambda: NOW
    seed_support_rows(dash_app.server.extensions["kpi"].engine)
    running = serve(dash_app)
    yield running
    running.stop()
    dash_app.server.extensions["kpi"].engine.dispose()


def card(driver: Any, card_id: str) -> str:
    return driver.find_element(By.ID, card_id).text


def assert_clean(driver: Any) -> None:
    text = driver.find_element(By.ID, "page-content").text
    for word in ("NaN", "None", "NaT", "null", "undefined"):
        assert word not in text, word


def test_support_page_shows_the_figures_and_links(live: LiveServer, browser: Any) -> None:
    browser.get(live.url + "/support")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#support-cards .kpi-value"), message="cards")
    assert console_errors(browser) == []
    assert card(browser, "support-resolved") == "4"
    assert card(browser, "support-median") == "2.5"  # business hours: 0, 1, 4, 17
    assert card(browser, "support-sla-met") == "50%"
    assert card(browser, "support-sla-breached") == "2"
    assert card(browser, "support-reopened") == "1"
    assert card(browser, "support-backlog") == "5"
    assert "34.5 h calendar" in browser.find_element(By.ID, "support-cards").text
    assert_clean(browser)

    links = browser.find_elements(By.CSS_SELECTOR, "#support-at-risk a.support-case-link")
    assert [link.text for link in links] == ["CC10"]
    assert links[0].get_attribute("href") == RECORD_URL.replace("{module}", "Cases") + "10"
    breached = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#support-breached a")]
    assert breached == ["CC5", "CC7"]
    link = links[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", link)
    # Clickable: visible, and the element at its centre is the link itself (nothing covers it).
    assert link.is_displayed()
    on_top = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        "return e === arguments[0] || [e && e.tagName, r.left, r.top, window.innerWidth, window.innerHeight];",
        link,
    )
    assert on_top is True, on_top
    handles = len(browser.window_handles)
    link.click()
    wait_for(lambda: len(browser.window_handles) > handles, message="the VTiger case opens in a new tab")
    screenshot(browser, "support-desktop")


def test_support_page_fits_a_phone(live: LiveServer) -> None:
    driver = sized(start_chromium(390, 844), 390, 844)
    try:
        driver.get(live.url + "/support")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#support-cards .kpi-value"), message="cards")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#support-at-risk a"), message="lists")
        assert_no_sideways_scroll(driver, "/support at 390")
        assert_clean(driver)
        screenshot(driver, "support-phone")
    finally:
        driver.quit()

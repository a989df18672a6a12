"""The browser harness itself: the app loads in headless Chromium without console errors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import console_errors, wait_for

pytestmark = pytest.mark.browser


def test_status_page_renders_in_chromium(live_server, browser) -> None:
    browser.get(live_server.url + "/status")
    wait_for(lambda: browser.find_elements(By.ID, "status-rows"), message="the status table")
    assert browser.find_element(By.CSS_SELECTOR, ".navbar-brand").text == "KPI Dashboard"
    assert console_errors(browser) == []

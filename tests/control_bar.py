"""Browser-test helpers for the dashboard pages' standard controls (layouts/controls.py): pick an entry of the
group or project selector, read a figure. Used by the /cases and /redmine page tests; the driver is the
`browser` fixture's (tests/browser.py) or one from `start_chromium`.
"""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By

from tests.browser import text_of, wait_for


def number(driver: Any, element_id: str) -> str:
    """The text of a figure, e.g. number(driver, "cases-day-created") -> "12"."""
    return text_of(driver, f"#{element_id}")


def choose(driver: Any, prefix: str, name: str) -> None:
    """Pick `name` in the page's selector (`<prefix>-selector`: the group or the project)."""
    driver.find_element(By.ID, f"{prefix}-selector").click()
    option = wait_for(
        lambda: [
            element
            for element in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
            if element.text.strip() == name
        ],
        message=f"the {name} option",
    )
    option[0].click()

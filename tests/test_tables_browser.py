"""The pages' tables in headless Chromium, as a person sees them (issue 12 items 3, 7 and 8): a month with more
rows than one block, rows with every optional field missing, and an empty day.

On /cases, /redmine and /sales: every header label is shown whole; no cell is cut or shows "Na", "NaT", "nan",
"None" or "NaN"; the row count is beside the table; sorting a column orders every row of the window (not the 100
most recent); a filter shows "N of M rows"; an empty window says "No rows" with no pager; and the browser console
has no AG Grid warning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from tests.browser import LiveServer, serve, start_chromium, wait_for
from tests.sales_seed import derive_app
from tests.table_seed import seed_tables
from view_models import cases as case_views
from view_models import redmine as issue_views
from view_models import sales as sales_views

pytestmark = pytest.mark.browser

TZ = "Europe/Berlin"
NOW = datetime(2026, 11, 20, 15, 0)  # naive UTC
DAY = date(2026, 11, 18)
MISSING = {"Na", "NaT", "nan", "None", "NaN", "<NA>", "null", "undefined"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from dataclasses import replace

    from models.db import upgrade_database
    from settings import Settings

    url = f"sqlite:///{tmp_path_factory.mktemp('tables') / 'tables.db'}"
    upgrade_database(url)
    settings = Settings(database_url=url, testing=True, embedded_sync=False, secret_key="test-secret")
    dash_app = create_app(replace(settings, timezone=TZ, auth_disabled=True))
    dash_app.server.extensions["kpi"].clock = lambda: NOW
    seed_tables(dash_app.server.extensions["kpi"].engine)
    derive_app(dash_app)
    running = serve(dash_app)
    yield running
    running.stop()
    dash_app.server.extensions["kpi"].engine.dispose()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    chromium = start_chromium(1600, 1000)
    yield chromium
    chromium.quit()


def every_row(live: LiveServer, page: str) -> Any:
    """What the CSV export lists for the table the page shows by default (the month of DAY)."""
    runtime = live.app.server.extensions["kpi"]
    engine, settings = runtime.engine, runtime.settings
    if page == "cases":
        return case_views.case_rows(engine, settings, DAY, "month", "worked")
    if page == "redmine":
        return issue_views.issue_rows(engine, settings, DAY, "month", "activity")
    return sales_views.calls_rows(sales_views.build_sales_view(engine, settings, DAY, "", "month"))


# page -> (its table, the column sorted, its rows' column, the column filtered, the word)
TABLES = {
    "cases": ("cases-table", "created", "created", "assignee", "ann"),
    "redmine": ("redmine-table", "created", "created", "assignee", "ann"),
    "sales": ("sales-calls-table", "started_at", "started_at", "person", "cara"),
}


def grid(driver: Any, table_id: str) -> Any:
    return driver.find_element(By.ID, table_id)


def count_text(driver: Any, table_id: str) -> str:
    return driver.find_element(By.ID, f"{table_id}-count").text


def console_messages(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")]


def open_page(driver: Any, live: LiveServer, path: str, table_id: str) -> None:
    driver.get(live.url + path)
    wait_for(lambda: count_text(driver, table_id), timeout=40, message=f"the row count of {table_id}")


def header_labels(driver: Any, table_id: str) -> list[dict[str, Any]]:
    return driver.execute_script(
        """return [...arguments[0].querySelectorAll('.ag-header-cell-text')].map(label => ({
            text: label.textContent.trim(), scroll: label.scrollWidth, client: label.clientWidth,
            shown: label.getBoundingClientRect().width > 0}));""",
        grid(driver, table_id),
    )


def cells(driver: Any, table_id: str) -> list[dict[str, Any]]:
    return driver.execute_script(
        """return [...arguments[0].querySelectorAll('.ag-row .ag-cell')].map(cell => ({
            text: cell.textContent, scroll: cell.scrollWidth, client: cell.clientWidth,
            col: cell.getAttribute('col-id')}));""",
        grid(driver, table_id),
    )


def click(driver: Any, element: Any) -> None:
    """Click as a person does: the element in the middle of the screen, clear of the sticky control bar."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


def first_cell(driver: Any, table_id: str, column: str) -> str:
    return (
        grid(driver, table_id)
        .find_element(By.CSS_SELECTOR, f".ag-center-cols-container .ag-row[row-index='0'] .ag-cell[col-id='{column}']")
        .text
    )


@pytest.mark.parametrize("page", ["cases", "redmine", "sales"])
def test_table_sorts_and_filters_every_row_with_labels_and_counts(live: LiveServer, driver: Any, page: str) -> None:
    table_id, sort_column, row_column, filter_column, word = TABLES[page]
    rows = every_row(live, page)
    assert len(rows) > 100  # more than one block: the old table sorted only the 100 most recent
    console_messages(driver)  # from here on
    open_page(driver, live, f"/{page}?date={DAY}&window=month", table_id)
    wait_for(lambda: count_text(driver, table_id) == f"{len(rows)} rows", message="the count of every row")

    labels = header_labels(driver, table_id)
    assert labels and all(label["text"] and label["shown"] for label in labels), labels
    clipped = [label["text"] for label in labels if label["scroll"] > label["client"]]
    assert clipped == [], f"header labels cut: {clipped}"
    shown = wait_for(lambda: cells(driver, table_id), message="the first block's cells")
    assert [cell for cell in shown if cell["text"].strip() in MISSING] == []
    cut = [(cell["col"], cell["text"]) for cell in shown if cell["scroll"] > cell["client"] + 1]
    assert cut == [], f"cells cut: {cut[:5]}"

    # Sorting orders every row of the window: the earliest of them all comes first.
    earliest = min(text for text in rows[row_column] if text)
    header = grid(driver, table_id).find_element(
        By.CSS_SELECTOR, f".ag-header-cell[col-id='{sort_column}'] .ag-header-cell-text"
    )
    click(driver, header)
    wait_for(lambda: first_cell(driver, table_id, sort_column) == earliest, message=f"{earliest} first")
    click(driver, header)
    latest = max(text for text in rows[row_column] if text)
    wait_for(lambda: first_cell(driver, table_id, sort_column) == latest, message=f"{latest} first")

    # A filter keeps the matching rows of the whole window and says how many of how many.
    people = rows["person" if page == "sales" else "assignee"]
    matching = sum(word in str(name).lower() for name in people)
    assert 0 < matching < len(rows)
    box = grid(driver, table_id).find_element(
        By.CSS_SELECTOR, f".ag-header-row-filter .ag-floating-filter[col-id='{filter_column}'] input"
    )
    click(driver, box)
    box.send_keys(word)
    wait_for(lambda: count_text(driver, table_id) == f"{matching} of {len(rows)} rows", message="the filtered count")
    shown = cells(driver, table_id)
    names = {cell["text"] for cell in shown if cell["col"] == filter_column}
    assert names and all(word in name.lower() for name in names)
    clipped = [label["text"] for label in header_labels(driver, table_id) if label["scroll"] > label["client"]]
    assert clipped == [], f"header labels cut once filtered: {clipped}"

    ag_grid = [message for message in console_messages(driver) if "AG Grid" in message or "ag-grid" in message]
    assert ag_grid == []


@pytest.mark.parametrize(
    ("page", "tables"),
    [
        ("cases", ["cases-table"]),
        ("redmine", ["redmine-table"]),
        ("sales", ["sales-changes-table", "sales-calls-table"]),
    ],
)
def test_an_empty_window_says_no_rows_without_a_pager(
    live: LiveServer, driver: Any, page: str, tables: list[str]
) -> None:
    console_messages(driver)
    open_page(driver, live, f"/{page}?date=2026-01-05", tables[0])
    for table_id in tables:
        wait_for(lambda table_id=table_id: count_text(driver, table_id) == "0 rows", message="0 rows")
        overlay = wait_for(
            lambda table_id=table_id: [
                element
                for element in grid(driver, table_id).find_elements(By.CSS_SELECTOR, ".ag-overlay-no-rows-center")
                if element.is_displayed()
            ],
            message="the No rows overlay",
        )
        assert overlay[0].text == "No rows"
        assert all(label["text"] for label in header_labels(driver, table_id))
    text = driver.find_element(By.TAG_NAME, "body").text
    assert "Page 0 of 0" not in text and "0 to 0 of 0" not in text
    ag_grid = [message for message in console_messages(driver) if "AG Grid" in message or "ag-grid" in message]
    assert ag_grid == []

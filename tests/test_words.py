"""One word for one thing (issue 12 item 8): the "all" selection, Redmine's "closed", lists that are not rankings,
"Unassigned" apart from the people; and /sales cards compared like the tracker pages' (item 4). Read as text the
components render, and in Chromium where the page's behaviour is in the browser (the refresh-minutes box)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import Engine, insert

from callbacks.tv import all_label
from layouts import redmine as redmine_layout
from layouts.components import leaderboard
from layouts.sales import all_groups_label, window_column
from layouts.tracker_page import cumulative_chart, history_chart, table_panel
from models.schema import phone_calls
from settings import KpiRules, SalesRules, Settings
from tests.browser import LiveServer, screenshot, text_of, wait_for
from tests.sales_seed import derive
from tests.test_comparisons import text_of as component_text
from view_models.page_state import PageState
from view_models.sales import build_sales_page, build_sales_views

BERLIN = "Europe/Berlin"


def class_names(component: Any) -> list[str]:
    """Every className in a component tree."""
    found = [component.className] if getattr(component, "className", None) else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += class_names(child)
    return found


def ranks(component: Any) -> list[str]:
    """The rank numbers a list shows, in order ("" where a row has none)."""
    found = []
    children = getattr(component, "children", None)
    kids: list[Any] = list(children) if isinstance(children, list | tuple) else [children]
    for child in kids:
        if getattr(child, "className", None) == "lb-rank":
            found.append(child.children)
        elif child is not None and not isinstance(child, str | int | float):
            found += ranks(child)
    return found


def test_unassigned_is_shown_apart_and_never_ranked() -> None:
    board = leaderboard([("Ann", 5), ("Unassigned", 4), ("Bob", 3), ("Cy", 1)], max_entries=2)
    text = component_text(board)
    assert ranks(board) == ["1", "2", ""]  # Ann 1, Bob 2; Unassigned has no number
    assert text.index("Bob") < text.index("and 1 more") < text.index("Unassigned")  # Cy is the one more
    assert "lb-apart" in class_names(board)


def test_status_lists_are_not_rankings() -> None:
    board = leaderboard([("New", 7), ("In Progress", 3)], title="Open now per status", ranked=False)
    assert ranks(board) == ["", ""]
    assert "leaderboard is-unranked" in class_names(board)


def test_the_all_selection_has_one_name_everywhere(settings_for: Callable[..., Settings]) -> None:
    plain = settings_for()
    configured = settings_for(kpi=KpiRules(sales=SalesRules(groups=("Sales",))))
    assert all_groups_label(plain.kpi.sales) == "All groups"  # was "Everyone" on /sales
    assert all_groups_label(configured.kpi.sales) == "All sales groups"
    assert all_label(plain, "sales") == all_label(plain, "cases") == "All groups"  # the TV says what the page says
    assert all_label(configured, "sales") == "All sales groups"
    assert all_label(plain, "redmine") == "All projects"


def test_redmine_says_closed_on_cards_table_and_charts() -> None:
    page = redmine_layout.PAGE
    assert [card.label for card in page.cards] == ["Created", "Closed", "Updated", "Kill rate"]
    assert "Closed" in [choice["label"] for choice in page.table_kpis]
    assert "Resolved" not in [choice["label"] for choice in page.table_kpis]
    assert page.leaderboard_title == "Closed per person"
    assert "closed in window" in component_text(table_panel(page, {}))
    import pandas as pd

    from view_models.tracker_view import TrackerView

    class View(TrackerView):
        selector = ""

    history = pd.DataFrame({"label": ["Nov 2026"], "created": [2], "resolved": [1]})
    view = View(day=date(2026, 11, 20), selected="day", tz_name="UTC", windows={}, history=history)
    assert [trace["name"] for trace in history_chart(page, view)["data"]] == ["Created", "Closed"]
    empty = cumulative_chart(page, view, "resolved")
    assert empty["layout"]["annotations"][0]["text"] == "Nothing closed in these four months"


# --- /sales cards against the previous window --------------------------------------------------------------------


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    from datetime import timedelta

    return datetime(year, month, day, hour, minute, second) - timedelta(hours=1)


def call(number: int, started: datetime) -> dict[str, Any]:
    return {"source_id": f"43x{number}", "started_at": started, "assignee_name": "Ann Archer", "group_name": "Sales",
            "status": "Held", "direction": "outbound", "raw": {}}  # fmt: skip


@pytest.fixture
def sales_engine(settings_for: Callable[..., Settings], engine: Engine) -> Iterator[tuple[Engine, Settings]]:
    settings = settings_for(engine.url.render_as_string(hide_password=False), timezone=BERLIN)
    cut = berlin(2026, 12, 1, 10, 42)  # yesterday at the time "now" reads
    with engine.begin() as conn:
        conn.execute(
            insert(phone_calls),
            [
                call(1, berlin(2026, 12, 1, 10, 41, 59)),  # a second before the cut-off yesterday: counted
                call(2, cut),  # exactly at the cut-off: after it
                call(3, berlin(2026, 12, 1, 15, 0)),  # yesterday afternoon: after it
                call(4, berlin(2026, 11, 2, 9, 0)),  # 2 Nov before 10:42: in "1–2 Nov by 10:42"
                call(5, berlin(2026, 11, 20, 9, 0)),  # later in November: not
                call(6, berlin(2026, 12, 2, 8, 0)),  # today
            ],
        )
    derive(engine, settings)  # the calls' roll-ups sync would have kept
    yield engine, settings


def test_sales_cards_compare_with_the_same_elapsed_span(sales_engine: tuple[Engine, Settings]) -> None:
    engine, settings = sales_engine
    now = berlin(2026, 12, 2, 10, 42, 30)
    today = date(2026, 12, 2)
    page = build_sales_page(engine, settings, today, "", "day", 100, today=today, now=now)
    plain = build_sales_views(engine, settings, today, "", today=today, now=now)
    for views in (page, plain):
        day, month = views["day"], views["month"]
        assert day.previous and day.comparison and month.previous and month.comparison
        assert (day.totals().calls, day.previous.calls) == (1, 1)  # call 6 vs call 1
        assert day.comparison.label == "yesterday by\u00a010:42"
        assert (month.totals().calls, month.previous.calls) == (4, 1)  # 1, 2, 3, 6 vs 4
        assert month.comparison.label == "1–2\u00a0Nov by\u00a010:42"
        assert day.previous.points == 1.0  # one point a call
    state = PageState(today, "day", "", True, today, now=now)
    day_text = component_text(window_column("day", page["day"], selected=True, state=state))
    assert "= same vs yesterday by\u00a010:42" in day_text
    month_text = component_text(window_column("month", page["month"], selected=False, state=state))
    assert "▲ 3 vs 1–2\u00a0Nov by\u00a010:42" in month_text
    assert "no comparison" not in day_text + month_text
    finished = build_sales_page(engine, settings, date(2026, 12, 1), "", "day", 100, today=today, now=None)
    finished_day = finished["day"]
    assert finished_day.previous and finished_day.comparison
    assert (finished_day.previous.calls, finished_day.comparison.label) == (0, "Mon 30\u00a0Nov")


# --- in Chromium ---------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_refresh_minutes_clamp_to_the_nearest_limit(seeded_cases: LiveServer, browser: Any) -> None:
    browser.get(seeded_cases.url + "/cases")
    wait_for(lambda: browser.find_elements(By.ID, "cases-day-created"), message="the cases cards")
    box = browser.find_element(By.ID, "cases-refresh-minutes")
    for typed, shown in (("500", "60"), ("0", "1"), ("7", "7"), ("-3", "1")):
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(typed, Keys.TAB)
        wait_for(lambda shown=shown: box.get_attribute("value") == shown, message=f"{typed} -> {shown}")
    prefs = browser.execute_script("return window.localStorage.getItem('cases-refresh-prefs');")
    assert '"minutes":1' in prefs.replace(" ", "")


@pytest.mark.browser
def test_cases_page_says_what_each_card_is_compared_with(seeded_cases: LiveServer, browser: Any) -> None:
    browser.get(seeded_cases.url + "/cases")
    wait_for(lambda: browser.find_elements(By.ID, "cases-day-created"), message="the cases cards")
    # NOW is Friday 20 November 2026, 16:00 in Berlin: every window of today is still running.
    wait_for(lambda: "vs yesterday by 16:00" in spaced(browser, "#cases-window-day"), message="day label")
    assert "vs last week by Fri 16:00" in spaced(browser, "#cases-window-week")
    assert "vs 1–20 Oct by 16:00" in spaced(browser, "#cases-window-month")
    page = text_of(browser, "#cases-page")
    assert "the day before" not in page and "the month before" not in page
    labels = browser.find_elements(By.CSS_SELECTOR, ".window-col .kpi-change-label")
    assert len(labels) == 12  # four cards in each of three windows
    assert_inside_cards(browser, labels)
    screenshot(browser, "comparison-labels-desktop")
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    shown = wait_for(
        lambda: [
            label for label in browser.find_elements(By.CSS_SELECTOR, ".kpi-change-label") if label.is_displayed()
        ],
        message="the labels on a phone",
    )
    assert_inside_cards(browser, shown)
    screenshot(browser, "comparison-labels-phone")
    open_board = browser.find_element(By.ID, "cases-open-leaderboard")
    assert not [rank for rank in open_board.find_elements(By.CSS_SELECTOR, ".lb-rank") if rank.text.strip()]


def spaced(browser: Any, css: str) -> str:
    """An element's text with the labels' no-break spaces read as spaces."""
    return text_of(browser, css).replace("\u00a0", " ")


def assert_inside_cards(browser: Any, labels: list[Any]) -> None:
    """Each label is shown, whole, inside its KPI card (not cut, not running out of it)."""
    for label in labels:
        assert label.is_displayed() and label.text.startswith("vs ")
        inside = browser.execute_script(
            """const card = arguments[0].closest('.kpi-card').getBoundingClientRect();
            return [...arguments[0].getClientRects()].every(r => r.left >= card.left - 1 && r.right <= card.right + 1
                && r.top >= card.top - 1 && r.bottom <= card.bottom + 1);""",
            label,
        )
        assert inside, f"{label.text!r} runs out of its card"


@pytest.fixture
def seeded_cases(settings_for: Any, sqlite_url: str) -> Iterator[LiveServer]:
    from layouts.controls import ControlTiming
    from models.schema import cases
    from tests.seed_dashboards import demo_cases, write_rows
    from tests.test_cases_page import NOW, Clock, build_live

    live = build_live(settings_for, sqlite_url, clock=Clock(NOW), timing=ControlTiming(refresh_unit_ms=1000))
    write_rows(live.app.server.extensions["kpi"].engine, cases, demo_cases(NOW, count=300, days=60))
    yield live
    live.stop()
    live.app.server.extensions["kpi"].engine.dispose()


def test_nobody_has_one_name_per_kind_on_every_page() -> None:
    from metrics.redmine import blank_name
    from metrics.sales import UNASSIGNED as SALES_UNASSIGNED

    assert SALES_UNASSIGNED == "Unassigned"  # was "(unassigned)" on /sales' charts
    assert [blank_name(column) for column in ("assignee_name", "project_name", "status_name")] == [
        "Unassigned",
        "No project",
        "No status",
    ]  # Redmine's blanks were "(none)"
    board = leaderboard([("Firmware", 4), ("No project", 2)], ranked=False)
    assert "lb-apart" in class_names(board)

"""/sales in headless Chromium, on a month of demo-like data: the page loads without console errors, the
leaderboard order matches scores computed here by hand from the seeded rows, and changing the date and the
group changes the figures. Screenshots at desktop and phone sizes go to test-artifacts/."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import Engine, insert

from models.schema import deal_stage_changes, deals, phone_calls, vtiger_groups, vtiger_users
from tests.browser import console_errors, screenshot, serve, start_chromium, wait_for
from tests.sales_seed import derive_app

pytestmark = pytest.mark.browser

TZ = "America/New_York"
TODAY = date(2024, 6, 12)  # a Wednesday
NOW = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)  # 15:00 in New York
SALES = ["Ann Archer", "Ben Brook", "Cara Cole", "Dev Dunn", "Eve Earl"]
SUPPORT = ["Sam Stone", "Sue Sharp"]
IDLE = "Zoe Zero"  # in Sales, never scores: listed with 0


def seed_sales_demo(engine: Engine, today: date, tz_name: str = TZ) -> list[dict[str, Any]]:
    """A month of calls and stage changes up to `today` (deterministic); returns the scoring events as
    {person, points, local_day, group} for the hand computation."""
    rng = random.Random(4)
    tz = ZoneInfo(tz_name)
    events: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    deal_rows: list[dict[str, Any]] = []
    groups = [{"source_id": "20x1", "name": "Sales", "raw": {}}, {"source_id": "20x2", "name": "Support", "raw": {}}]
    for number, name in enumerate([*SALES, IDLE, *SUPPORT], 1):
        group = "20x2" if name in SUPPORT else "20x1"
        first, last = name.split()
        users.append({"source_id": f"19x{number}", "user_name": first.lower(), "first_name": first,
                      "last_name": last, "full_name": name, "status": "Active", "primary_group_id": group,
                      "raw": {}})  # fmt: skip
    deal_number = 0
    for offset in range(today.day - 1, -1, -1):
        day = today - timedelta(days=offset)
        for name in [*SALES, *SUPPORT]:
            group = "Support" if name in SUPPORT else "Sales"
            for _ in range(rng.randint(0, 9 if group == "Sales" else 3)):
                local = datetime.combine(day, datetime.min.time()) + timedelta(minutes=rng.randint(8 * 60, 18 * 60))
                started = local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
                calls.append({"source_id": f"43x{len(calls) + 1}", "started_at": started, "assignee_name": name,
                              "group_name": group, "status": "Held", "direction": "outbound", "raw": {},
                              "duration_seconds": rng.randint(20, 900), "customer_number": "+1555000"})  # fmt: skip
                events.append({"person": name, "points": 1, "day": day, "group": group})
            if group == "Sales" and rng.random() < 0.5:
                deal_number += 1
                qualifier = rng.choice(SALES)
                stage = rng.choice(["Demo Scheduled", "Demo Given", "Quote Sent"])
                local = datetime.combine(day, datetime.min.time()) + timedelta(hours=rng.randint(9, 17))
                changed = local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
                deal_id = f"5x{deal_number}"
                deal_rows.append({"source_id": deal_id, "deal_no": f"POT{deal_number}", "raw": {},
                                  "name": f"Fleet deal {deal_number}", "stage": stage, "assignee_name": name,
                                  "group_name": "Sales", "qualified_by_name": qualifier,
                                  "amount": float(rng.randint(1, 40) * 1000)})  # fmt: skip
                changes.append({"deal_source_id": deal_id, "deal_no": f"POT{deal_number}", "stage": stage,
                                "changed_at": changed, "origin": "field", "assignee_name": name,
                                "group_name": "Sales", "qualified_by_name": qualifier})  # fmt: skip
                credited = {"Demo Scheduled": qualifier, "Demo Given": name, "Quote Sent": name}[stage]
                points = {"Demo Scheduled": 5, "Demo Given": 5, "Quote Sent": 0}[stage]
                events.append({"person": credited, "points": points, "day": day, "group": "Sales"})
    with engine.begin() as conn:
        for table, rows in ((vtiger_groups, groups), (vtiger_users, users), (phone_calls, calls),
                            (deals, deal_rows), (deal_stage_changes, changes)):  # fmt: skip
            conn.execute(insert(table), rows)
    return events


def hand_scores(events: list[dict[str, Any]], first: date, last: date, group: str = "") -> Counter:
    scores: Counter = Counter()
    for event in events:
        if first <= event["day"] <= last and (not group or event["group"] == group):
            scores[event["person"]] += event["points"]
    return scores


@pytest.fixture
def sales_server(settings_for, sqlite_url: str) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    from app import create_app

    app = create_app(settings_for(sqlite_url, timezone=TZ, auth_disabled=True))
    runtime = app.server.extensions["kpi"]
    runtime.clock = lambda: NOW
    events = seed_sales_demo(runtime.engine, TODAY)
    derive_app(app)
    server = serve(app)
    yield server, events
    server.stop()
    runtime.engine.dispose()


def board(driver: Any, kind: str) -> list[tuple[str, float]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#sales-window-{kind} .sales-person")
    return [(row.get_attribute("data-person"), float(row.get_attribute("data-points"))) for row in rows]


def expected_board(scores: Counter, people: list[str]) -> list[tuple[str, float]]:
    return sorted(((name, float(scores.get(name, 0))) for name in people), key=lambda item: (-item[1], item[0]))


def test_sales_page_scores_dates_and_groups(sales_server) -> None:
    server, events = sales_server
    driver = start_chromium(1280, 900)
    try:
        driver.get(server.url + "/sales?group=Sales")
        wait_for(lambda: board(driver, "day"), message="the day leaderboard")
        day_scores = hand_scores(events, TODAY, TODAY, "Sales")
        assert board(driver, "day") == expected_board(day_scores, [*SALES, IDLE])
        week_scores = hand_scores(events, date(2024, 6, 10), TODAY, "Sales")
        assert board(driver, "week") == expected_board(week_scores, [*SALES, IDLE])
        month_scores = hand_scores(events, date(2024, 6, 1), TODAY, "Sales")
        assert board(driver, "month") == expected_board(month_scores, [*SALES, IDLE])
        team = driver.find_element(By.ID, "sales-day-points").text
        assert team == f"{sum(day_scores.values()):,}"
        assert console_errors(driver) == []
        screenshot(driver, "sales-desktop")

        # One day back: the day column shows the 11th.
        driver.find_element(By.ID, "sales-prev").click()
        yesterday = hand_scores(events, TODAY - timedelta(days=1), TODAY - timedelta(days=1), "Sales")
        wait_for(lambda: board(driver, "day") == expected_board(yesterday, [*SALES, IDLE]), message="the 11th's scores")
        query = parse_qs(urlparse(driver.current_url).query)
        assert query["date"] == ["2024-06-11"] and query["group"] == ["Sales"]
        assert yesterday != day_scores

        # Another group through the selector: Support's people and scores, in the URL too.
        driver.find_element(By.ID, "sales-selector").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[role=listbox] [role=option]"), message="options")
        option = next(
            element
            for element in driver.find_elements(By.CSS_SELECTOR, "[role=listbox] [role=option]")
            if element.text.strip() == "Support"
        )
        option.click()
        support = hand_scores(events, TODAY - timedelta(days=1), TODAY - timedelta(days=1), "Support")
        wait_for(lambda: board(driver, "day") == expected_board(support, SUPPORT), message="Support's day")
        assert parse_qs(urlparse(driver.current_url).query)["group"] == ["Support"]

        # A link reproduces a view: the week window of the 11th for Support, the week column selected.
        driver.get(server.url + "/sales?date=2024-06-11&window=week&group=Support")
        week = hand_scores(events, date(2024, 6, 10), TODAY, "Support")  # the whole week: through today
        wait_for(lambda: board(driver, "week") == expected_board(week, SUPPORT), message="Support's week")
        selected = driver.find_element(By.CSS_SELECTOR, ".window-col.is-selected").get_attribute("id")
        assert selected == "sales-window-week"
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_sales_page_on_a_phone(sales_server) -> None:
    server, _ = sales_server
    driver = start_chromium(390, 844)
    # Headless Chromium keeps a minimum window width; emulate the phone's viewport exactly instead.
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        driver.get(server.url + "/sales")
        wait_for(lambda: board(driver, "day"), message="the day leaderboard")
        # Nothing wider than the phone: the page does not scroll sideways (tables scroll inside themselves).
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        # Only the selected window's column is shown on a phone.
        assert driver.find_element(By.ID, "sales-window-day").is_displayed()
        assert not driver.find_element(By.ID, "sales-window-week").is_displayed()
        assert console_errors(driver) == []
        screenshot(driver, "sales-phone")
    finally:
        driver.quit()


def test_the_days_board_shows_each_persons_pace_in_words_and_colour(settings_for, sqlite_url: str) -> None:
    """At 15:00 New York time 6 of the 8 working hours (09:00-17:00) are gone: with a daily goal of 12 points the
    pace is 9. At or above 9 is "ahead", from 8.1 "near", below that "behind" (metrics/pace.py)."""
    from dataclasses import replace

    from app import create_app

    settings = settings_for(sqlite_url, timezone=TZ, auth_disabled=True)
    settings = replace(settings, kpi=replace(settings.kpi, sales=replace(settings.kpi.sales, daily_goal=12)))
    app = create_app(settings)
    runtime = app.server.extensions["kpi"]
    runtime.clock = lambda: NOW
    scores = hand_scores(seed_sales_demo(runtime.engine, TODAY), TODAY, TODAY, "Sales")
    derive_app(app)
    server = serve(app)
    driver = start_chromium(1280, 900)
    try:
        driver.get(server.url + "/sales?group=Sales")
        wait_for(lambda: board(driver, "day"), message="the day leaderboard")
        badges = {
            row.get_attribute("data-person"): row.find_element(By.CSS_SELECTOR, ".sp-pace-badge")
            for row in driver.find_elements(By.CSS_SELECTOR, "#sales-window-day .sales-person")
        }
        expected = {
            name: "▲ ahead of pace" if points >= 9 else "● near pace" if points >= 8.1 else "▼ behind pace"
            for name, points in ((name, scores.get(name, 0)) for name in [*SALES, IDLE])
        }
        assert {name: badge.text for name, badge in badges.items()} == expected
        assert len(set(expected.values())) >= 2  # the seeded day really has more than one level
        assert all(badge.is_displayed() for badge in badges.values())
        colours = {badge.text: badge.value_of_css_property("background-color") for badge in badges.values()}
        assert len(set(colours.values())) == len(colours)  # each word has its own colour
        # The week's and month's boards have no pace of a day.
        assert driver.find_elements(By.CSS_SELECTOR, "#sales-window-week .sp-pace-badge") == []
        assert console_errors(driver) == []
        screenshot(driver, "sales-pace")
    finally:
        driver.quit()
        server.stop()
        runtime.engine.dispose()

"""/tv (layouts/tv.py, callbacks/tv.py, assets/tv.js): the URL's pages, groups and timings with their defaults,
then in headless Chromium: rotation, no controls, the stale banner, the move to the next day at midnight with an
injected clock, refreshes that update in place, and a TV on a kiosk token."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from app import create_app, start_rollups
from models.db import utcnow
from models.schema import cases
from tests.browser import console_errors, screenshot, serve, start_chromium, wait_for
from tests.sales_seed import derive_app
from tests.seed_dashboards import store_rows
from tests.tv_seed import record_runs, seed_team
from view_models.tv_state import PAGES, Slide, TvConfig, parse_tv_query

REAL_NOW = datetime(2026, 3, 4, 12, 0, 0)
GROUPS = ["Sales", "Support"]
PROJECTS = ["Mobile", "Platform"]
CONTROLS = "input, button, select, textarea, a, [contenteditable], [tabindex]"


def parse(query: dict[str, str], *, testing: bool = False, tz: str = "UTC") -> TvConfig:
    return parse_tv_query(query, tz_name=tz, testing=testing, real_now=REAL_NOW, groups=GROUPS, projects=PROJECTS)


# --- the URL ---------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    config = parse({})
    assert config.slides == tuple(Slide(page, "") for page in PAGES)
    assert (config.rotate_seconds, config.refresh_seconds, config.reload_hours) == (30, 60, 6.0)
    assert config.clock_offset_seconds == 0


def test_pages_and_groups_make_the_slides() -> None:
    config = parse({"pages": "cases,sales,redmine", "group": "support,Sales", "project": "Platform", "rotate": "45"})
    assert config.slides == (
        Slide("cases", "Support"),  # the known spelling, whatever the URL's case
        Slide("cases", "Sales"),
        Slide("sales", "Support"),
        Slide("sales", "Sales"),
        Slide("redmine", "Platform"),
    )
    assert config.rotate_seconds == 45
    pinned = parse({"pages": "cases:Support,sales:Sales,redmine,cases:Support"})
    assert pinned.slides == (Slide("cases", "Support"), Slide("sales", "Sales"), Slide("redmine", ""))


@pytest.mark.parametrize(
    "query",
    [
        {"pages": "bogus,,", "group": "Nobody", "rotate": "abc", "refresh": "-1", "reload": "nan"},
        {"pages": "", "rotate": "0", "refresh": "99999", "reload": "-2"},
        {"rotate": "2", "refresh": "1", "reload": "0.001"},  # fast values are for tests only
        {"pages": "cases:Nobody", "project": "Nope"},
    ],
)
def test_invalid_values_fall_back_to_defaults(query: dict[str, str]) -> None:
    config = parse(query)
    assert {slide.selector for slide in config.slides} == {""}
    assert (config.rotate_seconds, config.refresh_seconds, config.reload_hours) == (30, 60, 6.0)


def test_fast_timings_and_an_injected_clock_only_when_testing() -> None:
    query = {"rotate": "2", "refresh": "1", "reload": "0.001", "now": "2026-03-04T23:59:50"}
    assert parse(query).clock_offset_seconds == 0
    testing = parse(query, testing=True, tz="America/Chicago")
    assert (testing.rotate_seconds, testing.refresh_seconds, testing.reload_hours) == (2, 1, 0.001)
    injected = datetime(2026, 3, 4, 23, 59, 50, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    assert testing.clock_offset_seconds == (injected.replace(tzinfo=None) - REAL_NOW).total_seconds()
    assert parse({"now": "yesterday-ish"}, testing=True).clock_offset_seconds == 0
    with_offset = parse({"now": "2026-03-04T12:00:30 00:00"}, testing=True)  # "+" arrives as a space
    assert with_offset.clock_offset_seconds == 30


def test_config_survives_the_browser_store() -> None:
    config = parse({"pages": "sales:Sales,redmine", "rotate": "20", "reload": "2"})
    assert TvConfig.from_store(config.to_store("UTC")) == config
    assert TvConfig.from_store({"slides": [["evil", "x"], [1, 2]]}).slides == tuple(Slide(p, "") for p in PAGES)
    index, slide = config.slide_at(3)
    assert (index, slide) == (1, Slide("redmine", ""))


# --- in the browser --------------------------------------------------------------------------------------------


def sized(driver, width: int, height: int):
    """An exact viewport (window sizes include browser chrome, and headless windows have a minimum width)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
    )
    return driver


def still_screenshot(driver, name: str) -> None:
    """A screenshot once the slide's 0.5 s fade-in is over."""
    time.sleep(0.8)
    screenshot(driver, name)


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


@pytest.fixture
def seeded(app):
    engine = app.server.extensions["kpi"].engine
    seed_team(engine)
    derive_app(app)
    record_runs(engine, utcnow() - timedelta(minutes=2))
    start_rollups(app.server.extensions["kpi"])  # as start-up does: the counts exist before the first screen
    return engine


@pytest.mark.browser
def test_tv_rotates_through_the_pages_without_any_control(seeded, live_server) -> None:
    driver = sized(start_chromium(1920, 1080), 1920, 1080)
    try:
        driver.get(live_server.url + "/tv?pages=cases,sales,redmine&rotate=3")
        wait_for(lambda: text(driver, "tv-title") == "Cases", message="the first slide")
        wait_for(lambda: text(driver, "tv-cases-created") == "18", message="today's cases")
        assert not driver.find_element(By.ID, "chrome").is_displayed()  # no navigation bar
        assert driver.find_elements(By.CSS_SELECTOR, f"#tv-root :is({CONTROLS})") == []
        assert text(driver, "tv-group") == "All groups"
        assert text(driver, "tv-sync").startswith("Last sync")
        assert "tv-hidden" in driver.find_element(By.ID, "tv-banner").get_attribute("class")
        still_screenshot(driver, "tv-1920-cases")

        wait_for(lambda: text(driver, "tv-title") == "Sales", timeout=15, message="the sales slide")
        wait_for(lambda: text(driver, "tv-sales-calls") == "25", message="today's calls")
        assert driver.find_elements(By.CSS_SELECTOR, f"#tv-root :is({CONTROLS})") == []
        still_screenshot(driver, "tv-1920-sales")

        wait_for(lambda: text(driver, "tv-title") == "Redmine", timeout=15, message="the redmine slide")
        wait_for(lambda: text(driver, "tv-redmine-created") == "12", message="today's issues")
        assert driver.find_elements(By.CSS_SELECTOR, f"#tv-root :is({CONTROLS})") == []
        still_screenshot(driver, "tv-1920-redmine")
        wait_for(lambda: text(driver, "tv-title") == "Cases", timeout=15, message="back to the first slide")

        # Readable from five metres: the numbers are at least 100 px tall on a 1080p screen.
        size = driver.execute_script(
            "return parseFloat(getComputedStyle(document.getElementById('tv-cases-created')).fontSize)"
        )
        assert size >= 100
        assert console_errors(driver) == []
    finally:
        driver.quit()


@pytest.mark.browser
def test_tv_on_a_phone_does_not_overflow(seeded, live_server) -> None:
    driver = sized(start_chromium(390, 844), 390, 844)
    try:
        driver.get(live_server.url + "/tv?pages=sales")
        wait_for(lambda: text(driver, "tv-sales-calls") == "25", message="the sales slide")
        assert driver.execute_script("return document.body.scrollWidth <= window.innerWidth")
        still_screenshot(driver, "tv-390-sales")
    finally:
        driver.quit()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("finished_ago", "status", "expected"),
    [(timedelta(hours=2), "success", "stale"), (timedelta(minutes=1), "failed", "failed")],
)
def test_tv_shows_a_banner_when_the_data_is_stale_or_the_sync_failed(
    app, live_server, browser, finished_ago, status, expected
) -> None:
    engine = app.server.extensions["kpi"].engine
    seed_team(engine)
    derive_app(app)
    record_runs(engine, utcnow() - timedelta(hours=2))
    if status == "failed":
        record_runs(engine, utcnow() - finished_ago, status="failed", error="VTiger answered 503", sources=("vtiger",))
    sized(browser, 1920, 1080)
    browser.get(live_server.url + "/tv?pages=cases")
    banner = wait_for(
        lambda: (element := browser.find_element(By.ID, "tv-banner")).is_displayed() and element, message="the banner"
    )
    assert f"tv-banner-{expected}" in banner.get_attribute("class")
    assert ("stale" if expected == "stale" else "failed") in banner.text.lower()
    if expected == "failed":
        assert "VTiger answered 503" in banner.text
    assert "Last successful sync" in banner.text
    still_screenshot(browser, f"tv-1920-banner-{expected}")
    assert console_errors(browser) == []


@pytest.mark.browser
def test_tv_moves_to_the_next_day_at_midnight(settings_for, sqlite_url: str) -> None:
    tz = ZoneInfo("America/Chicago")
    dash_app = create_app(settings_for(sqlite_url, auth_disabled=True, timezone="America/Chicago"))
    engine = dash_app.server.extensions["kpi"].engine
    evening = datetime(2026, 3, 4, 23, 59, 52, tzinfo=tz)
    evening_utc = evening.astimezone(UTC).replace(tzinfo=None)
    seed_team(engine, now=evening_utc)  # the day's cases, all before midnight in Chicago
    derive_app(dash_app)
    record_runs(engine, evening_utc - timedelta(minutes=1))
    server = serve(dash_app)
    driver = sized(start_chromium(1920, 1080), 1920, 1080)
    try:
        driver.get(
            server.url + f"/tv?pages=cases&refresh=600&rotate=600&now={evening.replace(tzinfo=None).isoformat()}"
        )
        wait_for(lambda: text(driver, "tv-date") == "Wednesday 4 March 2026", message="the evening's date")
        wait_for(lambda: text(driver, "tv-cases-created") == "18", message="the evening's cases")
        assert text(driver, "tv-clock") == "23:59"
        # No refresh is due for ten minutes: only the clock passing midnight can move the page on.
        wait_for(lambda: text(driver, "tv-date") == "Thursday 5 March 2026", timeout=30, message="the next day")
        # A new day starts quiet: it says so, with the evening's 18 cases as yesterday's figures.
        wait_for(lambda: "No cases yet today" in text(driver, "tv-panel"), message="the new day's (empty) slide")
        assert text(driver, "tv-cases-yesterday-created") == "18"
        assert text(driver, "tv-clock") == "00:00"
        assert console_errors(driver) == []
    finally:
        driver.quit()
        server.stop()
        engine.dispose()


@pytest.mark.browser
def test_a_refresh_never_blinks(seeded, live_server, browser) -> None:
    browser.get(live_server.url + "/tv?pages=cases&refresh=1&rotate=600")
    wait_for(lambda: text(browser, "tv-cases-created") == "18", message="today's cases")
    # Data unchanged: refreshes (one a second) leave the DOM alone. A replaced node would lose the mark. Not across
    # a minute: "vs yesterday by 10:42" moves on then, which is a change the TV must show.
    while utcnow().second > 50:
        time.sleep(0.5)
    browser.execute_script("document.getElementById('tv-cases-created').dataset.mark = 'kept';")
    time.sleep(3.5)
    assert browser.execute_script("return document.getElementById('tv-cases-created').dataset.mark") == "kept"

    # Data changed: the new figures replace the old in one step; the panel is never empty, nothing fades in.
    browser.execute_script(
        """
        window.tvBlank = 0;
        const panel = document.getElementById('tv-panel');
        new MutationObserver(() => { if (!panel.querySelector('.kpi-value')) window.tvBlank += 1; })
          .observe(panel, {childList: true, subtree: true});
        """
    )
    with seeded.begin() as conn:  # stored as sync stores a case: with its roll-ups' upkeep
        new_case = {"source_id": "39x999", "case_no": "CC999", "status": "Open", "group_name": "Support",
                    "created_at": utcnow(), "raw": {}}  # fmt: skip
        store_rows(conn, cases, [new_case])
    record_runs(seeded, utcnow())  # a sync finished: the TV's data version moves
    wait_for(lambda: text(browser, "tv-cases-created") == "19", timeout=15, message="the new case counted")
    assert browser.execute_script("return window.tvBlank") == 0
    assert browser.find_elements(By.CSS_SELECTOR, "#tv-panel .tv-entering") == []  # no fade on a data refresh
    assert console_errors(browser) == []


@pytest.mark.browser
def test_bad_url_values_show_the_default_tv(seeded, live_server, browser) -> None:
    browser.get(live_server.url + "/tv?pages=nope&group=%00&rotate=-4&refresh=x&reload=1e999&now=never&project=Nope")
    wait_for(lambda: text(browser, "tv-title") == "Cases", message="the default first slide")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".tv-dot")) == 3
    assert console_errors(browser) == []


@pytest.mark.browser
def test_a_tv_on_a_kiosk_token_needs_no_sign_in(settings_for, sqlite_url: str) -> None:
    from tests.auth_support import AUTH_ON
    from web import kiosk

    dash_app = create_app(settings_for(sqlite_url, **AUTH_ON))
    engine = dash_app.server.extensions["kpi"].engine
    seed_team(engine)
    derive_app(dash_app)
    record_runs(engine, utcnow())
    token = kiosk.create_kiosk(engine, "wall")
    server = serve(dash_app)
    driver = start_chromium(1280, 800)
    try:
        driver.get(server.url + f"/tv?kiosk={token}&pages=cases,sales&rotate=2")
        wait_for(lambda: text(driver, "tv-cases-created") == "18", message="the TV's data on a kiosk token")
        wait_for(lambda: text(driver, "tv-title") == "Sales", timeout=15, message="rotation on a kiosk token")
        assert console_errors(driver) == []  # no callback was refused
    finally:
        driver.quit()
        server.stop()
        engine.dispose()
        kiosk.forget_answers()


@pytest.mark.browser
def test_the_tv_reloads_itself_but_only_when_the_server_answers(seeded, live_server, browser) -> None:
    browser.get(live_server.url + "/tv?pages=cases&reload=0.0005")  # every 1.8 s (tests only)
    wait_for(lambda: text(browser, "tv-cases-created") == "18", message="the slide")
    browser.execute_script("window.tvMarker = 'before the reload';")
    wait_for(lambda: browser.execute_script("return window.tvMarker === undefined"), message="a full reload")
    wait_for(lambda: text(browser, "tv-cases-created") == "18", message="the slide after the reload")

    browser.execute_script("window.tvMarker = 'server gone';")
    live_server.stop()  # a reload now would leave the screen on an error page: the TV must keep what it shows
    time.sleep(6)
    assert browser.execute_script("return window.tvMarker") == "server gone"
    assert text(browser, "tv-cases-created") == "18"


def test_sales_points_bars_measure_progress_toward_the_goal() -> None:
    """On the TV, 19 points of a 100-point goal fill a fifth of the bar, not all of it."""
    from layouts.components import leaderboard

    board = leaderboard([("Elif", 19), ("Farid", 150)], scale=100)
    widths = [span.style["width"] for span in _find_all(board, "lb-bar-fill")]
    assert widths == ["19%", "100%"]


def _find_all(component, class_name: str) -> list:
    found = []
    if getattr(component, "className", None) == class_name:
        found.append(component)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            found.extend(_find_all(child, class_name))
    return found

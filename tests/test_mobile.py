"""Phones and first loads: every page at 390x844 in headless Chromium (no sideways overflow, charts inside the
screen, tables scrolling in their own box, touch targets of 44 px), screenshots at 390x844 and 1920x1080, and a
light first load (brotli/gzip on HTML, JS, CSS and JSON; the partial plotly.js bundle, loaded only by pages with
charts)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import brotli
import plotly
import pytest
from plotly.offline import get_plotlyjs_version
from selenium.webdriver.common.by import By

from settings import PROJECT_DIR
from tests.browser import console_errors, screenshot, start_chromium, wait_for
from tests.control_bar import choose
from tests.sales_seed import derive_app
from tests.tv_seed import record_runs, seed_team
from web.compression import STATIC_CACHE

PAGES = {
    "cases": "/cases",
    "support": "/support",
    "sales": "/sales",
    "redmine": "/redmine",
    "status": "/status",
    "tv": "/tv?pages=cases,sales,redmine&rotate=600",
}
READY = {  # an element that is there once the page's callbacks have filled it
    "cases": "#page-content .kpi-value",
    "support": "#support-cards .kpi-value",
    "sales": "#page-content .kpi-value, #page-content .leaderboard",
    "redmine": "#page-content .kpi-value",
    "status": "#status-rows",
    "tv": "#tv-panel .kpi-value",
}
CONTROL_PREFIX = {
    "cases": "cases",
    "support": "support",
    "sales": "sales",
    "redmine": "redmine",
}  # pages with the control bar
NAV_LINKS = [
    ("Cases", "/cases"),
    ("Support", "/support"),
    ("Sales", "/sales"),
    ("Redmine", "/redmine"),
    ("Status", "/status"),
]
PHONE_WIDTHS = [360, 390, 414, 430]
BASIC_TRACES = {"scatter", "bar", "pie"}  # what plotly.js-basic-dist-min contains
LOADER = PROJECT_DIR / "assets" / "plotly-basic.js"


# --- first load --------------------------------------------------------------------------------------------------


def test_index_bundles_and_callbacks_are_compressed(client) -> None:
    page = client.get("/cases", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert page.headers["Content-Encoding"] == "br"
    html = brotli.decompress(page.data).decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts and styles
    for url in scripts + styles:
        response = client.get(url, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200, url
        if len(response.get_data()) > 500:
            assert response.headers.get("Content-Encoding") == "br", url
        assert "Accept-Encoding" in response.headers.get("Vary", ""), url
    gzip_client = client.get(scripts[0], headers={"Accept-Encoding": "gzip"})
    assert gzip_client.headers["Content-Encoding"] == "gzip"
    plain = client.get(scripts[0])
    assert "Content-Encoding" not in plain.headers
    layout = client.get("/_dash-layout", headers={"Accept-Encoding": "br"})
    assert layout.headers["Content-Encoding"] == "br"


def test_static_bundles_get_the_best_compression_once(client) -> None:
    url = "/assets/lazy/plotly-basic-4.1.1.min.js"
    body = (PROJECT_DIR / "assets" / "lazy" / "plotly-basic-4.1.1.min.js").read_bytes()
    best = STATIC_CACHE.prepare_now(body)  # what the background thread does after the first request
    served = client.get(url, headers={"Accept-Encoding": "br"})
    assert served.data == best
    assert brotli.decompress(served.data) == body
    assert len(best) < len(body) / 3
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304


def test_the_partial_plotly_bundle_matches_plotly_and_covers_every_chart() -> None:
    version = get_plotlyjs_version()
    loader = LOADER.read_text()
    bundle_name = re.search(r'"lazy/(plotly-basic-[0-9.]+\.min\.js)"', loader)
    assert bundle_name, "assets/plotly-basic.js must name the vendored bundle"
    bundle = PROJECT_DIR / "assets" / "lazy" / bundle_name.group(1)
    head = bundle.read_text(errors="replace")[:200]
    assert f"v{version}" in head, f"vendored {bundle.name} does not match plotly.py {plotly.__version__} ({version})"
    # Every trace type the app builds must be in the basic bundle (scatter, bar, pie).
    used: set[str] = set()
    for folder in ("layouts", "callbacks", "view_models", "metrics"):
        for path in (PROJECT_DIR / folder).glob("*.py"):
            source = path.read_text()
            used |= {name.lower() for name in re.findall(r"\.add_([a-z0-9]+)\(", source)}
            used |= {name.lower() for name in re.findall(r"go\.([A-Z][a-z0-9]+)\(", source)} - {"figure", "layout"}
            used |= set(re.findall(r"\"type\": \"([a-z0-9]+)\"", source)) & {"scatter", "bar", "pie", "heatmap"}
            assert "plotly.express" not in source, f"{path.name}: px may build traces outside the basic bundle"
    assert used and used <= BASIC_TRACES, used - BASIC_TRACES


def test_lazy_assets_are_not_loaded_by_every_page(client) -> None:
    html = client.get("/status").get_data(as_text=True)
    assert "plotly-basic.js" in html  # the tiny loader
    assert "lazy/plotly-basic" not in html and "plotly.min.js" not in html


# --- phones, in Chromium -----------------------------------------------------------------------------------------


def sized(driver, width: int, height: int):
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
    )
    return driver


@pytest.fixture
def seeded_server(app, live_server):
    from models.db import utcnow

    engine = app.server.extensions["kpi"].engine
    seed_team(engine)
    derive_app(app)
    record_runs(engine, utcnow())
    return live_server


def overflow(driver) -> dict:
    return driver.execute_script(
        """
        const client = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => {
          const r = e.getBoundingClientRect();
          const fixed = getComputedStyle(e).position === 'fixed';
          // Inside a box that scrolls sideways by design (a wide table), or clipped by its own overflow.
          const scrolls = e.closest('.table-responsive, .ag-root-wrapper, .tv-root');
          return r.width > 0 && r.height > 0 && r.right > client + 1 && !fixed && !scrolls;
        }).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        return {body: document.body.scrollWidth, doc: document.documentElement.scrollWidth,
                client: client, wide: wide};
        """
    )


@pytest.fixture
def chromium_at() -> Iterator[Callable[[int, int], Any]]:
    """Chromium showing a `width` x `height` screen (a phone below 800 px); quit after the test."""
    drivers: list[Any] = []

    def start(width: int, height: int) -> Any:
        drivers.append(sized(start_chromium(width, height), width, height))
        return drivers[-1]

    yield start
    for driver in drivers:
        driver.quit()


def open_page(driver, url: str, page: str) -> None:
    driver.get(url + PAGES[page])
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, READY[page]), timeout=30, message=f"{page} filled")
    time.sleep(1)  # charts draw after their callback answers


def assert_no_sideways_scroll(driver, where: str) -> None:
    """What a thumb notices: the page does not move sideways, and nothing sticks out past the right edge."""
    measured = overflow(driver)
    assert measured["doc"] <= measured["client"], (where, measured)
    assert measured["body"] <= measured["client"], (where, measured)
    assert measured["wide"] == [], (where, measured)


def words_cut_in_two(driver, css: str) -> list[str]:
    """Words of the elements matching `css` that the browser broke across two lines ("Resolve / d")."""
    return driver.execute_script(
        """
        const cut = [];
        for (const element of document.querySelectorAll(arguments[0])) {
          const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.textContent.matchAll(/\\S+/g)) {
              const range = document.createRange();
              range.setStart(node, match.index);
              range.setEnd(node, match.index + match[0].length);
              const tops = new Set([...range.getClientRects()].map(rect => Math.round(rect.top)));
              if (tops.size > 1) cut.push(match[0]);
            }
          }
        }
        return cut;
        """,
        css,
    )


def displayed(driver, css: str) -> list:
    return [element for element in driver.find_elements(By.CSS_SELECTOR, css) if element.is_displayed()]


def all_menu_links_shown(driver) -> list:
    """The menu's links once the opening slide is over and every one shows; [] until then."""
    links = displayed(driver, "#navbar-collapse .nav-link")
    return links if len(links) == len(NAV_LINKS) else []


def tap_to_open_controls(driver, prefix: str) -> None:
    driver.find_element(By.ID, f"{prefix}-summary-toggle").click()
    wait_for(lambda: displayed(driver, f"#{prefix}-controls .control-bar"), message="the control bar opened")


@pytest.mark.browser
@pytest.mark.parametrize("width", PHONE_WIDTHS)
def test_no_page_scrolls_sideways_on_a_phone(seeded_server, chromium_at, width: int) -> None:
    driver = chromium_at(width, 844)
    for page in PAGES:
        open_page(driver, seeded_server.url, page)
        assert_no_sideways_scroll(driver, f"{page} at {width}")
        for graph in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot"):
            assert graph.rect["x"] >= 0 and graph.rect["x"] + graph.rect["width"] <= width + 1
        if width == 390:
            driver.execute_script("window.scrollTo(0, 0)")
            screenshot(driver, f"{page}-390")
        assert words_cut_in_two(driver, "#page-content .btn, #page-content label, .ctl-summary") == []
        if page in CONTROL_PREFIX:  # the same with the controls opened
            tap_to_open_controls(driver, CONTROL_PREFIX[page])
            assert_no_sideways_scroll(driver, f"{page} at {width}, controls open")
            assert words_cut_in_two(driver, ".control-bar") == []
        if page == "status":
            # The wide table scrolls sideways inside its own box.
            assert driver.execute_script(
                "const box = document.getElementById('status-rows').closest('.table-responsive');"
                "return box !== null && box.scrollWidth > box.clientWidth"
            )
        assert console_errors(driver) == []


@pytest.mark.browser
def test_the_phone_menu_opens_and_every_link_navigates(seeded_server, chromium_at) -> None:
    driver = chromium_at(390, 844)
    open_page(driver, seeded_server.url, "cases")
    assert displayed(driver, "#navbar-collapse .nav-link") == []  # folded until asked for
    for title, path in NAV_LINKS:
        toggler = driver.find_element(By.ID, "navbar-toggler")
        assert toggler.is_displayed() and toggler.rect["height"] >= 44
        toggler.click()
        links = wait_for(lambda: all_menu_links_shown(driver), message="the menu opened")
        if title == "Sales":
            time.sleep(0.5)  # the opening slide
            screenshot(driver, "menu-390")
        assert [link.text for link in links] == [name for name, _ in NAV_LINKS]
        link = next(link for link in links if link.text == title)
        assert link.rect["height"] >= 44 and link.rect["x"] + link.rect["width"] <= 390 + 1
        link.click()
        wait_for(lambda path=path: driver.current_url.split("?")[0].endswith(path), message=f"URL {path}")
        ready = READY[path.strip("/")]
        wait_for(lambda ready=ready: displayed(driver, ready), timeout=30, message=f"{title} content")
        if path != "/status":
            heading = wait_for(lambda: displayed(driver, "#page-content h1.page-title"), message="title")
            assert heading[0].text.strip().endswith(title)
        # The menu closes behind the visitor, so it does not cover the page they asked for.
        wait_for(lambda: displayed(driver, "#navbar-collapse .nav-link") == [], message="the menu closed")
    assert console_errors(driver) == []


@pytest.mark.browser
def test_the_headline_numbers_start_in_the_top_third_on_a_phone(seeded_server, chromium_at) -> None:
    driver = chromium_at(390, 844)
    for page in CONTROL_PREFIX:
        open_page(driver, seeded_server.url, page)
        driver.execute_script("window.scrollTo(0, 0)")
        banner = displayed(driver, "#auth-banner")
        assert banner and banner[0].rect["height"] <= 32, "the local-mode banner is one short line"
        card = displayed(driver, "#page-content .kpi-card")[0]
        assert card.rect["y"] <= 844 / 3, (page, card.rect)
        assert card.find_element(By.CSS_SELECTOR, ".kpi-value").text.strip()


@pytest.mark.browser
def test_the_controls_fold_into_a_summary_line_that_opens_them(seeded_server, chromium_at) -> None:
    driver = chromium_at(390, 844)
    open_page(driver, seeded_server.url, "cases")
    assert displayed(driver, "#cases-controls .control-bar") == []
    summary = driver.find_element(By.ID, "cases-summary-toggle")
    assert summary.is_displayed() and summary.rect["height"] >= 44
    today = datetime.now(ZoneInfo(seeded_server.app.server.extensions["kpi"].settings.timezone)).date()
    assert summary.text.startswith(f"Today · {today.day} {today:%b %Y} · All groups"), summary.text
    assert summary.rect["height"] <= 50, "one line"

    tap_to_open_controls(driver, "cases")
    week = next(label for label in displayed(driver, "#cases-window label") if label.text == "Week")
    week.click()

    wait_for(lambda: "window=week" in driver.current_url, message="window=week in the URL")
    selected = wait_for(lambda: displayed(driver, ".window-col.is-selected .window-name"), message="window")
    assert selected[0].text.strip().lower().startswith("week"), selected[0].text
    assert displayed(driver, "#cases-controls .control-bar"), "the bar stays open for the next change"
    choose(driver, "cases", "Support")
    summary_text = driver.find_element(By.ID, "cases-summary")
    wait_for(lambda: summary_text.text.endswith(" · Support"), message="the summary names the group")
    assert "group=Support" in driver.current_url
    summary.click()
    wait_for(lambda: displayed(driver, "#cases-controls .control-bar") == [], message="the bar folded again")
    assert console_errors(driver) == []


@pytest.mark.browser
def test_desktop_shows_the_controls_and_the_navbar_unfolded(seeded_server, chromium_at) -> None:
    driver = chromium_at(1920, 1080)
    open_page(driver, seeded_server.url, "cases")
    assert displayed(driver, "#cases-controls .control-bar")
    assert displayed(driver, "#cases-summary-toggle") == []
    assert displayed(driver, "#navbar-toggler") == []
    links = displayed(driver, "#navbar-collapse .nav-link")
    assert [link.text for link in links] == [name for name, _ in NAV_LINKS]
    links[[name for name, _ in NAV_LINKS].index("Sales")].click()
    wait_for(lambda: driver.current_url.split("?")[0].endswith("/sales"), message="the Sales link")
    banner = displayed(driver, "#auth-banner")
    assert banner and "this dashboard is open to anyone who reaches it" in banner[0].text


@pytest.mark.browser
@pytest.mark.parametrize("page", ["cases", "support", "sales", "redmine", "status"])
def test_every_page_at_1080p(seeded_server, page: str) -> None:
    driver = sized(start_chromium(1920, 1080), 1920, 1080)
    try:
        driver.get(seeded_server.url + PAGES[page])
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, READY[page]), timeout=30, message=f"{page} filled")
        time.sleep(1)
        assert driver.execute_script("return document.body.scrollWidth <= window.innerWidth")
        screenshot(driver, f"{page}-1920")
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_screenshots_in_the_docs_are_small() -> None:
    for path in Path(PROJECT_DIR / "docs" / "screenshots").glob("*.png"):
        assert path.stat().st_size < 350_000, path.name

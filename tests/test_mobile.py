"""Phones and first loads: every page at 390x844 in headless Chromium (no sideways overflow, charts inside the
screen, tables scrolling in their own box, touch targets of 44 px), screenshots at 390x844 and 1920x1080, and a
light first load (brotli/gzip on HTML, JS, CSS and JSON; the partial plotly.js bundle, loaded only by pages with
charts)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import brotli
import plotly
import pytest
from plotly.offline import get_plotlyjs_version
from selenium.webdriver.common.by import By

from compression import STATIC_CACHE
from settings import PROJECT_DIR
from tests.browser import console_errors, screenshot, start_chromium, wait_for
from tests.tv_seed import record_runs, seed_team

PAGES = {
    "cases": "/cases",
    "sales": "/sales",
    "redmine": "/redmine",
    "status": "/status",
    "tv": "/tv?pages=cases,sales,redmine&rotate=600",
}
READY = {  # an element that is there once the page's callbacks have filled it
    "cases": "#page-content .kpi-value",
    "sales": "#page-content .kpi-value, #page-content .leaderboard",
    "redmine": "#page-content .kpi-value",
    "status": "#status-rows",
    "tv": "#tv-panel .kpi-value",
}
BASIC_TRACES = {"scatter", "bar", "pie"}  # what plotly.js-basic-dist-min contains
LOADER = PROJECT_DIR / "assets" / "plotly-basic.js"


# --- first load --------------------------------------------------------------------------------------------------


def test_index_bundles_and_callbacks_are_compressed(client) -> None:  # type: ignore[no-untyped-def]
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


def test_static_bundles_get_the_best_compression_once(client) -> None:  # type: ignore[no-untyped-def]
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
    for folder in ("layouts", "callbacks", "views", "metrics"):
        for path in (PROJECT_DIR / folder).glob("*.py"):
            source = path.read_text()
            used |= {name.lower() for name in re.findall(r"\.add_([a-z0-9]+)\(", source)}
            used |= {name.lower() for name in re.findall(r"go\.([A-Z][a-z0-9]+)\(", source)} - {"figure", "layout"}
            used |= set(re.findall(r"\"type\": \"([a-z0-9]+)\"", source)) & {"scatter", "bar", "pie", "heatmap"}
            assert "plotly.express" not in source, f"{path.name}: px may build traces outside the basic bundle"
    assert used and used <= BASIC_TRACES, used - BASIC_TRACES


def test_lazy_assets_are_not_loaded_by_every_page(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/status").get_data(as_text=True)
    assert "plotly-basic.js" in html  # the tiny loader
    assert "lazy/plotly-basic" not in html and "plotly.min.js" not in html


# --- phones, in Chromium -----------------------------------------------------------------------------------------


def sized(driver, width: int, height: int):  # type: ignore[no-untyped-def]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800},
    )
    return driver


@pytest.fixture
def seeded_server(app, live_server):  # type: ignore[no-untyped-def]
    from models.db import utcnow

    engine = app.server.extensions["kpi"].engine
    seed_team(engine)
    record_runs(engine, utcnow())
    return live_server


def overflow(driver) -> dict:  # type: ignore[no-untyped-def]
    return driver.execute_script(
        """
        const wide = [...document.querySelectorAll('body *')].filter(e => {
          const r = e.getBoundingClientRect();
          const fixed = getComputedStyle(e).position === 'fixed';
          const scrolls = e.closest('.table-responsive, .ag-root-wrapper, .tv-root');
          return r.width > 0 && (r.right > window.innerWidth + 1) && !fixed && !scrolls;
        }).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        return {body: document.body.scrollWidth, doc: document.documentElement.scrollWidth,
                inner: window.innerWidth, wide: wide};
        """
    )


@pytest.mark.browser
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_fits_a_phone(seeded_server, page: str) -> None:  # type: ignore[no-untyped-def]
    driver = sized(start_chromium(390, 844), 390, 844)
    try:
        driver.get(seeded_server.url + PAGES[page])
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, READY[page]), timeout=30, message=f"{page} filled")
        time.sleep(1)  # charts draw after their callback answers
        measured = overflow(driver)
        assert measured["body"] <= measured["inner"], measured
        assert measured["doc"] <= measured["inner"], measured
        for graph in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot"):
            assert graph.rect["x"] >= 0 and graph.rect["x"] + graph.rect["width"] <= 390 + 1
        if page != "tv":
            # The navbar's menu button and the freshness badge are thumb-sized.
            for css in ("#navbar .navbar-toggler", "#freshness-badge .freshness"):
                element = wait_for(lambda css=css: driver.find_elements(By.CSS_SELECTOR, css), message=css)[0]
                assert element.rect["height"] >= 44, (css, element.rect)
        if page == "status":
            button = driver.find_element(By.ID, "status-sync-now")
            assert button.rect["height"] >= 44
            # The wide table scrolls sideways inside its own box.
            assert driver.execute_script(
                "const box = document.getElementById('status-rows').closest('.table-responsive');"
                "return box !== null && box.scrollWidth > box.clientWidth"
            )
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, f"{page}-390")
        assert console_errors(driver) == []
    finally:
        driver.quit()


@pytest.mark.browser
@pytest.mark.parametrize("page", ["cases", "sales", "redmine", "status"])
def test_every_page_at_1080p(seeded_server, page: str) -> None:  # type: ignore[no-untyped-def]
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

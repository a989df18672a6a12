"""First-load weight (issue 5): the bytes a browser with an empty cache transfers to show /cases and /tv, as
headless Chromium counts them (Network.loadingFinished's encodedDataLength: compressed bodies plus headers),
HTML, scripts, styles and the data callbacks included, until the page is drawn and the network is quiet.

The app runs in-process on a loopback port on a temporary SQLite database filled with the demo data (through the
normal sync path), with sign-in off. Each page is loaded once first so the server has prepared its best-compressed
bundles (what every visitor but the very first gets), then measured in a fresh browser. Goal: under 1.2 MB.

`python -m bench.page_weight` runs it alone; `run(report)` is the entry point for the bench harness.
Must not be imported by the app.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOAL_BYTES = 1_200_000
PAGES = {"/cases": ".kpi-value", "/tv": "#tv-panel .kpi-value"}
QUIET_SECONDS = 2.0  # the network is idle this long: the page has loaded everything it will

Report = Callable[[str], None]


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    from tests.browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS  # the browser tests' own headless Chromium

    options.binary_location = CHROMIUM
    options.add_argument("--window-size=1920,1080")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return driver


def _events(driver: Any) -> list[dict]:
    return [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]


def _load(base_url: str, path: str, ready: str) -> list[dict]:
    """Open `path` in a fresh browser, wait until `ready` shows and the network is quiet; the network events."""
    from selenium.webdriver.common.by import By

    driver = _browser()
    try:
        driver.get(base_url + path)
        deadline = time.monotonic() + 90
        while not driver.find_elements(By.CSS_SELECTOR, ready):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: {ready} did not appear within 90 s")
            time.sleep(0.2)
        events: list[dict] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < QUIET_SECONDS and time.monotonic() < deadline:
            new = _events(driver)
            if any(event["method"].startswith("Network.request") for event in new):
                quiet_since = time.monotonic()
            events.extend(new)
            time.sleep(0.25)
        return events
    finally:
        driver.quit()


def weigh(events: list[dict]) -> dict[str, Any]:
    """Transferred bytes per resource type, from Chromium's network events."""
    requests: dict[str, dict[str, Any]] = {}
    for event in events:
        params = event.get("params", {})
        request_id = params.get("requestId")
        if event["method"] == "Network.responseReceived":
            response = params["response"]
            headers = {key.lower(): value for key, value in response.get("headers", {}).items()}
            requests.setdefault(request_id, {}).update(
                url=response["url"], type=params.get("type", "Other"), encoding=headers.get("content-encoding", "")
            )
        elif event["method"] == "Network.loadingFinished":
            requests.setdefault(request_id, {})["bytes"] = params.get("encodedDataLength", 0)
    finished = [item for item in requests.values() if "bytes" in item and "url" in item]
    by_type: dict[str, int] = defaultdict(int)
    for item in finished:
        by_type[item["type"]] += item["bytes"]
    uncompressed = [item["url"] for item in finished if not item["encoding"] and item["bytes"] > 1_000]
    return {
        "bytes": sum(item["bytes"] for item in finished),
        "requests": len(finished),
        "by_type": dict(sorted(by_type.items())),
        "largest": sorted(
            ((item["bytes"], item["url"].split("?")[0].rsplit("/", 1)[-1]) for item in finished), reverse=True
        )[:5],
        "uncompressed_over_1kb": uncompressed,
    }


def _serve(dash_app: Any) -> tuple[str, Callable[[], None]]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(10)

    return f"http://127.0.0.1:{server.server_port}", stop


def _wait_for_best_compression(timeout: float = 120) -> None:
    from web.compression import STATIC_CACHE

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with STATIC_CACHE.lock:
            if not STATIC_CACHE.pending:
                return
        time.sleep(0.5)


def run(report: Report = print) -> dict[str, Any]:
    import logging

    from app import create_app
    from models.db import make_engine, upgrade_database
    from settings import Settings
    from sync.demo.load import load_demo

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    results: dict[str, Any] = {"goal_bytes": GOAL_BYTES, "pages": {}}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'weight.db'}"
        upgrade_database(url)
        settings = Settings(database_url=url, auth_disabled=True, embedded_sync=False, secret_key="bench-only")
        engine = make_engine(url)
        report(f"page weight: {load_demo(engine, settings)}")
        engine.dispose()
        dash_app = create_app(settings)
        base_url, stop = _serve(dash_app)
        try:
            for path, ready in PAGES.items():  # warm-up: the server prepares its best-compressed bundles
                _load(base_url, path, ready)
            _wait_for_best_compression()
            for path, ready in PAGES.items():
                figures = weigh(_load(base_url, path, ready))
                results["pages"][path] = figures
                verdict = "within" if figures["bytes"] <= GOAL_BYTES else "OVER"
                types = ", ".join(f"{kind} {size / 1000:,.0f} KB" for kind, size in figures["by_type"].items())
                report(
                    f"page weight {path}: {figures['bytes'] / 1000:,.0f} KB transferred in {figures['requests']} "
                    f"requests ({types}); {verdict} the {GOAL_BYTES / 1000:,.0f} KB goal"
                )
                report("  largest: " + ", ".join(f"{name} {size / 1000:,.0f} KB" for size, name in figures["largest"]))
                if figures["uncompressed_over_1kb"]:
                    report("  sent uncompressed: " + ", ".join(figures["uncompressed_over_1kb"]))
        finally:
            stop()
            dash_app.server.extensions["kpi"].engine.dispose()
    return results


if __name__ == "__main__":
    run()

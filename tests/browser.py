"""Browser-test support: the app served on a loopback port in a thread, and headless Debian Chromium driven
by Selenium. conftest.py loads this module as a plugin, so `live_server` and `browser` are fixtures everywhere.

Chromium runs with the flags this workplace needs (no network beyond localhost).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import service_missing

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class LiveServer:
    url: str
    app: Any
    thread: threading.Thread
    server: Any = field(repr=False)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def serve(dash_app: Any) -> LiveServer:
    """Serve a Dash app's Flask server on 127.0.0.1 at a free port, threaded, until stop()."""
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=dash_app, thread=thread, server=server)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    running = serve(app)
    yield running
    running.stop()


def start_chromium(width: int = 1280, height: int = 900) -> Any:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()) or not Path(CHROMEDRIVER).exists():
        service_missing("Chromium and chromedriver are not installed (make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = start_chromium()
    yield driver
    driver.quit()


def console_errors(driver: Any) -> list[str]:
    """Severe browser-console entries since the last call (favicon 404s excepted)."""
    entries = driver.get_log("browser")
    return [e["message"] for e in entries if e["level"] == "SEVERE" and "favicon" not in e["message"]]


def wait_for(condition: Callable[..., Any], timeout: float = 20, interval: float = 0.2, message: str = "") -> Any:
    """Poll until condition() is truthy (returning its value) or fail the test with `message`. Called without
    arguments; typed `...` so that a lambda in a loop can bind the loop variable as a default."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - elements come and go while Dash re-renders
            last_error = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message or condition}: {last_error}")


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG under test-artifacts/ (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path

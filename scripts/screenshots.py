"""Retake the README's screenshots (docs/screenshots/) from the demo data, as a new user sees them after `make run`.

    .venv/bin/python scripts/screenshots.py

Starts `python app.py` on a free port with a throw-away SQLite database and no credentials (the demo source),
waits for the first sync, then photographs every page in headless Chromium at the sizes the README shows. The
stale-data picture is taken after moving the stored sync times back by an hour, as a TV sees a sync that stopped.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PROJECT = Path(__file__).resolve().parent.parent
OUT = PROJECT / "docs" / "screenshots"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
# name, path, width, height, the element that says the page has its data
SHOTS = (
    ("cases", "/cases?window=week", 1440, 1400, "#cases-history"),
    ("redmine", "/redmine?window=week", 1440, 1400, "#redmine-history"),
    ("sales", "/sales", 1440, 1400, "#page-content"),
    ("support", "/support?window=week", 1440, 1400, "#page-content"),
    ("status", "/status", 1920, 1080, "#page-content"),
    ("status-phone", "/status", 390, 844, "#page-content"),
    ("tv-cases", "/tv?pages=cases", 1920, 1080, ".tv-slide"),
    ("tv-sales", "/tv?pages=sales", 1920, 1080, ".tv-slide"),
    ("tv-support", "/tv?pages=support", 1920, 1080, ".tv-slide"),
    ("tv-phone", "/tv?pages=cases", 390, 844, ".tv-slide"),
)
SETTLE_SECONDS = 3.0  # charts animate in and the TV fits its numbers after the first render


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_server(database: Path) -> Iterator[str]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VTIGER_", "REDMINE_"))}
    env.update(DATABASE_URL=f"sqlite:///{database}", AUTH_DISABLED="true", PORT=str(port), KPI_CONFIG="/dev/null")
    python = sys.executable
    subprocess.run([python, "-m", "flask", "--app", "app:server", "db", "upgrade"], cwd=PROJECT, env=env, check=True)
    server = subprocess.Popen([python, "app.py"], cwd=PROJECT, env=env)
    try:
        wait_for_first_sync(database)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_for_first_sync(database: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(database) as connection:
                sources = connection.execute(
                    "SELECT count(DISTINCT source) FROM sync_runs WHERE status = 'success'"
                ).fetchone()[0]
                running = connection.execute("SELECT count(*) FROM sync_runs WHERE status = 'running'").fetchone()[0]
            if sources >= 2 and not running:
                return
        except sqlite3.OperationalError:
            pass  # the table is created by the migration a moment after start
        time.sleep(0.5)
    raise SystemExit(f"the demo sync did not finish within {timeout:.0f} s")


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def photograph(url: str, name: str, width: int, height: int, ready: str) -> Path:
    driver = browser(width, height)
    try:
        driver.get(url)
        deadline = time.monotonic() + 30
        while not driver.find_elements(By.CSS_SELECTOR, ready) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(SETTLE_SECONDS)
        path = OUT / f"{name}.png"
        driver.save_screenshot(str(path))
        return path
    finally:
        driver.quit()


def age_sync_runs(database: Path, hours: int = 1) -> None:
    """Make the stored sync look an hour old, so the TV shows its stale-data banner."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            f"UPDATE sync_runs SET started_at = datetime(started_at, '-{hours} hours'),"
            f" finished_at = datetime(finished_at, '-{hours} hours')"
        )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "demo.db"
        with demo_server(database) as base:
            for name, path, width, height, ready in SHOTS:
                print(photograph(base + path, name, width, height, ready))
            age_sync_runs(database)
            print(photograph(base + "/tv?pages=cases", "tv-stale", 1920, 1080, ".tv-slide"))


if __name__ == "__main__":
    main()

"""`python app.py` as a person runs it: what the terminal shows from start until the demo data is in. One line
when the server listens (with its URL), one when the first sync starts and one when it ends (with the rows per
module), and a line per request only with LOG_REQUESTS=1."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models.db import upgrade_database
from settings import PROJECT_DIR

STARTUP_TIMEOUT_S = 180  # the whole demo history on a loaded machine; a bound, not a speed goal
LISTEN = re.compile(r"^\d\d:\d\d:\d\d KPI dashboard listening on (http://127\.0\.0\.1:(\d+))$")
SYNC_DONE = re.compile(
    r"^\d\d:\d\d:\d\d first sync done in [0-9.]+ s: vtiger Cases ([0-9,]+) rows, vtiger Potentials ([0-9,]+) rows, "
    r"vtiger PhoneCalls ([0-9,]+) rows, redmine issues ([0-9,]+) rows$"
)
REQUEST_LINE = re.compile(r'"GET /cases HTTP/1\.1" 200')


class AppProcess:
    """`python app.py` on a free port (PORT=0) with its own SQLite file, its output read line by line."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        database_url = f"sqlite:///{tmp_path / 'kpi.db'}"
        upgrade_database(database_url)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DATABASE_URL": database_url,
            "AUTH_DISABLED": "true",
            "PORT": "0",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "app.py")],
            cwd=tmp_path,  # no .env, credentials.json or kpi.toml of the developer's checkout
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = STARTUP_TIMEOUT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                assert self.process.poll() is None, f"app.py exited: {self.lines}"
                continue
            self.lines.append(line)
            if match := pattern.search(line):
                return match
        pytest.fail(f"no line matching {pattern.pattern} within {timeout} s; output: {self.lines}")

    def drain(self, seconds: float = 1.0) -> list[str]:
        """The lines printed during the next `seconds` (after a request, its log line if any)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.lines.append(self._queue.get(timeout=0.1))
            except queue.Empty:
                continue
        return self.lines

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def started_app(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    running: list[AppProcess] = []

    def start(**env: str) -> AppProcess:
        running.append(AppProcess(tmp_path, **env))
        return running[-1]

    yield start
    for process in running:
        process.stop()


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status


def test_start_up_says_where_it_listens_and_when_the_demo_data_is_in(started_app: Callable[..., AppProcess]) -> None:
    app = started_app()

    url = app.wait_for_line(LISTEN).group(1)
    assert app.wait_for_line(re.compile(r"^\d\d:\d\d:\d\d first sync started \(demo data\)$"))
    done = app.wait_for_line(SYNC_DONE)
    assert get(url + "/cases") == 200
    output = app.drain()

    counts = [int(value.replace(",", "")) for value in done.groups()]
    assert all(count > 0 for count in counts), done.group(0)
    assert sum(LISTEN.search(line) is not None for line in output) == 1
    assert not any(REQUEST_LINE.search(line) for line in output), output
    assert not any("\x1b[" in line for line in output), output  # no colour codes
    # Neither Dash's nor Flask's own banners: one listen line is enough.
    assert not any("Dash is running" in line or "Serving Flask app" in line for line in output), output


def test_request_lines_only_when_asked(started_app: Callable[..., AppProcess]) -> None:
    app = started_app(LOG_REQUESTS="1", SYNC_INTERVAL_MINUTES="60")

    url = app.wait_for_line(LISTEN).group(1)
    assert get(url + "/cases") == 200

    line = app.wait_for_line(REQUEST_LINE, timeout=30).string
    assert re.match(r"^\d\d:\d\d:\d\d 127\.0\.0\.1 - - \[", line), line
    assert "\x1b[" not in line

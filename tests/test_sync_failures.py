"""Sync failures are never silent: the embedded scheduler logs them at WARNING/ERROR; with a database that
refuses writes, "Sync now" says so instead of "started", and /status and the freshness badge say sync cannot
write; a DATABASE_URL pointing somewhere unusable stops `db upgrade` and start-up with one line, no traceback.
The freshness badge shows a finished sync at its next poll, not up to a minute later."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from app import create_app
from callbacks import freshness as freshness_callbacks
from callbacks import status as status_callbacks
from models.db import make_engine, utcnow
from models.schema import sync_runs
from settings import PROJECT_DIR, RedmineSettings, Settings
from sync.scheduler import sync_once
from sync.service import WriteHealth
from tests.auth_support import callback_body
from tests.test_scheduler import quick_demo  # noqa: F401 - autouse: a short demo history, a fixed clock


@pytest.fixture
def read_only_url(database_url: str) -> str:
    """The migrated test database, opened so it refuses every write: SQLite through a read-only URI (tests run as
    root, whom chmod does not stop), PostgreSQL as a read-only session (what a replica or standby does)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///file:{database_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return f"{database_url}?options=-c%20default_transaction_read_only%3Don"


# --- logging ------------------------------------------------------------------------------------------------------


def test_a_failed_scheduled_sync_is_logged_at_warning(
    settings_for: Callable[..., Settings], sqlite_url: str, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/users/current.json").respond_with_data("", status=401)
    settings = settings_for(sqlite_url, redmine=RedmineSettings(url=httpserver.url_for("/").rstrip("/"), api_key="k"))
    engine = make_engine(sqlite_url)
    try:
        with caplog.at_level(logging.INFO, logger="sync.scheduler"):
            sync_once(engine, settings, "embedded", WriteHealth())
    finally:
        engine.dispose()
    [record] = [r for r in caplog.records if r.name == "sync.scheduler"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("embedded sync of redmine: failed: Redmine rejected REDMINE_API_KEY (401)")


def test_a_database_refusing_writes_is_logged_at_error_and_remembered(
    settings_for: Callable[..., Settings], read_only_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    health = WriteHealth()
    engine = make_engine(read_only_url)
    try:
        with caplog.at_level(logging.INFO, logger="sync.scheduler"):
            outcome = sync_once(engine, settings_for(read_only_url), "embedded", health)
    finally:
        engine.dispose()
    assert set(outcome) == {"vtiger", "redmine"}  # demo mode: both sources tried
    assert all(word.startswith("cannot write: the database refuses writes (") for word in outcome.values())
    assert [r.levelno for r in caplog.records if r.name == "sync.scheduler"] == [logging.ERROR, logging.ERROR]
    assert "read" in health.problem.lower()  # "readonly database" / "read-only transaction"


# --- "Sync now", /status and the badge on a read-only database ---------------------------------------------------


def post_callback(app, output_key: str, values=None) -> dict:
    response = app.server.test_client().post("/_dash-update-component", json=callback_body(app, output_key, values))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_sync_now_on_a_read_only_database_says_so_on_status_and_the_badge(
    settings_for: Callable[..., Settings], database_url: str, read_only_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writable = make_engine(database_url)
    with writable.begin() as conn:  # an earlier success: the old page kept showing just this
        for source, module in (("vtiger", "Cases"), ("redmine", "issues")):
            conn.execute(sync_runs.insert().values(source=source, module=module, trigger="embedded",
                         started_at=utcnow(), finished_at=utcnow(), status="success"))  # fmt: skip
    writable.dispose()
    app = create_app(settings_for(read_only_url, auth_disabled=True))
    runtime = app.server.extensions["kpi"]
    try:
        with caplog.at_level(logging.INFO), app.server.app_context():
            message, colour = status_callbacks.start_sync(runtime)
        assert colour == "danger" and message.startswith("Sync cannot run: the database refuses writes (")
        assert "started" not in message
        assert any(r.levelno == logging.ERROR and "refuses writes" in r.getMessage() for r in caplog.records)
        assert runtime.manual_sync is None  # nothing started

        status_key = next(key for key in app.callback_map if "status-table.children" in key)
        page = json.dumps(post_callback(app, status_key))
        assert "status-write-problem" in page and "Sync cannot write: the database refuses writes" in page
        badge = json.dumps(post_callback(app, "freshness-badge.children", {("url", "pathname"): "/cases"}))
        assert "Sync cannot write" in badge and "freshness-failed" in badge
    finally:
        runtime.engine.dispose()


# --- the badge after a sync --------------------------------------------------------------------------------------


def badge_request(app, seen: str | None) -> tuple[int, dict | None]:
    """A poll of the badge as the browser sends it: a tick, with the key the last render stored."""
    body = callback_body(app, "freshness-badge.children", {("url", "pathname"): "/cases"})
    store = [{"id": {"n": 0, "role": "freshness-seen"}, "property": "data", "value": seen}] if seen else []
    body["inputs"][1] = [{"id": {"n": 0, "role": "freshness-tick"}, "property": "n_intervals", "value": 1}]
    body["state"] = [store]
    response = app.server.test_client().post("/_dash-update-component", json=body)
    return response.status_code, (response.get_json() if response.status_code == 200 else None)


def seen_key(rendered: dict) -> str:
    children = rendered["response"]["freshness-badge"]["children"]["props"]["children"]
    return next(child["props"]["data"] for child in children if child["type"] == "Store")


def test_the_badge_shows_a_finished_sync_at_its_next_poll(app) -> None:
    assert freshness_callbacks.BADGE_POLL_MS <= 10_000  # the old badge waited a full minute
    engine = app.server.extensions["kpi"].engine
    earlier = utcnow() - timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(sync_runs.insert().values(source="vtiger", module="Cases", trigger="embedded",
                     started_at=earlier, finished_at=earlier, status="success"))  # fmt: skip
    status, first = badge_request(app, None)
    assert status == 200 and first is not None
    key = seen_key(first)
    assert badge_request(app, key)[0] == 204  # nothing changed: the poll costs no render

    now = utcnow()
    with engine.begin() as conn:  # a manual sync finishes
        conn.execute(sync_runs.insert().values(source="vtiger", module="Cases", trigger="manual",
                     started_at=now, finished_at=now, status="success"))  # fmt: skip
    status, after = badge_request(app, key)
    assert status == 200 and after is not None
    assert now.strftime("%H:%M") in json.dumps(after) and earlier.strftime("%H:%M") not in json.dumps(after)


# --- DATABASE_URL pointing somewhere unusable ----------------------------------------------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", [["-m", "flask", "--app", "app:server", "db", "upgrade"], ["app.py"]],
                         ids=["db-upgrade", "start-up"])  # fmt: skip
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (lambda _tmp: f"postgresql://postgres@127.0.0.1:{closed_port()}/kpi", "Connection refused"),
        (lambda _tmp: "postgresql://postgres@127.0.0.1:5432/kpi_no_such_database_b", "does not exist"),
        (lambda tmp: f"sqlite:///{tmp / 'missing' / 'kpi.db'}", "does not exist: create it, or fix DATABASE_URL"),
        (lambda _tmp: "mysql://kpi@127.0.0.1/kpi", "use sqlite:///path/to/kpi.db or postgresql://"),
    ],
    ids=["closed-port", "no-database", "missing-folder", "other-database"],
)
def test_an_unusable_database_url_is_one_line_without_traceback(
    tmp_path: Path, command: list[str], url: Callable[[Path], str], says: str
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("VTIGER_", "REDMINE_", "KPI_"))}
    environment.update(DATABASE_URL=url(tmp_path), AUTH_DISABLED="true", PORT=str(closed_port()),
                       PYTHONPATH=str(PROJECT_DIR))  # fmt: skip
    done = subprocess.run(
        [sys.executable, *command], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(("database error: ", "db upgrade failed: database error: ")) and says in line
    assert not (tmp_path / "missing").exists()  # no folder made for a mistyped path

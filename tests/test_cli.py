"""web/cli.py through Flask's CLI runner: each command prints what it did, and a failure is one clear line on stderr
with a non-zero exit code, never a traceback. Building the app for a command starts no sync thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask.testing import FlaskCliRunner
from pytest_httpserver import HTTPServer
from sqlalchemy import func, inspect, select, text

from app import create_app
from models.db import make_engine, upgrade_database
from models.schema import cases, redmine_issues, sync_runs
from settings import PROJECT_DIR, RedmineSettings, Settings
from sync.demo import source as demo

LATEST_REVISION = ScriptDirectory(str(PROJECT_DIR / "migrations")).get_current_head()  # "0006_d": not the file name


@pytest.fixture
def demo_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(demo, "clock", lambda: datetime(2026, 3, 4, 15, 30))
    monkeypatch.setattr(demo, "HISTORY_DAYS", 7)
    demo.reset_cache()
    yield
    demo.reset_cache()


def runner_for(settings: Settings) -> FlaskCliRunner:
    return create_app(settings).server.test_cli_runner()


def count(url: str, table) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return total


def test_db_upgrade_creates_the_tables(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    result = runner_for(settings_for(url)).invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"created the database at revision {LATEST_REVISION}"
    engine = make_engine(url)
    assert {"cases", "deals", "sync_runs", "sync_state"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_upgrade_says_what_it_did_to_an_existing_database(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'existing.db'}"
    upgrade_database(url, "0002")
    runner = runner_for(settings_for(url))

    upgraded = runner.invoke(args=["db", "upgrade"])
    again = runner.invoke(args=["db", "upgrade"])

    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"upgraded from revision 0002 to {LATEST_REVISION}"
    assert again.stdout.strip() == f"already at the latest revision ({LATEST_REVISION})"


def test_db_upgrade_failure_is_one_line(settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    # A database migrated by a newer release than this code: Alembic cannot find its revision.
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()

    result = runner_for(settings_for(sqlite_url)).invoke(args=["db", "upgrade"])

    assert result.exit_code == 1
    assert result.stderr.startswith("db upgrade failed: ") and "f00dfeed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_sync_run_prints_what_it_did(demo_clock: None, settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    result = runner_for(settings_for(sqlite_url)).invoke(args=["sync", "run", "redmine"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "redmine statuses: 6 inserted, 0 updated, 0 deleted, 2 requests"
    assert lines[1].startswith("redmine issues: ") and " inserted, 0 updated, 0 deleted, " in lines[1]
    assert lines[2].startswith("redmine: done in ")
    assert count(sqlite_url, redmine_issues) > 0
    with make_engine(sqlite_url).connect() as conn:
        assert {row.trigger for row in conn.execute(select(sync_runs.c.trigger))} == {"cli"}


def test_sync_run_all_syncs_every_configured_source(
    demo_clock: None, settings_for: Callable[..., Settings], sqlite_url: str
) -> None:
    result = runner_for(settings_for(sqlite_url)).invoke(args=["sync", "run"])

    assert result.exit_code == 0, result.stderr
    assert "vtiger Cases: " in result.stdout and "redmine issues: " in result.stdout
    assert count(sqlite_url, cases) > 0


def test_sync_run_failure_is_one_line_and_exit_code_1(
    settings_for: Callable[..., Settings], sqlite_url: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/users/current.json").respond_with_data("", status=401)
    redmine = RedmineSettings(url=httpserver.url_for("/").rstrip("/"), api_key="wrong")

    result = runner_for(settings_for(sqlite_url, redmine=redmine)).invoke(args=["sync", "run", "redmine"])

    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("redmine: failed: ") and "Traceback" not in line
    assert "key" in line.lower()


def test_sync_run_of_an_unconfigured_source_says_what_to_set(
    settings_for: Callable[..., Settings], sqlite_url: str
) -> None:
    redmine = RedmineSettings(url="https://redmine.example.com", api_key="k")

    result = runner_for(settings_for(sqlite_url, redmine=redmine)).invoke(args=["sync", "run", "vtiger"])

    assert result.exit_code == 1
    assert result.stderr.strip() == "vtiger: failed: vtiger is not configured: set VTIGER_URL and its credentials"


def test_sync_run_on_an_unmigrated_database_says_to_upgrade(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"

    result = runner_for(settings_for(url)).invoke(args=["sync", "run", "redmine"])

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "no such table" in line and line.endswith("(run `flask --app app:server db upgrade` first)")


def test_demo_load_prints_a_summary(demo_clock: None, settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    result = runner_for(settings_for(sqlite_url)).invoke(args=["demo", "load"])

    assert result.exit_code == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith("demo data (from 2026-02-25, anchor 2026-03-04): ") and " cases, " in line
    assert count(sqlite_url, cases) > 0


def test_demo_load_refuses_real_credentials(settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    redmine = RedmineSettings(url="https://redmine.example.com", api_key="k")

    result = runner_for(settings_for(sqlite_url, redmine=redmine)).invoke(args=["demo", "load"])

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("demo load failed: REDMINE_URL is set: the demo would mix synthetic rows")
    assert count(sqlite_url, redmine_issues) == 0


def test_sync_enqueue_needs_redis(settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    result = runner_for(settings_for(sqlite_url)).invoke(args=["sync", "enqueue"])

    assert result.exit_code == 1
    assert result.stderr.strip().startswith("REDIS_URL is not set")


def test_sync_enqueue_queues_each_source_once(
    settings_for: Callable[..., Settings], sqlite_url: str, redis_url: str
) -> None:
    runner = runner_for(settings_for(sqlite_url, redis_url=redis_url))

    first = runner.invoke(args=["sync", "enqueue"])
    again = runner.invoke(args=["sync", "enqueue", "redmine"])

    assert first.exit_code == 0, first.stderr
    assert [line.split(" job ")[0] for line in first.stdout.splitlines()] == ["vtiger: enqueued", "redmine: enqueued"]
    assert again.stdout.strip() == "redmine: skipped, a sync is already pending"


def test_a_cli_app_starts_no_sync_thread(settings_for: Callable[..., Settings], sqlite_url: str) -> None:
    # As `flask --app app:server ...` builds it: embedded sync on, not testing.
    settings = settings_for(sqlite_url, embedded_sync=True, testing=False, auth_disabled=True)
    before = {thread.name for thread in threading.enumerate()}

    result = create_app(settings).server.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.stderr
    assert "kpi-sync" not in {thread.name for thread in threading.enumerate()} - before


def test_the_real_command_line_fails_in_one_line_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # The way release and cron run it: a fresh process. Building the app does not read the database (stage names
    # are no start-up check any more), so the command itself meets the missing database and says so in one line.
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("VTIGER_", "REDMINE_", "KPI_"))
    }
    environment.update(DATABASE_URL="postgresql://postgres@127.0.0.1:5432/kpi_no_such_database", AUTH_DISABLED="true")

    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:server", "db", "upgrade"],
        cwd=PROJECT_DIR,
        env={**environment, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(("database error: ", "db upgrade failed: database error: "))
    assert "kpi_no_such_database" in line

"""Fixtures shared by the whole suite (Flask tutorial style): `settings_for`, `engine` (SQLite and real
PostgreSQL), `app`, `client`, `redis` (real, flushed per test).

Services: PostgreSQL at TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/kpi_test_<pid>: a database
of this pytest process's own, created and migrated on first use and dropped at the end, so two runs never share
one), Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/15). Locally a missing service skips its
tests; under CI=true it fails them, so CI never passes by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from models.db import create_postgres_database, drop_postgres_database, make_engine, upgrade_database
from models.schema import metadata
from settings import Settings

pytest_plugins = ["tests.browser"]  # live_server, browser fixtures

OWN_TEST_DATABASE = "TEST_DATABASE_URL" not in os.environ
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/kpi_test_{os.getpid()}")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(reason: str) -> None:
    """Skip locally, fail in CI: a suite that passes by skipping its real-service tests proves nothing."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


# --- databases ------------------------------------------------------------------------------------------------

_migrated_postgres = False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _migrated_postgres and OWN_TEST_DATABASE:
        drop_postgres_database(TEST_DATABASE_URL)


def postgres_url() -> str:
    """The migrated test PostgreSQL database (created and migrated once per session)."""
    global _migrated_postgres
    if not _migrated_postgres:
        try:
            create_postgres_database(TEST_DATABASE_URL)
            upgrade_database(TEST_DATABASE_URL)
        except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL means the service is missing
            service_missing(f"PostgreSQL at {TEST_DATABASE_URL}: {exc}")
        _migrated_postgres = True
    return TEST_DATABASE_URL


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs twice: on a fresh SQLite file and on the (emptied) PostgreSQL test database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade_database(url)
        return url
    url = postgres_url()
    engine = make_engine(url)
    truncate_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


# --- settings and apps --------------------------------------------------------------------------------------


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    """Settings for a test: no environment, no .env, no credentials.json, no background threads."""

    def build(database_url: str = "sqlite:///:memory:", **overrides: Any) -> Settings:
        base = Settings(database_url=database_url, testing=True, embedded_sync=False, secret_key="test-secret")
        return replace(base, **overrides)

    return build


@pytest.fixture
def settings(settings_for: Callable[..., Settings], sqlite_url: str) -> Settings:
    return settings_for(sqlite_url, auth_disabled=True)


@pytest.fixture
def app(settings: Settings):
    from app import create_app

    dash_app = create_app(settings)
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


@pytest.fixture
def client(app):
    return app.server.test_client()


# --- redis ------------------------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database, flushed before and after the test (RQ's own test style)."""
    import redis as redis_lib

    connection = redis_lib.Redis.from_url(TEST_REDIS_URL)
    try:
        connection.ping()
    except redis_lib.ConnectionError as exc:
        service_missing(f"Redis at {TEST_REDIS_URL}: {exc}")
    connection.flushdb()
    yield TEST_REDIS_URL
    connection.flushdb()
    connection.close()


@pytest.fixture
def redis(redis_url: str):
    import redis as redis_lib

    connection = redis_lib.Redis.from_url(redis_url)
    yield connection
    connection.close()

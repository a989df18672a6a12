"""Engine creation and migrations. SQLite runs in WAL mode with a busy timeout so the web process can read
while a worker writes; PostgreSQL URLs are normalised to psycopg 3.

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, create_engine, event, false, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry

from models.schema import sync_locks
from settings import PROJECT_DIR

SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    """Now as naive UTC, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3 here (psycopg2 is not installed)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class DatabaseUrlError(ValueError):
    """DATABASE_URL cannot work whatever the server does; the message says what to change."""


def make_engine(url: str, **kwargs: object) -> Engine:
    url = normalise_url(url)
    backend = _backend(url)
    if backend == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if backend != "postgresql":
        raise DatabaseUrlError(
            f"DATABASE_URL names a {backend} database; use sqlite:///path/to/kpi.db or postgresql://user@host/db"
        )
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _backend(url: str) -> str:
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        raise DatabaseUrlError(
            "DATABASE_URL is not a database URL; use sqlite:///path/to/kpi.db or postgresql://user@host/db"
        ) from None


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names (also as a `file:` URI with ?uri=true); None for an in-memory database."""
    parsed = make_url(normalise_url(url))
    database = parsed.database or ""
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database) if database and database != ":memory:" and "mode=memory" not in str(parsed) else None


def _sqlite_engine(url: str, **kwargs: object) -> Engine:
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        # Not created here: a typo in DATABASE_URL would otherwise start an empty dashboard on a new database.
        raise DatabaseUrlError(
            f"the folder {path.parent} for the SQLite database does not exist: create it, or fix DATABASE_URL"
        )
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _postgres_admin(url: str) -> tuple[Engine, str]:
    """An autocommit engine on the server's `postgres` database, and the name of the database `url` names."""
    target = make_url(normalise_url(url))
    return create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT"), str(target.database)


def create_postgres_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when it does not exist yet (tests and benchmarks)."""
    admin, name = _postgres_admin(url)
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def drop_postgres_database(url: str) -> None:
    """Drop the PostgreSQL database `url` names, closing its connections (tests and benchmarks)."""
    admin, name = _postgres_admin(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def add_counts(
    conn: Connection, table: Table, keys: Sequence[str], sums: Sequence[str], records: Sequence[Mapping[str, Any]]
) -> None:
    """Add `records`' `sums` columns to the rows of `table` with the same `keys` (a new row where none has them):
    how kept counts take the change sync made, on SQLite and PostgreSQL alike."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + insert.excluded[name] for name in sums}
    )
    for offset in range(0, len(records), ADD_CHUNK):
        conn.execute(statement, list(records[offset : offset + ADD_CHUNK]))


ADD_CHUNK = 5_000  # rows per statement: far below both databases' parameter limits


def write_refusal(engine: Engine) -> str:
    """Why the database refuses writes ("" when it takes them), found by an UPDATE that matches no row: a
    read-only SQLite file or connection, a read-only PostgreSQL transaction or replica, a role without UPDATE
    all refuse it, and nothing is written when it passes."""
    try:
        with engine.begin() as conn:
            conn.execute(update(sync_locks).where(false()).values(holder=""))
    except DBAPIError as exc:
        return refused_write_reason(exc) or ""
    return ""


_WRITE_REFUSALS = ("readonly", "read-only", "read only", "permission denied", "disk is full", "disk i/o error")


def refused_write_reason(exc: BaseException) -> str:
    """The driver's one-line reason when `exc` is the database refusing a write; "" for any other error."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return ""
    reason = (str(exc.orig).strip().splitlines() or [""])[0]
    return reason if any(marker in reason.lower() for marker in _WRITE_REFUSALS) else ""


def database_revision(database_url: str) -> str | None:
    """The schema revision the database is at; None for a database not migrated yet (a new one)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()

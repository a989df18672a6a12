"""Flask CLI commands: `db upgrade`, `db rollups`, `sync run`, `sync enqueue`, `demo load`, `digest preview` and
`digest send` (digest/cli.py) (`kiosk` and `sessions` come from web/kiosk.py and web/sessions.py).

Each prints what it did and, on failure, exits non-zero with one clear line (no traceback): these run from cron
jobs, release phases and terminals, where a line that says what to fix is worth more than a stack.
Building the app for a command never starts the embedded sync thread (app.py starts it on the first request).
"""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup

from digest.cli import digest_group
from web.runtime import current_runtime

SOURCE_CHOICES = click.Choice(["vtiger", "redmine", "all"])


def register_cli(server: Flask) -> None:
    server.cli.add_command(db_group)
    server.cli.add_command(sync_group)
    server.cli.add_command(demo_group)
    server.cli.add_command(digest_group)


db_group = AppGroup("db", help="Database schema.")
sync_group = AppGroup("sync", help="Mirror VTiger and Redmine into the database.")
demo_group = AppGroup("demo", help="Synthetic demo data.")


def fail(message: str) -> None:
    """Print one line to stderr and exit with status 1."""
    click.echo(message, err=True)
    raise SystemExit(1)


def one_line(exc: BaseException) -> str:
    """The first line of an error, with the fix for the usual first-run mistake, scrubbed of secrets. Database
    errors carry the SQL and a link on later lines, which would turn the one line into a screenful."""
    from sqlalchemy.exc import DBAPIError

    from sync.engine import describe_error

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        message = f"database error: {exc.orig}"  # the driver's own words, without SQLAlchemy's SQL and link
    elif isinstance(exc, ValueError):
        message = str(exc)  # ConfigError and our ValueErrors are written for users: no type name needed
    else:
        message = describe_error(exc)
    lines = message.splitlines()
    text = lines[0] if lines else type(exc).__name__
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        text += " (run `flask --app app:server db upgrade` first)"
    return scrubbed(text)


def scrubbed(text: str) -> str:
    """`text` without any secret of the configuration (a server may echo the request into its error)."""
    from sync.scrub import Scrubber

    return Scrubber.for_settings(current_runtime().settings).scrub(text)


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from models import rollups
    from models.db import database_revision, upgrade_database

    runtime = current_runtime()
    url = runtime.settings.database_url
    try:
        before = database_revision(url)
        upgrade_database(url)
        after = database_revision(url)
        rollups.ensure(runtime.engine, runtime.settings.timezone)  # the counts the pages read: nothing else
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        fail(f"db upgrade failed: {one_line(exc)}")
    click.echo(upgrade_message(before, after))
    from models import sales_rollups

    settings = current_runtime().settings
    if sales_rollups.ensure(current_runtime().engine, settings.kpi.sales, settings.timezone):  # None or 0: quiet
        click.echo("scored the deals' stage changes again under the current sales rules and TIMEZONE")
    _rederive_support_rollups()


def _rederive_support_rollups() -> None:
    """The help-desk roll-ups kept with an earlier TIMEZONE, [calendar], [cases.sla] or resolved statuses are
    re-derived here (and after the next VTiger sync), never on a page click."""
    from models import support_rollups

    runtime = current_runtime()
    try:
        if support_rollups.rederive_if_changed(runtime.engine, support_rollups.SupportRules.of(runtime.settings)):
            click.echo("re-derived the help-desk roll-ups for the changed TIMEZONE / [calendar] / [cases.sla]")
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        fail(f"db upgrade: the help-desk roll-ups could not be re-derived: {one_line(exc)}")


def upgrade_message(before: str | None, after: str | None) -> str:
    """What `db upgrade` did, in words that are true: a new database, a migrated one, or nothing to do (the
    upgrade goes to the newest revision, so an unchanged one is the latest)."""
    if before is None:
        return f"created the database at revision {after}"
    if before == after:
        return f"already at the latest revision ({after})"
    return f"upgraded from revision {before} to {after}"


@db_group.command("rollups")
def db_rollups() -> None:
    """Recount the cases, help-desk, sales and Redmine roll-ups from the tables (sync keeps them; this is for rows
    written another way, such as an import straight into the database)."""
    from models import rollups, sales_rollups, support_rollups

    runtime = current_runtime()
    try:
        for source in rollups.SPECS:
            started = time.perf_counter()
            count = rollups.rebuild(runtime.engine, source, runtime.settings.timezone)
            click.echo(f"{source}: {count} roll-up rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        settings = runtime.settings
        count = sales_rollups.rebuild(runtime.engine, settings.kpi.sales, settings.timezone)
        click.echo(f"sales: {count} stage passages in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        count = support_rollups.rebuild(runtime.engine, support_rollups.SupportRules.of(runtime.settings))
        click.echo(f"support: {count} roll-up rows in {time.perf_counter() - started:.1f} s")
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        fail(f"db rollups failed: {one_line(exc)}")


@sync_group.command("run")
@click.argument("source", type=SOURCE_CHOICES, default="all")
@click.option("--full", is_flag=True, help="Ignore the watermark and re-read everything (also reconciles ids).")
def sync_run(source: str, full: bool) -> None:
    """Sync one source (or all) now, in this process."""
    from sync.service import configured_sources, run_sync

    runtime = current_runtime()
    sources = configured_sources(runtime.settings) if source == "all" else [source]
    failed = False
    for name in sources:
        started = time.monotonic()
        try:
            records = run_sync(runtime.engine, runtime.settings, name, full=full, trigger="cli")
        except Exception as exc:  # noqa: BLE001 - one clear line per source; the other source still runs
            click.echo(f"{name}: failed: {one_line(exc)}", err=True)
            failed = True
            continue
        for record in records:
            click.echo(
                f"{name} {record.module}: {record.inserted} inserted, {record.updated} updated, "
                f"{record.deleted} deleted, {record.requests} requests"
            )
        click.echo(f"{name}: done in {time.monotonic() - started:.1f}s")
    if failed:
        raise SystemExit(1)


@sync_group.command("enqueue")
@click.argument("source", type=SOURCE_CHOICES, default="all")
@click.option("--full", is_flag=True, help="Ignore the watermark and re-read everything (also reconciles ids).")
def sync_enqueue(source: str, full: bool) -> None:
    """Queue a sync for the RQ workers (needs REDIS_URL); skipped when one is already pending."""
    from sync.jobs import enqueue_sync
    from sync.service import configured_sources

    settings = current_runtime().settings
    if not settings.redis_url:
        fail("REDIS_URL is not set: there are no workers to queue for; use `flask --app app:server sync run`")
    sources = configured_sources(settings) if source == "all" else [source]
    for name in sources:
        try:
            job = enqueue_sync(settings.redis_url, name, full=full)
        except Exception as exc:  # noqa: BLE001 - e.g. Redis unreachable: one line
            fail(f"{name}: could not enqueue: {one_line(exc)}")
        click.echo(f"{name}: enqueued job {job.id}" if job else f"{name}: skipped, a sync is already pending")


@demo_group.command("load")
def demo_load() -> None:
    """Load the deterministic demo data set through the normal sync path."""
    from sync.demo.load import load_demo

    runtime = current_runtime()
    try:
        summary = load_demo(runtime.engine, runtime.settings)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        fail(f"demo load failed: {one_line(exc)}")
    click.echo(summary)

"""Flask CLI commands: `db upgrade`, `sync run`, `demo load` (and `kiosk` from auth.py).

Each prints what it did and exits non-zero with one clear line on failure.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from runtime import current_runtime


def register_cli(server: Flask) -> None:
    server.cli.add_command(db_group)
    server.cli.add_command(sync_group)
    server.cli.add_command(demo_group)


db_group = AppGroup("db", help="Database schema.")
sync_group = AppGroup("sync", help="Mirror VTiger and Redmine into the database.")
demo_group = AppGroup("demo", help="Synthetic demo data.")


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from models.db import upgrade_database

    upgrade_database(current_runtime().settings.database_url)
    click.echo("database is at the latest revision")


@sync_group.command("run")
@click.argument("source", type=click.Choice(["vtiger", "redmine", "all"]), default="all")
@click.option("--full", is_flag=True, help="Ignore the watermark and re-read everything (also reconciles ids).")
def sync_run(source: str, full: bool) -> None:
    """Sync one source (or all) now, in this process."""
    from sync.engine import SyncError, describe_error
    from sync.service import configured_sources, run_sync

    runtime = current_runtime()
    sources = configured_sources(runtime.settings) if source == "all" else [source]
    failed = False
    for name in sources:
        try:
            records = run_sync(runtime.engine, runtime.settings, name, full=full, trigger="cli")
        except (SyncError, ValueError) as exc:
            click.echo(f"{name}: failed: {exc}", err=True)
            failed = True
            continue
        except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
            click.echo(f"{name}: failed: {describe_error(exc)}", err=True)
            failed = True
            continue
        for record in records:
            click.echo(
                f"{name} {record.module}: {record.inserted} inserted, {record.updated} updated, "
                f"{record.deleted} deleted, {record.requests} requests"
            )
    if failed:
        raise SystemExit(1)


@demo_group.command("load")
def demo_load() -> None:
    """Load the deterministic demo data set through the normal sync path."""
    from sync.demo import load_demo

    runtime = current_runtime()
    summary = load_demo(runtime.engine, runtime.settings)
    click.echo(summary)

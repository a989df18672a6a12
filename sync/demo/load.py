"""Loading the demo: both demo sources synced now through the normal sync path (`flask --app app:server demo load`).

Kept apart from source.py so that the demo source does not import the sync service that picks it as a client.
Must not import Dash or Flask.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from models.schema import (
    cases,
    deal_stage_changes,
    deals,
    phone_calls,
    redmine_issues,
    vtiger_groups,
    vtiger_users,
)
from settings import Settings
from sync.demo import source
from sync.engine import SyncError
from sync.service import SOURCES, run_sync


def refuse_real_credentials(settings: Settings) -> None:
    if settings.demo_mode:
        return
    configured = [name for name, value in (("VTIGER_URL", settings.vtiger), ("REDMINE_URL", settings.redmine)) if value]
    raise SyncError(
        f"{' and '.join(configured)} {'are' if len(configured) > 1 else 'is'} set: the demo would mix synthetic rows "
        "into the real tables; unset it, or point DATABASE_URL at another database, to load the demo"
    )


def load_demo(engine: Engine, settings: Settings) -> str:
    """Sync both demo sources now, through the normal sync path; returns a one-line summary."""
    refuse_real_credentials(settings)
    inserted = updated = 0
    for name in SOURCES:
        for record in run_sync(engine, settings, name, trigger="demo"):
            inserted += record.inserted
            updated += record.updated
    anchor = source.demo_anchor(engine, source.clock())
    counts = table_counts(engine)
    return (
        f"demo data (from {anchor.first_day}, anchor {anchor.day}): "
        f"{counts['cases']:,} cases, {counts['deals']:,} deals ({counts['deal_stage_changes']:,} stage changes), "
        f"{counts['phone_calls']:,} calls, {counts['redmine_issues']:,} Redmine issues, "
        f"{counts['vtiger_users']:,} users in {counts['vtiger_groups']} groups; "
        f"this run {inserted:,} inserted, {updated:,} updated"
    )


def table_counts(engine: Engine) -> dict[str, int]:
    tables = (cases, deals, deal_stage_changes, phone_calls, redmine_issues, vtiger_users, vtiger_groups)
    with engine.connect() as conn:
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one() for table in tables}

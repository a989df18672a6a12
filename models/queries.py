"""The read queries the pages use. Every query that serves a date window reads only that window's rows
through the indexed timestamp columns.

Must not import Dash or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from models.schema import SOURCE_TABLES, sync_runs


@dataclass(frozen=True)
class ModuleSummary:
    source: str
    module: str
    last_started_at: datetime | None
    last_status: str
    last_error: str
    last_success_at: datetime | None


MODULE_TABLES = {
    ("vtiger", "Cases"): "cases",
    ("vtiger", "Potentials"): "deals",
    ("vtiger", "PhoneCalls"): "phone_calls",
    ("redmine", "issues"): "redmine_issues",
}


def live_row_counts(engine: Engine) -> dict[str, int]:
    """Rows per source table, not counting records deleted at the source."""
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))).scalar_one()
            for name, table in SOURCE_TABLES.items()
        }


def module_summaries(engine: Engine) -> list[ModuleSummary]:
    """The latest run and the latest success of every source module that has ever run."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(sync_runs.c.source, sync_runs.c.module, func.max(sync_runs.c.id).label("last_id")).group_by(
                sync_runs.c.source, sync_runs.c.module
            )
        ).all()
        summaries = []
        for source, module, last_id in latest:
            last = conn.execute(select(sync_runs).where(sync_runs.c.id == last_id)).mappings().one()
            last_success = conn.execute(
                select(func.max(sync_runs.c.finished_at)).where(
                    sync_runs.c.source == source, sync_runs.c.module == module, sync_runs.c.status == "success"
                )
            ).scalar_one()
            summaries.append(
                ModuleSummary(source, module, last["started_at"], last["status"], last["error"], last_success)
            )
    return sorted(summaries, key=lambda s: (s.source, s.module))

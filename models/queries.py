"""The read queries the pages use. Every query that serves a date window reads only that window's rows
through the indexed timestamp columns.

Must not import Dash or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from models.schema import (
    SOURCE_TABLES,
    deal_stage_changes,
    rollup_state,
    sales_rollup_state,
    sync_runs,
    sync_state,
    vtiger_groups,
)

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


@dataclass(frozen=True)
class SyncRun:
    """One sync_runs row, as the status page shows it."""

    id: int
    source: str
    module: str
    trigger: str
    job_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, success, failed
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    requests: int
    error: str

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class ModuleHealth:
    """Where one source module stands: its latest run (maybe still running), its latest finished run, its latest
    success and its latest failure."""

    source: str
    module: str
    last_run: SyncRun
    last_finished: SyncRun | None
    last_success: SyncRun | None
    last_failure: SyncRun | None

    @property
    def running(self) -> bool:
        return self.last_run.status == "running"

    @property
    def last_success_at(self) -> datetime | None:
        return self.last_success.finished_at if self.last_success else None

    @property
    def failing(self) -> bool:
        """The latest finished run failed: the module's data stopped moving."""
        return self.last_finished is not None and self.last_finished.status == "failed"


def _sync_run(row: Any) -> SyncRun:
    return SyncRun(**{name: row[name] for name in SyncRun.__dataclass_fields__})


def recent_runs(engine: Engine, limit: int = 50) -> list[SyncRun]:
    """The latest `limit` runs of every source and module, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)).mappings()
        return [_sync_run(row) for row in rows]


def sync_modules(engine: Engine) -> list[tuple[str, str]]:
    """Every (source, module) that has ever run, sorted."""
    with engine.connect() as conn:
        rows = conn.execute(select(sync_runs.c.source, sync_runs.c.module).distinct()).all()
    return sorted((row.source, row.module) for row in rows)


def module_health(engine: Engine, sources: Sequence[str] | None = None) -> list[ModuleHealth]:
    """Health of every module that has run (only `sources`' when given). Each lookup is a newest-first read of
    the (source, module, started_at) index that stops at the first match, so a long run history stays cheap."""
    modules = [(source, module) for source, module in sync_modules(engine) if sources is None or source in sources]
    health = []
    with engine.connect() as conn:
        for source, module in modules:

            def newest(*conditions: Any, source: str = source, module: str = module) -> SyncRun | None:
                statement = (
                    select(sync_runs)
                    .where(sync_runs.c.source == source, sync_runs.c.module == module, *conditions)
                    .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
                    .limit(1)
                )
                row = conn.execute(statement).mappings().first()
                return _sync_run(row) if row else None

            last_run = newest()
            if last_run is None:  # deleted between the two reads
                continue
            health.append(
                ModuleHealth(
                    source=source,
                    module=module,
                    last_run=last_run,
                    last_finished=newest(sync_runs.c.status != "running"),
                    last_success=newest(sync_runs.c.status == "success"),
                    last_failure=newest(sync_runs.c.status == "failed"),
                )
            )
    return health


# Runs finish in the order they started give or take the few modules that run at once: the newest finish time is
# among the newest runs' (read through the primary key, so the version stays a tiny query however long the
# history grows).
RECENT_RUNS = 100


_PINNED: ContextVar[tuple[Engine, tuple[Any, ...]] | None] = ContextVar("pinned_data_version", default=None)


def pin_data_version(engine: Engine) -> Token[tuple[Engine, tuple[Any, ...]] | None]:
    """Read the data version once for the rest of this context (a request: its response cache and its page cache
    key on the same version, one query instead of two). Undo with `unpin_data_version(token)`."""
    return _PINNED.set((engine, data_version(engine)))


def unpin_data_version(token: Token[tuple[Engine, tuple[Any, ...]] | None]) -> None:
    _PINNED.reset(token)


def data_version(engine: Engine) -> tuple[Any, ...]:
    """Changes whenever the data the pages show can have changed: a sync run starts (newest run id) or finishes
    (newest finish time), sync commits a page of rows (sync_state.updated_at, written in the same transaction as
    the rows), or rows are added by another path (demo load, a test: the newest id of every source table). One
    statement of index-only lookups; the page cache, the TV and the status page key on it. Pinned (above), the
    version read when the pin was set."""
    pinned = _PINNED.get()
    if pinned is not None and pinned[0] is engine:
        return pinned[1]
    recent = select(sync_runs.c.finished_at).order_by(sync_runs.c.id.desc()).limit(RECENT_RUNS).subquery()
    parts = [
        select(func.max(sync_runs.c.id)).scalar_subquery(),
        select(func.max(recent.c.finished_at)).scalar_subquery(),
        select(func.max(sync_state.c.updated_at)).scalar_subquery(),
        select(func.max(rollup_state.c.built_at)).scalar_subquery(),  # new counts after a rebuild
        select(func.max(rollup_state.c.rebuilding_since)).scalar_subquery(),  # a rebuild starts: pages say so
        select(func.max(sales_rollup_state.c.built_at)).scalar_subquery(),  # the sales rules changed
        *(select(func.max(table.c.id)).scalar_subquery() for table in (*SOURCE_TABLES.values(), deal_stage_changes)),
    ]
    with engine.connect() as conn:
        return tuple(conn.execute(select(*parts)).one())


def vtiger_group_names(engine: Engine) -> list[str]:
    """The VTiger group names sync has stored, sorted (the TV checks its `group` parameter against them)."""
    with engine.connect() as conn:
        rows = conn.execute(select(vtiger_groups.c.name).where(vtiger_groups.c.name != "")).scalars().all()
    return sorted(set(rows))

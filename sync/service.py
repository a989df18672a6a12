"""Runs one source's sync: picks the client (real, or the demo emulator when no credentials are set), takes
the source's lock, and hands over to the source module. Jobs, the embedded scheduler and the CLI all call this.

Must not import Dash or Flask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from models import rollups
from models.db import refused_write_reason
from settings import Settings
from sync.engine import RunRecord, SourceBusy, SourceLock, describe_error, source_lock
from sync.scrub import Scrubber, scrubbing

if TYPE_CHECKING:  # for the annotations only; the functions below import the clients where they use them
    from sync.redmine import RedmineClient
    from sync.vtiger import VtigerClient

SOURCES = ("vtiger", "redmine")
ROLLUPS = {"vtiger": ("cases",), "redmine": ("redmine",)}  # the roll-ups (models/rollups.py) each source feeds


def configured_sources(settings: Settings) -> list[str]:
    """Sources that have credentials; in demo mode both, served by the demo emulators."""
    if settings.demo_mode:
        return list(SOURCES)
    return [name for name in SOURCES if getattr(settings, name) is not None]


def run_sync(
    engine: Engine,
    settings: Settings,
    source: str,
    *,
    full: bool = False,
    trigger: str = "",
    job_id: str = "",
    modules: Collection[str] | Callable[[], Collection[str]] | None = None,
) -> list[RunRecord]:
    """Sync one source under its lock. Raises SourceBusy when another process is syncing it.

    `modules` limits a VTiger run to those modules (Redmine always runs whole: statuses are one request); None:
    all. A callable is asked once the lock is held, so a webhook's request claims what was asked until then
    (sync/triggers.py); when it answers nothing, nothing runs."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if source not in configured_sources(settings):
        raise ValueError(f"{source} is not configured: set {source.upper()}_URL and its credentials")
    # Every error text recorded or raised inside is scrubbed of the configured secrets (sync/scrub.py).
    with scrubbing(Scrubber.for_settings(settings)), source_lock(engine, source) as lock:
        wanted = modules() if callable(modules) else modules
        if callable(modules) and not wanted:
            return []
        records = _sync_source(
            engine, settings, source, full=full, trigger=trigger, job_id=job_id, lock=lock, modules=wanted
        )
        # Sync keeps kept roll-ups right as it writes; this builds them the first time (a first backfill is
        # faster counted once at the end) and after anything that stopped them being kept.
        rollups.ensure(engine, settings.timezone, ROLLUPS[source])
        return records


def _sync_source(
    engine: Engine,
    settings: Settings,
    source: str,
    *,
    full: bool,
    trigger: str,
    job_id: str,
    lock: SourceLock,
    modules: Collection[str] | None = None,
) -> list[RunRecord]:
    if source == "vtiger":
        from sync.vtiger_sync import sync_vtiger

        return sync_vtiger(
            engine, settings, client=_vtiger_client(engine, settings), full=full, trigger=trigger,
            job_id=job_id, lock=lock, modules=modules,
        )  # fmt: skip
    from sync.redmine_sync import sync_redmine

    return sync_redmine(
        engine, settings, client=_redmine_client(engine, settings), full=full, trigger=trigger,
        job_id=job_id, lock=lock,
    )  # fmt: skip


def run_all(
    engine: Engine, settings: Settings, *, trigger: str = "", full: bool = False, health: WriteHealth | None = None
) -> dict[str, str]:
    """Sync every configured source; one failing does not stop the others. Returns a word per source ("ok",
    "busy", "failed: why" or "cannot write: why"), noted in `health` when given."""
    outcome: dict[str, str] = {}
    for source in configured_sources(settings):
        try:
            run_sync(engine, settings, source, full=full, trigger=trigger)
            outcome[source] = "ok"
        except SourceBusy:
            outcome[source] = "busy"
        except Exception as exc:  # noqa: BLE001 - recorded in sync_runs already; the other source still runs
            outcome[source] = describe_outcome(exc, settings)
    if health is not None:
        health.note(outcome)
    return outcome


def describe_outcome(exc: BaseException, settings: Settings) -> str:
    """A failed source's outcome word with one scrubbed line of why; a database refusing writes is its own case,
    because sync_runs (which /status reads) cannot record it."""
    refusal = refused_write_reason(exc)
    if refusal:
        return f"cannot write: the database refuses writes ({Scrubber.for_settings(settings).scrub(refusal)})"
    first = (describe_error(exc).splitlines() or [type(exc).__name__])[0]
    return f"failed: {Scrubber.for_settings(settings).scrub(first)}"


class WriteHealth:
    """Whether this process's syncs could write the database. A database that refuses writes cannot say so in
    sync_runs, so the process that tried remembers it for /status and the freshness badge."""

    def __init__(self) -> None:
        self._problem = ""
        self._lock = threading.Lock()

    @property
    def problem(self) -> str:
        """Why sync cannot write ("" when its last attempt could)."""
        with self._lock:
            return self._problem

    def note(self, outcome: dict[str, str]) -> None:
        refusals = [text for text in outcome.values() if text.startswith("cannot write")]
        with self._lock:
            if refusals:
                self._problem = refusals[0].removeprefix("cannot write: ")
            elif any(text == "ok" for text in outcome.values()):
                self._problem = ""

    def refused(self, reason: str) -> None:
        with self._lock:
            self._problem = reason


def _vtiger_client(engine: Engine, settings: Settings) -> VtigerClient:
    if settings.demo_mode:
        from sync.demo.source import demo_vtiger_client

        return demo_vtiger_client(engine, settings)
    from sync.vtiger import VtigerClient

    assert settings.vtiger is not None
    return VtigerClient.from_settings(settings.vtiger)


def _redmine_client(engine: Engine, settings: Settings) -> RedmineClient:
    if settings.demo_mode:
        from sync.demo.source import demo_redmine_client

        return demo_redmine_client(engine, settings)
    from sync.redmine import RedmineClient

    assert settings.redmine is not None
    return RedmineClient.from_settings(settings.redmine)

"""The embedded scheduler: without Redis, the web process syncs every SYNC_INTERVAL_MINUTES on a daemon
thread. The per-source database lock keeps it from overlapping with a CLI run or another web process.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Engine

from models.queries import MODULE_TABLES, live_row_counts
from settings import Settings
from sync.service import WriteHealth, run_all

log = logging.getLogger(__name__)
startup_log = logging.getLogger("kpi.startup")  # the lines `python app.py` prints (app.py: configure_logging)


class EmbeddedScheduler:
    def __init__(self, settings: Settings, engine: Engine, health: WriteHealth | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.health = health if health is not None else WriteHealth()
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self.next_trigger = "embedded"  # what the next run is recorded as in sync_runs.trigger
        self.thread = threading.Thread(target=self._loop, name="kpi-sync", daemon=True)

    def start(self) -> EmbeddedScheduler:
        self.thread.start()
        return self

    def run_now(self, trigger: str = "manual") -> None:
        """Ask for a sync at once (the status page's button), recorded with `trigger`."""
        self.next_trigger = trigger
        self.wake.set()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        first = True
        while not self.stopped.is_set():
            trigger, self.next_trigger = self.next_trigger, "embedded"
            self.wake.clear()  # a press while this run goes on wakes the loop again right after it
            if first:
                self._first_sync(trigger)
                first = False
            else:
                sync_once(self.engine, self.settings, trigger, self.health)
            self.wake.wait(timeout=self.settings.sync_interval_minutes * 60)

    def _first_sync(self, trigger: str) -> dict[str, str]:
        """The first pass, announced: on a new database it is the one that fills the dashboard."""
        data = "demo data" if self.settings.demo_mode else "VTiger and Redmine"
        startup_log.info("first sync started (%s)", data)
        started = time.monotonic()
        outcome = sync_once(self.engine, self.settings, trigger, self.health)
        failed = "; ".join(f"{source} {word}" for source, word in outcome.items() if word != "ok")
        startup_log.info(
            "first sync done in %.1f s: %s%s",
            time.monotonic() - started,
            rows_per_module(self.engine, list(outcome)),
            f" ({failed})" if failed else "",
        )
        return outcome


def rows_per_module(engine: Engine, sources: Sequence[str]) -> str:
    """Rows the database holds per synced module of `sources` (records deleted at the source not counted), as
    "vtiger Cases 1,234 rows, ..."."""
    counts = live_row_counts(engine)
    return ", ".join(
        f"{source} {module} {counts[table]:,} rows"
        for (source, module), table in MODULE_TABLES.items()
        if source in sources
    )


def sync_once(engine: Engine, settings: Settings, trigger: str, health: WriteHealth) -> dict[str, str]:
    """Sync every configured source now, note whether the database took the writes, and log the outcome."""
    outcome = run_all(engine, settings, trigger=trigger, health=health)
    log_outcome(outcome, trigger)
    return outcome


def log_outcome(outcome: dict[str, str], trigger: str) -> None:
    """One line per source: a failure at ERROR (the database refuses writes) or WARNING (anything else), so it
    shows under gunicorn's default log level; success and "busy" at INFO."""
    for source, word in outcome.items():
        if word.startswith("cannot write"):
            log.error("%s sync of %s: %s", trigger, source, word)
        elif word.startswith("failed"):
            log.warning("%s sync of %s: %s", trigger, source, word)
        else:
            log.info("%s sync of %s: %s", trigger, source, word)


def start_embedded_scheduler(
    settings: Settings, engine: Engine, health: WriteHealth | None = None
) -> EmbeddedScheduler:
    return EmbeddedScheduler(settings, engine, health).start()


_start_lock = threading.Lock()


class SchedulerHome(Protocol):
    """Where a process keeps its scheduler and write health (the web app's runtime.Runtime)."""

    scheduler: EmbeddedScheduler | None
    write_health: WriteHealth


def ensure_embedded_scheduler(home: SchedulerHome, settings: Settings, engine: Engine) -> EmbeddedScheduler:
    """Start the scheduler kept in `home.scheduler` unless it runs already. Called on every web request, so the
    common case is one attribute read; the lock makes concurrent first requests start only one."""
    scheduler = home.scheduler
    if scheduler is not None:
        return scheduler
    with _start_lock:
        if home.scheduler is None:
            home.scheduler = start_embedded_scheduler(settings, engine, home.write_health)
        return home.scheduler

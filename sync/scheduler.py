"""The embedded scheduler: without Redis, the web process syncs every SYNC_INTERVAL_MINUTES on a daemon
thread. The per-source database lock keeps it from overlapping with a CLI run or another web process.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from models.queries import MODULE_TABLES, live_row_counts
from settings import Settings
from sync.service import run_all

log = logging.getLogger(__name__)
startup_log = logging.getLogger("kpi.startup")  # the lines `python app.py` prints (app.py: configure_logging)


class EmbeddedScheduler:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="kpi-sync", daemon=True)

    def start(self) -> EmbeddedScheduler:
        self.thread.start()
        return self

    def run_now(self) -> None:
        """Ask for a sync at once (the status page's button)."""
        self.wake.set()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        first = True
        while not self.stopped.is_set():
            outcome = self._first_sync() if first else run_all(self.engine, self.settings, trigger="embedded")
            first = False
            log.info("embedded sync: %s", outcome)
            self.wake.wait(timeout=self.settings.sync_interval_minutes * 60)
            self.wake.clear()

    def _first_sync(self) -> dict[str, str]:
        """The first pass, announced: on a new database it is the one that fills the dashboard."""
        data = "demo data" if self.settings.demo_mode else "VTiger and Redmine"
        startup_log.info("first sync started (%s)", data)
        started = time.monotonic()
        outcome = run_all(self.engine, self.settings, trigger="embedded")
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


def start_embedded_scheduler(settings: Settings, engine: Engine) -> EmbeddedScheduler:
    return EmbeddedScheduler(settings, engine).start()


_start_lock = threading.Lock()


def ensure_embedded_scheduler(extras: dict[str, Any], settings: Settings, engine: Engine) -> EmbeddedScheduler:
    """Start the scheduler kept in `extras["scheduler"]` unless it runs already. Called on every web request,
    so the common case is one dictionary lookup; the lock makes concurrent first requests start only one."""
    scheduler = extras.get("scheduler")
    if scheduler is not None:
        return scheduler
    with _start_lock:
        if "scheduler" not in extras:
            extras["scheduler"] = start_embedded_scheduler(settings, engine)
        return extras["scheduler"]

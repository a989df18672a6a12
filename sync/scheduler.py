"""The embedded scheduler: without Redis, the web process syncs every SYNC_INTERVAL_MINUTES on a daemon
thread. The per-source database lock keeps it from overlapping with a CLI run or another web process.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from settings import Settings
from sync.service import run_all

log = logging.getLogger(__name__)


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
        while not self.stopped.is_set():
            outcome = run_all(self.engine, self.settings, trigger="embedded")
            log.info("embedded sync: %s", outcome)
            self.wake.wait(timeout=self.settings.sync_interval_minutes * 60)
            self.wake.clear()


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

"""The embedded scheduler: without Redis, the web process syncs every SYNC_INTERVAL_MINUTES on a daemon
thread. The per-source database lock keeps it from overlapping with a CLI run or another web process.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading

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

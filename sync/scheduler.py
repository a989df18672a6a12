"""The embedded scheduler: without Redis, the web process syncs every SYNC_INTERVAL_MINUTES on a daemon
thread. The per-source database lock keeps it from overlapping with a CLI run or another web process.

Webhooks (web/webhooks.py) ask it for a sync of some modules with `request`: the thread runs it at once (after the
pass in progress, if any), and every request made before that run takes the lock is served by it
(sync/triggers.py). A scheduler built with `scheduled=False` (automatic sync off) runs only such requests.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import Protocol

from sqlalchemy import Engine

from models.queries import MODULE_TABLES, live_row_counts
from settings import Settings
from sync.engine import SourceBusy
from sync.service import WriteHealth, describe_outcome, run_all, run_sync
from sync.triggers import PendingRequests

log = logging.getLogger(__name__)
startup_log = logging.getLogger("kpi.startup")  # the lines `python app.py` prints (app.py: configure_logging)


BUSY_RETRY_SECONDS = 2.0  # a requested sync whose source is busy elsewhere is tried again this often


class EmbeddedScheduler:
    def __init__(
        self, settings: Settings, engine: Engine, health: WriteHealth | None = None, *, scheduled: bool = True
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.health = health if health is not None else WriteHealth()
        self.scheduled = scheduled
        self.requests = PendingRequests()
        self.stopped = threading.Event()
        self.wake = threading.Event()
        self.pass_asked = threading.Event()
        self.next_trigger = "embedded"  # what the next run is recorded as in sync_runs.trigger
        self.thread = threading.Thread(target=self._loop, name="kpi-sync", daemon=True)

    def start(self) -> EmbeddedScheduler:
        self.thread.start()
        return self

    def run_now(self, trigger: str = "manual") -> None:
        """Ask for a sync at once (the status page's button), recorded with `trigger`."""
        self.next_trigger = trigger
        self.pass_asked.set()
        self.wake.set()

    def request(self, source: str, modules: frozenset[str]) -> str:
        """A webhook's sync of `modules`: "absorbed" when a request of the source is already waiting, else
        "queued"; the thread runs it at once."""
        absorbed = self.requests.add(source, modules)
        self.wake.set()
        return "absorbed" if absorbed else "queued"

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        first = self.scheduled
        due = time.monotonic() + self.settings.sync_interval_minutes * 60 if not first else 0.0
        while not self.stopped.is_set():
            self.wake.clear()  # a press or a webhook while this run goes on wakes the loop again right after it
            if first or self.pass_asked.is_set() or (self.scheduled and time.monotonic() >= due):
                self.pass_asked.clear()
                trigger, self.next_trigger = self.next_trigger, "embedded"
                if first:
                    self._first_sync(trigger)
                    first = False
                else:
                    sync_once(self.engine, self.settings, trigger, self.health)
                due = time.monotonic() + self.settings.sync_interval_minutes * 60
            busy = self._run_requests()
            wait = max(0.0, due - time.monotonic()) if self.scheduled else None
            if busy:
                wait = BUSY_RETRY_SECONDS if wait is None else min(wait, BUSY_RETRY_SECONDS)
            self.wake.wait(timeout=wait)

    def _run_requests(self) -> bool:
        """Run the syncs webhooks asked for; True when one must wait (its source is busy elsewhere)."""
        busy = False
        for source in self.requests.sources():
            try:
                run_sync(
                    self.engine, self.settings, source, trigger="webhook",
                    modules=partial(self.requests.claim, source),
                )  # fmt: skip
                outcome = "ok"
            except SourceBusy:  # not claimed: the request waits for the lock
                busy = True
                continue
            except ValueError as exc:  # the source is not configured (before the lock): drop its request
                self.requests.claim(source)
                outcome = describe_outcome(exc, self.settings)
            except Exception as exc:  # noqa: BLE001 - recorded in sync_runs; the other source still runs
                outcome = describe_outcome(exc, self.settings)
            self.health.note({source: outcome})
            log_outcome({source: outcome}, "webhook")
        return busy

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
    settings: Settings, engine: Engine, health: WriteHealth | None = None, *, scheduled: bool = True
) -> EmbeddedScheduler:
    return EmbeddedScheduler(settings, engine, health, scheduled=scheduled).start()


_start_lock = threading.Lock()


class SchedulerHome(Protocol):
    """Where a process keeps its scheduler and write health (the web app's runtime.Runtime)."""

    scheduler: EmbeddedScheduler | None
    write_health: WriteHealth


def ensure_embedded_scheduler(home: SchedulerHome, settings: Settings, engine: Engine) -> EmbeddedScheduler:
    """Start the scheduler kept in `home.scheduler` unless it runs already. Called on every web request, so the
    common case is one attribute read; the lock makes concurrent first requests start only one. With automatic
    sync off (settings.embedded_sync) it runs only what webhooks ask for."""
    scheduler = home.scheduler
    if scheduler is not None:
        return scheduler
    with _start_lock:
        if home.scheduler is None:
            home.scheduler = start_embedded_scheduler(
                settings, engine, home.write_health, scheduled=settings.embedded_sync
            )
        return home.scheduler

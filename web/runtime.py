"""What a running app shares with its routes and callbacks: one typed `Runtime` with the settings, the database
engine, the clock, the control bar's timing, the cache and the sync services this process started.

Callbacks and Flask views reach it through `current_runtime()`, so every test can build its own app; tests set its
fields (`runtime.clock = lambda: NOW`, `runtime.control_timing = ControlTiming(refresh_unit_ms=1000)`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cachelib import BaseCache
from flask import current_app
from sqlalchemy import Engine

from settings import Settings

if TYPE_CHECKING:
    from digest.schedule import DigestThread
    from sync.scheduler import EmbeddedScheduler
    from sync.service import WriteHealth


@dataclass(frozen=True)
class ControlTiming:
    """How long a refresh "minute" and the midnight-check tick of the control bar last (tests shorten them)."""

    refresh_unit_ms: int = 60_000
    clock_ms: int = 60_000


def _write_health() -> WriteHealth:
    from sync.service import WriteHealth  # the process's memory of refused writes; no HTTP, no Dash

    return WriteHealth()


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] | None = None  # now (aware or naive UTC); None: the system clock
    control_timing: ControlTiming = field(default_factory=ControlTiming)
    cache: BaseCache | None = None  # the app's one cache of computed answers (web/cache.py), set by create_app
    write_health: WriteHealth = field(default_factory=_write_health)
    scheduler: EmbeddedScheduler | None = None  # the embedded sync scheduler, once the first request started it
    manual_sync: threading.Thread | None = None  # the /status "sync now" run in progress, if any
    digest: DigestThread | None = None  # the morning digest's thread, when digests are configured
    digest_checked: bool = False  # whether this process looked at the digest settings yet
    sales_rollups_started: bool = False  # the background check of the sales roll-ups ran in this process
    app_version: str = ""  # what this app runs, as a TV reports it (web.screens.app_version)
    webhook_rate: str = ""  # the webhooks' rate limit ("3/minute"); "" for the default (tests set a small one)
    webhook_limiter: Any = None  # (limiter, rate item) of web/webhooks.py, made on first use

    def now(self) -> datetime:
        """Now as naive UTC, from the injectable clock when a test or the benchmark set one."""
        now = self.clock() if self.clock else datetime.now(UTC)
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now

    def clear_caches(self) -> bool:
        """Empty the app's cache (the benchmark's cold calls; with Redis, this deployment's keys only: its prefix);
        whether there was one to empty."""
        if self.cache is None:
            return False
        self.cache.clear()
        return True


def current_runtime() -> Runtime:
    return current_app.extensions["kpi"]


def runtime_now() -> datetime:
    """Now as naive UTC, from the app's clock (Runtime.now)."""
    return current_runtime().now()


def freeze_startup_objects() -> None:
    """Call once the app is built in a serving process (gunicorn.conf.py does it in every worker). The app, its
    layouts and every imported module live as long as the process: frozen, they are left out of every garbage
    collection, which then looks only at a request's own objects. Without it a full collection now and then
    walked them all inside a date click (about 50 ms: the slowest of every hundred callbacks)."""
    gc.collect()
    gc.freeze()

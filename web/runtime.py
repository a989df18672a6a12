"""What a running app shares with its routes and callbacks: settings, the database engine, the sync runner.

Callbacks and Flask views reach it through `current_runtime()`, so every test can build its own app.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Engine

from settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the embedded scheduler, the RQ queue


def current_runtime() -> Runtime:
    return current_app.extensions["kpi"]


def runtime_now() -> datetime:
    """Now as naive UTC, from the runtime's clock (extras "clock") when a test set one."""
    clock = current_runtime().extras.get("clock")
    now = clock() if clock else datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def freeze_startup_objects() -> None:
    """Call once the app is built in a serving process (gunicorn.conf.py does it in every worker). The app, its
    layouts and every imported module live as long as the process: frozen, they are left out of every garbage
    collection, which then looks only at a request's own objects. Without it a full collection now and then
    walked them all inside a date click (about 50 ms: the slowest of every hundred callbacks)."""
    gc.collect()
    gc.freeze()

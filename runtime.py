"""What a running app shares with its routes and callbacks: settings, the database engine, the sync runner.

Callbacks and Flask views reach it through `current_runtime()`, so every test can build its own app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

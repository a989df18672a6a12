"""Deriving the sales roll-ups for rows a test wrote straight into the tables (sync keeps them as it stores stage
changes, deals and calls; a seed bypasses sync): models.sales_rollups.rebuild (passages, day counts, pipeline) and
the calls' roll-ups (models.rollups, source "calls") under the app's or the test's rules and TIMEZONE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from models import rollups, sales_rollups
from settings import Settings


def derive(engine: Engine, settings: Settings) -> None:
    sales_rollups.rebuild(engine, settings.kpi.sales, settings.timezone)
    rollups.rebuild(engine, "calls", settings.timezone)


def derive_app(app: Any) -> None:
    """derive for a Dash app built by create_app, with its own engine and settings."""
    runtime = app.server.extensions["kpi"]
    derive(runtime.engine, runtime.settings)

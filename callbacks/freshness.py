"""The freshness badge in the navbar (`freshness-badge`): last successful sync, coloured when stale or failed.

It renders on every page load and then every minute: it renders its own Interval beside the badge, matched by a
pattern id (ALL matches nothing before the first render, which Dash allows), so the shared shell needs nothing
more than the empty div. Reads sync health through models/, judges it with
layouts.freshness. Must not import sync/ runners.
"""

from __future__ import annotations

from datetime import datetime

import dash
from dash import ALL, Input, Output, dcc, html

from layouts.freshness import Freshness, assess_freshness, badge
from models.db import utcnow
from models.queries import module_health
from runtime import current_runtime
from settings import Settings

BADGE_REFRESH_MS = 60_000
TICK = {"role": "freshness-tick", "n": ALL}


def configured_source_names(settings: Settings) -> list[str]:
    """The sources whose freshness matters: the configured ones, both in demo mode."""
    from sync.service import configured_sources  # a pure function of settings; no HTTP, no Dash

    return configured_sources(settings)


def freshness_now(settings: Settings, sources: list[str] | None = None, now: datetime | None = None) -> Freshness:
    """The freshness verdict for `sources` (default: every configured source) at `now` (default: the clock)."""
    runtime = current_runtime()
    wanted = configured_source_names(settings) if sources is None else sources
    return assess_freshness(
        module_health(runtime.engine, wanted), now or utcnow(), settings.sync_interval_minutes, wanted
    )


def register(app: dash.Dash) -> None:
    @app.callback(
        Output("freshness-badge", "children"),
        Input("url", "pathname"),
        Input(TICK, "n_intervals"),
    )
    def show_badge(pathname: str | None, _ticks: list[int | None]):  # type: ignore[no-untyped-def]
        if (pathname or "").rstrip("/") == "/tv":
            # The TV wears no chrome and shows its own sync line; skip the read (and the kiosk's gate).
            raise dash.exceptions.PreventUpdate
        settings = current_runtime().settings
        now = utcnow()
        return html.Div(
            [
                dcc.Interval(id={"role": "freshness-tick", "n": 0}, interval=BADGE_REFRESH_MS),
                badge(freshness_now(settings, now=now), now, settings.timezone),
            ],
            className="freshness-wrap",
        )

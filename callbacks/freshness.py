"""The freshness badge in the navbar (`freshness-badge`): last successful sync, coloured when stale or failed.

It renders on every page load and then whenever what it shows changed (polled every few seconds): it renders its
own Interval and Store beside the badge, matched by pattern ids (ALL matches nothing before the first render,
which Dash allows), so the shared shell needs nothing more than the empty div. Reads sync health through
models/, judges it with layouts.freshness. Must not import sync/ runners.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import dash
from dash import ALL, Input, Output, State, dcc, html

from layouts.freshness import Freshness, assess_freshness, badge
from models.db import utcnow
from models.queries import data_version, module_health
from settings import Settings
from sync.scrub import Scrubber
from web.runtime import Runtime, current_runtime

# The badge asks every few seconds, so a sync that just finished (a press of "Sync now", a CLI run) shows at the
# next poll. A poll costs one index-only read of the data version; the badge re-renders only when that version,
# the minute (its "x min ago" and the stale rule) or the write health changed.
BADGE_POLL_MS = 5_000
TICK = {"role": "freshness-tick", "n": ALL}
SEEN = {"role": "freshness-seen", "n": ALL}


def configured_source_names(settings: Settings) -> list[str]:
    """The sources whose freshness matters: the configured ones, both in demo mode."""
    from sync.service import configured_sources  # a pure function of settings; no HTTP, no Dash

    return configured_sources(settings)


def freshness_now(settings: Settings, sources: list[str] | None = None, now: datetime | None = None) -> Freshness:
    """The freshness verdict for `sources` (default: every configured source) at `now` (default: the clock),
    with its problem sentences scrubbed of secrets (they quote sync errors to every signed-in user)."""
    runtime = current_runtime()
    wanted = configured_source_names(settings) if sources is None else sources
    verdict = assess_freshness(
        module_health(runtime.engine, wanted), now or utcnow(), settings.sync_interval_minutes, wanted
    )
    scrub = Scrubber.for_settings(settings)
    return replace(verdict, problems=tuple(scrub(problem) for problem in verdict.problems))


def with_write_problem(verdict: Freshness, problem: str) -> Freshness:
    """A database that refuses the sync's writes cannot mark its runs failed: the badge says it instead."""
    if not problem:
        return verdict
    return replace(verdict, level="failed", problems=(f"Sync cannot write: {problem}.", *verdict.problems))


def write_problem(runtime: Runtime) -> str:
    return runtime.write_health.problem


def register(app: dash.Dash) -> None:
    @app.callback(
        Output("freshness-badge", "children"),
        Input("url", "pathname"),
        Input(TICK, "n_intervals"),
        State(SEEN, "data"),
    )
    def show_badge(pathname: str | None, _ticks: list[int | None], seen: list[str | None]) -> html.Div:
        if (pathname or "").rstrip("/") == "/tv":
            # The TV wears no chrome and shows its own sync line; skip the read (and the kiosk's gate).
            raise dash.exceptions.PreventUpdate
        runtime = current_runtime()
        settings = runtime.settings
        now = utcnow()
        problem = write_problem(runtime)
        shown = f"{data_version(runtime.engine)}|{now:%Y-%m-%d %H:%M}|{problem}"
        if seen and seen[0] == shown:
            raise dash.exceptions.PreventUpdate  # nothing the badge shows has changed since the last render
        verdict = with_write_problem(freshness_now(settings, now=now), problem)
        return html.Div(
            [
                dcc.Interval(id={"role": "freshness-tick", "n": 0}, interval=BADGE_POLL_MS),
                dcc.Store(id={"role": "freshness-seen", "n": 0}, data=shown),
                badge(verdict, now, settings.timezone, word="Sync cannot write" if problem else None),
            ],
            className="freshness-wrap",
        )

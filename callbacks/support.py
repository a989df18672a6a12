"""/support callbacks: the shared controls' one main callback (callbacks/controls.py) renders the page for a date,
window and group. Thin: the figures come from view_models.support, the components from layouts.support.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output

from callbacks.controls import Trigger, register_controls
from layouts import support as page
from layouts.components import json_values
from layouts.controls import current_now
from models.queries import data_version
from view_models.page_state import PageState
from view_models.support import build_redmine_support, build_support_view
from web.cache import cached
from web.runtime import current_runtime


def register(app: dash.Dash) -> None:
    outputs = {
        "subtitle": Output(f"{page.PREFIX}-subtitle", "children"),
        "body": Output(f"{page.PREFIX}-body", "children"),
    }
    register_controls(app, prefix=page.PREFIX, path="/support", outputs=outputs, render=render_support)


def render_support(state: PageState, _trigger: Trigger) -> dict[str, Any]:
    """The page's values; cached per data version and minute (the at-risk list moves with the clock)."""
    now = (state.now or current_now()).replace(second=0, microsecond=0)
    version = data_version(current_runtime().engine)
    return cached("support-render", (state, now), version, lambda: json_values(render_support_uncached(state, now)))


def render_support_uncached(state: PageState, now: Any) -> dict[str, Any]:
    runtime = current_runtime()
    settings = runtime.settings
    view = build_support_view(runtime.engine, settings, state.day, state.selector, state.window, now=now)
    redmine = build_redmine_support(runtime.engine, settings, state.day, "", state.window, now=now)
    return {"subtitle": page.subtitle(state, view), "body": page.body(view, redmine, state, settings.timezone)}

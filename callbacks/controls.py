"""Wiring of the shared control bar (layouts/controls.py): URL state, midnight rollover and auto refresh.

`register_controls(app, prefix=..., path=..., outputs=..., render=...)` registers, for one page:

1. The page's ONE main callback. Its inputs are the URL query, the "today" button, the date picker, the window and
   selector, the auto-refresh tick, the midnight clock and any `extra_inputs` of the page; its outputs are the
   URL query and the controls (so they always agree, `control_outputs`) and the page's own `outputs`, both by
   name (Dash's dictionary-style outputs). It resolves a `view_models.page_state.PageState` and calls
   `render(state, trigger)`, which returns the values of `outputs` by name (`dash.no_update` for parts a trigger
   does not change). One date click is one round trip.
2. The midnight check: a slow Interval asks the server for today's date in TIMEZONE and stores it
   (`<prefix>-today-date`) only when it changed, which re-renders a page that follows today.
3. The auto-refresh preferences (switch + minutes, saved in localStorage) and the countdown: clientside, in
   assets/refresh.js, so no server round trip per second.

URL rules: each page has its own dcc.Location (`<prefix>-url`), and the shell routes on the path only, so a
query change never rebuilds the page. A control change writes the normalised query (`PageState.to_query`, a new
history entry); a URL change (first load, back/forward) sets the controls; malformed or unknown URL values give
the default view plus a notice. With no date in the URL the page follows "today" in TIMEZONE: the clock tick
re-renders it when the date changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from layouts.components import notice
from layouts.controls import control_id, control_summary, current_now
from layouts.pages import page_for
from metrics.windows import WINDOW_KINDS, comparison_moment
from view_models.page_state import PageState, local_today, parse_page_query
from view_models.url_query import parse_date, parse_query
from web.runtime import current_runtime


@dataclass(frozen=True)
class Trigger:
    """Why the main callback runs: "initial", "url", "controls", "refresh", "clock" or "extra", plus the values
    of the page's extra inputs by component id."""

    kind: str
    extras: Mapping[str, Any] = field(default_factory=dict)
    extra_ids: frozenset[str] = frozenset()  # which extra inputs changed (for kind == "extra")


# (state, trigger) -> the page's values by output name (the names of the `outputs` given to register_controls)
RenderFunction = Callable[[PageState, Trigger], Mapping[str, Any]]


def control_outputs(prefix: str) -> dict[str, Output]:
    """The control bar's outputs of a page's main callback, by name: the URL query and the controls, so they
    always agree."""

    def cid(name: str) -> str:
        return control_id(prefix, name)

    return {
        "url": Output(cid("url"), "search"),
        "date": Output(cid("date"), "date"),
        "max_date": Output(cid("date"), "max_date_allowed"),
        "window": Output(cid("window"), "value"),
        "selector": Output(cid("selector"), "value"),
        "next_disabled": Output(cid("next"), "disabled"),
        "today_color": Output(cid("today"), "color"),
        "notice": Output(cid("notice"), "children"),
        "rendered": Output(cid("rendered"), "data"),
        "summary": Output(cid("summary"), "children"),
    }


def selector_values(options: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The real choices of a selector dropdown (the "all" entry has the empty value)."""
    return [str(option["value"]) for option in options or [] if option.get("value")]


def selector_label(options: Sequence[Mapping[str, Any]] | None, value: str) -> str:
    """The shown label of the selector's value ("All groups" for the empty one)."""
    return next((str(option["label"]) for option in options or [] if option.get("value") == value), value)


def resolve_state(
    *,
    triggered: set[str],
    prefix: str,
    search: str | None,
    date_value: str | None,
    window_value: str | None,
    selector_value: str | None,
    selectors: Sequence[str],
    today: Any,
    selector_key: str,
) -> tuple[PageState, str]:
    """The state a page should show and the trigger kind, from which inputs changed and their values."""
    from_url = parse_page_query(parse_query(search), today, selectors, selector_key=selector_key)
    if not triggered or f"{control_id(prefix, 'url')}.search" in triggered:
        return from_url, ("initial" if not triggered else "url")
    state = replace(from_url, notices=())
    ids = {prop.rsplit(".", 1)[0] for prop in triggered}
    kind = "controls"
    if window_value in WINDOW_KINDS:
        state = replace(state, window=window_value)
    if selector_value is not None:
        state = replace(state, selector=selector_value if selector_value in selectors else "")
    if control_id(prefix, "today") in ids:
        state = state.moved_to(today, follow_today=True)
    elif control_id(prefix, "date") in ids and date_value:
        try:
            picked = parse_date(str(date_value)[:10])
        except ValueError:
            picked = state.day
        if picked != state.day or not state.follow_today:
            state = state.moved_to(min(picked, today))
    elif control_id(prefix, "refresh") in ids:
        kind = "refresh"
    elif control_id(prefix, "today-date") in ids:
        kind = "clock"
    elif not ids & {control_id(prefix, name) for name in ("window", "selector")}:
        kind = "extra"
    return state, kind


def register_controls(
    app: dash.Dash,
    *,
    prefix: str,
    path: str,
    outputs: Mapping[str, Output],
    render: RenderFunction,
    selector_key: str = "group",
    extra_inputs: Sequence[Input] = (),
) -> None:
    """Register the page's main callback and its auto-refresh wiring (see the module docstring). `outputs` are
    the page's own, by name; `render` returns their values by the same names."""

    def cid(name: str) -> str:
        return control_id(prefix, name)

    extra_ids = [str(item.component_id) for item in extra_inputs]
    inputs: dict[str, Input | tuple[Input, ...]] = {
        "search": Input(cid("url"), "search"),
        "today_clicks": Input(cid("today"), "n_clicks"),
        "date_value": Input(cid("date"), "date"),
        "window_value": Input(cid("window"), "value"),
        "selector_value": Input(cid("selector"), "value"),
        "tick": Input(cid("refresh"), "n_intervals"),
        "clock": Input(cid("today-date"), "data"),
    }
    if extra_inputs:
        inputs["extras"] = tuple(extra_inputs)

    @app.callback(
        output={"controls": control_outputs(prefix), "page": dict(outputs)},
        inputs=inputs,
        state={
            "options": State(cid("selector"), "options"),
            "pathname": State(cid("url"), "pathname"),
            "rendered": State(cid("rendered"), "data"),
        },
    )
    def update_page(  # type: ignore[no-untyped-def]
        search, date_value, window_value, selector_value, options, pathname, rendered, extras=(), **_ticks
    ):
        shown = page_for(pathname) if pathname else None
        if pathname and (shown is None or shown.path != path):
            raise PreventUpdate  # the user is leaving this page; its URL is no longer ours to write
        settings = current_runtime().settings
        now = current_now()
        today = local_today(settings.timezone, now)
        triggered = set(ctx.triggered_prop_ids)
        state, kind = resolve_state(
            triggered=triggered,
            prefix=prefix,
            search=search,
            date_value=date_value,
            window_value=window_value,
            selector_value=selector_value,
            selectors=selector_values(options),
            today=today,
            selector_key=selector_key,
        )
        state = replace(state, now=comparison_moment(state.day, settings.timezone, now))
        query = state.to_query(selector_key)
        if kind == "url" and rendered == query:
            # The Location reporting the URL this page itself wrote, or a back/forward to what is shown.
            raise PreventUpdate
        if kind == "clock":
            shown_day = str(date_value or "")[:10]
            if not (state.follow_today and shown_day != state.day.isoformat()):
                # Not following today, or still the same day: only move the picker's limit at midnight (and the
                # summary: "Today" is past).
                controls = dict.fromkeys(control_outputs(prefix), no_update)
                controls["max_date"] = today.isoformat()
                controls["next_disabled"] = not state.can_go_forward
                controls["summary"] = control_summary(state, selector_label(options, state.selector))
                return {"controls": controls, "page": dict.fromkeys(outputs, no_update)}
            kind = "refresh"
        changed = {prop.rsplit(".", 1)[0] for prop in triggered} & set(extra_ids)
        trigger = Trigger(kind, dict(zip(extra_ids, extras, strict=True)), frozenset(changed))
        page_values = dict(render(state, trigger))
        controls = {
            "url": query if kind == "controls" and query != (search or "") else no_update,
            "date": state.day.isoformat() if state.day.isoformat() != str(date_value or "")[:10] else no_update,
            "max_date": state.today.isoformat(),
            "window": state.window if state.window != window_value else no_update,
            "selector": state.selector if state.selector != (selector_value or "") else no_update,
            "next_disabled": not state.can_go_forward,
            "today_color": "primary" if state.follow_today else "light",
            "notice": notice(state.notices) if kind in ("initial", "url") else no_update,
            "rendered": query,
            "summary": control_summary(state, selector_label(options, state.selector)),
        }
        return {"controls": controls, "page": page_values}

    @app.callback(
        Output(cid("today-date"), "data"),
        Input(cid("clock"), "n_intervals"),
        State(cid("today-date"), "data"),
        prevent_initial_call=True,
    )
    def roll_over(_ticks: int | None, shown: str | None) -> str:
        """A cheap tick: only when the date in TIMEZONE changes does the main callback run again. Kept apart from
        the main callback so frequent ticks never supersede a slow render."""
        today = local_today(current_runtime().settings.timezone, current_now()).isoformat()
        if today == shown:
            raise PreventUpdate
        return today

    # Previous / next move the picker in the browser at once; the picker's change is what the main callback
    # renders. Quick repeated clicks therefore add up (3 clicks = 3 days) and cost one render, not three.
    app.clientside_callback(
        ClientsideFunction(namespace="kpiControls", function_name="stepDate"),
        Output(cid("date"), "date", allow_duplicate=True),
        Input(cid("prev"), "n_clicks"),
        Input(cid("next"), "n_clicks"),
        State(cid("date"), "date"),
        State(cid("date"), "max_date_allowed"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="kpiShell", function_name="toggleControls"),
        Output(cid("controls"), "className"),
        Input(cid("summary-toggle"), "n_clicks"),
        State(cid("controls"), "className"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="kpiControls", function_name="refreshPrefs"),
        Output(cid("refresh-on"), "value"),
        Output(cid("refresh-minutes"), "value"),
        Output(cid("refresh-prefs"), "data"),
        Output(cid("refresh"), "interval"),
        Output(cid("refresh"), "disabled"),
        Input(cid("refresh-on"), "value"),
        Input(cid("refresh-minutes"), "value"),
        Input(cid("refresh-prefs"), "modified_timestamp"),
        State(cid("refresh-prefs"), "data"),
        State(cid("refresh-unit"), "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="kpiControls", function_name="countdown"),
        Output(cid("countdown"), "title"),
        Input(cid("refresh"), "n_intervals"),
        Input(cid("refresh"), "interval"),
        Input(cid("refresh"), "disabled"),
        State(cid("countdown"), "id"),
    )

"""The control bar every dashboard page shares: date picker with previous / next / today, a day-week-month window
selector, a group (or project) selector and auto refresh (toggle, minutes 1..60, a visible countdown).

Component ids are `<prefix>-<name>` so several pages can each have their own copy; `callbacks.controls`
registers the matching callbacks with the same prefix (`register_controls(app, prefix="cases", ...)`):

    <prefix>-prev / -date / -next / -today     the day (no date in the URL: today, rolling over at midnight)
    <prefix>-window                            day | week | month
    <prefix>-selector                          group or project ("" = all)
    <prefix>-refresh-on / -refresh-minutes     auto refresh, remembered in <prefix>-refresh-prefs (localStorage)
    <prefix>-refresh / -countdown              the refresh Interval and its visible countdown (assets/refresh.js)
    <prefix>-clock / -today-date               a slow Interval and today's date: "today" rolls over at midnight
    <prefix>-notice                            what was wrong with the URL, if anything
    <prefix>-controls / -summary-toggle        on phones the bar folds into one summary line (-summary) that
                                               opens it (class is-open on -controls; assets/mobile.css)
    <prefix>-url / -rendered                   the page's own Location, and the query last rendered

Tests and the bench may speed time up through the runtime's fields: `clock` (a callable returning now as UTC)
and `control_timing` (a `runtime.ControlTiming`). Must not import callbacks/, models/ or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.components import extra_props, notice
from view_models.page_state import PageState
from web.runtime import ControlTiming

DEFAULT_REFRESH_MINUTES = 5
MIN_REFRESH_MINUTES, MAX_REFRESH_MINUTES = 1, 60
WINDOW_OPTIONS = [
    {"label": "Day", "value": "day"},
    {"label": "Week", "value": "week"},
    {"label": "Month", "value": "month"},
]


def current_timing() -> ControlTiming:
    """The app's control timing (Runtime.control_timing)."""
    from web.runtime import current_runtime

    return current_runtime().control_timing


def current_now() -> datetime:
    """Now as naive UTC, from the app's clock (Runtime.now)."""
    from web.runtime import current_runtime

    return current_runtime().now()


def control_id(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def date_controls(prefix: str, state: PageState) -> html.Div:
    """‹ [date] › Today: one day back or forward (never past today), or back to following today."""
    return html.Div(
        [
            dbc.Button(
                "‹",
                id=control_id(prefix, "prev"),
                color="light",
                className="ctl-step",
                title="Previous day",
                n_clicks=0,
            ),
            dcc.DatePickerSingle(
                id=control_id(prefix, "date"),
                date=state.day.isoformat(),
                max_date_allowed=state.today.isoformat(),
                display_format="EEE D MMM YYYY",  # date-fns "EEE": the weekday, "Tue"
                first_day_of_week=1,
                clearable=False,
                className="ctl-date",
            ),
            dbc.Button(
                "›",
                id=control_id(prefix, "next"),
                color="light",
                className="ctl-step",
                title="Next day",
                n_clicks=0,
                disabled=not state.can_go_forward,
            ),
            dbc.Button(
                "Today",
                id=control_id(prefix, "today"),
                color="primary" if state.follow_today else "light",
                outline=False,
                className="ctl-today",
                n_clicks=0,
                title="Show today and roll over at midnight",
            ),
        ],
        className="ctl-group ctl-dates",
    )


def window_selector(prefix: str, state: PageState) -> html.Div:
    return html.Div(
        dbc.RadioItems(
            id=control_id(prefix, "window"),
            options=WINDOW_OPTIONS,
            value=state.window,
            inline=True,
            className="btn-group ctl-window",
            inputClassName="btn-check",
            labelClassName="btn btn-outline-primary btn-sm",
            labelCheckedClassName="active",
        ),
        className="ctl-group",
        title="Window for the tables",
    )


def selector_dropdown(prefix: str, state: PageState, options: Sequence[str], *, all_label: str) -> html.Div:
    """The group / project selector; the empty value means all."""
    return html.Div(
        dcc.Dropdown(
            id=control_id(prefix, "selector"),
            options=[{"label": all_label, "value": ""}] + [{"label": name, "value": name} for name in options],
            value=state.selector,
            clearable=False,
            searchable=True,
            className="ctl-selector",
        ),
        className="ctl-group ctl-selector-wrap",
    )


def refresh_controls(prefix: str, timing: ControlTiming) -> html.Div:
    """Auto refresh: a switch, minutes (1..60) and a live countdown. The choice lives in localStorage."""
    return html.Div(
        [
            dbc.Switch(
                id=control_id(prefix, "refresh-on"), label="Auto refresh", value=False, className="ctl-refresh-switch"
            ),
            dbc.InputGroup(
                [
                    dbc.Input(
                        id=control_id(prefix, "refresh-minutes"),
                        type="number",
                        min=MIN_REFRESH_MINUTES,
                        max=MAX_REFRESH_MINUTES,
                        step=1,
                        value=DEFAULT_REFRESH_MINUTES,
                        debounce=True,
                        className="ctl-minutes",
                    ),
                    dbc.InputGroupText("min"),
                ],
                size="sm",
                className="ctl-minutes-group",
            ),
            html.Span(
                "",
                id=control_id(prefix, "countdown"),
                className="ctl-countdown",
                **extra_props({"data-countdown": prefix, "aria-live": "off"}),
            ),
            dcc.Interval(
                id=control_id(prefix, "refresh"),
                interval=DEFAULT_REFRESH_MINUTES * timing.refresh_unit_ms,
                disabled=True,
                n_intervals=0,
            ),
            dcc.Store(id=control_id(prefix, "refresh-prefs"), storage_type="local"),
            dcc.Store(id=control_id(prefix, "refresh-unit"), data=timing.refresh_unit_ms),
        ],
        className="ctl-group ctl-refresh",
    )


def control_summary(state: PageState, selector_label: str) -> str:
    """The control bar folded into one line: "Today · 3 Dec 2026 · All groups", or for another day
    "Tue 1 Dec 2026 · Support". The window needs no word here: on a phone the one window shown is headed by it."""
    day = f"{state.day.day} {state.day:%b %Y}"
    day = f"Today · {day}" if state.day == state.today else f"{state.day:%a} {day}"
    return f"{day} · {selector_label}"


def summary_toggle(prefix: str, summary: str) -> html.Button:
    """Shown on phones only (assets/mobile.css): the summary, tapped to open or close the bar below it."""
    return html.Button(
        [html.Span(summary, id=control_id(prefix, "summary"), className="ctl-summary-text"), html.Span("▾")],
        id=control_id(prefix, "summary-toggle"),
        type="button",
        n_clicks=0,
        className="ctl-summary",
        title="Date, window, group and auto refresh",
    )


def control_bar(
    prefix: str,
    state: PageState,
    selector_options: Sequence[str],
    *,
    all_label: str = "All groups",
    timing: ControlTiming | None = None,
) -> html.Div:
    """The whole bar, plus the notice slot and the midnight clock. Put it at the top of a page."""
    timing = timing or ControlTiming()
    return html.Div(
        [
            summary_toggle(prefix, control_summary(state, state.selector or all_label)),
            html.Div(
                [
                    date_controls(prefix, state),
                    window_selector(prefix, state),
                    selector_dropdown(prefix, state, selector_options, all_label=all_label),
                    refresh_controls(prefix, timing),
                ],
                className="control-bar",
            ),
            html.Div(notice(state.notices), id=control_id(prefix, "notice")),
            dcc.Interval(id=control_id(prefix, "clock"), interval=timing.clock_ms, n_intervals=0),
            dcc.Store(id=control_id(prefix, "today-date"), data=state.today.isoformat()),
            # The page's own view of the address bar ("callback-nav": writing it pushes a history entry without
            # a reload), and the query last rendered, so the Location echoing our own write costs nothing.
            dcc.Location(id=control_id(prefix, "url"), refresh="callback-nav"),
            dcc.Store(id=control_id(prefix, "rendered")),
        ],
        className="controls",
        id=control_id(prefix, "controls"),
    )


def page_header(title: str, subtitle_id: str, *, icon: str = "") -> html.Div:
    """The page title with a subtitle slot (the group shown and the window) that callbacks fill."""
    return html.Div(
        [
            html.H1([html.Span(icon, className="page-icon") if icon else None, title], className="page-title"),
            html.Div(id=subtitle_id, className="page-subtitle"),
        ],
        className="page-header",
    )

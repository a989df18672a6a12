"""/status: sync health per source and module (last success, last error and its message, rows inserted /
updated / deleted, duration, next run), the kiosk screens (online or not, slide, size, version, page errors), the
last 50 runs, the morning digest's schedule and recent runs, and a "Sync now" button; above them, the warning when the
sales rules name stages VTiger's picklist lacks (layouts.components.stage_rules_warning). With Redis configured
it links to the RQ monitor at /rq.

Declarative: the tables are built from plain dicts of display strings (callbacks/status.py prepares them).
Must not import callbacks/, models' SQL functions or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

REFRESH_MS = 5_000  # while a sync runs, its row moves from "running" to its result without a reload

MODULE_COLUMNS = (
    "Source",
    "Module",
    "Rows",
    "Last run",
    "Result",
    "Last success",
    "Last error",
    "Inserted",
    "Updated",
    "Deleted",
    "Duration",
    "Next run",
)
RUN_COLUMNS = (
    "#",
    "Source",
    "Module",
    "Trigger",
    "Started",
    "Duration",
    "Result",
    "Inserted",
    "Updated",
    "Deleted",
    "Requests",
    "Error",
)
DIGEST_COLUMNS = ("Slot", "Trigger", "Day", "Recipient", "Result", "Attempts", "Finished", "Error")
SCREEN_COLUMNS = ("Screen", "State", "Last seen", "Slide", "Size", "Version", "Problem")
NUMERIC = {"Rows", "Inserted", "Updated", "Deleted", "Requests", "#", "Attempts"}


def layout(query: Mapping[str, str]) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [html.H2("Sync status", className="mb-1"), html.Div(id="status-mode", className="text-muted")],
                        className="status-title",
                    ),
                    html.Div(
                        [
                            dbc.Button("Sync now", id="status-sync-now", color="primary", className="status-sync-btn"),
                            html.Div(id="status-rq-link"),
                        ],
                        className="status-actions",
                    ),
                ],
                className="status-head",
            ),
            html.Div(id="status-sync-message", role="status"),
            html.Div(id="status-stage-warning"),
            html.H3("Sources", className="status-section-title"),
            html.Div(id="status-table"),
            html.H3("Screens", className="status-section-title"),
            html.Div(id="status-screens"),
            html.H3("Last 50 runs", className="status-section-title"),
            html.Div(id="status-runs"),
            html.H3("Digest", className="status-section-title"),
            html.Div(id="status-digest"),
            dcc.Interval(id="status-interval", interval=REFRESH_MS),
        ],
        className="status-page",
    )


def result_badge(status: str) -> dbc.Badge:
    color = {"success": "success", "sent": "success", "failed": "danger", "running": "info", "sending": "info",
             "missed": "warning", "interrupted": "warning"}.get(status, "secondary")  # fmt: skip
    text_color = "dark" if color == "warning" else None  # white on yellow is hard to read
    return dbc.Badge(status or "—", color=color, text_color=text_color, className="status-result")


def state_badge(state: str) -> dbc.Badge:
    color = {"online": "success", "offline": "danger", "revoked": "secondary"}.get(state, "light")
    return dbc.Badge(state, color=color, text_color="dark" if color == "light" else None, className="status-result")


def _cell(column: str, value: object) -> html.Td:
    if column == "Result":
        return html.Td(result_badge(str(value)))
    if column == "State":
        return html.Td(state_badge(str(value)))
    if column == "Problem" and value:
        return html.Td(html.Span(str(value), className="status-error"), className="status-error-cell")
    if column in ("Last error", "Error") and value:
        return html.Td(html.Span(str(value), className="status-error"), className="status-error-cell")
    if column in NUMERIC and column != "#" and isinstance(value, int) and not isinstance(value, bool):
        return html.Td(f"{value:,}", className="text-end")  # 19,194 like the Rows column, not 19194
    return html.Td(str(value), className="text-end" if column in NUMERIC else None)


def _table(columns: Sequence[str], rows: Sequence[Mapping[str, object]], table_id: str, empty: str) -> html.Div:
    if not rows:
        return html.Div(html.P(empty, className="text-muted my-2"), id=table_id)
    head = html.Thead(html.Tr([html.Th(name, className="text-end" if name in NUMERIC else None) for name in columns]))
    body = html.Tbody([html.Tr([_cell(name, row.get(name, "")) for name in columns]) for row in rows])
    return dbc.Table([head, body], striped=True, hover=True, responsive=True, size="sm", id=table_id)


def status_table(rows: Sequence[Mapping[str, object]]) -> html.Div:
    """One row per source module."""
    return _table(
        MODULE_COLUMNS, rows, "status-rows", "Nothing has synced yet: press Sync now, or wait for the schedule."
    )


def runs_table(rows: Sequence[Mapping[str, object]]) -> html.Div:
    """The most recent runs, newest first."""
    return _table(RUN_COLUMNS, rows, "status-run-rows", "No runs recorded yet.")


def digest_section(schedule: str, rows: Sequence[Mapping[str, object]]) -> html.Div:
    """The morning digest: when it goes out and to whom, then its recent runs, newest first."""
    return html.Div(
        [
            html.P(schedule, className="text-muted my-2", id="status-digest-schedule"),
            _table(DIGEST_COLUMNS, rows, "status-digest-rows", "No digest sent yet."),
        ]
    )


def screens_table(rows: Sequence[Mapping[str, object]]) -> html.Div:
    """One row per kiosk screen (web/screens.py)."""
    return _table(
        SCREEN_COLUMNS,
        rows,
        "status-screen-rows",
        "No screens yet: `flask --app app:server kiosk create NAME` makes the link a TV opens.",
    )


def sync_message(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, className="status-alert", id="status-sync-alert")

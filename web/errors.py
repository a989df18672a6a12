"""Clean errors: no traceback ever reaches a browser (the log keeps it), JSON for XHR and downloads, HTML for
pages; an unknown Dash bundle is a 404, and a Dash callback that raises answers 422 (503 when the database is
down)."""

from __future__ import annotations

import logging
from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, abort, jsonify, make_response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import InternalServerError

log = logging.getLogger("kpi.security")

# Responses to XHR and download routes are JSON (Dash's renderer and scripts read them), pages are HTML.
XHR_PATH_PREFIXES = ("/_dash-", "/export/")
XHR_PATH_SUFFIXES = (".json", ".csv")


def wants_json() -> bool:
    """XHR, download and non-GET requests get JSON errors; page navigations get HTML."""
    path = request.path
    return (
        request.method not in ("GET", "HEAD") or path.startswith(XHR_PATH_PREFIXES) or path.endswith(XHR_PATH_SUFFIXES)
    )


def install_error_handlers(server: Flask) -> None:
    """No traceback ever reaches a browser (the log keeps it, redacted); an unknown Dash bundle is a 404. (Dash
    callbacks that raise answer 422 through callback_error.)"""

    @server.errorhandler(InternalServerError)
    def _internal_error(error: InternalServerError) -> ResponseReturnValue:
        if wants_json():
            return jsonify(error="internal error; the details are in the server log"), 500
        return "Internal error; the details are in the server log.", 500, {"Content-Type": "text/plain; charset=utf-8"}

    @server.errorhandler(DependencyException)
    def _unknown_bundle(error: DependencyException) -> ResponseReturnValue:
        # Dash raises this for a path under /_dash-component-suites/ it does not serve: a 404, and one log line
        # instead of a traceback per request.
        log.info("no such Dash bundle: %s", request.path)
        return "Not found.\n", 404, {"Content-Type": "text/plain; charset=utf-8"}


callback_log = logging.getLogger("kpi.callbacks")


def callback_error(error: Exception) -> None:
    """Dash's app-wide on_error (`dash.Dash(on_error=callback_error)` in app.py): a callback that raised answers
    422 (503 when the database is down), never a 500 with a traceback. The traceback goes to the log so that the
    callback's owner can fix it."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        from dash import ctx

        output = ", ".join(f"{item['id']}.{item['property']}" for item in _flat(ctx.outputs_list))
    except Exception:  # noqa: BLE001 - naming the callback is best effort; the error itself is what matters
        output = "?"
    callback_log.error("callback for %s raised %s", output, type(error).__name__, exc_info=error)
    if isinstance(error, SQLAlchemyError):
        abort(make_response(jsonify(error="the database is unavailable; try again shortly"), 503))
    abort(make_response(jsonify(error="this callback could not handle its input"), 422))


def _flat(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, dict):
        return [items]
    flat: list[dict[str, Any]] = []
    for item in items or []:
        flat.extend(_flat(item))
    return flat

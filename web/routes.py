"""Plain Flask routes beside the Dash app: health check (public) and, later, CSV exports."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from web.exports import register_exports
from web.runtime import current_runtime


def register_routes(server: Flask) -> None:
    @server.get("/healthz")
    def healthz() -> ResponseReturnValue:
        try:
            with current_runtime().engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any database failure means "not healthy"; details stay in the logs
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok")

    register_exports(server)

"""Screens: every kiosk token is a named TV, and the TV page says how it is doing.

- `GET /tv/data-version`: the data version (models.queries.data_version) as a short hash. The TV asks every few
  seconds (assets/tv-live.js) and renders its slide again when the answer changes, so a sync's new figures reach
  the wall within seconds. One index-only query; `Cache-Control: no-store` (no proxy or browser may keep it).
- `POST /tv/report` (JSON, CSRF token as for Dash's callbacks): the slide showing, the browser's size, the app
  version the page was served with (the `kpi-version` meta tag), and the page's errors since it loaded. Sent
  every REPORT_SECONDS and on each slide change. Only a kiosk viewer's report is kept (one row per kiosk in
  `screens`); anyone else's is answered and ignored. Bad input is a 400.
- models/screens.py keeps the reports and says which screens are online (for /status and `kiosk list`).

Must not import Dash, callbacks/, layouts/ or sync/.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tomllib
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import Engine

from models.queries import data_version
from models.screens import Report, record_report
from settings import PROJECT_DIR
from web.runtime import current_runtime, runtime_now

log = logging.getLogger("kpi.screens")

REPORT_SECONDS = 45  # assets/tv-live.js reports this often (and on every slide change)
MAX_REPORT_BYTES = 4096
MAX_SLIDE = 200
MAX_VERSION = 64
MAX_ERROR = 500
MAX_PIXELS = 100_000


def app_version() -> str:
    """The version this process serves: APP_VERSION when set (a release's id), else the project's version and,
    in a git checkout, its commit ("0.1.0+3fa3c5a")."""
    configured = os.environ.get("APP_VERSION", "").strip()
    if configured:
        return configured[:MAX_VERSION]
    try:
        version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}"[:MAX_VERSION] if commit else str(version)


def version_tag(engine: Engine) -> str:
    """The data version as a short opaque string (what the TV compares)."""
    return hashlib.sha1(repr(data_version(engine)).encode()).hexdigest()[:16]


# --- reports --------------------------------------------------------------------------------------------------


class ReportError(ValueError):
    """A report the page should not have sent; the message says which field."""


def parse_report(data: object) -> Report:
    """A report body, checked: raises ReportError naming the first bad field."""
    if not isinstance(data, Mapping):
        raise ReportError("the report must be a JSON object")
    return Report(
        slide=_text(data, "slide", MAX_SLIDE, required=True),
        width=_count(data, "width", 1, MAX_PIXELS, required=True),
        height=_count(data, "height", 1, MAX_PIXELS, required=True),
        version=_text(data, "version", MAX_VERSION, required=True),
        errors=_count(data, "errors", 0, 1_000_000_000),
        error=_text(data, "error", MAX_ERROR),
    )


def _text(data: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ReportError(f"{key} must be text of at most {limit} characters")
    return "".join(char if char.isprintable() else " " for char in value).strip()


def _count(data: Mapping[str, Any], key: str, low: int, high: int, *, required: bool = False) -> int:
    value = data.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ReportError(f"{key} must be a whole number from {low} to {high}")
    return value


# --- routes ----------------------------------------------------------------------------------------------------


def register_screens(server: Flask) -> None:
    server.register_blueprint(_blueprint())


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _blueprint() -> Blueprint:
    bp = Blueprint("screens", __name__)

    @bp.get("/tv/data-version", endpoint="data_version")
    def current_data_version() -> Response:
        return _no_store(jsonify(version=version_tag(current_runtime().engine)))

    @bp.post("/tv/report")
    def report() -> Response | tuple[Response, int]:
        from web.viewer import current_viewer
        from web.webhooks import read_body

        try:
            parsed = parse_report(json.loads(read_body(MAX_REPORT_BYTES)))
        except (ValueError, ReportError) as exc:  # not JSON (json's error is a ValueError) or a bad field
            message = str(exc) if isinstance(exc, ReportError) else "the report must be JSON"
            return _no_store(jsonify(error=message)), 400
        viewer = current_viewer()
        recorded = False
        if viewer is not None and viewer.is_kiosk:
            recorded = record_report(current_runtime().engine, viewer.name, parsed, runtime_now())
        return _no_store(jsonify(recorded=recorded))

    return bp

"""Screens: every kiosk token is a named TV, and the TV page says how it is doing.

- `GET /tv/data-version`: the data version (models.queries.data_version) as a short hash. The TV asks every few
  seconds (assets/tv-live.js) and renders its slide again when the answer changes, so a sync's new figures reach
  the wall within seconds. One index-only query; `Cache-Control: no-store` (no proxy or browser may keep it).
- `POST /tv/report` (JSON, CSRF token as for Dash's callbacks): the slide showing, the browser's size, the app
  version the page was served with (the `kpi-version` meta tag), and the page's errors since it loaded. Sent
  every REPORT_SECONDS and on each slide change. Only a kiosk viewer's report is kept (one row per kiosk in
  `screens`); anyone else's is answered and ignored. Bad input is a 400.
- `screen_states`: every kiosk with its last sign of life (its last report, or its token's last use), "online"
  or "offline" after OFFLINE_AFTER, "revoked", and the page's last error. /status and `kiosk list` show them.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.queries import data_version
from models.schema import kiosk_tokens, screens
from settings import PROJECT_DIR
from web.runtime import current_runtime

log = logging.getLogger("kpi.screens")

OFFLINE_AFTER = timedelta(minutes=5)
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


@dataclass(frozen=True)
class Report:
    slide: str
    width: int
    height: int
    version: str
    errors: int
    error: str


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


def record_report(engine: Engine, kiosk_name: str, report: Report, now: datetime) -> bool:
    """Keep `report` as the kiosk's latest; False when there is no such active kiosk (nothing is written)."""
    with engine.begin() as conn:
        kiosk_id = conn.execute(
            select(kiosk_tokens.c.id).where(kiosk_tokens.c.name == kiosk_name, kiosk_tokens.c.revoked_at.is_(None))
        ).scalar()
        if kiosk_id is None:
            return False
        stored = conn.execute(
            select(screens.c.error_count, screens.c.last_error_at).where(screens.c.kiosk_id == kiosk_id)
        ).first()
        new_error = report.errors > 0 and (stored is None or report.errors != stored.error_count)
        values = {
            "reported_at": now,
            "slide": report.slide,
            "width": report.width,
            "height": report.height,
            "app_version": report.version,
            "error_count": report.errors,
            # The errors of the page as loaded now: a reload (errors 0) clears the last one.
            "last_error": report.error if report.errors else "",
            "last_error_at": now if new_error else (stored.last_error_at if stored and report.errors else None),
        }
        if stored is not None:
            conn.execute(update(screens).where(screens.c.kiosk_id == kiosk_id).values(**values))
            return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(screens).values(kiosk_id=kiosk_id, **values))
    except IntegrityError:  # the same screen's report in another request got there first: the next one updates
        pass
    return True


# --- what /status and `kiosk list` show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenState:
    name: str
    state: str  # "online", "offline", "revoked" or "never seen"
    last_seen: datetime | None
    slide: str
    width: int | None
    height: int | None
    version: str
    error: str  # the page's last error since it loaded ("" when none)
    error_at: datetime | None

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def screen_states(engine: Engine, now: datetime) -> list[ScreenState]:
    """Every kiosk as a screen, by name. `now` is naive UTC (tests pass a fake clock)."""
    query = (
        select(
            kiosk_tokens.c.name,
            kiosk_tokens.c.revoked_at,
            kiosk_tokens.c.last_used_at,
            screens.c.reported_at,
            screens.c.slide,
            screens.c.width,
            screens.c.height,
            screens.c.app_version,
            screens.c.error_count,
            screens.c.last_error,
            screens.c.last_error_at,
        )
        .select_from(kiosk_tokens.outerjoin(screens, screens.c.kiosk_id == kiosk_tokens.c.id))
        .order_by(kiosk_tokens.c.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    states = []
    for row in rows:
        seen = [moment for moment in (row.reported_at, row.last_used_at) if moment is not None]
        last_seen = max(seen) if seen else None
        if row.revoked_at is not None:
            state = "revoked"
        elif last_seen is None:
            state = "never seen"
        else:
            state = "online" if now - last_seen <= OFFLINE_AFTER else "offline"
        failed = bool(row.error_count) and row.reported_at is not None
        states.append(
            ScreenState(
                name=row.name,
                state=state,
                last_seen=last_seen,
                slide=row.slide or "",
                width=row.width,
                height=row.height,
                version=row.app_version or "",
                error=(row.last_error or "page error") if failed else "",
                error_at=row.last_error_at if failed else None,
            )
        )
    return states


def current_now() -> datetime:
    """Now as naive UTC, from the runtime's clock (extras "clock") when a test set one."""
    clock = current_runtime().extras.get("clock")
    now = clock() if clock else datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


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
            recorded = record_report(current_runtime().engine, viewer.name, parsed, current_now())
        return _no_store(jsonify(recorded=recorded))

    return bp

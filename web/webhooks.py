"""Webhooks as sync triggers: `POST /webhooks/vtiger/<token>` and `POST /webhooks/redmine/<token>`.

A call only says "something changed": it starts an incremental sync of the module it names (sync/triggers.py
reads the name; every module of the source when it names none), queued on RQ when REDIS_URL is set, else run by
the embedded scheduler at once. The payload is never stored: only its size is logged, and the rows still come
through the sync. Many calls become one sync (sync/triggers.py).

- The secret: one per source, `flask --app app:server webhook create vtiger|redmine` prints the URL once; only the
  SHA-256 of the token is stored (webhook_tokens). `webhook revoke SOURCE` ends it, `webhook list` shows them.
- Answers: 202 {"sync": "queued"|"absorbed"}; wrong or revoked token 404 (the same as no such page); body over
  MAX_BODY_BYTES 413; over RATE per source 429 with Retry-After; a source without credentials 409; anything but
  POST 405.
- The gate (auth.py) lets /webhooks/ through without sign-in or CSRF token: the token in the path is the
  credential, and these routes change nothing but a sync's timing.

Must not import Dash, callbacks/ or layouts/.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import click
from flask import Blueprint, Flask, Response, abort, jsonify, request
from flask.cli import AppGroup
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from models.db import utcnow
from models.schema import sync_state, webhook_tokens
from sync.triggers import SOURCE_MODULES, modules_named
from web.runtime import Runtime, current_runtime

log = logging.getLogger("kpi.webhooks")

SOURCES = tuple(SOURCE_MODULES)
PATH_PREFIX = "/webhooks/"
MAX_BODY_BYTES = 64 * 1024  # VTiger's workflow payload is a few fields, Redmine's plugin's an issue: far below
RATE = "120/minute"  # per source, a moving window: a bulk edit's burst passes; a flood is refused
TOKEN_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class WebhookError(ValueError):
    """A webhook command that cannot be done; the message says what to do instead."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _looks_like_token(token: str) -> bool:
    return 32 <= len(token) <= 128 and set(token) <= TOKEN_CHARACTERS


# --- managing the secrets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    source: str
    created_at: datetime
    revoked_at: datetime | None
    last_called_at: datetime | None


def create_webhook(engine: Engine, source: str) -> str:
    """A new secret for `source` (the old one, if any, stops at once); returns the token, the only time it exists
    outside the source's configuration."""
    if source not in SOURCES:
        raise WebhookError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    token = secrets.token_urlsafe(32)
    values = {"token_hash": hash_token(token), "created_at": utcnow(), "revoked_at": None, "last_called_at": None}
    with engine.begin() as conn:
        exists = conn.execute(select(webhook_tokens.c.id).where(webhook_tokens.c.source == source)).first()
        if exists is None:
            conn.execute(insert(webhook_tokens).values(source=source, **values))
        else:
            conn.execute(update(webhook_tokens).where(webhook_tokens.c.id == exists.id).values(**values))
    return token


def revoke_webhook(engine: Engine, source: str) -> bool:
    """End `source`'s secret; False when there was none active."""
    with engine.begin() as conn:
        result = conn.execute(
            update(webhook_tokens)
            .where(webhook_tokens.c.source == source, webhook_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return bool(result.rowcount)


def list_webhooks(engine: Engine) -> list[Webhook]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                webhook_tokens.c.source,
                webhook_tokens.c.created_at,
                webhook_tokens.c.revoked_at,
                webhook_tokens.c.last_called_at,
            ).order_by(webhook_tokens.c.source)
        ).all()
    return [Webhook(row.source, row.created_at, row.revoked_at, row.last_called_at) for row in rows]


def token_is_valid(engine: Engine, source: str, token: str) -> bool:
    """Whether `token` is `source`'s active secret (noting the call's time, at most once a second)."""
    if not _looks_like_token(token):
        return False
    digest = hash_token(token)
    with engine.begin() as conn:
        row = conn.execute(
            select(webhook_tokens.c.id, webhook_tokens.c.last_called_at).where(
                webhook_tokens.c.source == source,
                webhook_tokens.c.token_hash == digest,
                webhook_tokens.c.revoked_at.is_(None),
            )
        ).first()
        if row is None:
            return False
        now = utcnow()
        if row.last_called_at is None or (now - row.last_called_at).total_seconds() >= 1:
            conn.execute(update(webhook_tokens).where(webhook_tokens.c.id == row.id).values(last_called_at=now))
    return True


# --- the route ----------------------------------------------------------------------------------------------------


def register_webhooks(server: Flask) -> None:
    server.register_blueprint(_blueprint())
    server.cli.add_command(webhook_group)


def _blueprint() -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    @bp.post(f"{PATH_PREFIX}<source>/<token>")
    def receive(source: str, token: str) -> Response | tuple[Response, int]:
        runtime = current_runtime()
        if source not in SOURCES or not token_is_valid(runtime.engine, source, token):
            abort(404)
        retry_after = _rate_limited(runtime, source)
        if retry_after is not None:
            log.warning("webhook %s: over the rate limit (%s), refused", source, _rate(runtime))
            response = jsonify(error=f"too many calls: at most {_rate(runtime)} per source")
            response.headers["Retry-After"] = str(retry_after)
            return response, 429
        body = read_body(MAX_BODY_BYTES)
        if source not in _configured(runtime):
            return jsonify(error=f"{source} is not configured on this dashboard: set its URL and credentials"), 409
        modules = modules_named(source, _payload(body), _id_prefixes(runtime.engine) if source == "vtiger" else {})
        outcome = _request_sync(runtime, source, modules)
        log.info("webhook %s: %d bytes, %s sync of %s", source, len(body), outcome, ", ".join(sorted(modules)))
        response = jsonify(sync=outcome, modules=sorted(modules))
        response.headers["Cache-Control"] = "no-store"
        return response, 202

    @bp.route(f"{PATH_PREFIX}<source>/<token>", methods=["GET", "PUT", "PATCH", "DELETE"])
    def wrong_method(source: str, token: str) -> tuple[Response, int]:
        # Without this rule the pages' catch-all route would answer a GET with the dashboard's HTML.
        response = jsonify(error="webhooks are called with POST")
        response.headers["Allow"] = "POST"
        return response, 405

    return bp


def read_body(limit: int) -> bytes:
    """The request body, or a 413 when it is longer than `limit` bytes, with or without a Content-Length (a
    chunked body is read no further than one byte past the limit)."""
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = request.stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        abort(413)
    return b"".join(chunks)


def _payload(body: bytes) -> Any:
    """The body as JSON, or as a form (VTiger's workflow sends either); None when it is neither."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=200))
    except ValueError:
        return None


def _configured(runtime: Runtime) -> list[str]:
    from sync.service import configured_sources

    return configured_sources(runtime.settings)


def _id_prefixes(engine: Engine) -> dict[str, str]:
    """VTiger's record id prefix per module ("39x"), as sync stored them from `describe`."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(sync_state.c.module, sync_state.c.extra).where(sync_state.c.source == "vtiger"))
            return {row.module: str((row.extra or {}).get("idPrefix") or "") for row in rows}
    except SQLAlchemyError:
        return {}


def _request_sync(runtime: Runtime, source: str, modules: frozenset[str]) -> str:
    settings = runtime.settings
    if settings.uses_redis:
        from redis import Redis

        from sync.triggers import request_rq_sync

        connection = Redis.from_url(settings.redis_url)
        try:
            return request_rq_sync(connection, source, modules)
        finally:
            connection.close()
    from sync.scheduler import ensure_embedded_scheduler

    return ensure_embedded_scheduler(runtime, settings, runtime.engine).request(source, modules)


def _rate(runtime: Runtime) -> str:
    return runtime.webhook_rate or RATE  # tests set a small one


def _rate_limited(runtime: Runtime, source: str) -> int | None:
    """None when the call may go on; else the seconds until it may (Retry-After). Counted in Redis when it is
    configured (every web process shares the window), else in this process."""
    limiter, item = _limiter(runtime)
    if limiter.hit(item, "kpi-webhook", source):
        return None
    reset = limiter.get_window_stats(item, "kpi-webhook", source).reset_time
    return max(1, int(reset - time.time()) + 1)


def _limiter(runtime: Runtime) -> tuple[MovingWindowRateLimiter, RateLimitItem]:
    cached = runtime.webhook_limiter
    if cached is None:
        uri = runtime.settings.redis_url if runtime.settings.uses_redis else "memory://"
        cached = (MovingWindowRateLimiter(storage_from_string(uri)), parse(_rate(runtime)))
        runtime.webhook_limiter = cached
    return cached


# --- CLI ------------------------------------------------------------------------------------------------------------

webhook_group = AppGroup("webhook", help="Secrets for the VTiger and Redmine webhooks that trigger a sync.")
SOURCE_CHOICE = click.Choice(SOURCES)


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)


def _database_error(exc: SQLAlchemyError) -> str:
    return (
        f"webhook: the database could not be used ({type(exc).__name__}); "
        "run `flask --app app:server db upgrade` and check DATABASE_URL"
    )


@webhook_group.command("create")
@click.argument("source", type=SOURCE_CHOICE)
@click.option("--base-url", default="", help="The dashboard's address as the source reaches it (default PUBLIC_URL).")
def webhook_create(source: str, base_url: str) -> None:
    """Make SOURCE's secret (replacing any) and print its URL, shown only this once."""
    runtime = current_runtime()
    base = (base_url or runtime.settings.public_url or "http://127.0.0.1:8050").rstrip("/")
    try:
        token = create_webhook(runtime.engine, source)
    except SQLAlchemyError as exc:
        _fail(_database_error(exc))
        return
    click.echo(f"webhook for {source} created; give this URL to {source} (it is shown only this once):", err=True)
    if not (base_url or runtime.settings.public_url):
        click.echo("(set PUBLIC_URL, or pass --base-url, to print the address the source reaches)", err=True)
    click.echo(f"{base}{PATH_PREFIX}{source}/{token}")


@webhook_group.command("revoke")
@click.argument("source", type=SOURCE_CHOICE)
def webhook_revoke(source: str) -> None:
    """End SOURCE's secret: calls to its URL answer 404 from now on."""
    try:
        revoked = revoke_webhook(current_runtime().engine, source)
    except SQLAlchemyError as exc:
        _fail(_database_error(exc))
        return
    click.echo(f"webhook for {source} revoked" if revoked else f"webhook for {source}: there was no active secret")


@webhook_group.command("list")
def webhook_list() -> None:
    """Show each source's webhook: created, last called, active or revoked."""
    try:
        hooks = list_webhooks(current_runtime().engine)
    except SQLAlchemyError as exc:
        _fail(_database_error(exc))
        return
    if not hooks:
        click.echo("no webhooks yet: `flask --app app:server webhook create vtiger|redmine`")
        return
    header = ("SOURCE", "CREATED (UTC)", "LAST CALLED (UTC)", "STATUS")
    rows = [
        (
            hook.source,
            _when(hook.created_at),
            _when(hook.last_called_at),
            f"revoked {_when(hook.revoked_at)}" if hook.revoked_at else "active",
        )
        for hook in hooks
    ]
    _print_table(header, rows)


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"

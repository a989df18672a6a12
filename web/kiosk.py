"""Kiosk tokens: how a TV on the wall shows /tv without anyone signing in on it.

`flask --app app:server kiosk create NAME` prints a URL with a long random token (secrets.token_urlsafe(32)); the
token is shown once and only its SHA-256 digest is stored (kiosk_tokens.token_hash). `kiosk list` shows names,
created, last used and revoked; `kiosk revoke NAME` stops the token. web/gate.py takes the token from `/tv?kiosk=...`
once, keeps it in a long-lived HttpOnly cookie, and asks `kiosk_name_for()` on every request: the database is
re-read at most every KIOSK_RECHECK_SECONDS per token and process, so a revoke reaches a TV that is already showing
the page within seconds (at once in the process that revoked it).

Each kiosk is a named screen: `kiosk set NAME --slides ... --seconds ...` stores its own rotation (it wins over
`[tv.screens.NAME]` in kpi.toml; `kiosk set NAME --clear` hands it back); `screen_rotation` answers the TV.

Managing kiosks is CLI-only on purpose: there is no web route that creates or revokes one, so there is none to
forge or to attack.
Must not import Dash, callbacks/, layouts/ or sync/.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from models.db import utcnow
from models.schema import kiosk_tokens
from models.screens import ScreenState, screen_states
from settings import Settings, current_tv_rules
from view_models.tv_rotation import RotationError, ScreenRotation, describe, parse_rotation, parse_slide_list
from web.runtime import current_runtime, runtime_now

log = logging.getLogger(__name__)

KIOSK_COOKIE = "kpi_kiosk"  # where a TV keeps its token once /tv?kiosk=... has moved it out of the address
KIOSK_RECHECK_SECONDS = 5.0  # how stale a "this token is valid" answer may be; the issue allows a few seconds
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")  # token_urlsafe(32) is 43 such characters
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_CACHE_LIMIT = 1024  # unknown tokens are cached too (so junk costs no query); cap the memory they take


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: object) -> bool:
    return isinstance(token, str) and bool(TOKEN_PATTERN.match(token))


class KioskError(ValueError):
    """A kiosk command that cannot be done; the message says what to do instead."""


# --- checking a token ------------------------------------------------------------------------------------------


@dataclass
class _Answer:
    name: str | None
    checked_at: float


_answers: dict[tuple[str, str], _Answer] = {}
_answers_lock = threading.Lock()


def kiosk_name_for(engine: Engine, token: object) -> str | None:
    """The active kiosk's name for this token, or None (unknown, revoked, malformed)."""
    if not looks_like_token(token):
        return None
    digest = hash_token(str(token))
    key = (engine.url.render_as_string(hide_password=True), digest)
    now = time.monotonic()
    with _answers_lock:
        answer = _answers.get(key)
    if answer is not None and now - answer.checked_at < KIOSK_RECHECK_SECONDS:
        return answer.name
    name = _read_active_name(engine, digest)
    with _answers_lock:
        if len(_answers) >= _CACHE_LIMIT:
            _answers.clear()
        _answers[key] = _Answer(name, now)
    return name


def _read_active_name(engine: Engine, digest: str) -> str | None:
    with engine.begin() as conn:
        row = conn.execute(
            select(
                kiosk_tokens.c.id, kiosk_tokens.c.name, kiosk_tokens.c.revoked_at, kiosk_tokens.c.last_used_at
            ).where(kiosk_tokens.c.token_hash == digest)
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            conn.execute(update(kiosk_tokens).where(kiosk_tokens.c.id == row.id).values(last_used_at=now))
        return str(row.name)


def forget_answers(digest: str | None = None) -> None:
    """Drop cached answers (for one token digest, or all) so the next request reads the database."""
    with _answers_lock:
        for key in [key for key in _answers if digest is None or key[1] == digest]:
            del _answers[key]


# --- a screen's rotation ---------------------------------------------------------------------------------------


def screen_rotation(engine: Engine, settings: Settings, name: str) -> ScreenRotation | None:
    """What the screen `name` rotates through: its `kiosk set` rotation, else kpi.toml's [tv.screens.<name>] (read
    again when the file changes), else None (the URL's pages)."""
    with engine.connect() as conn:
        stored = conn.execute(select(kiosk_tokens.c.rotation).where(kiosk_tokens.c.name == name)).scalar()
    if stored:
        try:
            return parse_rotation(json.loads(stored), f"kiosk {name!r}")
        except (RotationError, ValueError):
            log.exception("kiosk %s: the stored rotation is unusable; using kpi.toml's", name)
    return current_tv_rules(settings).screen(name)


def set_rotation(engine: Engine, name: str, rotation: ScreenRotation | None) -> None:
    """Store NAME's own rotation (None: forget it). Raises KioskError for an unknown name."""
    stored = json.dumps(rotation.to_raw()) if rotation is not None else None
    with engine.begin() as conn:
        found = conn.execute(
            update(kiosk_tokens).where(kiosk_tokens.c.name == name.strip()).values(rotation=stored)
        ).rowcount
    if not found:
        raise KioskError(f"there is no kiosk named {name!r} (see `kiosk list`)")


def rotation_from_options(slides: str, seconds: int | None) -> ScreenRotation:
    """The rotation `kiosk set --slides ... --seconds ...` describes, checked like kpi.toml's."""
    raw: dict[str, object] = {"slides": parse_slide_list(slides)}
    if seconds is not None:
        raw["seconds"] = seconds
    return parse_rotation(raw, "kiosk set")


# --- managing kiosks ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kiosk:
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    rotation: str | None = None  # the `kiosk set` rotation as stored (JSON), None when it has none


def create_kiosk(engine: Engine, name: str, *, replace: bool = False) -> str:
    """A new token for NAME; returns the token (the only time it exists outside the TV)."""
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise KioskError(
            f"kiosk name {name!r} is not valid: use up to 64 letters, digits, spaces, dots, dashes or underscores"
        )
    token = new_token()
    digest = hash_token(token)
    with engine.begin() as conn:
        row = conn.execute(
            select(kiosk_tokens.c.id, kiosk_tokens.c.token_hash, kiosk_tokens.c.revoked_at).where(
                kiosk_tokens.c.name == name
            )
        ).first()
        values = {"token_hash": digest, "created_at": utcnow(), "revoked_at": None, "last_used_at": None}
        if row is None:
            conn.execute(insert(kiosk_tokens).values(name=name, **values))
        elif row.revoked_at is not None or replace:
            # A revoked name may be reused; --replace swaps the token of an active kiosk (the old one dies at once).
            conn.execute(update(kiosk_tokens).where(kiosk_tokens.c.id == row.id).values(**values))
            forget_answers(row.token_hash)
        else:
            raise KioskError(
                f"kiosk {name!r} already exists: revoke it first, use --replace to give it a new token, "
                "or choose another name"
            )
    return token


def revoke_kiosk(engine: Engine, name: str) -> bool:
    """Revoke NAME; False when it was already revoked. Raises KioskError for an unknown name."""
    with engine.begin() as conn:
        row = conn.execute(
            select(kiosk_tokens.c.id, kiosk_tokens.c.token_hash, kiosk_tokens.c.revoked_at).where(
                kiosk_tokens.c.name == name.strip()
            )
        ).first()
        if row is None:
            raise KioskError(f"there is no kiosk named {name!r} (see `kiosk list`)")
        forget_answers(row.token_hash)
        if row.revoked_at is not None:
            return False
        conn.execute(update(kiosk_tokens).where(kiosk_tokens.c.id == row.id).values(revoked_at=utcnow()))
    forget_answers(row.token_hash)  # again: a request may have re-cached it between the read and the commit
    return True


def list_kiosks(engine: Engine) -> list[Kiosk]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                kiosk_tokens.c.name,
                kiosk_tokens.c.created_at,
                kiosk_tokens.c.last_used_at,
                kiosk_tokens.c.revoked_at,
                kiosk_tokens.c.rotation,
            ).order_by(kiosk_tokens.c.name)
        ).all()
    return [Kiosk(row.name, row.created_at, row.last_used_at, row.revoked_at, row.rotation) for row in rows]


# --- CLI ----------------------------------------------------------------------------------------------------------

kiosk_group = AppGroup("kiosk", help="Kiosk tokens that let a TV show /tv without signing in.")


def _engine() -> Engine:
    return current_runtime().engine


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)


def database_error(exc: SQLAlchemyError, command: str = "kiosk") -> str:
    """The one line a management command prints when the database cannot be used."""
    return (
        f"{command}: the database could not be used ({type(exc).__name__}); "
        "run `flask --app app:server db upgrade` and check DATABASE_URL"
    )


@kiosk_group.command("create")
@click.argument("name")
@click.option(
    "--base-url",
    default="http://127.0.0.1:8050",
    show_default=True,
    help="The dashboard's address as the TV reaches it, e.g. https://kpi.example.com",
)
@click.option("--replace", is_flag=True, help="Give an existing kiosk a new token; the old one stops at once.")
def kiosk_create(name: str, base_url: str, replace: bool) -> None:
    """Create a kiosk token and print the URL to open on the TV (shown once)."""
    try:
        token = create_kiosk(_engine(), name, replace=replace)
    except KioskError as exc:
        _fail(f"kiosk: {exc}")
        return
    except SQLAlchemyError as exc:
        _fail(database_error(exc))
        return
    click.echo(f"kiosk {name.strip()!r} created; open this URL on the TV (it is shown only this once):", err=True)
    click.echo(f"{base_url.rstrip('/')}/tv?kiosk={token}")


@kiosk_group.command("list")
def kiosk_list() -> None:
    """Show every kiosk as a screen: name, created, last seen, slide showing, browser size, app version, and
    online / offline (no sign of life for 5 minutes) / revoked / never seen, with the page's last error."""
    try:
        kiosks = {kiosk.name: kiosk for kiosk in list_kiosks(_engine())}
        states = screen_states(_engine(), runtime_now())
    except SQLAlchemyError as exc:
        _fail(database_error(exc))
        return
    if not kiosks:
        click.echo("no kiosks yet: `flask --app app:server kiosk create NAME`")
        return
    header = ("NAME", "CREATED (UTC)", "LAST SEEN (UTC)", "SLIDE", "SIZE", "VERSION", "STATUS")
    rows = [
        (
            screen.name,
            _when(kiosks[screen.name].created_at),
            _when(screen.last_seen),
            screen.slide or "-",
            screen.size or "-",
            screen.version or "-",
            _status(screen, kiosks[screen.name]),
        )
        for screen in states
        if screen.name in kiosks
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@kiosk_group.command("revoke")
@click.argument("name")
def kiosk_revoke(name: str) -> None:
    """Revoke a kiosk token: the TV showing it is refused from its next request on."""
    try:
        revoked = revoke_kiosk(_engine(), name)
    except KioskError as exc:
        _fail(f"kiosk: {exc}")
        return
    except SQLAlchemyError as exc:
        _fail(database_error(exc))
        return
    click.echo(f"kiosk {name.strip()!r} revoked" if revoked else f"kiosk {name.strip()!r} was already revoked")


@kiosk_group.command("set")
@click.argument("name")
@click.option(
    "--slides",
    default="",
    help='The slides, comma-separated PAGE[:GROUP or PROJECT][@FROM-TO], e.g. "sales:Sales@08:00-12:00,cases,redmine"',
)
@click.option("--seconds", type=int, default=None, help="Seconds per slide (5 to 3600).")
@click.option("--clear", is_flag=True, help="Forget this screen's own rotation (kpi.toml's or the URL's again).")
def kiosk_set(name: str, slides: str, seconds: int | None, clear: bool) -> None:
    """Set what a screen rotates through; the TV picks it up within a minute, without anyone touching it."""
    if clear == bool(slides):
        _fail('kiosk set: give either --slides "cases,sales,..." (and --seconds N) or --clear')
        return
    try:
        rotation = None if clear else rotation_from_options(slides, seconds)
        set_rotation(_engine(), name, rotation)
    except (KioskError, RotationError) as exc:
        _fail(f"kiosk: {exc}")
        return
    except SQLAlchemyError as exc:
        _fail(database_error(exc))
        return
    if rotation is None:
        click.echo(f"kiosk {name.strip()!r} shows kpi.toml's rotation (or its URL's) again")
    else:
        click.echo(f"kiosk {name.strip()!r} rotates: {describe(rotation)}")


@kiosk_group.command("show")
@click.argument("name")
def kiosk_show(name: str) -> None:
    """Show what a screen rotates through now, and where that comes from."""
    runtime = current_runtime()
    try:
        kiosk = next((item for item in list_kiosks(runtime.engine) if item.name == name.strip()), None)
        if kiosk is None:
            raise KioskError(f"there is no kiosk named {name!r} (see `kiosk list`)")
        rotation = screen_rotation(runtime.engine, runtime.settings, kiosk.name)
    except KioskError as exc:
        _fail(f"kiosk: {exc}")
        return
    except SQLAlchemyError as exc:
        _fail(database_error(exc))
        return
    source = "kiosk set" if kiosk.rotation else "kpi.toml [tv.screens]"
    if rotation is None:
        click.echo(f"kiosk {kiosk.name!r} rotates its URL's pages (no kiosk set, no [tv.screens] entry)")
    else:
        click.echo(f"kiosk {kiosk.name!r} rotates ({source}): {describe(rotation)}")


def _status(screen: ScreenState, kiosk: Kiosk) -> str:
    status = f"revoked {_when(kiosk.revoked_at)}" if kiosk.revoked_at else screen.state
    return f"{status}; page error: {screen.error}" if screen.error else status


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"

"""Signed-in sessions kept on the server, so that a session can be ended: by signing out, or for every browser of a
person with `flask --app app:server sessions revoke EMAIL`.

The session cookie stays Flask's signed cookie; at sign-in it also gets a random session id (secrets.token_urlsafe)
whose SHA-256 is stored in `user_sessions` with the email. web/viewer.py asks `session_is_live()` on every request of a
signed-in person (one indexed read), so a copied cookie stops working the moment its row is ended, in every
process. Rows older than the session lifetime are deleted at the next sign-in.

Must not import Dash, callbacks/, layouts/ or sync/.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import ColumnElement, Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from models.db import utcnow
from models.schema import user_sessions
from web.kiosk import database_error, hash_token
from web.runtime import current_runtime

SESSION_LIFETIME = timedelta(days=14)  # a sign-in lasts this long at most, however active the user is


def start_session(engine: Engine, email: str, lifetime: timedelta) -> str:
    """A new live session for `email`; returns the id the cookie keeps. Sessions past `lifetime` are swept."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.created_at < now - lifetime))
        conn.execute(insert(user_sessions).values(session_hash=hash_token(session_id), email=email, created_at=now))
    return session_id


def session_is_live(engine: Engine, session_id: object, email: str) -> bool:
    """True when this id was issued to `email` and has not been ended."""
    if not isinstance(session_id, str) or not session_id:
        return False
    with engine.connect() as conn:
        row = conn.execute(
            select(user_sessions.c.email, user_sessions.c.ended_at).where(
                user_sessions.c.session_hash == hash_token(session_id)
            )
        ).first()
    return row is not None and row.ended_at is None and row.email == email


def end_session(engine: Engine, session_id: object) -> None:
    """Sign-out: this one session ends (the person's other browsers stay signed in)."""
    if isinstance(session_id, str) and session_id:
        _end(engine, user_sessions.c.session_hash == hash_token(session_id))


def end_all_sessions(engine: Engine, email: str) -> int:
    """End every live session of `email`; returns how many were live."""
    return _end(engine, user_sessions.c.email == email.strip().lower())


def _end(engine: Engine, which: ColumnElement[bool]) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            update(user_sessions).where(which, user_sessions.c.ended_at.is_(None)).values(ended_at=utcnow())
        )
    return int(result.rowcount or 0)


# --- CLI ----------------------------------------------------------------------------------------------------------

sessions_group = AppGroup("sessions", help="Signed-in sessions kept on the server.")


@sessions_group.command("revoke")
@click.argument("email")
def sessions_revoke(email: str) -> None:
    """End every session of EMAIL: each of that person's browsers must sign in again on its next request."""
    try:
        ended = end_all_sessions(current_runtime().engine, email)
    except SQLAlchemyError as exc:
        click.echo(database_error(exc, "sessions"), err=True)
        raise SystemExit(1) from None
    shown = email.strip().lower()
    click.echo(
        f"ended {ended} session{'s' if ended != 1 else ''} of {shown}" if ended else f"{shown} had no live session"
    )

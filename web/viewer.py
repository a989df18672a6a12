"""Who is looking: a user signed in with Google, a TV on a kiosk token, or local use (AUTH_DISABLED).

API for the rest of the app (stable; ask before changing):
- `current_viewer() -> Viewer | None`, inside any request (Flask view, Dash callback, layout function):
  `Viewer(kind, name, email)` with kind "user" (signed in with Google; `name`, `email`), "kiosk" (a TV on a
  kiosk token; `name` is the kiosk's name) or "local" (AUTH_DISABLED). `viewer.is_kiosk`. None when nobody is
  signed in (only seen on public routes: the gate refuses everything else first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import g, has_request_context, request, session

from settings import Settings
from web import kiosk, sessions
from web.kiosk import KIOSK_COOKIE
from web.runtime import current_runtime
from web.sessions import SESSION_LIFETIME


@dataclass(frozen=True)
class Viewer:
    kind: str  # "user", "kiosk" or "local"
    name: str
    email: str = ""

    @property
    def is_kiosk(self) -> bool:
        return self.kind == "kiosk"


LOCAL_VIEWER = Viewer("local", "local use (AUTH_DISABLED)")


def current_viewer() -> Viewer | None:
    """Who this request is for; None outside a request or when nobody is signed in."""
    if not has_request_context():
        return None
    if "kpi_viewer" not in g:
        g.kpi_viewer = _resolve_viewer(current_runtime().settings)
    return g.kpi_viewer


def _resolve_viewer(settings: Settings) -> Viewer | None:
    if settings.auth_disabled:
        return LOCAL_VIEWER
    user = session_user(settings)
    if user is not None:
        return user
    token = request.cookies.get(KIOSK_COOKIE)
    if token:
        name = kiosk.kiosk_name_for(current_runtime().engine, token)
        if name:
            return Viewer("kiosk", name)
    return None


def session_user(settings: Settings) -> Viewer | None:
    user = session.get("user")
    if not isinstance(user, dict):
        return None
    email = user.get("email")
    signed_in_at = session.get("signed_in_at")
    fresh = isinstance(signed_in_at, int) and 0 <= time.time() - signed_in_at <= SESSION_LIFETIME.total_seconds()
    # The allow-lists are re-read on every request: removing a domain or an address takes effect at once. So is the
    # server-side session: signing out (or `sessions revoke`) ends it for every copy of the cookie.
    if (
        not isinstance(email, str)
        or not fresh
        or not email_allowed(email, settings)
        or not sessions.session_is_live(current_runtime().engine, session.get("sid"), email)
    ):
        session.pop("user", None)
        return None
    return Viewer("user", str(user.get("name") or email), email)


def email_allowed(email: str, settings: Settings) -> bool:
    email = email.strip().lower()
    return email in settings.allowed_emails or email.rpartition("@")[2] in settings.allowed_email_domains

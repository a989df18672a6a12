"""The session cookie: signed, HttpOnly, SameSite=Lax, Secure unless a browser on this computer talks plain http
to localhost; and the request size limit that goes with the session configuration."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from web.hosts import is_loopback_host

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # Dash callback bodies are small; this only stops memory-exhaustion uploads


def cookie_secure() -> bool:
    """Secure cookies unless a browser on this computer talks plain http to localhost (development)."""
    return request.is_secure or not is_loopback_host(request.host)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session with the Secure flag decided per request (see cookie_secure)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure()


def configure_session_cookie(server: Flask) -> None:
    server.session_interface = SessionInterface()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )

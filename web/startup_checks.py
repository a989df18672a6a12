"""Start-up refusals: sign-in on but unusable or unsafe (SECRET_KEY, the Google client, nobody allowed,
FLASK_DEBUG), and AUTH_DISABLED listening anywhere but loopback (the dev server and gunicorn's binds)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from settings import ConfigError, Settings
from web.hosts import is_loopback_host

MIN_SECRET_KEY_LENGTH = 16
# What app.py falls back to when SECRET_KEY is empty; never acceptable with sign-in on.
PLACEHOLDER_SECRET_KEYS = frozenset({"dev-only-not-secret", "changeme", "change-me", "secret"})


def check_startup(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to start with sign-in on but unusable or unsafe. One line per problem, naming the key and the fix."""
    if settings.auth_disabled:
        return
    environ = os.environ if environ is None else environ
    local_only = "or set AUTH_DISABLED=true for local use on this computer only"
    key = settings.secret_key
    if not key:
        raise ConfigError(
            "SECRET_KEY is empty: set it to a long random string "
            f"(python -c 'import secrets; print(secrets.token_urlsafe(48))'), {local_only}"
        )
    if key in PLACEHOLDER_SECRET_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY is too weak (at least {MIN_SECRET_KEY_LENGTH} random characters): "
            "set it with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    for name, value in (
        ("GOOGLE_OAUTH_CLIENT_ID", settings.google_client_id),
        ("GOOGLE_OAUTH_CLIENT_SECRET", settings.google_client_secret),
    ):
        if not value:
            raise ConfigError(
                f"{name} is empty: create a Google OAuth client (README: Sign-in and security) and set it, {local_only}"
            )
    if not settings.allowed_email_domains and not settings.allowed_emails:
        raise ConfigError(
            "ALLOWED_EMAIL_DOMAINS and ALLOWED_EMAILS are both empty, so nobody could sign in: "
            "set ALLOWED_EMAIL_DOMAINS=example.com (your Google Workspace domain) or ALLOWED_EMAILS=a@example.com"
        )
    if str(environ.get("FLASK_DEBUG", "")).strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError(
            "FLASK_DEBUG is on: the debugger shows tracebacks and runs code; unset it outside development"
        )


def check_listen_address(settings: Settings, host: str) -> None:
    """AUTH_DISABLED is for one computer: refuse to listen anywhere but loopback with it."""
    if settings.auth_disabled and not is_loopback_host(host):
        raise ConfigError(
            f"AUTH_DISABLED is true but the server would listen on {host}: anyone on the network could read the "
            "dashboard. Listen on 127.0.0.1, or turn sign-in on (remove AUTH_DISABLED; README: Sign-in and security)"
        )


def check_gunicorn_binds(settings: Settings, addresses: Iterable[Any]) -> None:
    """gunicorn's parsed binds: (host, port) tuples, unix socket paths (str) or file descriptors (int).

    A unix socket or an inherited descriptor usually sits behind a proxy that faces the network, so only a
    loopback TCP address counts as local."""
    for address in addresses:
        host = address[0] if isinstance(address, tuple) else f"unix/fd:{address}"
        check_listen_address(settings, host)

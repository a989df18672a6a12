"""One scrubber for every error text of both sources (VTiger, Redmine): the text that goes into
`sync_runs.error`, the CLI's output, the logs and /status must never carry a credential, even when a server or a
proxy echoes the request (its headers, its URL) back in an error body.

Two layers:
- patterns that need no knowledge of the settings: URL user info (`https://user:key@host`), an auth scheme and
  its token (`Basic dXNlcjprZXk=`, `Bearer ...`), and key-like names with a value (`X-Redmine-API-Key: ...`,
  `"X-Redmine-Api-Key": "..."`, `?key=...`, `password=...`);
- the configured secrets themselves, in every form a server could echo them: plain, URL-encoded, and the
  base64 of `user:secret` that a `Basic` header carries (so the VTiger login is caught even when the word
  "Basic" is not next to it).

`Scrubber.for_settings(settings)` knows every secret of the configuration; `active()` is the one the sync running
on this thread or task installed (`scrubbing(...)`), so code that records errors (sync/engine.py) needs no
settings of its own. Must not import Dash, Flask, requests or the database layer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from settings import Settings

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words; no real key or password is that short

_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@", re.IGNORECASE)
_AUTH_TOKEN = re.compile(r"\b(?P<scheme>Basic|Bearer|Digest|Token)(?P<gap>\s+)[A-Za-z0-9+/=._~-]{4,}", re.IGNORECASE)
# A key-like name, then `=` or `:` (quotes and spaces around allowed, as in a query string, a header line, a
# JSON or Python dict echo), then the value, which may start with an auth scheme word.
_SECRET_FIELD = re.compile(
    r"(?P<name>[\w.-]*(?:key|token|secret|password|passwd|pwd|authorization|signature|cookie)[\w.-]*)"
    r"(?P<sep>['\"]?\s*[=:]\s*['\"]?)"
    r"(?P<value>(?:(?:Basic|Bearer|Digest|Token)\s+)?[^\s&'\",;}<>]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Scrubber:
    """Removes credentials from a text. `secrets`: the exact strings to blank out, longest first."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def knowing(cls, secrets: Iterable[str] = (), logins: Iterable[tuple[str, str]] = ()) -> Scrubber:
        """A scrubber for these secrets and (user, secret) logins, with every form a server may echo."""
        forms: set[str] = set()
        for secret in secrets:
            forms |= _echoed_forms(secret)
        for user, secret in logins:
            if secret:
                forms |= _echoed_forms(secret)
                forms |= _basic_forms(user, secret)
        kept = {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
        return cls(tuple(sorted(kept, key=len, reverse=True)))  # longest first: a secret inside another goes whole

    @classmethod
    def for_settings(cls, settings: Settings) -> Scrubber:
        """Every secret the configuration holds: the VTiger login, the Redmine key or login, the database's,
        Redis's and the SMTP server's passwords, the digest's webhook URL, the OAuth client secret and the session
        key."""
        secrets = [settings.google_client_secret, settings.secret_key]
        logins: list[tuple[str, str]] = []
        if settings.vtiger is not None:
            logins += [(settings.vtiger.username, settings.vtiger.access_key), _url_login(settings.vtiger.url)]
            secrets += _key_as_url_user(settings.vtiger.url)
        if settings.redmine is not None:
            redmine = settings.redmine
            # Redmine also takes its key as the Basic user name, with any password (curl examples use "X").
            logins += [(redmine.username, redmine.password), (redmine.api_key, "X"), _url_login(redmine.url)]
            secrets += [redmine.api_key, *_key_as_url_user(redmine.url)]
        logins += [_url_login(settings.database_url), _url_login(settings.redis_url), _url_login(settings.smtp_url)]
        secrets += [settings.digest_webhook_url]  # an incoming webhook's URL is its secret
        return cls.knowing(secrets, logins)

    def __call__(self, text: str) -> str:
        return self.scrub(text)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _URL_USERINFO.sub(r"\g<scheme>", text)
        text = _AUTH_TOKEN.sub(rf"\g<scheme>\g<gap>{REDACTED}", text)
        return _SECRET_FIELD.sub(_redact_field, text)

    def merged(self, other: Scrubber) -> Scrubber:
        return Scrubber(tuple(sorted(set(self.secrets) | set(other.secrets), key=len, reverse=True)))


def _redact_field(match: re.Match[str]) -> str:
    if match.group("value").strip("*") == "":  # already redacted (e.g. "Basic ***" became "***")
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{REDACTED}"


def _echoed_forms(secret: str) -> set[str]:
    if not secret:
        return set()
    return {secret, quote(secret, safe=""), quote_plus(secret, safe="")}


def _basic_forms(user: str, secret: str) -> set[str]:
    """The `Authorization: Basic` token for user:secret, with and without its padding, and the plain pair."""
    pair = f"{user}:{secret}"
    token = base64.b64encode(pair.encode()).decode()
    return {pair, token, token.rstrip("=")}


def _key_as_url_user(url: str) -> list[str]:
    """`https://KEY@host`: a source URL whose user info has no password carries a key as the user; requests sends
    it as Basic "KEY:"."""
    user, password = _url_login(url)
    if not user or password:
        return []
    token = base64.b64encode(f"{user}:".encode()).decode()
    return [user, token, token.rstrip("=")]


def _url_login(url: str) -> tuple[str, str]:
    """The user info of a URL (`scheme://user:secret@host`), decoded; empty parts when it has none."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return "", ""
    return unquote(user or ""), unquote(password or "")


# --- the scrubber of the sync running now --------------------------------------------------------------------

_PATTERNS_ONLY = Scrubber()
_ACTIVE: ContextVar[Scrubber | None] = ContextVar("kpi_sync_scrubber", default=None)


def active() -> Scrubber:
    """The scrubber installed by the sync running in this context; patterns only when none is."""
    return _ACTIVE.get() or _PATTERNS_ONLY


def scrub(text: str) -> str:
    """`text` without credentials, by the active scrubber."""
    return active().scrub(text)


@contextmanager
def scrubbing(scrubber: Scrubber) -> Iterator[Scrubber]:
    """Install `scrubber` (together with any already active) for the code run inside the block."""
    combined = active().merged(scrubber)
    token = _ACTIVE.set(combined)
    try:
        yield combined
    finally:
        _ACTIVE.reset(token)

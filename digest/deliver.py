"""Handing the digest over: e-mail through SMTP (`SMTP_URL`) and the chat message through an incoming webhook
(`DIGEST_WEBHOOK_URL`), each retried with backoff while the failure is transient (a connection refused or cut,
a timeout, an SMTP 4xx reply, HTTP 429 or 5xx) and given up at once when it is permanent (an SMTP 5xx reply such
as a refused login or recipient, HTTP 4xx): `DeliveryFailed(permanent=...)` says which.

    send_email(smtp_url, message, retry=RetryPolicy())
    post_webhook(webhook_url, payload, retry=RetryPolicy())

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import requests

log = logging.getLogger(__name__)
T = TypeVar("T")
SMTP_TIMEOUT = 30  # seconds for each SMTP command
HTTP_TIMEOUT = (5, 30)  # connect, read


class DeliveryFailed(Exception):
    """The digest could not be handed over. `permanent`: retrying will not help (wrong password, refused
    recipient, a webhook that answers 4xx); else the retries ran out."""

    def __init__(self, message: str, *, permanent: bool, attempts: int = 1) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """Waits in seconds between attempts: three retries over about two minutes by default."""

    delays: tuple[float, ...] = (5, 30, 90)
    sleep: Callable[[float], None] = time.sleep


def with_retries(action: Callable[[], T], policy: RetryPolicy, on_attempt: Callable[[int], None] | None = None) -> T:
    """`action()`, tried again after each delay while it raises a transient DeliveryFailed."""
    attempt = 0
    while True:
        attempt += 1
        if on_attempt:
            on_attempt(attempt)
        try:
            return action()
        except DeliveryFailed as exc:
            exc.attempts = attempt
            if exc.permanent or attempt > len(policy.delays):
                raise
            log.warning("digest delivery attempt %d failed, retrying: %s", attempt, exc)
            policy.sleep(policy.delays[attempt - 1])


# --- e-mail ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: bool  # smtps://: TLS from the first byte; else STARTTLS when the server offers it
    username: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "",
            port=parts.port or (465 if tls else 587),
            tls=tls,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


def send_email(smtp_url: str, message: EmailMessage, *, tls_context: ssl.SSLContext | None = None) -> None:
    """Send `message` once; DeliveryFailed tells a transient failure from a permanent one. The server's
    certificate is always verified: against `tls_context`, else the system's CAs (OpenSSL reads SSL_CERT_FILE, the
    way to trust a private CA, when the context is made)."""
    target = SmtpTarget.from_url(smtp_url)
    context = tls_context or ssl.create_default_context()
    try:
        if target.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if not target.tls:
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif target.password:
                    raise DeliveryFailed(
                        f"{target.host}:{target.port} does not offer STARTTLS: the password is not sent in clear; "
                        "use smtps:// or a server with STARTTLS",
                        permanent=True,
                    )
            if target.username:
                client.login(target.username, target.password)
            refused = client.send_message(message)
        if refused:
            raise DeliveryFailed(f"recipients refused: {refused}", permanent=True)
    except DeliveryFailed:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryFailed(f"recipients refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)) from exc
    except smtplib.SMTPResponseException as exc:  # login refused, sender refused, data refused: 4xx or 5xx
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryFailed(f"SMTP {exc.smtp_code} {reply}", permanent=exc.smtp_code >= 500) from exc
    except ssl.SSLCertVerificationError as exc:  # retrying will not make the certificate trusted
        raise DeliveryFailed(
            f"SMTP {target.host}:{target.port}: the server's certificate is not trusted ({exc.verify_message}); "
            "a private CA's certificate can be trusted by pointing SSL_CERT_FILE at it",
            permanent=True,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, cut, timed out, TLS handshake: try again later
        raise DeliveryFailed(f"SMTP {target.host}:{target.port}: {exc or type(exc).__name__}", permanent=False) from exc


# --- chat --------------------------------------------------------------------------------------------------------


def post_webhook(url: str, payload: dict[str, Any], *, session: requests.Session | None = None) -> None:
    """POST the payload once; 2xx is delivered, 429 and 5xx transient, other answers permanent."""
    http = session or requests
    try:
        response = http.post(url, json=payload, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"webhook: {type(exc).__name__}", permanent=False) from exc
    if response.ok:
        return
    transient = response.status_code == 429 or response.status_code >= 500
    body = response.text[:200].strip()
    raise DeliveryFailed(f"webhook answered HTTP {response.status_code} {body}".strip(), permanent=not transient)

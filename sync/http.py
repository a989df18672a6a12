"""The HTTP layer both source clients (VTiger, Redmine) share: a `requests.Session` wrapper that puts a timeout
on every call, retries what is worth retrying, counts requests, and turns failures into clear SyncErrors.

Stable API (the Redmine and VTiger clients depend on it):

    http = HttpClient(session=None, *, timeout=(5, 30), sleep=time.sleep, name="VTiger", max_attempts=5, ...)
    response = http.get(url, params={...})       # or http.request("POST", url, data={...})
    http.requests                                 # HTTP attempts made so far (retries included)
    http.session                                  # the requests.Session (auth, headers, mounted adapters)

What `request` does:
- Connection errors and timeouts, HTTP 5xx and 429 are retried with exponential backoff plus jitter, at most
  `max_attempts` attempts in all. A 429/503 `Retry-After` (seconds or an HTTP date) is honoured; a source can add
  its own wait rule through `retry_wait` (VTiger: sleep until `X-FloodControl-Reset`).
- When the attempts run out it raises: `HttpTimeout` / `HttpConnectionError` for network failures, `HttpError`
  (with `.status` and `.response`) for a 5xx or 429 that persisted. A wait demanded by the server that is longer
  than `max_wait` is not slept through: it raises at once, so a worker is not blocked for an hour.
- Any other status (2xx, 3xx, 4xx) is returned as it is: the caller knows what a 401 or 404 means for its API.
- `on_response` is called with every response (VTiger uses it to slow down when its flood-control budget is low).
- Error messages never contain credentials: no auth header, no password, no key-like query parameter, no URL
  user info. Messages name the method and path, not the query string.

Must not import Dash, Flask or the database layer.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from sync import scrub
from sync.engine import SyncError
from sync.scrub import Scrubber  # `scrub` is also a method name in HttpClient

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_ATTEMPTS = 5
BACKOFF_BASE = 0.5  # seconds before the second attempt; doubles each time
BACKOFF_CAP = 30.0
MAX_WAIT = 300.0  # never sleep longer than this for one retry, whatever the server asks
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Query parameters and headers whose values must never appear in an error message.
_SECRET_NAME = re.compile(r"(key|token|secret|password|passwd|auth|signature)", re.IGNORECASE)


class HttpError(SyncError):
    """An HTTP failure the retries could not get past. `status` is None for network errors."""

    def __init__(self, status: int | None, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.response = response


class HttpTimeout(HttpError):
    """The server did not answer in time, on every attempt."""


class HttpConnectionError(HttpError):
    """The server could not be reached (DNS, refused connection, TLS, reset), on every attempt."""


Timeout = float | tuple[float, float]
Sleep = Callable[[float], None]


class HttpClient:
    """A session with timeouts, bounded retries, a request counter and credential-free errors."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        timeout: Timeout = (CONNECT_TIMEOUT, READ_TIMEOUT),
        sleep: Sleep = time.sleep,
        name: str = "server",
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        max_wait: float = MAX_WAIT,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        retry_wait: Callable[[requests.Response], float | None] | None = None,
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self.session = session if session is not None else requests.Session()
        # A bare number is the read timeout (what callers usually mean); connecting keeps its own short limit.
        self.timeout: tuple[float, float] = (
            (min(CONNECT_TIMEOUT, float(timeout)), float(timeout)) if isinstance(timeout, int | float) else timeout
        )
        self.sleep = sleep
        self.name = name
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        self.clock = clock
        self.jitter = jitter
        self.retry_wait = retry_wait
        self.on_response = on_response
        self.requests = 0  # every attempt that went out, retries included (fills sync_runs.requests)
        self.slept = 0.0  # total seconds slept in backoff and rate-limit waits (for tests and logs)

    # --- public API -----------------------------------------------------------------------------------------------

    def get(self, url: str, *, params: Mapping[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url: str, *, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send with retries; return the response unless it is a 5xx/429 that persisted (then HttpError)."""
        method = method.upper()
        kwargs.setdefault("timeout", self.timeout)
        where = f"{method} {self.describe_url(url)}"
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.Timeout as exc:
                if attempt >= self.max_attempts:
                    raise HttpTimeout(
                        None,
                        f"{self.name} did not answer {where} within {self.timeout[1]:g} s "
                        f"({attempt} attempts): is it up? ({self.scrub(type(exc).__name__)})",
                    ) from None
                self.pause(self.backoff(attempt))
                continue
            except requests.ConnectionError as exc:
                if attempt >= self.max_attempts or not self.may_retry_network(method):
                    raise HttpConnectionError(
                        None,
                        f"could not reach {self.name} for {where} ({attempt} attempts): {self.network_reason(exc)}; "
                        "check the URL and the network",
                    ) from None
                self.pause(self.backoff(attempt))
                continue
            if self.on_response is not None:
                self.on_response(response)
            if response.status_code not in RETRY_STATUSES or not self.may_retry_status(method, response):
                return response
            wait = self.wait_for(response, attempt)
            if attempt >= self.max_attempts or wait > self.max_wait:
                raise self.status_error(response, where, attempt, wait)
            self.pause(wait)

    # --- retry policy ---------------------------------------------------------------------------------------------

    def may_retry_network(self, method: str) -> bool:
        # A POST that may have reached the server is not repeated: creating a record twice is worse than failing.
        return method in IDEMPOTENT_METHODS

    def may_retry_status(self, method: str, response: requests.Response) -> bool:
        # 429 means "not processed", so even a POST may be sent again; a 5xx POST may have done its work.
        return method in IDEMPOTENT_METHODS or response.status_code == 429

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base·2^(n-1), capped, scaled into [50 %, 100 %] of itself."""
        delay = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return delay * (0.5 + self.jitter() / 2)

    def wait_for(self, response: requests.Response, attempt: int) -> float:
        """Seconds to wait before retrying this response: Retry-After, the source's own rule, else backoff."""
        server_says = parse_retry_after(response.headers.get("Retry-After"), self.clock())
        if server_says is None and self.retry_wait is not None:
            server_says = self.retry_wait(response)
        if server_says is None:
            return self.backoff(attempt)
        return max(0.0, server_says)

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.sleep(seconds)

    # --- messages -------------------------------------------------------------------------------------------------

    def status_error(self, response: requests.Response, where: str, attempts: int, wait: float) -> HttpError:
        status = response.status_code
        reason = self.scrub(response.reason or "")
        detail = f"HTTP {status}{' ' + reason if reason else ''}"
        if status == 429 and wait > self.max_wait:
            text = (
                f"{self.name} rate limit reached on {where} ({detail}): it asks to wait {wait:.0f} s; "
                "the next run will continue"
            )
        elif status == 429:
            text = (
                f"{self.name} kept refusing {where} for its rate limit ({detail}, {attempts} attempts); "
                "the next run will continue"
            )
        else:
            body = self.scrub(_body_excerpt(response))
            text = f"{self.name} failed on {where} with {detail} ({attempts} attempts){': ' + body if body else ''}"
        return HttpError(status, text, response)

    def describe_url(self, url: str) -> str:
        """The path only: query strings may carry keys, and the base URL is in the settings anyway."""
        parts = urlsplit(url)
        return parts.path or "/"

    def network_reason(self, exc: BaseException) -> str:
        # The innermost cause is the readable part ("Connection refused", "Name or service not known").
        cause: BaseException = exc
        while (inner := cause.__cause__ or cause.__context__) is not None:
            cause = inner
        text = str(cause) or type(cause).__name__
        match = re.search(r"\] ([^'\]]+)'?\)*$", text) or re.search(r"(\[Errno [^\]]+\] [^'\)]+)", text)
        return self.scrub(match.group(1) if match else text)[:200]

    def scrub(self, text: str) -> str:
        """Remove anything that could be a credential of this session from a message (sync/scrub.py), and the
        secrets of the sync running now, if one installed them."""
        return scrub.active().merged(self.scrubber()).scrub(text)

    def scrubber(self) -> Scrubber:
        """A scrubber for this session's credentials: its auth pair (and so its Basic token) and the values of
        headers with key-like names."""
        secrets: list[str] = []
        logins: list[tuple[str, str]] = []
        auth = self.session.auth
        if isinstance(auth, tuple) and len(auth) == 2 and auth[1]:
            logins.append((str(auth[0]), str(auth[1])))
        for header, value in self.session.headers.items():
            if _SECRET_NAME.search(header) and value:
                secrets.append(str(value))
                if isinstance(value, str) and value.lower().startswith(("basic ", "bearer ")):
                    secrets.append(value.split(" ", 1)[1])
        return Scrubber.knowing(secrets, logins)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _body_excerpt(response: requests.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, requests.RequestException):
        return ""
    return " ".join(text.split())[:limit]

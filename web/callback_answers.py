"""Whole Dash callback answers from the app's cache (web/cache.py), so a repeated view (a second viewer of the same
page and date, back/forward, a reload, another worker or machine when REDIS_URL is set) skips Dash's dispatch, the
figures, the tables, JSON serialisation and compression. This module says which requests may be answered so and
how; web/cache.py stores them.

Only the page date-change callbacks of /cases, /redmine and /sales are cached (CACHEABLE_OUTPUTS, an allow-list
by output): their answer depends on nothing but the request body, the data and today's date. Everything else
(the status page's "sync now", the freshness badge's "x minutes ago", the TV, the shell) always runs.

    key = cache_key("answer", (sha256 of the raw request body, today in TIMEZONE), models.queries.data_version)

The data version is read before the callback runs (and pinned, so the callback's own cache reads key on the same
one): new data is never served stale (an answer is stored under the version read before it was built, and versions
only move forward). Today comes from the app's clock (Runtime.clock, as the callbacks read it).

Placement: `init_callback_answers` is called last in create_app, so its before_request runs after the sign-in gate
(web/gate.py: a request the gate refuses never reaches the cache, and a kiosk may not call these callbacks) and its
after_request runs first, seeing Dash's uncompressed JSON. A cached answer is returned from the before_request,
so the rest of the after_request chain (security headers, the CSRF cookie, compression) still runs on it. The
compressed bytes are kept per encoding too ("answer-br:<the answer's digest>"), because re-compressing a
large answer costs more than the rest of the hit: such an answer arrives with Content-Encoding set and
Flask-Compress leaves it alone. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import brotli
from flask import Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from models.queries import data_version, pin_data_version, unpin_data_version
from web.cache import cache_get, cache_key, cache_set
from web.compression import MIN_SIZE, accepted_encoding
from web.runtime import Runtime, current_runtime

CALLBACK_ROUTE = "_dash-update-component"
# The main callback of each dashboard page (callbacks/controls.py register_controls) writes its page's URL query;
# an output belongs to exactly one callback, so this output names the callback.
CACHEABLE_OUTPUTS = frozenset({"cases-url.search", "redmine-url.search", "sales-url.search"})
NAMESPACE = "answer"
KEPT_HEADERS = ("Content-Type",)  # what Dash's answer carries; the after_request chain adds the rest


@dataclass(frozen=True)
class Entry:
    """A stored answer: Dash's JSON body and the headers it came with (picklable, for a Redis cache)."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


def is_cacheable(output_key: object) -> bool:
    """Whether Dash's "output" key (one "id.prop", or "..a.p...b.q.." for several) is an allow-listed callback's."""
    if not isinstance(output_key, str):
        return False
    parts = output_key[2:-2].split("...") if output_key.startswith("..") and output_key.endswith("..") else [output_key]
    return any(part in CACHEABLE_OUTPUTS for part in parts)


def today() -> date:
    """Today in TIMEZONE by the app's clock, exactly as the page callbacks resolve it (callbacks/controls.py)."""
    from layouts.controls import current_now
    from view_models.page_state import local_today

    return local_today(current_runtime().settings.timezone, current_now())


def compress(server: Flask, body: bytes, encoding: str) -> bytes:
    """`body` as Flask-Compress would encode it (web/compression.py's levels)."""
    if encoding == "br":
        return brotli.compress(body, quality=int(server.config.get("COMPRESS_BR_LEVEL", 5)))
    return gzip.compress(body, compresslevel=int(server.config.get("COMPRESS_LEVEL", 6)))


class CallbackResponses:
    """The before_request / after_request pair around one app's callback route."""

    def __init__(self, server: Flask, runtime: Runtime, callback_path: str) -> None:
        self.server = server
        self.runtime = runtime
        self.callback_path = callback_path

    def key(self) -> str | None:
        """This request's key, or None when it is not a cacheable callback call."""
        if request.method != "POST" or request.path != self.callback_path:
            return None
        payload = request.get_json(silent=True)  # parsed once per request by Flask (the gate read it already)
        if not isinstance(payload, dict) or not is_cacheable(payload.get("output")):
            return None
        try:
            # Pinned: the page cache the callback consults keys on the same version without asking again.
            g.data_version_pin = pin_data_version(self.runtime.engine)
            version = data_version(self.runtime.engine)
        except SQLAlchemyError:
            return None  # the database is down: the callback itself answers (503, web.errors.callback_error)
        return cache_key(NAMESPACE, (hashlib.sha256(request.get_data(cache=True)).digest(), today()), version)

    def serve(self) -> Response | None:
        key = self.key()
        if key is None:
            return None
        entry = cache_get(key)
        if not isinstance(entry, Entry):
            g.answer_key = key
            return None
        return self.answer(key, entry)

    def answer(self, key: str, entry: Entry) -> Response:
        response = Response(entry.body, status=200)
        for name, value in entry.headers:
            response.headers[name] = value
        encoding = accepted_encoding(request)
        if encoding is None or len(entry.body) < MIN_SIZE:
            return response  # web/compression.py's Flask-Compress decides as for any answer
        encoded_key = key.replace(NAMESPACE, f"{NAMESPACE}-{encoding}", 1)  # "answer-br:<digest>"
        data = cache_get(encoded_key)
        if not isinstance(data, bytes):
            data = compress(self.server, entry.body, encoding)
            cache_set(encoded_key, data)
        response.set_data(data)
        response.headers["Content-Encoding"] = encoding
        response.headers["Vary"] = "Accept-Encoding"
        return response

    def unpin(self, _error: BaseException | None) -> None:
        token = g.pop("data_version_pin", None)
        if token is not None:
            unpin_data_version(token)

    def remember(self, response: Response) -> Response:
        key = g.pop("answer_key", None)
        if (
            key is None
            or response.status_code != 200
            or response.mimetype != "application/json"
            or response.is_streamed
            or response.direct_passthrough
            or "Content-Encoding" in response.headers
            or "Set-Cookie" in response.headers  # a callback that set a cookie answers one viewer only
        ):
            return response
        headers = tuple((name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers)
        cache_set(key, Entry(response.get_data(), headers))
        return response


def init_callback_answers(server: Flask, dash_app: Any) -> None:
    """Answer the allow-listed callbacks from the app's cache on `server`. Call it last in create_app: after the
    sign-in gate's before_request, and so that its after_request sees Dash's answer before security headers and
    compression."""
    runtime: Runtime = server.extensions["kpi"]
    hooks = CallbackResponses(server, runtime, dash_app.config.routes_pathname_prefix + CALLBACK_ROUTE)
    server.before_request(hooks.serve)
    server.after_request(hooks.remember)
    server.teardown_request(hooks.unpin)

"""A per-process cache of whole Dash callback answers, so a repeated view (a second viewer of the same page and
date, back/forward, a reload) skips Dash's dispatch, the figures, the tables, JSON serialisation and compression.

Only the page date-change callbacks of /cases, /redmine and /sales are cached (CACHEABLE_OUTPUTS, an allow-list
by output): their answer depends on nothing but the request body, the data and today's date. Everything else
(the status page's "sync now", the freshness badge's "x minutes ago", the TV, the shell) always runs.

    key = (sha256 of the raw request body, models.queries.data_version(engine), today in TIMEZONE)

The data version is the one view_models/cache.py keys on, read before the callback runs: new data is never served
stale (an answer is stored under the version read before it was built, and versions only move forward). Today
comes from the app's clock (Runtime.clock, as the callbacks read it).

Placement: `init_response_cache` is called last in create_app, so its before_request runs after the sign-in gate
(web/gate.py: a request the gate refuses never reaches the cache, and a kiosk may not call these callbacks) and its
after_request runs first, seeing Dash's uncompressed JSON. A cached answer is returned from the before_request,
so the rest of the after_request chain (security headers, the CSRF cookie, compression) still runs on it. The
compressed bytes are kept per encoding too, because re-compressing a large answer costs more than the rest of
the hit: such an answer arrives with Content-Encoding set and Flask-Compress leaves it alone.

Bounded (entries and bytes, LRU), thread-safe, one per app (`runtime.response_cache`); the benchmark's
cold calls empty it through `runtime.clear_caches()`. Must not import callbacks/ or sync/.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import brotli
from flask import Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from models.queries import data_version, pin_data_version, unpin_data_version
from web.compression import MIN_SIZE, accepted_encoding
from web.runtime import Runtime, current_runtime

CALLBACK_ROUTE = "_dash-update-component"
# The main callback of each dashboard page (callbacks/controls.py register_controls) writes its page's URL query;
# an output belongs to exactly one callback, so this output names the callback.
CACHEABLE_OUTPUTS = frozenset({"cases-url.search", "redmine-url.search", "sales-url.search"})
MAX_ENTRIES = 512
MAX_BYTES = 64 * 1024 * 1024  # per process, uncompressed and compressed bodies together
KEPT_HEADERS = ("Content-Type",)  # what Dash's answer carries; the after_request chain adds the rest


@dataclass
class Entry:
    body: bytes
    headers: list[tuple[str, str]]
    encoded: dict[str, bytes] = field(default_factory=dict)  # compressed bodies by encoding, made on first use

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(data) for data in self.encoded.values())


class ResponseCache:
    """A bounded, thread-safe LRU of callback answers by key. Counts hits and misses (tests, diagnostics)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            self._evict()

    def add_encoding(self, key: Hashable, entry: Entry, encoding: str, data: bytes) -> None:
        """Keep `entry`'s body compressed with `encoding` (counted against the byte budget)."""
        with self._lock:
            if encoding in entry.encoded:
                return
            entry.encoded[encoding] = data
            if self._entries.get(key) is entry:
                self._bytes += len(data)
                self._evict()

    def _evict(self) -> None:
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


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

    def __init__(self, server: Flask, runtime: Runtime, callback_path: str, cache: ResponseCache) -> None:
        self.server = server
        self.runtime = runtime
        self.callback_path = callback_path
        self.cache = cache

    def key(self) -> Hashable | None:
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
        return (hashlib.sha256(request.get_data(cache=True)).digest(), version, today())

    def serve(self) -> Response | None:
        key = self.key()
        if key is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            g.response_cache_key = key
            return None
        return self.answer(key, entry)

    def answer(self, key: Hashable, entry: Entry) -> Response:
        response = Response(entry.body, status=200)
        for name, value in entry.headers:
            response.headers[name] = value
        encoding = accepted_encoding(request)
        if encoding is None or len(entry.body) < MIN_SIZE:
            return response  # web/compression.py's Flask-Compress decides as for any answer
        data = entry.encoded.get(encoding)
        if data is None:
            data = compress(self.server, entry.body, encoding)
            self.cache.add_encoding(key, entry, encoding, data)
        response.set_data(data)
        response.headers["Content-Encoding"] = encoding
        response.headers["Vary"] = "Accept-Encoding"
        return response

    def unpin(self, _error: BaseException | None) -> None:
        token = g.pop("data_version_pin", None)
        if token is not None:
            unpin_data_version(token)

    def remember(self, response: Response) -> Response:
        key = g.pop("response_cache_key", None)
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
        headers = [(name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers]
        self.cache.put(key, Entry(response.get_data(), headers))
        return response


def init_response_cache(server: Flask, dash_app: Any) -> ResponseCache:
    """Cache the allow-listed callbacks' answers on `server`. Call it last in create_app: after the sign-in gate's
    before_request, and so that its after_request sees Dash's answer before security headers and compression."""
    runtime: Runtime = server.extensions["kpi"]
    cache = ResponseCache()
    hooks = CallbackResponses(server, runtime, dash_app.config.routes_pathname_prefix + CALLBACK_ROUTE, cache)
    server.before_request(hooks.serve)
    server.after_request(hooks.remember)
    server.teardown_request(hooks.unpin)
    runtime.response_cache = cache
    return cache

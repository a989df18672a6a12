"""The app's one cache of computed answers (Flask-Caching), keyed by the data version so a sync invalidates it
without a flush:

    value = cached("sales-render", (state,), data_version(engine), lambda: build(state))

- REDIS_URL set: a RedisCache, so every gunicorn worker and every machine of the deployment shares one build per
  answer per data version. Its key prefix names the database and the code version (`key_prefix`): two apps on
  the same database and release share entries, a new release or another database never reads them.
- Otherwise: a SimpleCache in this process (bounded by CACHE_THRESHOLD entries).

Users: the page callbacks' whole answers (web/callback_answers.py), the pages' rendered values (callbacks/sales.py,
callbacks/tracker_page.py, callbacks/support.py) and the TV's slides (callbacks/tv.py). Values must pickle (Redis
stores them pickled): dicts of Dash components, pandas frames, view dataclasses, bytes. A cached value is shared:
never mutate one. `Runtime.clear_caches()` empties it (the benchmark's cold calls).

An old version's entries are never asked for again and expire after CACHE_TIMEOUT; a Redis that cannot be reached
costs a rebuild, not an error (CACHE_IGNORE_ERRORS is not relied on: `cached` catches the client's errors).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from cachelib import BaseCache
from flask import Flask, current_app, has_app_context
from flask_caching import Cache
from redis.exceptions import RedisError

from settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
CACHE_TIMEOUT = 6 * 3600  # seconds: bounds Redis memory; entries of an old data version are never read anyway
CACHE_THRESHOLD = 512  # SimpleCache: entries per process before it prunes (a page answer is well under 1 MB)
_MISSING = object()


def key_prefix(settings: Settings, app_version: str) -> str:
    """What names one deployment in a shared Redis: its database and the code that pickled the values."""
    digest = hashlib.sha256(f"{settings.database_url}|{app_version}".encode()).hexdigest()[:16]
    return f"kpi-cache:{digest}:"


def cache_config(settings: Settings, app_version: str) -> dict[str, Any]:
    if settings.redis_url:
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": settings.redis_url,
            "CACHE_KEY_PREFIX": key_prefix(settings, app_version),
            "CACHE_DEFAULT_TIMEOUT": CACHE_TIMEOUT,
        }
    return {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": CACHE_THRESHOLD, "CACHE_DEFAULT_TIMEOUT": CACHE_TIMEOUT}


def init_cache(server: Flask, settings: Settings, app_version: str) -> BaseCache:
    """Create the app's cache on `server` and return its backend (kept on the runtime)."""
    cache = Cache(config=cache_config(settings, app_version))
    cache.init_app(server)
    return cast(BaseCache, server.extensions["cache"][cache])


def cache_key(namespace: str, key_parts: tuple[Hashable, ...], data_version: Hashable) -> str:
    """A short string key: the namespace in clear (for a person reading Redis), the rest hashed. `repr` of the parts:
    they are dates, strings, numbers and frozen dataclasses of them, whose reprs name their values."""
    digest = hashlib.sha256(repr((key_parts, data_version)).encode()).hexdigest()
    return f"{namespace}:{digest}"


def backend() -> BaseCache | None:
    """The current app's cache; None outside an app (a script, a test calling a view builder directly)."""
    if not has_app_context():
        return None
    runtime = current_app.extensions.get("kpi")
    return getattr(runtime, "cache", None)


def cache_get(key: str) -> Any:
    """The value under `key`, or _MISSING (a None value is a value)."""
    cache = backend()
    if cache is None:
        return _MISSING
    try:
        boxed = cache.get(key)  # stored as a 1-tuple, so a None value is told apart from a miss in one read
    except RedisError:
        log.warning("cache: cannot read %s", key.split(":")[0], exc_info=True)
        return _MISSING
    return boxed[0] if isinstance(boxed, tuple) and len(boxed) == 1 else _MISSING


def cache_set(key: str, value: object) -> None:
    cache = backend()
    if cache is None:
        return
    try:
        cache.set(key, (value,))
    except RedisError:
        log.warning("cache: cannot store %s", key.split(":")[0], exc_info=True)


def cached(namespace: str, key_parts: tuple[Hashable, ...], data_version: Hashable, build: Callable[[], T]) -> T:
    """`build()`'s value for `key_parts` at `data_version`, built once per version across the deployment (once
    per process without Redis). Two requests that miss at once both build (same value); none waits on another."""
    key = cache_key(namespace, key_parts, data_version)
    value = cache_get(key)
    if value is not _MISSING:
        return cast(T, value)
    value = build()
    cache_set(key, value)
    return value

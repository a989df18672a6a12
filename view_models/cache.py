"""A per-process cache of view results, keyed by what a view depends on and by the data version, so a repeated
view costs one tiny query and new data is never served stale.

    value = cached(engine, ("cases", day, group, window, today), lambda: build(...))

The key the caller gives names everything the result depends on besides the data (page, parameters, today);
`cached` adds the engine and `models.queries.data_version(engine)`, which changes whenever sync commits
rows (every committed page writes sync_state.updated_at), a run starts or finishes, or rows are added by any
other path. An old version's entries are simply never asked for again and age out of the bounded LRU.

One cache per engine (a weak mapping: an engine that goes away takes its entries with it), `CACHES.clear()`
empties all of them (the benchmark's cold calls, `Runtime.clear_caches`). Each gunicorn worker keeps its
own: the version check keeps them all correct. Cached values are shared between callers: never mutate one.

Used by the page callbacks, the CSV exports and the TV (through the view builders). Must not import Dash, Flask
or sync/.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine

from models.queries import data_version

T = TypeVar("T")
MAX_ENTRIES = 256  # per engine; a page's callback output is well under 1 MB at a million cases


class ViewCache:
    """A bounded, thread-safe LRU of results. Building happens outside the lock: two threads that miss the same
    key at once both build (the result is the same), but no thread ever waits behind another's build."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = build()
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class EngineCaches:
    """One ViewCache per engine."""

    def __init__(self) -> None:
        self._caches: weakref.WeakKeyDictionary[Engine, ViewCache] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def for_engine(self, engine: Engine) -> ViewCache:
        with self._lock:
            cache = self._caches.get(engine)
            if cache is None:
                cache = self._caches[engine] = ViewCache()
            return cache

    def clear(self) -> None:
        with self._lock:
            caches = list(self._caches.values())
        for cache in caches:
            cache.clear()


CACHES = EngineCaches()


def cached(engine: Engine, key: Hashable, build: Callable[[], T], *, version: Hashable | None = None) -> T:
    """`build()`'s result for `key` at the current data version (pass `version` when the caller already read
    it for this request, to save the query)."""
    if version is None:
        version = data_version(engine)
    return CACHES.for_engine(engine).get_or_build((key, version), build)

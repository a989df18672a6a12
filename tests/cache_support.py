"""Counting what an app's cache (web/cache.py) is asked: `counted(dash_app)` wraps the app's real backend
(SimpleCache, or RedisCache when the app has REDIS_URL) so a test sees hits, misses and stores per namespace (the
part of a key before its first ":": "answer", "sales-render", "tv-slide", ...)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from cachelib import BaseCache


class CountingCache(BaseCache):
    def __init__(self, inner: BaseCache) -> None:
        super().__init__()
        self.inner = inner
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.stored: Counter[str] = Counter()

    def get(self, key: str) -> Any:
        value = self.inner.get(key)
        (self.misses if value is None else self.hits)[key.split(":")[0]] += 1
        return value

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool | None:
        self.stored[key.split(":")[0]] += 1
        return self.inner.set(key, value, timeout)

    def has(self, key: str) -> bool:
        return self.inner.has(key)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def clear(self) -> bool:
        return self.inner.clear()


def counted(dash_app: Any) -> CountingCache:
    """The app's cache, counted from now on (the same wrapper when asked again)."""
    runtime = dash_app.server.extensions["kpi"]
    if not isinstance(runtime.cache, CountingCache):
        runtime.cache = CountingCache(runtime.cache)
    return runtime.cache

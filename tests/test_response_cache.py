"""web/callback_answers.py: a repeated page date-change callback is answered from the app's cache (web/cache.py),
with the same JSON, the security headers and compression; new data, another date or another "today" is a new
answer; only the allow-listed page callbacks are ever cached; the sign-in gate and the kiosk rule still come first;
two apps on one Redis share their answers."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import brotli
import pytest

import callbacks.controls
from models.schema import cases
from tests.auth_support import auth_settings, build_app, callback_body, csrf_headers, kiosk_client, sign_in
from tests.cache_support import CountingCache, counted
from tests.seed_dashboards import case_row, write_rows
from web import kiosk
from web.callback_answers import CACHEABLE_OUTPUTS, is_cacheable
from web.csrf import CSRF_HEADER

NOW = datetime(2026, 11, 20, 15, 0)  # naive UTC
CALLBACK = "/_dash-update-component"
ROUTING = "..page-content.children...chrome.style.."
PAGES = {"cases": "/cases", "redmine": "/redmine", "sales": "/sales"}


class Clock:
    """The app's injectable clock (Runtime.clock); tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def page_key(dash_app: Any, prefix: str) -> str:
    """The output key of a page's main callback (callbacks/controls.py)."""
    return next(key for key in dash_app.callback_map if f"..{prefix}-url.search..." in key)


def page_body(dash_app: Any, prefix: str, day: str = "2026-11-20", window: str = "month") -> dict[str, Any]:
    """What the browser posts when the page's date picker changes to `day`."""
    values = {
        (f"{prefix}-date", "date"): day,
        (f"{prefix}-window", "value"): window,
        (f"{prefix}-url", "pathname"): PAGES[prefix],
        (f"{prefix}-url", "search"): "",
    }
    body = callback_body(dash_app, page_key(dash_app, prefix), values)
    body["changedPropIds"] = [f"{prefix}-date.date"]
    return body


def cache_of(dash_app: Any) -> CountingCache:
    return counted(dash_app)


def started(dash_app: Any) -> Any:
    """As start-up does: the roll-ups exist before any page is read (a page never builds them on a click)."""
    from app import start_rollups

    start_rollups(dash_app.server.extensions["kpi"])
    return dash_app


@pytest.fixture
def app(app: Any) -> Any:
    """conftest's app, started, its cache counted from the start."""
    counted(started(app))
    return app


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per time a page's main callback really ran (it resolves the page state first)."""
    calls: list[str] = []
    original = callbacks.controls.resolve_state

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["prefix"])
        return original(**kwargs)

    monkeypatch.setattr(callbacks.controls, "resolve_state", counting)
    return calls


def with_clock(dash_app: Any, clock: Callable[[], datetime]) -> Any:
    dash_app.server.extensions["kpi"].clock = clock
    return dash_app


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def page_app(settings_for, database_url, clock) -> Iterator[Any]:
    """Sign-in off, on SQLite and on PostgreSQL, with a few November cases."""
    dash_app = started(with_clock(build_app(settings_for(database_url, auth_disabled=True)), clock))
    counted(dash_app)
    write_rows(dash_app.server.extensions["kpi"].engine, cases, [case_row(n) for n in range(1, 4)])
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


@pytest.fixture
def auth_app(settings_for, sqlite_url, clock) -> Iterator[Any]:
    dash_app = started(with_clock(build_app(auth_settings(settings_for, sqlite_url)), clock))
    counted(dash_app)
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()
    kiosk.forget_answers()


def post(client: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post(CALLBACK, json=body, headers=headers)


# --- the cache itself ----------------------------------------------------------------------------------------------


def test_only_the_page_date_change_callbacks_are_allow_listed(app) -> None:
    cacheable = sorted(key for key in app.callback_map if is_cacheable(key))
    assert cacheable == sorted(page_key(app, prefix) for prefix in PAGES)
    assert not any(is_cacheable(key) for key in ("tv-panel.children", ROUTING, "freshness-badge.children", None))
    assert {part.split("-")[0] for part in CACHEABLE_OUTPUTS} == set(PAGES)


def test_without_redis_each_app_has_its_own_cache_and_the_benchmark_clears_it(settings_for, sqlite_url) -> None:
    from cachelib import SimpleCache

    from bench.harness import clear_app_caches

    first, second = (build_app(settings_for(sqlite_url, auth_disabled=True)) for _ in range(2))
    for dash_app in (first, second):
        assert isinstance(dash_app.server.extensions["kpi"].cache, SimpleCache)
    body = page_body(first, "cases")
    first_client, second_client = first.server.test_client(), second.server.test_client()
    assert post(first_client, body).status_code == 200
    assert post(second_client, body).get_json() == post(first_client, body).get_json()
    assert (cache_of(first).hits["answer"], cache_of(second).hits["answer"]) == (0, 0)  # counted from here
    post(first_client, body)
    post(second_client, body)
    assert (cache_of(first).hits["answer"], cache_of(second).hits["answer"]) == (1, 1)  # each its own
    assert clear_app_caches(first)
    post(first_client, body)
    assert cache_of(first).misses["answer"] == 1  # emptied: built again
    for dash_app in (first, second):
        dash_app.server.extensions["kpi"].engine.dispose()


def test_two_apps_on_one_redis_share_their_answers(settings_for, sqlite_url, redis_url, renders) -> None:
    from cachelib import RedisCache

    first, second = (
        started(build_app(settings_for(sqlite_url, auth_disabled=True, redis_url=redis_url))) for _ in range(2)
    )
    assert isinstance(cache_of(first).inner, RedisCache) and isinstance(cache_of(second).inner, RedisCache)
    write_rows(first.server.extensions["kpi"].engine, cases, [case_row(n) for n in range(1, 4)])
    body = page_body(first, "cases")
    answer = post(first.server.test_client(), body).get_json()
    assert post(second.server.test_client(), body).get_json() == answer  # from the first app's entry
    assert renders == ["cases"]
    assert cache_of(second).hits["answer"] == 1
    write_rows(second.server.extensions["kpi"].engine, cases, [case_row(4)])  # the data version moves on
    newer = post(first.server.test_client(), body).get_json()
    assert newer != answer and renders == ["cases", "cases"]
    assert post(second.server.test_client(), body).get_json() == newer and renders == ["cases", "cases"]
    for dash_app in (first, second):
        dash_app.server.extensions["kpi"].engine.dispose()


# --- through the real callback route ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", sorted(PAGES))
def test_a_repeated_date_change_is_answered_from_the_cache(app, clock, renders, prefix) -> None:
    with_clock(app, clock)
    client = app.server.test_client()
    body = page_body(app, prefix)
    first = post(client, body)
    second = post(client, body)
    assert first.status_code == second.status_code == 200
    assert renders == [prefix]  # the callback ran once
    assert second.get_json() == first.get_json()
    assert second.mimetype == "application/json"
    assert (cache_of(app).hits["answer"], cache_of(app).misses["answer"]) == (1, 1)


def test_new_data_is_never_served_stale(page_app, renders) -> None:
    client = page_app.server.test_client()
    body = page_body(page_app, "cases")
    before = post(client, body).get_json()
    assert post(client, body).get_json() == before
    write_rows(page_app.server.extensions["kpi"].engine, cases, [case_row(n) for n in range(4, 9)])
    after = post(client, body).get_json()
    assert after != before
    assert renders == ["cases", "cases"]
    assert post(client, body).get_json() == after  # and the new answer is cached in turn
    assert renders == ["cases", "cases"]


def test_another_date_or_another_today_is_another_answer(app, clock, renders) -> None:
    with_clock(app, clock)
    client = app.server.test_client()
    post(client, page_body(app, "cases", "2026-11-20"))
    post(client, page_body(app, "cases", "2026-11-19"))
    post(client, page_body(app, "cases", "2026-11-20", window="week"))
    assert len(renders) == 3
    clock.now = NOW + timedelta(days=1)  # midnight passed: "today" and the picker's limit move on
    tomorrow = post(client, page_body(app, "cases", "2026-11-20")).get_json()
    assert len(renders) == 4
    assert tomorrow["response"]["cases-date"]["max_date_allowed"] == "2026-11-21"
    assert cache_of(app).hits["answer"] == 0


def test_callbacks_outside_the_allow_list_always_run(app, renders) -> None:
    client = app.server.test_client()
    routing = callback_body(app, ROUTING, {("url", "pathname"): "/cases"})
    badge = callback_body(app, "freshness-badge.children", {("url", "pathname"): "/cases"})
    for _ in range(2):
        assert post(client, routing).status_code == 200
        assert post(client, badge).status_code == 200
    cache = cache_of(app)
    assert (cache.stored["answer"], cache.hits["answer"], cache.misses["answer"]) == (0, 0, 0)


def test_a_cached_answer_keeps_the_security_headers(app) -> None:
    client = app.server.test_client()
    body = page_body(app, "sales")
    first, second = post(client, body), post(client, body)
    assert cache_of(app).hits["answer"] == 1
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert second.headers[name] == first.headers[name], name
    assert second.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("encoding", "decode"), [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_a_cached_answer_is_compressed_like_the_first(app, encoding, decode) -> None:
    client = app.server.test_client()
    body = page_body(app, "cases")
    first = post(client, body, **{"Accept-Encoding": encoding})
    hits = [post(client, body, **{"Accept-Encoding": encoding}) for _ in range(2)]  # compressed, then kept
    plain = post(client, body)
    assert cache_of(app).hits["answer"] == 3
    assert first.headers["Content-Encoding"] == encoding
    expected = json.loads(decode(first.get_data()))
    for hit in hits:
        assert hit.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in hit.headers["Vary"]
        assert int(hit.headers["Content-Length"]) == len(hit.get_data())
        assert json.loads(decode(hit.get_data())) == expected
    assert "Content-Encoding" not in plain.headers
    assert plain.get_json() == expected
    assert cache_of(app).stored[f"answer-{encoding}"] == 1  # the compressed copy is kept beside the JSON


# --- the gate comes first ---------------------------------------------------------------------------------------


def test_the_gate_refuses_before_the_cache_answers(auth_app) -> None:
    body = page_body(auth_app, "cases")
    signed_in = auth_app.server.test_client()
    csrf = sign_in(signed_in)
    for _ in range(2):
        assert post(signed_in, body, **{CSRF_HEADER: csrf}).status_code == 200
    assert cache_of(auth_app).hits["answer"] == 1

    anonymous = auth_app.server.test_client()
    refused = post(anonymous, body)
    assert refused.status_code == 401
    assert "response" not in (refused.get_json() or {})
    no_token = post(signed_in, body)  # signed in, but without the CSRF token
    assert no_token.status_code == 403
    assert "response" not in (no_token.get_json() or {})
    assert cache_of(auth_app).hits["answer"] == 1


def test_a_kiosk_cannot_get_a_cached_page_answer(auth_app) -> None:
    body = page_body(auth_app, "sales")
    signed_in = auth_app.server.test_client()
    csrf = sign_in(signed_in)
    post(signed_in, body, **{CSRF_HEADER: csrf})
    post(signed_in, body, **{CSRF_HEADER: csrf})
    assert cache_of(auth_app).hits["answer"] == 1
    tv, _ = kiosk_client(auth_app)
    refused = post(tv, body, **csrf_headers(tv))
    assert refused.status_code == 403
    assert "response" not in (refused.get_json() or {})
    assert cache_of(auth_app).hits["answer"] == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("br, gzip, deflate", "br"),
        ("gzip, br;q=0", "gzip"),
        ("br;q=0.0, gzip;q=0.5", "gzip"),
        ("br; q=0.000, gzip;q=0", None),
        ("gzip;q=0.8", "gzip"),
        ("identity", None),
        ("", None),
    ],
)
def test_the_encoding_a_cached_answer_gets_honours_refusals(app, header, expected) -> None:
    """compression.accepted_encoding: q=0 in any spelling refuses an encoding."""
    from web.compression import accepted_encoding

    with app.server.test_request_context(headers={"Accept-Encoding": header}):
        from flask import request

        assert accepted_encoding(request) == expected

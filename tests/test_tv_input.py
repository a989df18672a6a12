"""What a TV's browser sends is not trusted (layouts/tv.py TvConfig.from_store, parse_tv_query; callbacks/tv.py):
a clock offset is honoured only when settings.testing is on, slides are capped at MAX_SLIDES and checked, on the
URL path and on the callback path alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from models.db import utcnow
from tests.auth_support import build_app, callback_body
from view_models.tv_state import MAX_SLIDES, PAGES, Slide, TvConfig, parse_tv_query

RENDER = (
    "..tv-title.children...tv-group.children...tv-date.children...tv-panel.children...tv-banner.children"
    "...tv-banner.className...tv-sync.children...tv-dots.children...tv-progress.children...tv-signature.data"
    "...tv-rotate.interval...tv-goals.data.."
)
FIVE_DAYS_MS = 5 * 86400 * 1000


def thousand_slides() -> list[list[str]]:
    return [[PAGES[n % 3], f"Group {n}"] for n in range(1000)]


def test_the_browsers_clock_offset_counts_only_in_tests() -> None:
    sent = {"offset_ms": FIVE_DAYS_MS, "slides": [["cases", ""]]}
    assert TvConfig.from_store(sent).clock_offset_seconds == 0
    assert TvConfig.from_store(sent, testing=True).clock_offset_seconds == 5 * 86400
    for junk in (float("inf"), float("nan"), 10**30, "86400000", True, None, [1]):
        assert TvConfig.from_store({"offset_ms": junk}, testing=True).clock_offset_seconds == 0, junk


def test_the_browsers_slide_list_is_capped_and_checked() -> None:
    config = TvConfig.from_store({"slides": thousand_slides()})
    assert len(config.slides) == MAX_SLIDES
    assert config.slides[:2] == (Slide("cases", "Group 0"), Slide("sales", "Group 1"))
    junk = [["cases", "x" * 5000], ["cases", "a\nb"], ["cases"], "cases", ["tv", ""], ["sales", ["x"]], None]
    assert TvConfig.from_store({"slides": [*junk, ["redmine", "Web"]]}).slides == (Slide("redmine", "Web"),)
    assert TvConfig.from_store({"slides": [["cases", "A"]] * 50}).slides == (Slide("cases", "A"),)
    not_configs: list[object] = [None, [], "x", 7]
    for not_a_config in not_configs:
        assert TvConfig.from_store(not_a_config).slides == tuple(Slide(page, "") for page in PAGES)
    wild = TvConfig.from_store({"rotate": 0, "refresh": -5, "reload_ms": 1e300})
    assert (wild.rotate_seconds, wild.refresh_seconds, wild.reload_hours) == (30, 60, 6.0)


def test_the_url_caps_slides_and_drops_names_that_are_not_names() -> None:
    many = ",".join(f"Group {n}" for n in range(1000))
    now = datetime(2026, 3, 4, 12, 0)
    config = parse_tv_query({"pages": "cases,sales", "group": many}, tz_name="UTC", testing=False, real_now=now)
    assert len(config.slides) == MAX_SLIDES
    odd = parse_tv_query(
        {"pages": f"cases:{'y' * 5000},sales", "group": "x" * 5000}, tz_name="UTC", testing=False, real_now=now
    )
    assert odd.slides == (Slide("cases", ""), Slide("sales", ""))


@pytest.fixture
def production_tv(settings_for, sqlite_url):
    """Local mode, but settings.testing off, as in production (no thread is started: embedded_sync is off)."""
    dash_app = build_app(settings_for(sqlite_url, auth_disabled=True, testing=False))
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def render(dash_app, config_data: object, rotation: object = 0) -> dict:
    body = callback_body(
        dash_app,
        RENDER,
        {("tv-rotate", "n_intervals"): rotation, ("tv-config", "data"): config_data, ("tv-signature", "data"): None},
    )
    response = dash_app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.loads(response.get_data(as_text=True))["response"]


def test_the_tv_callback_ignores_a_forged_offset_and_caps_forged_slides(production_tv) -> None:
    today = utcnow().date()  # TIMEZONE is UTC in these settings
    answer = render(production_tv, {"offset_ms": FIVE_DAYS_MS, "slides": thousand_slides()}, rotation=10**12)
    shown_day = answer["tv-date"]["children"]
    assert shown_day == f"{today:%A} {today.day} {today:%B %Y}"
    assert len(answer["tv-dots"]["children"]) == MAX_SLIDES
    odd = render(production_tv, "not a config", rotation="7")
    assert odd["tv-title"]["children"] == "Cases" and len(odd["tv-dots"]["children"]) == len(PAGES)


def test_tests_may_still_move_the_tv_clock(settings_for, sqlite_url) -> None:
    dash_app = build_app(settings_for(sqlite_url, auth_disabled=True))
    later = (datetime.now(UTC) + timedelta(days=5)).date()
    answer = render(dash_app, {"offset_ms": FIVE_DAYS_MS, "slides": [["cases", ""]]})
    assert answer["tv-date"]["children"] == f"{later:%A} {later.day} {later:%B %Y}"
    dash_app.server.extensions["kpi"].engine.dispose()

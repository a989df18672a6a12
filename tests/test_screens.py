"""web/screens.py: the TV's data version (cheap, never cached, open to kiosks), its reports (checked, kept per
kiosk, ignored for anyone else), and the screens /status and `kiosk list` show, online or offline by a fake
clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from callbacks.status import screen_rows
from models.schema import kiosk_tokens, screens, sync_runs
from models.screens import OFFLINE_AFTER, Report, record_report, screen_states
from tests.auth_support import AUTH_ON, build_app, csrf_headers, kiosk_client, sign_in
from web import kiosk

NOW = datetime(2026, 3, 4, 10, 0, 0)
GOOD = {"slide": "Cases · Support", "width": 1920, "height": 1080, "version": "0.1.0+abc1234"}


@pytest.fixture
def auth_app(settings_for, database_url):
    dash_app = build_app(settings_for(database_url, **AUTH_ON))
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()
    kiosk.forget_answers()


def stored(dash_app) -> list[dict]:
    with dash_app.server.extensions["kpi"].engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(screens))]


def report(client, body, **kwargs):
    return client.post("/tv/report", json=body, headers=csrf_headers(client), **kwargs)


# --- the data version -----------------------------------------------------------------------------------------------


def test_a_kiosk_reads_the_data_version_and_nobody_may_cache_it(auth_app) -> None:
    client, _ = kiosk_client(auth_app)
    first = client.get("/tv/data-version")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[0-9a-f]{16}", first.get_json()["version"])
    assert client.get("/tv/data-version").get_json() == first.get_json()  # unchanged data, same answer

    with auth_app.server.extensions["kpi"].engine.begin() as conn:  # a sync run starts
        conn.execute(insert(sync_runs).values(source="vtiger", module="Cases", started_at=NOW, status="running"))
    assert client.get("/tv/data-version").get_json() != first.get_json()

    stranger = auth_app.server.test_client()
    refused = stranger.get("/tv/data-version")
    assert refused.status_code in (302, 401) and b"version" not in refused.data  # sign-in first


# --- reports ------------------------------------------------------------------------------------------------------


def test_a_kiosk_report_is_kept_for_its_screen(auth_app) -> None:
    client, _ = kiosk_client(auth_app, "Lobby TV")
    response = report(client, {**GOOD, "errors": 0, "unknown": "ignored"})
    assert response.status_code == 200 and response.get_json() == {"recorded": True}
    assert response.headers["Cache-Control"] == "no-store"
    [row] = stored(auth_app)
    assert (row["slide"], row["width"], row["height"], row["app_version"]) == (
        "Cases · Support",
        1920,
        1080,
        "0.1.0+abc1234",
    )
    assert row["error_count"] == 0 and row["last_error"] == ""

    report(client, {**GOOD, "slide": "Sales", "errors": 2, "error": "TypeError: x is undefined"})
    [row] = stored(auth_app)  # one row per screen, updated
    assert row["slide"] == "Sales" and row["error_count"] == 2 and row["last_error"] == "TypeError: x is undefined"

    report(client, GOOD)  # the page was reloaded: no errors since, the old one is gone
    [row] = stored(auth_app)
    assert row["error_count"] == 0 and row["last_error"] == "" and row["last_error_at"] is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {**GOOD, "width": 0},
        {**GOOD, "width": "1920"},
        {**GOOD, "height": True},
        {**GOOD, "height": 10**6},
        {**GOOD, "slide": "x" * 201},
        {**GOOD, "slide": 7},
        {**GOOD, "version": "v" * 65},
        {**GOOD, "errors": -1},
        {**GOOD, "error": ["not", "text"]},
        {key: value for key, value in GOOD.items() if key != "version"},
    ],
)
def test_bad_reports_get_400_and_change_nothing(auth_app, body) -> None:
    client, _ = kiosk_client(auth_app)
    response = report(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert stored(auth_app) == []


def test_a_report_that_is_not_json_or_too_long_is_refused(auth_app) -> None:
    client, _ = kiosk_client(auth_app)
    headers = {**csrf_headers(client), "Content-Type": "application/json"}
    assert client.post("/tv/report", data=b"{not json", headers=headers).status_code == 400
    long = {**GOOD, "error": "e" * 500, "padding": "p" * 5000}
    assert report(client, long).status_code == 413
    assert client.post("/tv/report", json=GOOD).status_code == 403  # no CSRF token
    assert stored(auth_app) == []


def test_reports_from_anyone_but_a_kiosk_are_ignored(auth_app) -> None:
    client = auth_app.server.test_client()
    csrf = sign_in(client)  # a person looking at /tv on their laptop is no screen
    response = client.post("/tv/report", json=GOOD, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200 and response.get_json() == {"recorded": False}
    assert stored(auth_app) == []

    engine = auth_app.server.extensions["kpi"].engine
    assert record_report(engine, "no such screen", Report("Cases", 1, 1, "v", 0, ""), NOW) is False
    assert stored(auth_app) == []


def test_a_revoked_screen_cannot_report(auth_app) -> None:
    client, _ = kiosk_client(auth_app, "wall")
    kiosk.revoke_kiosk(auth_app.server.extensions["kpi"].engine, "wall")
    assert report(client, GOOD).status_code == 401
    assert stored(auth_app) == []


# --- online, offline, revoked: /status and `kiosk list` ---------------------------------------------------------


def seed_screens(engine) -> None:
    """lobby: reported a minute ago; kitchen: last report six minutes ago, with a page error; hall: never came;
    old: revoked; stairs: no report, but its token was used four minutes ago."""
    for name in ("lobby", "kitchen", "hall", "old", "stairs"):
        kiosk.create_kiosk(engine, name)
    record_report(
        engine, "lobby", Report("Cases · Support", 1920, 1080, "0.1.0+abc", 0, ""), NOW - timedelta(minutes=1)
    )
    record_report(
        engine, "kitchen", Report("Sales", 1280, 720, "0.1.0+old", 3, "ReferenceError: y"), NOW - timedelta(minutes=6)
    )
    record_report(engine, "old", Report("Redmine", 800, 600, "0.1.0+abc", 0, ""), NOW - timedelta(seconds=30))
    kiosk.revoke_kiosk(engine, "old")

    with engine.begin() as conn:
        conn.execute(
            update(kiosk_tokens).where(kiosk_tokens.c.name == "stairs").values(last_used_at=NOW - timedelta(minutes=4))
        )


def test_screen_states_by_a_fake_clock(auth_app) -> None:
    engine = auth_app.server.extensions["kpi"].engine
    seed_screens(engine)
    states = {state.name: state for state in screen_states(engine, NOW)}
    assert {name: state.state for name, state in states.items()} == {
        "hall": "never seen",
        "kitchen": "offline",  # six minutes without a sign of life
        "lobby": "online",
        "old": "revoked",
        "stairs": "online",  # the token's use is a sign of life too
    }
    assert states["kitchen"].error == "ReferenceError: y" and states["kitchen"].failed
    assert states["lobby"].size == "1920×1080" and not states["lobby"].failed
    # Exactly at the edge: five minutes is still online, a second more is not.
    later = {state.name: state.state for state in screen_states(engine, NOW - timedelta(minutes=1) + OFFLINE_AFTER)}
    assert later["lobby"] == "online"
    later = {
        state.name: state.state
        for state in screen_states(engine, NOW - timedelta(minutes=1) + OFFLINE_AFTER + timedelta(seconds=1))
    }
    assert later["lobby"] == "offline"


def test_kiosk_list_shows_the_screens(auth_app) -> None:
    engine = auth_app.server.extensions["kpi"].engine
    seed_screens(engine)
    auth_app.server.extensions["kpi"].clock = lambda: NOW
    result = auth_app.server.test_cli_runner().invoke(args=["kiosk", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert result.stdout.splitlines()[0].split() == [
        "NAME", "CREATED", "(UTC)", "LAST", "SEEN", "(UTC)", "SLIDE", "SIZE", "VERSION", "STATUS"
    ]  # fmt: skip
    assert "2026-03-04 09:59" in lines["lobby"] and "1920×1080" in lines["lobby"] and lines["lobby"].endswith("online")
    assert "0.1.0+abc" in lines["lobby"] and "Cases · Support" in lines["lobby"]
    assert lines["kitchen"].endswith("offline; page error: ReferenceError: y")
    assert lines["hall"].endswith("never seen") and "never" in lines["hall"]
    assert re.search(r"revoked \d{4}-\d\d-\d\d \d\d:\d\d$", lines["old"])


def test_status_lists_the_screens(auth_app) -> None:
    engine = auth_app.server.extensions["kpi"].engine
    seed_screens(engine)
    runtime = auth_app.server.extensions["kpi"]
    runtime.clock = lambda: NOW
    runtime.app_version = "0.1.0+abc"
    with auth_app.server.app_context():
        rows = {row["Screen"]: row for row in screen_rows(runtime)}
    assert rows["lobby"]["State"] == "online" and rows["lobby"]["Problem"] == ""
    assert rows["lobby"]["Last seen"] == "2026-03-04 09:59:00" and rows["lobby"]["Size"] == "1920×1080"
    assert rows["lobby"]["Version"] == "0.1.0+abc"
    assert rows["kitchen"]["State"] == "offline"
    assert rows["kitchen"]["Problem"] == "page error at 2026-03-04 09:54:00: ReferenceError: y"
    assert rows["kitchen"]["Version"].startswith("0.1.0+old (this server runs 0.1.0+abc")
    assert rows["old"]["State"] == "revoked" and rows["old"]["Problem"].startswith("sign-in revoked")
    assert rows["hall"]["State"] == "never seen" and rows["hall"]["Last seen"] == "never"

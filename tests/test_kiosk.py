"""web/kiosk.py and the kiosk side of the gate: a TV on a token sees /tv and the TV's data, nothing else, and a revoke
reaches it at once."""

from __future__ import annotations

import re

import pytest
from dash import Input, Output
from sqlalchemy import select, update

from models.schema import kiosk_tokens
from tests.auth_support import auth_settings, build_app, callback_body, csrf_headers, kiosk_client
from web import kiosk
from web.callback_payloads import parse_callback_call
from web.gate import kiosk_may_call
from web.kiosk import KIOSK_COOKIE

URL_PATTERN = re.compile(r"^https://kpi\.example\.com/tv\?kiosk=([A-Za-z0-9_-]{43})$", re.MULTILINE)
TV_TEST_OUTPUT = "tv-test-clock.children"


@pytest.fixture
def auth_app(settings_for, database_url):
    """Sign-in on, on SQLite and on PostgreSQL, with one extra TV callback (ids prefixed tv-) and one that is not."""
    dash_app = build_app(auth_settings(settings_for, database_url))

    @dash_app.callback(Output("tv-test-clock", "children"), Input("tv-test-tick", "n_intervals"))
    def tv_clock(n: int | None) -> str:
        return f"tick {n}"

    @dash_app.callback(Output("cases-test-secret", "children"), Input("cases-test-button", "n_clicks"))
    def cases_secret(n: int | None) -> str:
        return "rows only signed-in people may see"

    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()
    kiosk.forget_answers()


def cli(dash_app, *args: str):
    return dash_app.server.test_cli_runner().invoke(args=["kiosk", *args])


def post_callback(client, dash_app, output_key: str, values=None):
    body = callback_body(dash_app, output_key, values)
    return client.post("/_dash-update-component", json=body, headers=csrf_headers(client))


def test_create_prints_a_url_and_stores_only_the_hash(auth_app) -> None:
    result = cli(auth_app, "create", "Lobby TV", "--base-url", "https://kpi.example.com/")
    assert result.exit_code == 0, result.output
    match = URL_PATTERN.search(result.stdout)
    assert match, result.stdout
    token = match.group(1)
    engine = auth_app.server.extensions["kpi"].engine
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(kiosk_tokens))]
    assert len(rows) == 1
    assert rows[0]["name"] == "Lobby TV"
    assert rows[0]["token_hash"] == kiosk.hash_token(token)
    assert token not in str(rows)


def test_the_token_opens_tv_and_its_callbacks(auth_app) -> None:
    client, _ = kiosk_client(auth_app)
    cookie = client.get_cookie(KIOSK_COOKIE)
    assert cookie is not None and cookie.http_only  # page scripts never see the token
    assert client.get("/tv/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200
    clock = post_callback(client, auth_app, TV_TEST_OUTPUT, {("tv-test-tick", "n_intervals"): 3})
    assert clock.status_code == 200
    assert "tick 3" in clock.get_data(as_text=True)
    routing = "..page-content.children...chrome.style.."
    assert post_callback(client, auth_app, routing, {("url", "pathname"): "/tv"}).status_code == 200


def test_the_token_opens_nothing_else(auth_app) -> None:
    client, _ = kiosk_client(auth_app)
    for path in (
        "/",
        "/cases",
        "/sales",
        "/status",
        "/redmine",
        "/tvx",
        "/tv/extra",
        "/export/cases.csv",
        "/_reload-hash",
    ):
        assert client.get(path).status_code == 403, path
    routing = "..page-content.children...chrome.style.."
    assert post_callback(client, auth_app, routing, {("url", "pathname"): "/cases"}).status_code == 403
    assert post_callback(client, auth_app, routing, {("url", "pathname"): None}).status_code == 403
    secret = post_callback(client, auth_app, "cases-test-secret.children")
    assert secret.status_code == 403
    assert "rows only" not in secret.get_data(as_text=True)


def test_every_registered_callback_follows_the_kiosk_rule(auth_app) -> None:
    """Each callback of the real app: allowed for a kiosk only when all it writes is tv- prefixed (or the frame
    of /tv); everything else, e.g. the sync-now button's callback, is refused."""
    client, _ = kiosk_client(auth_app)
    server_side = [key for key, entry in auth_app.callback_map.items() if "callback" in entry]
    for output_key in server_side:
        body = callback_body(auth_app, output_key, {("url", "pathname"): "/tv"})
        expected_allowed = kiosk_may_call(parse_callback_call(body, auth_app.callback_map))
        writes = [part.split(".")[0] for part in output_key.strip(".").split("...")]
        if all(component.startswith("tv-") for component in writes):
            assert expected_allowed, output_key
        if not any(component.startswith("tv-") for component in writes) and "url" not in str(body["inputs"]):
            assert not expected_allowed, output_key
        status = client.post("/_dash-update-component", json=body, headers=csrf_headers(client)).status_code
        if expected_allowed:
            assert status not in (401, 403), output_key
        else:
            assert status == 403, output_key


def test_a_kiosk_post_needs_the_csrf_token(auth_app) -> None:
    client, _ = kiosk_client(auth_app)
    body = callback_body(auth_app, TV_TEST_OUTPUT, {("tv-test-tick", "n_intervals"): 1})
    assert client.post("/_dash-update-component", json=body).status_code == 403


def test_revoke_works_at_once_also_for_a_tv_already_showing_the_page(auth_app) -> None:
    client, _ = kiosk_client(auth_app, name="kitchen")
    assert post_callback(client, auth_app, TV_TEST_OUTPUT).status_code == 200

    result = cli(auth_app, "revoke", "kitchen")
    assert result.exit_code == 0 and "revoked" in result.output

    refused = post_callback(client, auth_app, TV_TEST_OUTPUT)
    assert refused.status_code == 401  # the page's script reloads on 401 ...
    page = client.get("/tv")
    assert page.status_code == 401  # ... and the reloaded TV says its link was revoked
    assert "revoked" in page.get_data(as_text=True)
    assert cli(auth_app, "revoke", "kitchen").output.strip().endswith("was already revoked")


def test_a_revoke_from_another_process_is_seen_within_the_recheck_interval(auth_app, monkeypatch) -> None:
    client, _ = kiosk_client(auth_app, name="hall")
    engine = auth_app.server.extensions["kpi"].engine
    with engine.begin() as conn:  # another process: no in-process cache is told
        conn.execute(
            update(kiosk_tokens).where(kiosk_tokens.c.name == "hall").values(revoked_at=kiosk_tokens.c.created_at)
        )
    later = kiosk.time.monotonic() + kiosk.KIOSK_RECHECK_SECONDS + 0.1
    monkeypatch.setattr(kiosk.time, "monotonic", lambda: later)
    assert client.get("/tv").status_code == 401


def test_replace_gives_a_new_token_and_stops_the_old_one(auth_app) -> None:
    client, old = kiosk_client(auth_app, name="lobby")
    duplicate = cli(auth_app, "create", "lobby")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    replaced = cli(auth_app, "create", "lobby", "--replace")
    assert replaced.exit_code == 0
    assert client.get("/tv").status_code == 401
    new = re.search(r"kiosk=(\S+)", replaced.stdout)
    assert new and new.group(1) != old
    assert auth_app.server.test_client().get(f"/tv?kiosk={new.group(1)}").status_code == 302


def test_list_shows_names_created_last_seen_and_revoked(auth_app) -> None:
    assert "no kiosks yet" in cli(auth_app, "list").output
    kiosk_client(auth_app, name="used-tv")
    cli(auth_app, "create", "unused-tv")
    cli(auth_app, "create", "gone-tv")
    cli(auth_app, "revoke", "gone-tv")
    lines = cli(auth_app, "list").stdout.strip().splitlines()
    assert lines[0].split() == [
        "NAME", "CREATED", "(UTC)", "LAST", "SEEN", "(UTC)", "SLIDE", "SIZE", "VERSION", "STATUS"
    ]  # fmt: skip
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"gone-tv", "unused-tv", "used-tv"}
    assert "never" not in by_name["used-tv"] and by_name["used-tv"].endswith("online")  # its token was just used
    assert "never" in by_name["unused-tv"] and by_name["unused-tv"].endswith("never seen")
    assert "revoked 20" in by_name["gone-tv"]


def test_bad_and_unknown_tokens_get_no_cookie(auth_app) -> None:
    client = auth_app.server.test_client()
    for token in ("", "short", "x" * 43, "../../etc/passwd", "a b c", "é" * 43):
        response = client.get("/tv", query_string={"kiosk": token})
        assert response.status_code == 401, token
        assert client.get_cookie(KIOSK_COOKIE) is None
    client.set_cookie(KIOSK_COOKIE, "y" * 43)
    assert client.get("/tv").status_code == 401
    assert client.get("/_dash-layout").status_code == 401


def test_bad_names_are_refused(auth_app) -> None:
    for name in ("", " ", "_leading", ".dot", "x" * 65, "semi;colon", "new\nline"):
        result = cli(auth_app, "create", name)
        assert result.exit_code == 1, name
        assert "not valid" in result.output
    assert cli(auth_app, "revoke", "nobody").exit_code == 1


def test_set_gives_a_screen_its_rotation_and_clear_hands_it_back(auth_app) -> None:
    cli(auth_app, "create", "hall-tv")
    done = cli(auth_app, "set", "hall-tv", "--slides", "sales:Sales@08:00-12:00,cases", "--seconds", "20")
    assert done.exit_code == 0 and "rotates: sales:Sales@08:00-12:00, cases; 20 s" in done.stdout
    shown = cli(auth_app, "show", "hall-tv")
    assert "rotates (kiosk set): sales:Sales@08:00-12:00, cases; 20 s" in shown.stdout
    assert cli(auth_app, "set", "hall-tv", "--clear").exit_code == 0
    assert "rotates its URL's pages" in cli(auth_app, "show", "hall-tv").stdout
    bad = cli(auth_app, "set", "hall-tv", "--slides", "weather")
    assert bad.exit_code == 1 and "'weather' is not a slide (known: cases, sales, redmine, support)" in bad.stderr
    assert "--slides" in cli(auth_app, "set", "hall-tv").stderr  # neither --slides nor --clear
    assert "there is no kiosk named 'nobody'" in cli(auth_app, "set", "nobody", "--slides", "cases").stderr

"""Input that used to give a 500 or forge log lines: export dates out of range, callback bodies nested deeper than
the JSON parser follows, unknown Dash bundles, control characters in `next=` and in anything logged from a request.
Each answers 400/404 with one log line, never a traceback."""

from __future__ import annotations

import logging
import random
import string

import pytest
from gunicorn.glogging import SafeAtoms

from tests.auth_support import HTTPS, auth_settings, build_app, google_claims, sign_in
from tests.test_auth import finish_sign_in, start_sign_in, token_response
from web.csrf import CSRF_COOKIE, CSRF_HEADER
from web.log_redaction import escape_controls
from web.signin import safe_next

ROUTING = "..page-content.children...chrome.style.."


@pytest.fixture
def signed_in(settings_for, sqlite_url):
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    dash_app.server.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a crash is a 500, which we look for
    client = dash_app.server.test_client()
    sign_in(client)
    client.get("/cases")  # the CSRF cookie, as a browser's first page
    yield dash_app, client
    dash_app.server.extensions["kpi"].engine.dispose()


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    assert all("\n" not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2999-01-01"])
def test_an_export_date_outside_the_data_is_a_clear_400(signed_in, caplog, day: str) -> None:
    _, client = signed_in
    for window in ("day", "week", "month"):
        response = client.get(f"/export/cases.csv?date={day}&window={window}&kpi=created")
        assert response.status_code == 400, (day, window)
        assert response.get_data(as_text=True).startswith(f"date={day} is outside the data: use a date from 2000-01-01")
    no_traceback(caplog)


def test_a_callback_body_nested_50000_deep_is_a_400(signed_in, caplog) -> None:
    _, client = signed_in
    token = client.get_cookie(CSRF_COOKIE).value
    deep = '{"output": "' + ROUTING + '", "inputs": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = client.post(
        "/_dash-update-component", data=deep, content_type="application/json", headers={CSRF_HEADER: token}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed callback request: the body nests too deeply"
    no_traceback(caplog)


def test_an_unknown_dash_bundle_is_a_404_with_one_log_line(signed_in, caplog) -> None:
    _, client = signed_in
    with caplog.at_level(logging.INFO):
        for path in ("nope/x.js", "dash/nope.js", "dash/deps/react@0.0.1.min.js", "plotly/package_data/../x.js"):
            response = client.get(f"/_dash-component-suites/{path}")
            assert response.status_code == 404, path
            assert "Traceback" not in response.get_data(as_text=True)
    bundle_lines = [record for record in caplog.records if "no such Dash bundle" in record.getMessage()]
    assert len(bundle_lines) == 4
    no_traceback(caplog)


def test_fuzzed_dates_bodies_and_bundle_paths_never_give_a_500(signed_in, caplog) -> None:
    _, client = signed_in
    token = client.get_cookie(CSRF_COOKIE).value
    rng = random.Random(15)  # fixed: a failure reproduces
    junk = string.ascii_letters + string.digits + "-/.%[]{}\"':\r\n\x00"
    for _ in range(60):
        year, month, day = rng.randint(0, 99999), rng.randint(0, 99), rng.randint(0, 99)
        text = "".join(rng.choice(junk) for _ in range(rng.randint(0, 20)))
        for date_value in (f"{year:04d}-{month:02d}-{day:02d}", text):
            assert client.get("/export/cases.csv", query_string={"date": date_value, "kpi": "created"}).status_code in (
                200,
                400,
            ), date_value
        depth = rng.choice([1, 100, 5_000, 200_000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        body = opener * depth + "0" + closer * depth
        posted = client.post(
            "/_dash-update-component", data=body, content_type="application/json", headers={CSRF_HEADER: token}
        )
        assert posted.status_code == 400, depth
        assert client.get(f"/_dash-component-suites/{text or 'x'}/{text}.js").status_code < 500, text
    no_traceback(caplog)


def test_a_next_address_with_control_characters_falls_back_to_the_start_page(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    client = dash_app.server.test_client()
    assert client.get("/login?next=/cases%0Ax", base_url=HTTPS).status_code == 200
    state, _ = start_sign_in(client)
    done = finish_sign_in(client, state, token_response(google_claims()))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    for target in ("/cases\nx", "/cases\r\nSet-Cookie: a=b", "/cases\x00", "/tv\t", "/sales\x7f"):
        assert not safe_next(target), repr(target)
    assert safe_next("/cases?date=2026-11-20&group=Tier%202")
    dash_app.server.extensions["kpi"].engine.dispose()


def test_a_crlf_in_error_description_cannot_forge_a_log_line(settings_for, sqlite_url, caplog) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    client = dash_app.server.test_client()
    state, _ = start_sign_in(client)
    forged = "nope\r\nINFO:kpi.auth:signed in: mallory@example.com"
    with caplog.at_level(logging.INFO):
        response = client.get(
            "/login/google/authorized",
            query_string={"state": state, "error": forged, "error_description": forged},
            base_url=HTTPS,
        )
    assert response.status_code == 403
    mentioning = [record.getMessage() for record in caplog.records if "mallory" in record.getMessage()]
    assert mentioning, "the sign-in error was not logged"
    for message in mentioning:
        assert "\n" not in message and "\r" not in message
        assert "nope\\r\\nINFO:kpi.auth:signed in: mallory@example.com" in message
    dash_app.server.extensions["kpi"].engine.dispose()


def test_every_log_argument_is_kept_on_one_line(app, caplog) -> None:
    """Whichever logger writes it (the record factory the app installs applies to all)."""
    log = logging.getLogger("kpi.test")
    with caplog.at_level(logging.INFO):
        log.info("path %s, repr %r, number %d", "/a\nb", "c\rd", 7)
        # gunicorn's access log: a dict of atoms that answers "-" for a header the request lacks
        atoms = SafeAtoms({"h": "127.0.0.1", "r": "GET /\r\nforged HTTP/1.1", "{user-agent}i": "ua\nx"})
        log.info("atoms %(h)s %(r)s %({User-Agent}i)s %({Referer}i)s", atoms)
        log.info("error %s", ValueError("line one\nline two"))
    messages = [record.getMessage() for record in caplog.records if record.name == "kpi.test"]
    assert messages == [
        "path /a\\nb, repr 'c\\rd', number 7",
        "atoms 127.0.0.1 GET /\\r\\nforged HTTP/1.1 ua\\nx -",
        "error line one\\nline two",
    ]
    assert escape_controls("a\x00b\x1b[31mc\td") == "a\\x00b\\x1b[31mc\\td"

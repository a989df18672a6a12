"""The one gate (web/gate.py): every route of the Flask app and every Dash endpoint and callback is refused without a
session, refused with a kiosk token unless it is /tv or TV data, and served with a session. Routes are listed
from the app itself (url_map, callback_map), so a route added later is covered without anyone listing it here;
the public allow-list is spelled out below, so a new public route fails this test until it is agreed on."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dash import Dash
from flask import Blueprint, Flask

from settings import Settings
from tests.auth_support import auth_settings, build_app, callback_body, csrf_headers, kiosk_client, sign_in
from web import gate
from web.csrf import CSRF_COOKIE, CSRF_HEADER

# The agreed public routes, by endpoint: sign-in and sign-out, the health check, static files.
EXPECTED_PUBLIC = {
    "healthz",
    "auth.login",
    "auth.logout",
    "google.login",
    "google.authorized",
    "_dash_assets.static",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_favicon.ico",
}
# What a kiosk may open besides the public routes (the /tv page is the Dash catch-all at /tv), and the TV's own
# routes (web/screens.py): its data version, and its report (a POST).
EXPECTED_KIOSK = {"/_dash-layout", "/_dash-dependencies", "/_dash-update-component"}
EXPECTED_KIOSK_ROUTES = {"screens.data_version", "screens.report"}
# Routes whose secret in the path is the credential (web/webhooks.py): no session, but a wrong secret is a 404.
EXPECTED_OWN_SECRET = {"webhooks.receive", "webhooks.wrong_method"}
SAMPLE_VALUES = {"int": "1", "float": "1.5", "uuid": str(uuid.uuid4()), "path": "some/where", "string": "sample"}
REFUSED = (401, 403)


@pytest.fixture(params=["embedded", "redis"])
def gated_app(request: pytest.FixtureRequest, settings_for: Callable[..., Settings], sqlite_url: str) -> Iterator[Dash]:
    """Sign-in on; with REDIS_URL too, so /rq (rq-dashboard) is mounted."""
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    dash_app = build_app(auth_settings(settings_for, sqlite_url, **overrides))
    # Served means "not refused by the gate": a view that fails afterwards answers 500 instead of raising here.
    dash_app.server.config["PROPAGATE_EXCEPTIONS"] = False
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def concrete_path(rule: Any) -> str:
    """The rule's path with a sample value for every variable part."""

    def sample(match: re.Match[str]) -> str:
        if match.group(2) == "package_name":
            return "dash"  # a library Dash knows, so the component-suites route answers 404, not an error
        converter = (match.group(1) or "string").split("(")[0]
        return SAMPLE_VALUES.get(converter, "sample")

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", sample, rule.rule)


def requests_of(server: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every rule and method of the app (HEAD and OPTIONS included)."""
    return [
        (rule.endpoint, method, concrete_path(rule))
        for rule in server.url_map.iter_rules()
        for method in sorted(rule.methods or ())
    ]


def send(client, method: str, path: str, headers: dict[str, str] | None = None):
    return client.open(path, method=method, headers=headers or {}, json={} if method == "POST" else None)


def is_refusal(response) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code in REFUSED or (response.status_code == 302 and "/login/google" in location)


def test_the_public_allow_list_is_exactly_the_agreed_one() -> None:
    assert gate.PUBLIC_ENDPOINTS == EXPECTED_PUBLIC
    assert gate.PUBLIC_PATH_PREFIXES == ("/webhooks/",)
    assert gate.KIOSK_ROUTES == EXPECTED_KIOSK_ROUTES
    assert gate.KIOSK_ENDPOINTS | {gate.DASH_CALLBACK_ENDPOINT} == EXPECTED_KIOSK


def test_every_route_is_refused_without_a_session(gated_app) -> None:
    client = gated_app.server.test_client()
    public_seen = set()
    for endpoint, method, path in requests_of(gated_app.server):
        response = send(client, method, path)
        if endpoint in EXPECTED_PUBLIC:
            public_seen.add(endpoint)
            assert not is_refusal(response) or endpoint == "google.authorized", (method, path)
            continue
        if endpoint in EXPECTED_OWN_SECRET:  # "sample" is no secret: not found, or no such method (OPTIONS: 200)
            assert response.status_code in (404, 405) or method == "OPTIONS", (endpoint, method, response.status_code)
            continue
        assert is_refusal(response), (endpoint, method, path, response.status_code)
        if path.startswith(("/_dash-", "/export/")) or method not in ("GET", "HEAD"):
            assert response.status_code == 401 and response.is_json, (method, path)
    assert public_seen == EXPECTED_PUBLIC


def test_every_route_is_served_with_a_session(gated_app) -> None:
    client = gated_app.server.test_client()
    sign_in(client)
    client.get("/cases")  # sets the CSRF cookie, as a browser's first page does
    # Signing out ends the session: last. Every callback is posted in its own test, each with its real payload.
    ordered = sorted(requests_of(gated_app.server), key=lambda request: request == ("auth.logout", "POST", "/logout"))
    for endpoint, method, path in ordered:
        if endpoint == gate.DASH_CALLBACK_ENDPOINT or endpoint.startswith("google."):
            continue  # the OAuth views answer by the state of a sign-in, not by the gate (see test_auth.py)
        response = send(client, method, path, csrf_headers(client))
        assert not is_refusal(response), (endpoint, method, path, response.status_code)


def test_every_route_but_tv_is_refused_to_a_kiosk(gated_app) -> None:
    client, _ = kiosk_client(gated_app)
    for endpoint, method, path in requests_of(gated_app.server):
        if endpoint in EXPECTED_PUBLIC | EXPECTED_OWN_SECRET or endpoint == gate.DASH_CALLBACK_ENDPOINT:
            continue
        response = send(client, method, path, csrf_headers(client))
        if endpoint in EXPECTED_KIOSK_ROUTES or (endpoint in EXPECTED_KIOSK and method in ("GET", "HEAD", "OPTIONS")):
            assert not is_refusal(response), (method, path)
        else:
            assert is_refusal(response), (endpoint, method, path, response.status_code)
    for path in ("/tv", "/tv/"):
        assert client.get(path).status_code == 200


def test_every_dash_callback_is_gated(gated_app) -> None:
    """Anonymous: 401. Kiosk: 403 unless it writes only TV (or /tv frame) components. Session: served."""
    anonymous = gated_app.server.test_client()
    anonymous.get("/healthz")  # the first request registers every callback Dash knows of
    signed_in = gated_app.server.test_client()
    sign_in(signed_in)
    signed_in.get("/cases")
    tv, _ = kiosk_client(gated_app)
    callbacks = [key for key, entry in gated_app.callback_map.items() if "callback" in entry]
    assert callbacks, "the app has server-side callbacks"
    for output_key in callbacks:
        for pathname in ("/tv", "/cases"):
            body = callback_body(gated_app, output_key, {("url", "pathname"): pathname})
            assert anonymous.post("/_dash-update-component", json=body).status_code == 401
            served = signed_in.post("/_dash-update-component", json=body, headers=csrf_headers(signed_in))
            assert served.status_code not in REFUSED, (output_key, served.status_code)
            kiosk_status = tv.post("/_dash-update-component", json=body, headers=csrf_headers(tv)).status_code
            writes = [part.split(".")[0] for part in output_key.strip(".").split("...")]
            only_tv = all(component.startswith(gate.KIOSK_CALLBACK_OUTPUT_PREFIX) for component in writes)
            frame_of_tv = pathname == "/tv" and all(
                c.startswith(gate.KIOSK_CALLBACK_OUTPUT_PREFIX) or c in gate.KIOSK_SHELL_OUTPUT_IDS for c in writes
            )
            entry = gated_app.callback_map[output_key]
            reads_pathname = {"id": "url", "property": "pathname"} in [*entry["inputs"], *entry.get("state", [])]
            if only_tv or (frame_of_tv and reads_pathname):
                assert kiosk_status not in REFUSED, (output_key, pathname)
            else:
                assert kiosk_status == 403, (output_key, pathname)


def test_a_route_added_later_is_gated_too(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    server = dash_app.server

    @server.route("/added-later", methods=["GET", "POST"])
    def added_later() -> str:
        return "secret"

    extra = Blueprint("extra", __name__)

    @extra.get("/report.json")
    def report() -> dict[str, str]:
        return {"rows": "secret"}

    server.register_blueprint(extra, url_prefix="/extra")
    client = server.test_client()
    assert client.get("/added-later").status_code == 302
    assert client.post("/added-later").status_code == 401
    assert client.get("/extra/report.json").status_code == 401
    tv, _ = kiosk_client(dash_app)
    assert tv.get("/added-later").status_code == 403
    assert tv.get("/extra/report.json").status_code == 403
    sign_in(client)
    assert client.get("/added-later").get_data(as_text=True) == "secret"
    assert client.get("/extra/report.json").status_code == 200
    assert client.post("/added-later").status_code == 403  # no CSRF token
    client.get("/cases")
    assert client.post("/added-later", headers=csrf_headers(client)).status_code == 200


def test_nothing_is_mounted_beside_the_gated_flask_app(gated_app) -> None:
    """A WSGI app mounted in front (e.g. DispatcherMiddleware for rq-dashboard) would bypass before_request."""
    wsgi = gated_app.server.wsgi_app
    while hasattr(wsgi, "app"):  # ProxyFix and similar wrappers keep the wrapped app in .app
        assert type(wsgi).__name__ in ("ProxyFix",), type(wsgi)
        wsgi = wsgi.app
    server: Flask = gated_app.server
    assert getattr(wsgi, "__self__", None) is server
    if server.extensions["kpi"].settings.uses_redis:
        client = server.test_client()
        assert client.get("/rq/").status_code == 302
        assert client.get("/rq/0/data/queues.json").status_code == 401


def test_unsafe_requests_need_the_token_and_this_origin(gated_app) -> None:
    client = gated_app.server.test_client()
    sign_in(client)
    client.get("/cases")
    body = callback_body(gated_app, "..page-content.children...chrome.style..", {("url", "pathname"): "/cases"})
    token = csrf_headers(client)
    assert client.post("/_dash-update-component", json=body).status_code == 403
    assert client.post("/_dash-update-component", json=body, headers={CSRF_HEADER: "forged"}).status_code == 403
    foreign = {**token, "Origin": "https://evil.example"}
    assert client.post("/_dash-update-component", json=body, headers=foreign).status_code == 403
    assert client.post("/_dash-update-component", json=body, headers={**token, "Origin": "null"}).status_code == 403
    same = {**token, "Origin": "http://localhost"}
    assert client.post("/_dash-update-component", json=body, headers=same).status_code == 200
    referer = {**token, "Referer": "http://localhost/cases"}
    assert client.post("/_dash-update-component", json=body, headers=referer).status_code == 200


def test_the_csrf_cookie_is_readable_by_dash_and_bound_to_the_session(gated_app) -> None:
    client = gated_app.server.test_client()
    csrf = sign_in(client)
    response = client.get("/cases")
    cookie = client.get_cookie(CSRF_COOKIE)
    assert cookie is not None and cookie.value == csrf
    assert not cookie.http_only  # Dash's renderer reads it and sends it back as X-CSRFToken
    assert any("SameSite=Lax" in header for header in response.headers.getlist("Set-Cookie"))
    assert gated_app.config.csrf_token_name == CSRF_COOKIE
    assert gated_app.config.csrf_header_name == CSRF_HEADER

"""web/headers.py, web/cookies.py, web/proxy.py, web/log_redaction.py: headers on every response (a CSP the Dash
pages satisfy, checked in Chromium), cookies, the reverse proxy, and secrets kept out of responses and logs."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest
import requests
from flask import Blueprint

from settings import ConfigError
from tests.auth_support import (
    CLIENT_SECRET,
    HTTPS,
    SECRET_KEY,
    auth_settings,
    build_app,
    callback_body,
    csrf_headers,
    sign_in,
    signed_session_cookie,
)
from tests.browser import screenshot, serve, start_chromium, wait_for
from web import kiosk
from web.csrf import CSRF_COOKIE
from web.kiosk import KIOSK_COOKIE

ACCESS_KEY = "vtiger-access-key-0123456789"
REDMINE_KEY = "redmine-api-key-0123456789abcdef"


@pytest.fixture
def secure_app(settings_for, sqlite_url):
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def signed_in_client(dash_app):
    client = dash_app.server.test_client()
    sign_in(client)
    return client


def csp_of(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def test_every_kind_of_response_carries_the_security_headers(secure_app) -> None:
    anonymous = secure_app.server.test_client()
    client = signed_in_client(secure_app)
    responses = {
        "page": client.get("/cases"),
        "layout": client.get("/_dash-layout"),
        "health": anonymous.get("/healthz"),
        "login redirect": anonymous.get("/cases"),
        "401": anonymous.get("/_dash-layout"),
        "sign-in page": anonymous.get("/login"),
        "405": client.put("/healthz"),
    }
    for kind, response in responses.items():
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY", kind
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        assert headers["Referrer-Policy"] == "same-origin", kind
        policy = csp_of(response)
        assert policy["frame-ancestors"] == ["'none'"], kind
        assert policy["object-src"] == ["'none'"], kind
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], kind
        assert "Strict-Transport-Security" not in headers, kind  # plain http here
    assert responses["page"].headers["Cache-Control"] == "no-store"
    assert responses["layout"].headers["Cache-Control"] == "no-store"


def test_static_files_carry_only_the_headers_that_apply_to_them(secure_app) -> None:
    """Scripts and stylesheets get nosniff and the referrer policy; the document-only headers (CSP, frame
    options) would be ignored by the browser there and only add bytes to every first load."""
    client = signed_in_client(secure_app)
    anonymous = secure_app.server.test_client()
    for response in (client.get("/assets/vendor/bootstrap.min.css"), anonymous.get("/assets/vendor/bootstrap.min.css")):
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Content-Security-Policy" not in response.headers
        assert "X-Frame-Options" not in response.headers
        assert response.headers.get("Cache-Control") != "no-store"


def test_the_csp_allows_exactly_the_inline_scripts_dash_serves(secure_app) -> None:
    page = signed_in_client(secure_app).get("/cases")
    html = re.sub(r"<!--.*?-->", "", page.get_data(as_text=True), flags=re.S)  # e.g. Dash's [if IE] warning
    inline = [
        body
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
        if "src=" not in attributes and "application/json" not in attributes and body.strip()
    ]
    assert inline, "Dash's index has its renderer inline"
    allowed = set(csp_of(page)["script-src"])
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


def test_https_gets_hsts_and_secure_cookies(secure_app) -> None:
    client = secure_app.server.test_client()
    sign_in(client, base_url=HTTPS)
    response = client.get("/cases", base_url=HTTPS)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in cookie for cookie in cookies)
    session_cookie = next(cookie for cookie in cookies if cookie.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "HttpOnly" not in next(cookie for cookie in cookies if cookie.startswith(CSRF_COOKIE))


def test_cookies_are_secure_on_any_host_but_localhost(secure_app) -> None:
    client = secure_app.server.test_client()
    sign_in(client)
    local = client.get("/cases").headers.getlist("Set-Cookie")
    assert local and not any("Secure" in cookie for cookie in local)  # http://localhost: development
    lan = client.get("/cases", base_url="http://kpi.internal").headers.getlist("Set-Cookie")
    assert lan and all("Secure" in cookie for cookie in lan)


def test_proxy_headers_count_only_with_trusted_proxies(settings_for, sqlite_url, monkeypatch) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kpi.example.com", "X-Forwarded-For": "198.51.100.7"}
    direct = build_app(auth_settings(settings_for, sqlite_url)).server.test_client()
    assert "Strict-Transport-Security" not in direct.get("/healthz", headers=forwarded).headers

    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    proxied_app = build_app(auth_settings(settings_for, sqlite_url))
    proxied = proxied_app.server.test_client()
    assert proxied.get("/healthz", headers=forwarded).headers["Strict-Transport-Security"]
    login = proxied.get("/login/google", headers=forwarded)
    assert "redirect_uri=https%3A%2F%2Fkpi.example.com%2Flogin%2Fgoogle%2Fauthorized" in login.headers["Location"]

    monkeypatch.setenv("TRUSTED_PROXIES", "many")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        build_app(auth_settings(settings_for, sqlite_url))


def test_rq_dashboard_alone_may_run_its_inline_scripts(settings_for, sqlite_url, redis_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url, redis_url=redis_url))
    client = signed_in_client(dash_app)
    rq_page = client.get("/rq/")
    assert rq_page.status_code == 200
    assert "'unsafe-inline'" in csp_of(rq_page)["script-src"]
    assert csp_of(rq_page)["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp_of(client.get("/cases"))["script-src"]


# --- secrets never in responses or logs -----------------------------------------------------------------------


@pytest.fixture
def app_with_secrets(settings_for, sqlite_url):
    from settings import RedmineSettings, VtigerSettings

    settings = auth_settings(
        settings_for,
        sqlite_url,
        vtiger=VtigerSettings(url="https://x.od1.vtiger.com", username="api@example.com", access_key=ACCESS_KEY),
        redmine=RedmineSettings(url="https://redmine.example.com", api_key=REDMINE_KEY),
    )
    dash_app = build_app(settings)
    server = dash_app.server
    server.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an exception becomes a 500 response
    broken = Blueprint("broken", __name__)

    @broken.get("/boom")
    def boom() -> str:
        raise RuntimeError(f"cannot reach VTiger with {ACCESS_KEY} / {REDMINE_KEY} / {SECRET_KEY}")

    server.register_blueprint(broken)

    from dash import Input, Output

    @dash_app.callback(Output("tv-boom", "children"), Input("tv-boom-button", "n_clicks"))
    def boom_callback(_clicks: int | None) -> str:
        raise ValueError(f"secret {CLIENT_SECRET} in a message")

    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


SECRETS = (SECRET_KEY, ACCESS_KEY, REDMINE_KEY, CLIENT_SECRET)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "Traceback" not in text and 'File "' not in text


def test_a_forced_exception_shows_no_secret_and_no_traceback(app_with_secrets, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in_client(app_with_secrets)
    crashed = client.get("/boom")
    assert crashed.status_code == 500
    assert_clean(crashed.get_data(as_text=True))
    assert "Traceback" in caplog.text  # the log keeps the traceback for whoever fixes it ...
    for secret in SECRETS:
        assert secret not in caplog.text  # ... without the secrets


def test_a_raising_callback_is_a_clean_422(app_with_secrets, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in_client(app_with_secrets)
    client.get("/cases")
    response = client.post(
        "/_dash-update-component",
        json=callback_body(app_with_secrets, "tv-boom.children"),
        headers=csrf_headers(client),
    )
    assert response.status_code == 422 and response.is_json
    assert_clean(response.get_data(as_text=True))
    assert "tv-boom.children" in caplog.text and "ValueError" in caplog.text
    assert CLIENT_SECRET not in caplog.text


def test_bad_requests_echo_nothing(app_with_secrets, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in_client(app_with_secrets)
    client.get("/cases")
    headers = {**csrf_headers(client), "Content-Type": "application/json"}
    bodies = [b"{not json", b'{"output": "' + SECRET_KEY.encode() + b'"}', b"[]", b"\xff\xfe"]
    for body in bodies:
        response = client.post("/_dash-update-component", data=body, headers=headers)
        assert response.status_code == 400
        assert_clean(response.get_data(as_text=True))
    huge = client.post("/_dash-update-component", data=b"x" * (9 * 1024 * 1024), headers=headers)
    assert huge.status_code == 413
    for response in (client.get(f"/cases?token={SECRET_KEY}"), client.get("/%ff%fe"), client.get("/_dash-layout?x=%")):
        assert response.status_code < 500
        assert_clean(response.get_data(as_text=True))
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_kiosk_token_in_an_access_log_is_redacted(secure_app, caplog) -> None:
    token = kiosk.create_kiosk(secure_app.server.extensions["kpi"].engine, "log-test")
    caplog.set_level(logging.INFO)
    running = serve(secure_app)  # the real werkzeug server, which logs every request line
    try:
        response = requests.get(f"{running.url}/tv?kiosk={token}", allow_redirects=False, timeout=10)
    finally:
        running.stop()
    assert response.status_code == 302
    assert "/tv?kiosk=" in caplog.text  # the request line was logged ...
    assert token not in caplog.text  # ... without the token


# --- Chromium: the Dash pages satisfy the CSP -------------------------------------------------------------------


def console_problems(driver) -> tuple[list[str], list[str]]:
    """(CSP violations, other severe console errors) since the last call; the log is read once for both."""
    messages = [(e["level"], e["message"]) for e in driver.get_log("browser")]
    violations = [m for _, m in messages if "Content Security Policy" in m or "Refused to" in m]
    severe = [m for level, m in messages if level == "SEVERE" and "favicon" not in m and m not in violations]
    return violations, severe


@pytest.fixture
def seeded_app(secure_app):
    """Rows behind every page, so charts (plotly), tables (AG Grid) and their scripts really run under the CSP."""
    from datetime import UTC, datetime

    from tests.seed_dashboards import seed_all

    seed_all(secure_app.server.extensions["kpi"].engine, datetime.now(UTC).replace(tzinfo=None))
    return secure_app


@pytest.mark.browser
def test_signed_in_pages_load_without_csp_violations(seeded_app) -> None:
    secure_app = seeded_app
    running = serve(secure_app)
    driver = start_chromium()
    try:
        driver.get(running.url + "/healthz")  # a page of the origin, so the cookie can be set for it
        driver.add_cookie({"name": "session", "value": signed_session_cookie(secure_app.server), "path": "/"})
        for path in ("/cases", "/sales", "/redmine", "/status"):
            driver.get(running.url + path)
            wait_for(
                lambda: driver.execute_script(
                    "var c = document.getElementById('page-content'); return c && c.children.length > 0;"
                ),
                message=f"{path} rendered",
            )
            wait_for(lambda: driver.find_elements("css selector", "#sign-out"), message="the sign-out button")
            if path in ("/cases", "/redmine"):
                wait_for(lambda: driver.find_elements("css selector", ".js-plotly-plot .main-svg"), message="a chart")
                wait_for(lambda: driver.find_elements("css selector", ".ag-root"), message="a table")
            violations, severe = console_problems(driver)
            if violations or severe:
                screenshot(driver, f"csp{path.replace('/', '-')}")
            assert violations == [], path
            assert severe == [], path
        driver.find_element("css selector", "#sign-out button").click()
        wait_for(lambda: "/login?signed_out=1" in driver.current_url, message="signed out")
        assert "You are signed out" in driver.find_element("tag name", "body").text
        assert console_problems(driver) == ([], [])
    finally:
        driver.quit()
        running.stop()


@pytest.mark.browser
def test_the_tv_on_a_kiosk_token_loads_without_refusals_or_csp_violations(seeded_app) -> None:
    secure_app = seeded_app
    token = kiosk.create_kiosk(secure_app.server.extensions["kpi"].engine, "browser-tv")
    running = serve(secure_app)
    driver = start_chromium(1920, 1080)
    try:
        driver.get(f"{running.url}/tv?kiosk={token}")
        wait_for(lambda: driver.current_url == running.url + "/tv", message="the token moved out of the address")
        wait_for(
            lambda: driver.execute_script(
                "var c = document.getElementById('page-content'); return c && c.children.length > 0;"
            ),
            message="/tv rendered",
        )
        assert driver.get_cookie(KIOSK_COOKIE)["httpOnly"] is True
        assert console_problems(driver) == ([], [])  # no CSP violation, no 401/403 from the TV page's callbacks

        # Revoked while showing: its next Dash request gets 401, assets/session-expiry.js reloads the page, and the
        # TV says so (the page's own refresh timer would make that request; here the test makes it at once).
        kiosk.revoke_kiosk(secure_app.server.extensions["kpi"].engine, "browser-tv")
        driver.execute_script("fetch('/_dash-layout');")
        wait_for(lambda: "not valid" in driver.find_element("tag name", "body").text, message="the revoked page")
    finally:
        driver.quit()
        running.stop()

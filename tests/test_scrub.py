"""sync/scrub.py: no credential reaches sync_runs.error, the CLI or /status, even from a server (or proxy) that
echoes the request's headers and URL into its 400 and 500 bodies; rows stored before the scrubber are scrubbed
again when /status shows them."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from app import create_app
from models.db import utcnow
from models.schema import sync_runs
from settings import RedmineSettings, Settings, VtigerSettings
from sync.scrub import Scrubber, scrub, scrubbing
from tests.auth_support import callback_body

REDMINE_KEY = "0123456789abcdef0123456789abcdef01234567"
REDMINE_URL_USER = "proxyuser"
REDMINE_URL_PASSWORD = "Pr0xy-Secret!"
VTIGER_USER = "api@example.com"
VTIGER_KEY = "AccessKey9876543210"


def basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


SECRET_FORMS = (
    REDMINE_KEY,
    REDMINE_URL_PASSWORD,
    basic(REDMINE_URL_USER, REDMINE_URL_PASSWORD),
    VTIGER_KEY,
    f"{VTIGER_USER}:{VTIGER_KEY}",
    basic(VTIGER_USER, VTIGER_KEY),
    basic(VTIGER_USER, VTIGER_KEY).rstrip("="),
)


def leaked(text: str) -> list[str]:
    return [form for form in SECRET_FORMS if form in text]


# --- the scrubber on its own ------------------------------------------------------------------------------------


def settings_with_secrets(settings_for: Callable[..., Settings], url: str = "sqlite:///:memory:") -> Settings:
    return settings_for(
        url,
        auth_disabled=True,
        vtiger=VtigerSettings(url="https://crm.example.com/restapi/v1/vtiger/default", username=VTIGER_USER,
                              access_key=VTIGER_KEY),
        redmine=RedmineSettings(url=f"https://{REDMINE_URL_USER}:{REDMINE_URL_PASSWORD}@redmine.example.com",
                                api_key=REDMINE_KEY),
    )  # fmt: skip


@pytest.mark.parametrize(
    "echo",
    [
        f"X-Redmine-API-Key: {REDMINE_KEY}",
        f"X-Redmine-API-Key={REDMINE_KEY}",
        f"{{'X-Redmine-Api-Key': '{REDMINE_KEY}', 'Accept': 'application/json'}}",
        f'{{"x-redmine-api-key": "{REDMINE_KEY}"}}',
        f"GET /issues.json?key={REDMINE_KEY}&limit=100",
        f"Authorization: Basic {basic(VTIGER_USER, VTIGER_KEY)}",
        f"the token was {basic(VTIGER_USER, VTIGER_KEY)} (no header name)",
        f"login {VTIGER_USER}:{VTIGER_KEY} refused",
        f"https://{REDMINE_URL_USER}:{REDMINE_URL_PASSWORD}@redmine.example.com/issues.json",
        f"password%3D{REDMINE_URL_PASSWORD.replace('!', '%21')}",
    ],
)
def test_every_echoed_form_of_a_configured_secret_is_removed(settings_for, echo: str) -> None:
    scrubbed = Scrubber.for_settings(settings_with_secrets(settings_for)).scrub(f"HTTP 400: {echo}")
    assert leaked(scrubbed) == []
    assert scrubbed != f"HTTP 400: {echo}"
    assert scrubbed.startswith("HTTP 400: ")  # the rest of the message stays readable


def test_patterns_alone_catch_unknown_secrets_and_leave_ordinary_words() -> None:
    text = (
        "Authorization: Bearer abc.def-ghi https://u:p4ss@host/x?api_key=zz9&page=2 "
        "Redmine rejected REDMINE_API_KEY (401): copy the key from My account"
    )
    scrubbed = scrub(text)
    for secret in ("abc.def-ghi", "p4ss", "zz9"):
        assert secret not in scrubbed
    assert "page=2" in scrubbed and "Redmine rejected REDMINE_API_KEY (401): copy the key from My account" in scrubbed


def test_the_active_scrubber_is_the_running_syncs_and_ends_with_it() -> None:
    with scrubbing(Scrubber.knowing(["plain-secret-value"])):
        assert scrub("said plain-secret-value") == "said ***"
    assert scrub("said plain-secret-value") == "said plain-secret-value"


# --- against a peer that echoes the request ---------------------------------------------------------------------


def echo_request(status: int, as_vtiger_json: bool) -> Callable[[Request], Response]:
    """A server (or proxy) error page that prints the request it got: URL first, then every header; for VTiger
    inside its JSON error (whose message is what the client reports)."""

    def handler(request: Request) -> Response:
        secrets_first = sorted(request.headers.items(), key=lambda item: item[0].lower() not in (
            "authorization", "x-redmine-api-key"))  # fmt: skip
        lines = [f"{request.method} {request.url}", *(f"{name}: {value}" for name, value in secrets_first)]
        text = "\n".join(lines)
        if as_vtiger_json:
            body = json.dumps({"success": False, "error": {"code": "SERVER_ERROR", "message": text}})
            return Response(body, status=status, headers={"Retry-After": "0"}, content_type="application/json")
        return Response(text, status=status, headers={"Retry-After": "0"}, content_type="text/plain")

    return handler


@dataclass
class Peer:
    settings: Settings
    source: str


@pytest.fixture(params=["redmine", "vtiger"])
def source(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=[400, 500])
def status(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def echoing_peer(
    httpserver: HTTPServer, settings_for: Callable[..., Settings], sqlite_url: str, source: str, status: int
) -> Iterator[Peer]:
    if source == "redmine":
        # The key check passes; every later request is answered with the echo.
        httpserver.expect_request("/users/current.json").respond_with_json({"user": {"id": 1, "login": "sync"}})
        base = httpserver.url_for("/").rstrip("/")
        url = base.replace("http://", f"http://{REDMINE_URL_USER}:{REDMINE_URL_PASSWORD}@")
        sources: dict[str, RedmineSettings | VtigerSettings] = {
            "redmine": RedmineSettings(url=url, api_key=REDMINE_KEY)
        }
    else:
        sources = {"vtiger": VtigerSettings(url=httpserver.url_for("/restapi/v1/vtiger/default"),
                                            username=VTIGER_USER, access_key=VTIGER_KEY)}  # fmt: skip
    httpserver.expect_request(re.compile(".*")).respond_with_handler(echo_request(status, source == "vtiger"))
    yield Peer(settings_for(sqlite_url, auth_disabled=True, **sources), source)


def stored_errors(app) -> list[str]:
    with app.server.extensions["kpi"].engine.connect() as conn:
        return [row.error for row in conn.execute(select(sync_runs.c.error)) if row.error]


def rendered_status(app) -> str:
    """What /status's poll callback sends to every signed-in browser, as Dash serialises it."""
    key = next(key for key in app.callback_map if "status-table.children" in key)
    response = app.server.test_client().post("/_dash-update-component", json=callback_body(app, key))
    assert response.status_code == 200
    return json.dumps(response.get_json())  # decoded: Dash's encoder writes "/" as "\\/", which base64 may hold


def test_an_echoed_request_leaks_nothing_into_runs_cli_or_status(
    echoing_peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(echoing_peer.settings)
    try:
        with caplog.at_level(logging.DEBUG):
            result = app.server.test_cli_runner().invoke(args=["sync", "run", echoing_peer.source])

        assert result.exit_code == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"{echoing_peer.source}: failed: ") and leaked(line) == []
        errors = stored_errors(app)
        assert errors, "the failure is recorded"
        # The echo did reach the messages (so this test can see a leak): its scrubbed header names are there.
        echoed = "X-Redmine-API-Key" if echoing_peer.source == "redmine" else "Authorization"
        assert any(echoed.lower() in error.lower() or "GET /" in error for error in errors), errors
        assert [leaked(error) for error in errors] == [[] for _ in errors]
        page = rendered_status(app)
        assert "status-rows" in page and leaked(page) == []
        assert leaked(caplog.text) == []
    finally:
        app.server.extensions["kpi"].engine.dispose()


def test_status_scrubs_rows_stored_before_the_scrubber(settings_for, sqlite_url: str) -> None:
    app = create_app(settings_with_secrets(settings_for, sqlite_url))
    engine = app.server.extensions["kpi"].engine
    echo = f"X-Redmine-API-Key: {REDMINE_KEY} Authorization: Basic {basic(VTIGER_USER, VTIGER_KEY)}"
    raw = f"Redmine answered /issues.json with HTTP 400: '{echo}'"
    with engine.begin() as conn:
        conn.execute(sync_runs.insert().values(source="redmine", module="statuses", trigger="cli", started_at=utcnow(),
                                               finished_at=utcnow(), status="success"))  # fmt: skip
        for source, module in (("redmine", "issues"), ("vtiger", "Cases")):
            conn.execute(sync_runs.insert().values(source=source, module=module, trigger="cli", started_at=utcnow(),
                                                   finished_at=utcnow(), status="failed", error=raw))  # fmt: skip
    try:
        page = rendered_status(app)
        assert "Redmine answered /issues.json with HTTP 400" in page and leaked(page) == []
        badge = app.server.test_client().post(
            "/_dash-update-component",
            json=callback_body(app, "freshness-badge.children", {("url", "pathname"): "/status"}),
        )
        shown = json.dumps(badge.get_json())
        assert "Redmine answered /issues.json with HTTP 400" in shown and leaked(shown) == []
    finally:
        engine.dispose()

"""Helpers for the tests of the gate, sign-in, kiosk tokens and the security measures (web/): apps with sign-in ON,
signing in without Google (the signed session a real sign-in leaves behind), a TV on a kiosk token, Google ID
tokens, callback payloads.

The suite's `settings` fixture has AUTH_DISABLED on; everything here builds apps with sign-in on.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask.testing import FlaskClient

from settings import Settings
from web import kiosk
from web.csrf import CSRF_COOKIE, CSRF_HEADER
from web.kiosk import KIOSK_COOKIE

CLIENT_ID = "1234-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-google-client-secret"
SECRET_KEY = "k3y-for-tests-" + "x" * 40
ALLOWED_DOMAIN = "example.com"
ALLOWED_ADDRESS = "contractor@gmail.com"
AUTH_ON: dict[str, Any] = {
    "auth_disabled": False,
    "secret_key": SECRET_KEY,
    "google_client_id": CLIENT_ID,
    "google_client_secret": CLIENT_SECRET,
    "allowed_email_domains": (ALLOWED_DOMAIN,),
    "allowed_emails": (ALLOWED_ADDRESS,),
}
HTTPS = "https://kpi.example.com"  # oauthlib insists on https for the OAuth callback URL


def auth_settings(settings_for: Callable[..., Settings], database_url: str, **overrides: Any) -> Settings:
    return settings_for(database_url, **{**AUTH_ON, **overrides})


def build_app(settings: Settings):
    from app import create_app

    return create_app(settings)


def sign_in(
    client: FlaskClient,
    email: str = "alice@example.com",
    name: str = "Alice",
    csrf: str = "c" * 43,
    base_url: str = "http://localhost",
) -> str:
    """Leave the session a Google sign-in leaves (see web.signin._finish_sign_in), its server-side row included;
    returns its CSRF token."""
    session_id = _start_server_session(client.application, email)
    with client.session_transaction(base_url=base_url) as session:
        session["user"] = {"email": email, "name": name}
        session["signed_in_at"] = int(time.time())
        session["sid"] = session_id
        session["csrf"] = csrf
        session.permanent = True
    return csrf


def signed_session_cookie(server: Any, email: str = "alice@example.com", csrf: str = "c" * 43) -> str:
    """The session cookie value for a signed-in user (for a real browser)."""
    serializer = server.session_interface.get_signing_serializer(server)
    data = {
        "user": {"email": email, "name": "Alice"},
        "signed_in_at": int(time.time()),
        "sid": _start_server_session(server, email),
        "csrf": csrf,
    }
    return str(serializer.dumps(data))


def _start_server_session(server: Any, email: str) -> str:
    from web.sessions import SESSION_LIFETIME, start_session

    return start_session(server.extensions["kpi"].engine, email, SESSION_LIFETIME)


def id_token(claims: Mapping[str, Any]) -> str:
    """An ID token as Google's token endpoint returns it (unsigned: see web.signin.id_token_claims)."""

    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'test'})}.{part(claims)}.c2lnbmF0dXJl"


def google_claims(email: str = "alice@example.com", **overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": "1100000000000",
        "email": email,
        "email_verified": True,
        "hd": email.rpartition("@")[2],
        "name": "Alice Example",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def csrf_headers(client: FlaskClient) -> dict[str, str]:
    cookie = client.get_cookie(CSRF_COOKIE)
    return {CSRF_HEADER: cookie.value if cookie else ""}


def kiosk_client(dash_app: Any, name: str = "lobby-tv") -> tuple[FlaskClient, str]:
    """A client that arrived with /tv?kiosk=... and loaded /tv once (so it holds the kiosk and CSRF cookies)."""
    engine = dash_app.server.extensions["kpi"].engine
    token = kiosk.create_kiosk(engine, name)
    client = dash_app.server.test_client()
    arrival = client.get(f"/tv?kiosk={token}")
    assert arrival.status_code == 302 and arrival.headers["Location"] == "/tv", arrival.status_code
    assert client.get_cookie(KIOSK_COOKIE) is not None
    assert client.get("/tv").status_code == 200
    return client, token


def callback_body(dash_app: Any, output_key: str, values: Mapping[tuple[str, str], Any] | None = None) -> dict:
    """The body Dash's renderer posts to /_dash-update-component for this callback (plain ids; wildcard
    arguments as empty ALL lists)."""
    from web.callback_payloads import output_ids

    values = values or {}
    entry = dash_app.callback_map[output_key]

    def argument(spec: Mapping[str, Any]) -> Any:
        if spec["id"].startswith("{"):
            return []
        item = {"id": spec["id"], "property": spec["property"]}
        if (spec["id"], spec["property"]) in values:
            item["value"] = values[(spec["id"], spec["property"])]
        return item

    outputs: list[Any] = []
    for component_id, match in zip(output_ids(output_key), _output_properties(output_key), strict=True):
        outputs.append([] if isinstance(component_id, dict) else {"id": component_id, "property": match})
    inputs = [argument(spec) for spec in entry["inputs"]]
    return {
        "output": output_key,
        "outputs": outputs if output_key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": [argument(spec) for spec in entry.get("state", [])],
        "changedPropIds": [f"{item['id']}.{item['property']}" for item in inputs if isinstance(item, dict)][:1],
    }


def _output_properties(output_key: str) -> list[str]:
    from web.callback_payloads import split_output_key

    return [prop for _, prop in split_output_key(output_key)]


def url_of(response_location: str) -> str:
    return re.sub(r"^https?://[^/]+", "", response_location)

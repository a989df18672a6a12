"""web/signin.py: Google sign-in without Google (its token endpoint mocked with `responses`), the server-side
decision on the ID token, the app's own session, sign-out, and the start-up refusals."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from settings import ConfigError
from tests.auth_support import (
    ALLOWED_ADDRESS,
    CLIENT_ID,
    CLIENT_SECRET,
    HTTPS,
    SECRET_KEY,
    auth_settings,
    build_app,
    google_claims,
    id_token,
    sign_in,
)
from web.sessions import SESSION_LIFETIME
from web.signin import SignInRefused, admitted_identity, id_token_claims
from web.startup_checks import check_gunicorn_binds, check_listen_address, check_startup

TOKEN_URL = "https://accounts.google.com/o/oauth2/token"


@pytest.fixture
def auth_app(settings_for, sqlite_url):
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def start_sign_in(client) -> tuple[str, dict[str, list[str]]]:
    response = client.get("/login/google", base_url=HTTPS)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://accounts.google.com/o/oauth2/auth?")
    query = parse_qs(urlsplit(location).query)
    return query["state"][0], query


def finish_sign_in(client, state: str, token_response: dict, status: int = 200):
    with responses.RequestsMock() as google:
        google.post(TOKEN_URL, json=token_response, status=status)
        return client.get(f"/login/google/authorized?state={state}&code=4%2F0Atest", base_url=HTTPS)


def token_response(claims: dict) -> dict:
    return {
        "access_token": "ya29.test-access-token",
        "token_type": "Bearer",
        "expires_in": 3599,
        "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        "id_token": id_token(claims),
    }


def signed_in_email(client) -> str | None:
    with client.session_transaction(base_url=HTTPS) as session:
        user = session.get("user")
        return user["email"] if user else None


def test_sign_in_asks_google_for_openid_email_profile_with_the_domain_hint(auth_app) -> None:
    _, query = start_sign_in(auth_app.server.test_client())
    assert set(query["scope"][0].split()) == {
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    }
    assert query["hd"] == ["example.com"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{HTTPS}/login/google/authorized"]


def test_an_account_of_the_allowed_domain_signs_in_and_lands_where_it_wanted(auth_app) -> None:
    client = auth_app.server.test_client()
    first = client.get("/sales?date=2024-03-05&group=Support", base_url=HTTPS)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/google")
    state, _ = start_sign_in(client)

    done = finish_sign_in(client, state, token_response(google_claims("Alice@Example.com")))

    assert done.status_code == 302
    assert done.headers["Location"] == "/sales?date=2024-03-05&group=Support"
    assert signed_in_email(client) == "alice@example.com"
    with client.session_transaction(base_url=HTTPS) as session:
        # The app's own session only: no Google token kept after sign-in.
        assert set(session) == {"_permanent", "user", "signed_in_at", "sid", "csrf"}
        assert "ya29" not in str(dict(session))
    cookie = done.headers.getlist("Set-Cookie")
    assert any("HttpOnly" in c and "Secure" in c and "SameSite=Lax" in c for c in cookie if c.startswith("session="))
    assert client.get("/cases", base_url=HTTPS).status_code == 200


def test_an_address_in_allowed_emails_signs_in_without_the_domain(auth_app) -> None:
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    done = finish_sign_in(client, state, token_response(google_claims(ALLOWED_ADDRESS, hd=None)))
    assert done.status_code == 302
    assert signed_in_email(client) == ALLOWED_ADDRESS


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (google_claims("mallory@other.org"), "may not use this dashboard"),
        (google_claims("alice@example.com", email_verified=False), "not verified"),
        (google_claims("alice@example.com", email_verified=None), "not verified"),
        (google_claims("alice@example.com", hd="other.org"), "Google Workspace"),
        (google_claims("alice@example.com", hd=None), "Google Workspace"),  # a personal account with a work address
        (google_claims("someone@gmail.com", hd=None), "may not use this dashboard"),
        (google_claims("alice@example.com", aud="another-client"), "not issued by Google for this dashboard"),
        (google_claims("alice@example.com", iss="https://evil.example"), "not issued by Google for this dashboard"),
        (google_claims("alice@example.com", exp=1_000_000), "expired"),
    ],
    ids=[
        "other-domain",
        "unverified",
        "no-verified-claim",
        "hd-mismatch",
        "no-hd",
        "gmail",
        "audience",
        "issuer",
        "old",
    ],
)
def test_anyone_else_gets_a_403_page_and_no_session(auth_app, claims, reason) -> None:
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    denied = finish_sign_in(client, state, token_response(claims))
    assert denied.status_code == 403
    assert reason in denied.get_data(as_text=True)
    assert signed_in_email(client) is None
    with client.session_transaction(base_url=HTTPS) as session:
        assert dict(session) == {}
    assert client.get("/cases", base_url=HTTPS).status_code == 302


def test_a_token_response_without_an_id_token_is_refused(auth_app) -> None:
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    response = token_response(google_claims())
    del response["id_token"]
    assert finish_sign_in(client, state, response).status_code == 403
    assert signed_in_email(client) is None


def test_google_refusing_the_code_is_a_clean_400(auth_app) -> None:
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    failed = finish_sign_in(client, state, {"error": "invalid_grant"}, status=400)
    assert failed.status_code == 400
    assert "Traceback" not in failed.get_data(as_text=True)
    assert signed_in_email(client) is None


def test_a_forged_state_is_refused(auth_app) -> None:
    client = auth_app.server.test_client()
    start_sign_in(client)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as google:
        google.post(TOKEN_URL, json=token_response(google_claims()))
        forged = client.get("/login/google/authorized?state=forged&code=x", base_url=HTTPS)
    assert forged.status_code == 400
    assert signed_in_email(client) is None


def test_cancelling_at_google_is_a_clean_page(auth_app) -> None:
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    cancelled = client.get(f"/login/google/authorized?state={state}&error=access_denied", base_url=HTTPS)
    assert cancelled.status_code == 403
    assert signed_in_email(client) is None


def test_a_next_address_off_the_site_is_ignored(auth_app) -> None:
    client = auth_app.server.test_client()
    assert client.get("/login?next=//evil.example/steal", base_url=HTTPS).status_code == 200
    state, _ = start_sign_in(client)
    done = finish_sign_in(client, state, token_response(google_claims()))
    assert done.headers["Location"] == "/"


def test_the_client_secret_and_tokens_stay_out_of_the_log(auth_app, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = auth_app.server.test_client()
    state, _ = start_sign_in(client)
    finish_sign_in(client, state, token_response(google_claims()))
    assert caplog.records, "the sign-in logs something"
    assert CLIENT_SECRET not in caplog.text
    assert "ya29.test-access-token" not in caplog.text


def test_sign_out_needs_the_csrf_token_and_ends_the_session(auth_app) -> None:
    client = auth_app.server.test_client()
    csrf = sign_in(client)
    assert client.get("/cases").status_code == 200
    assert 'name="csrf_token"' in client.get("/logout").get_data(as_text=True)

    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/cases").status_code == 200

    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 302 and out.headers["Location"].startswith("/login")
    assert client.get("/cases").status_code == 302
    assert "signed out" in client.get("/login?signed_out=1").get_data(as_text=True)


def test_a_session_older_than_its_lifetime_is_refused(auth_app) -> None:
    client = auth_app.server.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session["signed_in_at"] -= int(SESSION_LIFETIME.total_seconds()) + 60
    assert client.get("/cases").status_code == 302


def test_removing_a_domain_from_the_allow_list_ends_its_sessions(settings_for, sqlite_url) -> None:
    before = build_app(auth_settings(settings_for, sqlite_url))
    client = before.server.test_client()
    sign_in(client, "bob@example.com")
    assert client.get("/cases").status_code == 200
    after = build_app(auth_settings(settings_for, sqlite_url, allowed_email_domains=("example.org",)))
    other = after.server.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    assert other.get("/cases").status_code == 302


# --- deciding on the ID token (unit) ------------------------------------------------------------------------


def test_id_token_claims_reads_google_claims() -> None:
    claims = id_token_claims({"id_token": id_token(google_claims())}, CLIENT_ID)
    assert claims["email"] == "alice@example.com"
    with pytest.raises(SignInRefused):
        id_token_claims({"id_token": "not.a-jwt"}, CLIENT_ID)
    with pytest.raises(SignInRefused):
        id_token_claims({"id_token": "a.b.c.d"}, CLIENT_ID)
    with pytest.raises(SignInRefused):
        id_token_claims(None, CLIENT_ID)


def test_admitted_identity_checks_verified_email_domain_and_hd(settings_for) -> None:
    settings = auth_settings(settings_for, "sqlite://", allowed_email_domains=("example.com", "example.net"))
    assert admitted_identity(google_claims("a@example.net", hd="example.com"), settings)[0] == "a@example.net"
    assert admitted_identity(google_claims("a@example.com", email_verified="true"), settings)[0] == "a@example.com"
    with pytest.raises(SignInRefused):
        admitted_identity(google_claims("a@example.com", hd="example.org"), settings)
    with pytest.raises(SignInRefused):
        admitted_identity(google_claims("a@example.com.evil.org", hd="example.com"), settings)
    with pytest.raises(SignInRefused):
        admitted_identity({"email_verified": True}, settings)


# --- start-up refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"secret_key": ""}, "SECRET_KEY is empty"),
        ({"secret_key": "short"}, "SECRET_KEY is too weak"),
        ({"secret_key": "dev-only-not-secret"}, "SECRET_KEY is too weak"),
        ({"google_client_id": ""}, "GOOGLE_OAUTH_CLIENT_ID is empty"),
        ({"google_client_secret": ""}, "GOOGLE_OAUTH_CLIENT_SECRET is empty"),
        ({"allowed_email_domains": (), "allowed_emails": ()}, "nobody could sign in"),
    ],
)
def test_the_app_refuses_to_start_with_sign_in_that_cannot_work(settings_for, sqlite_url, overrides, message) -> None:
    settings = auth_settings(settings_for, sqlite_url, testing=False, **overrides)
    with pytest.raises(ConfigError) as caught:
        build_app(settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_a_complete_configuration_starts(settings_for, sqlite_url) -> None:
    check_startup(auth_settings(settings_for, sqlite_url), environ={})
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        check_startup(auth_settings(settings_for, sqlite_url), environ={"FLASK_DEBUG": "1"})


def test_auth_disabled_refuses_to_listen_beyond_loopback(settings_for) -> None:
    local = settings_for("sqlite://", auth_disabled=True)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.1.1"):
        check_listen_address(local, host)
    for host in ("0.0.0.0", "192.168.1.19", "::", "kpi.example.com"):
        with pytest.raises(ConfigError, match="AUTH_DISABLED"):
            check_listen_address(local, host)
    with pytest.raises(ConfigError):
        check_gunicorn_binds(local, [("127.0.0.1", 8000), "/run/kpi.sock"])
    check_gunicorn_binds(local, [("127.0.0.1", 8000)])
    check_gunicorn_binds(settings_for("sqlite://", **{"auth_disabled": False}), [("0.0.0.0", 8000)])


def test_gunicorn_refuses_auth_disabled_on_a_public_bind(monkeypatch, tmp_path) -> None:
    import importlib.util

    from settings import PROJECT_DIR

    spec = importlib.util.spec_from_file_location("gunicorn_conf", PROJECT_DIR / "gunicorn.conf.py")
    assert spec and spec.loader
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    monkeypatch.chdir(tmp_path)  # no .env, no credentials.json
    for key in ("VTIGER_URL", "REDMINE_URL", "KPI_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AUTH_DISABLED", "true")
    with pytest.raises(SystemExit, match="AUTH_DISABLED"):
        config.on_starting(SimpleNamespace(cfg=SimpleNamespace(address=[("0.0.0.0", 8000)])))
    config.on_starting(SimpleNamespace(cfg=SimpleNamespace(address=[("127.0.0.1", 8000)])))


def test_auth_disabled_answers_only_this_computer(settings) -> None:
    dash_app = build_app(settings)  # the suite's settings: AUTH_DISABLED
    client = dash_app.server.test_client()
    page = client.get("/cases")
    assert page.status_code == 200
    assert client.get("/cases", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 403
    assert client.get("/cases", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "auth-banner" in layout and "AUTH_DISABLED" in layout

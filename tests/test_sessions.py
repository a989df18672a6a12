"""Sessions kept on the server (web/sessions.py): signing out ends the session for every copy of its cookie, and
`sessions revoke EMAIL` ends all of one person's sessions. The table comes from migration 0004."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from models.db import make_engine
from models.schema import metadata, user_sessions
from tests.auth_support import HTTPS, auth_settings, build_app, google_claims, sign_in
from tests.test_auth import finish_sign_in, start_sign_in, token_response
from web.csrf import CSRF_COOKIE, CSRF_HEADER


def copy_of(dash_app, client: FlaskClient) -> FlaskClient:
    """Another browser holding the very same session cookie (what a stolen or copied cookie is)."""
    thief = dash_app.server.test_client()
    stolen = client.get_cookie("session", domain="kpi.example.com")
    assert stolen is not None
    thief.set_cookie("session", stolen.value, domain="kpi.example.com")
    return thief


def signed_in_at_google(dash_app, email: str = "alice@example.com") -> FlaskClient:
    client = dash_app.server.test_client()
    state, _ = start_sign_in(client)
    assert finish_sign_in(client, state, token_response(google_claims(email))).status_code == 302
    assert client.get("/cases", base_url=HTTPS).status_code == 200
    return client


def sign_out(client: FlaskClient) -> None:
    cookie = client.get_cookie(CSRF_COOKIE, domain="kpi.example.com")
    assert cookie is not None
    token = cookie.value
    out = client.post("/logout", base_url=HTTPS, headers={CSRF_HEADER: token, "Origin": HTTPS})
    assert out.status_code == 302 and "signed_out" in out.headers["Location"]


def refused(client: FlaskClient) -> bool:
    page = client.get("/cases", base_url=HTTPS)
    data = client.get("/_dash-layout", base_url=HTTPS)
    return page.status_code == 302 and "/login/google" in page.headers["Location"] and data.status_code == 401


def test_a_copied_cookie_stops_working_after_sign_out(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    client = signed_in_at_google(dash_app)
    thief = copy_of(dash_app, client)
    assert thief.get("/cases", base_url=HTTPS).status_code == 200  # the copy works while the session lives
    sign_out(client)
    assert refused(thief)
    assert refused(client)
    with dash_app.server.extensions["kpi"].engine.connect() as conn:
        rows = conn.execute(select(user_sessions.c.email, user_sessions.c.ended_at)).all()
    assert len(rows) == 1 and rows[0].email == "alice@example.com" and rows[0].ended_at is not None
    dash_app.server.extensions["kpi"].engine.dispose()


def test_signing_out_one_browser_keeps_the_others(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    laptop = signed_in_at_google(dash_app)
    phone = signed_in_at_google(dash_app)
    sign_out(laptop)
    assert refused(laptop)
    assert phone.get("/cases", base_url=HTTPS).status_code == 200
    dash_app.server.extensions["kpi"].engine.dispose()


def test_sessions_revoke_ends_every_session_of_that_person(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    laptop = signed_in_at_google(dash_app)
    phone = signed_in_at_google(dash_app)
    copied = copy_of(dash_app, phone)
    bob = signed_in_at_google(dash_app, "bob@example.com")
    result = dash_app.server.test_cli_runner().invoke(args=["sessions", "revoke", "Alice@Example.com"])
    assert result.exit_code == 0 and result.output.strip() == "ended 2 sessions of alice@example.com"
    assert refused(laptop) and refused(phone) and refused(copied)
    assert bob.get("/cases", base_url=HTTPS).status_code == 200
    again = dash_app.server.test_cli_runner().invoke(args=["sessions", "revoke", "alice@example.com"])
    assert again.exit_code == 0 and again.output.strip() == "alice@example.com had no live session"
    # Alice signs in again: a new session, unaffected by the revoke.
    assert signed_in_at_google(dash_app).get("/cases", base_url=HTTPS).status_code == 200
    dash_app.server.extensions["kpi"].engine.dispose()


def test_a_cookie_without_a_server_side_session_is_refused(settings_for, sqlite_url) -> None:
    """A cookie signed with the key but never issued by a sign-in (e.g. one from before this version)."""
    dash_app = build_app(auth_settings(settings_for, sqlite_url))
    client = dash_app.server.test_client()
    sign_in(client, base_url=HTTPS)
    assert client.get("/cases", base_url=HTTPS).status_code == 200
    with client.session_transaction(base_url=HTTPS) as session:
        del session["sid"]
    assert refused(client)
    dash_app.server.extensions["kpi"].engine.dispose()


def test_sessions_revoke_says_so_when_the_database_is_unusable(settings_for, tmp_path) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(unmigrated).dispose()
    dash_app = build_app(auth_settings(settings_for, "sqlite:///:memory:"))
    dash_app.server.extensions["kpi"].engine = make_engine(unmigrated)
    result = dash_app.server.test_cli_runner().invoke(args=["sessions", "revoke", "alice@example.com"])
    assert result.exit_code == 1
    assert "sessions: the database could not be used" in result.output and "db upgrade" in result.output


def test_migration_0004_creates_the_table_the_schema_declares(sqlite_url) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [diff for diff in diffs if "user_sessions" in str(diff)] == []
    engine.dispose()

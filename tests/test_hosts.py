"""The Host check (web.hosts.install_host_check): with sign-in off only loopback names are answered (a DNS-rebinding
page reaches the app under its own name), and ALLOWED_HOSTS narrows every mode. Both answer 400 before the gate."""

from __future__ import annotations

import logging

import pytest

from settings import ConfigError, load_settings
from tests.auth_support import auth_settings, build_app, callback_body, sign_in
from web.hosts import host_matches

REBIND = "rebind.attacker.example:8050"
EXPORT = "/export/cases.csv?kpi=created"
SYNC_NOW = "status-sync-message.children"


@pytest.fixture
def local_app(settings_for, sqlite_url):
    dash_app = build_app(settings_for(sqlite_url, auth_disabled=True))
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def test_local_mode_refuses_a_rebound_host_name_for_an_export(local_app, caplog) -> None:
    client = local_app.server.test_client()
    with caplog.at_level(logging.WARNING, logger="kpi.security"):
        refused = client.get(EXPORT, headers={"Host": REBIND})
    assert refused.status_code == 400
    assert b"case_no" not in refused.data and "only localhost" in refused.get_json()["error"]
    assert any("rebind.attacker.example" in record.getMessage() for record in caplog.records)
    for host in ("localhost", "localhost:8050", "127.0.0.1:8050", "[::1]:8050", "127.0.0.1"):
        served = client.get(EXPORT, headers={"Host": host})
        assert served.status_code == 200 and served.data.startswith(b"case_no"), host


def test_local_mode_refuses_sync_now_from_a_rebound_host_name(local_app) -> None:
    client = local_app.server.test_client()
    body = callback_body(local_app, SYNC_NOW, {("status-sync-now", "n_clicks"): 1})
    # What the attacker's page sends once its name points at 127.0.0.1: its own origin, which equals the Host.
    headers = {"Host": REBIND, "Origin": f"http://{REBIND}"}
    response = client.post("/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 400
    runtime = local_app.server.extensions["kpi"]
    assert runtime.manual_sync is None and runtime.scheduler is None  # no sync was started


def test_local_mode_refuses_names_that_only_resolve_to_loopback_by_dns(local_app) -> None:
    client = local_app.server.test_client()
    for host in ("localhost.attacker.example", "127.0.0.1.nip.io:8050", "tv.localhost", "", "localhost\x01"):
        assert client.get(EXPORT, environ_overrides={"HTTP_HOST": host}).status_code == 400, repr(host)


def test_allowed_hosts_refuses_other_hosts_when_signed_in(settings_for, sqlite_url) -> None:
    dash_app = build_app(auth_settings(settings_for, sqlite_url, allowed_hosts=("kpi.example.com", ".example.org")))
    client = dash_app.server.test_client()
    for base in ("https://kpi.example.com", "https://example.org", "https://tv.example.org:8443"):
        sign_in(client, base_url=base)
        assert client.get(EXPORT, base_url=base).status_code == 200, base
    for base in ("https://rebind.attacker.example", "https://example.com", "https://kpi.example.com.evil.test"):
        sign_in(client, base_url=base)
        response = client.get("/cases", base_url=base)
        assert response.status_code == 400 and b"ALLOWED_HOSTS" in response.data, base
    assert client.get("/healthz", base_url="http://10.0.0.7").status_code == 200  # a load balancer's probe
    dash_app.server.extensions["kpi"].engine.dispose()


def test_allowed_hosts_also_narrows_local_mode(settings_for, sqlite_url) -> None:
    dash_app = build_app(settings_for(sqlite_url, auth_disabled=True, allowed_hosts=("localhost",)))
    client = dash_app.server.test_client()
    assert client.get(EXPORT, headers={"Host": "localhost:8050"}).status_code == 200
    assert client.get(EXPORT, headers={"Host": "127.0.0.1:8050"}).status_code == 400
    dash_app.server.extensions["kpi"].engine.dispose()


def test_host_patterns_follow_djangos_rule() -> None:
    assert host_matches("example.org", [".example.org"]) and host_matches("a.b.example.org:80", [".example.org"])
    assert not host_matches("badexample.org", [".example.org"])
    assert host_matches("KPI.Example.com.", ["kpi.example.com"])
    assert host_matches("[::1]:8050", ["[::1]"])
    assert not host_matches("kpi.example.com", [])


def test_allowed_hosts_is_read_from_the_environment() -> None:
    settings = load_settings({"ALLOWED_HOSTS": "KPI.example.com, .example.org"}, env_file=None, credentials_file=None)
    assert settings.allowed_hosts == ("kpi.example.com", ".example.org")
    for wrong in ("https://kpi.example.com", "kpi.example.com:443", "kpi.example.com/tv"):
        with pytest.raises(ConfigError, match="ALLOWED_HOSTS"):
            load_settings({"ALLOWED_HOSTS": wrong}, env_file=None, credentials_file=None)

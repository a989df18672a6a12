"""app.py: the factory builds independent apps; the skeleton routes answer."""

from __future__ import annotations

from app import create_app


def test_factory_builds_independent_apps(settings) -> None:
    first = create_app(settings)
    second = create_app(settings)
    assert first.server is not second.server
    assert first.server.extensions["kpi"].settings is settings


def test_healthz_reports_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_dash_index_and_layout_are_served(client) -> None:
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert b"page-content" in layout.data


def test_no_cdn_links_in_the_index(client) -> None:
    html = client.get("/cases").get_data(as_text=True)
    assert "cdn." not in html and "unpkg" not in html and "googleapis" not in html
    assert "/assets/vendor/bootstrap.min.css" in html

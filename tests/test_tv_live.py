"""End to end in Chromium: a TV on a kiosk token shows a number; VTiger calls the webhook; the sync reads the
VTiger emulator (over HTTP) on the embedded scheduler; the TV, which polls /tv/data-version, shows the new number
without a reload and within 15 seconds. The TV also reports in: its slide, size and app version land in
`screens`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from models.db import utcnow
from models.schema import screens
from models.screens import screen_states
from settings import VtigerSettings
from sync.demo.vtiger_emulator import VtigerEmulator
from sync.service import run_sync
from tests.auth_support import AUTH_ON, build_app
from tests.browser import console_errors, serve, start_chromium, wait_for
from web import kiosk
from web.webhooks import create_webhook

KEY = "acc3ss-k3y-for-tests"
USERS = [
    {"id": "19x1", "user_name": "admin@example.com", "first_name": "Ada", "last_name": "Admin", "email1": "a@x",
     "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"},
    {"id": "19x5", "user_name": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "email1": "ann@x",
     "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"},
]  # fmt: skip
GROUPS = [{"id": "20x2", "groupname": "Support"}]


def put_case(emulator: VtigerEmulator, number: int) -> None:
    """A case created a moment ago (so "today" in UTC), open, in Support."""
    stamp = (utcnow() - timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S")
    prefix = emulator.prefixes
    emulator.put(
        "Cases",
        {
            "id": f"{prefix['Cases']}{number}", "case_no": f"CC{number}", "title": f"Case {number}",
            "casestatus": "Open", "casepriority": "Low", "assigned_user_id": f"{prefix['Users']}5",
            "group_id": f"{prefix['Groups']}2", "modifiedby": f"{prefix['Users']}1", "createdtime": stamp,
            "modifiedtime": stamp, "time_spent": "1", "sla_actual_closureon": "",
        },
    )  # fmt: skip


def shown(driver: Any, element_id: str) -> str:
    elements = driver.find_elements("id", element_id)
    return elements[0].text.strip() if elements and elements[0].is_displayed() else ""


@pytest.mark.browser
def test_a_webhook_brings_the_new_number_to_the_tv(settings_for, sqlite_url, httpserver: HTTPServer) -> None:
    emulator = VtigerEmulator(users=USERS, groups=GROUPS, username="admin@example.com", access_key=KEY)
    base = emulator.serve(httpserver)
    settings = settings_for(
        sqlite_url, **AUTH_ON, vtiger=VtigerSettings(url=base, username="admin@example.com", access_key=KEY)
    )
    put_case(emulator, 1)
    put_case(emulator, 2)
    dash_app = build_app(settings)
    runtime = dash_app.server.extensions["kpi"]
    engine = runtime.engine
    run_sync(engine, settings, "vtiger", trigger="test")  # the dashboard as it was before the change
    kiosk_token = kiosk.create_kiosk(engine, "lobby")
    webhook_token = create_webhook(engine, "vtiger")
    server = serve(dash_app)
    driver = start_chromium(1280, 800)
    try:
        # Rotation and the periodic refresh far away: only the live link can bring the new number.
        driver.get(server.url + f"/tv?kiosk={kiosk_token}&pages=cases&rotate=600&refresh=3600")
        wait_for(lambda: shown(driver, "tv-cases-created") == "2", 30, message="the TV's first figure")
        driver.execute_script("window.tvMarker = 'no reload';")

        put_case(emulator, 3)  # a case is opened in VTiger, whose workflow calls the webhook
        answer = requests.post(f"{server.url}/webhooks/vtiger/{webhook_token}", data="module=Cases", timeout=10)
        assert answer.status_code == 202 and answer.json()["sync"] == "queued"

        wait_for(lambda: shown(driver, "tv-cases-created") == "3", 15, message="the new figure within 15 s")
        assert driver.execute_script("return window.tvMarker") == "no reload"  # rendered in place

        def reported() -> Any:
            with engine.connect() as conn:
                return conn.execute(select(screens)).first()

        row = wait_for(reported, 15, message="the screen's report")
        assert row.slide.startswith("Cases")
        assert (row.width, row.height) == tuple(driver.execute_script("return [innerWidth, innerHeight]"))
        assert row.app_version == runtime.app_version and row.error_count == 0
        assert console_errors(driver) == []

        # An error on the page: the screen says so at once, for /status and `kiosk list`. (An error thrown by a
        # test script reaches the page as a cross-origin "Script error.", so the page's error event is sent instead.)
        driver.execute_script("window.dispatchEvent(new ErrorEvent('error', {message: 'boom on the wall'}));")

        def failed() -> Any:
            return [screen for screen in screen_states(engine, utcnow()) if screen.failed]

        [screen] = wait_for(failed, 15, message="the page error reported")
        assert screen.name == "lobby" and "boom on the wall" in screen.error and screen.state == "online"
    finally:
        driver.quit()
        server.stop()
        scheduler = runtime.scheduler
        if scheduler is not None:
            scheduler.stop()
        engine.dispose()
        kiosk.forget_answers()

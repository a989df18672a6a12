"""A TV left alone on the wall, in headless Chromium: a named screen's rotation by time of day and a change that
reaches it without a reload; the pace of the daily goal on the sales board and the goal celebration once per
person per day; "Reconnecting…" while the server is down and the slide again when it is back; the daily reload at
[tv] reload_at (an injected clock)."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import replace
from datetime import datetime, time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import insert

from app import create_app
from models.db import utcnow
from models.schema import phone_calls
from tests.browser import console_errors, screenshot, serve, start_chromium, wait_for
from tests.sales_seed import derive_app
from tests.tv_seed import record_runs, seed_team
from web.kiosk import create_kiosk, rotation_from_options, set_rotation

pytestmark = pytest.mark.browser

WEDNESDAY_1PM = datetime(2026, 3, 4, 13, 0)  # TIMEZONE is UTC: 13:00 local, half-way through 09:00-17:00


def shown(driver: Any, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def visible_and_whole(driver: Any, element_id: str) -> bool:
    """Displayed, inside the window, and its text not cut off."""
    return driver.execute_script(
        """const el = document.getElementById(arguments[0]);
        if (!el || el.offsetParent === null && getComputedStyle(el).position !== 'fixed') return false;
        const box = el.getBoundingClientRect();
        return getComputedStyle(el).display !== 'none' && box.width > 0 && box.height > 0 && box.left >= 0
          && box.top >= 0 && box.right <= innerWidth && box.bottom <= innerHeight
          && el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1;""",
        element_id,
    )


def tv_app(settings_for: Any, sqlite_url: str, **sales: Any) -> Any:
    settings = settings_for(sqlite_url, auth_disabled=True)
    if sales:
        settings = replace(settings, kpi=replace(settings.kpi, sales=replace(settings.kpi.sales, **sales)))
    return create_app(settings)


def test_a_screen_follows_its_rotation_and_a_change_reaches_it_without_a_reload(settings_for, sqlite_url) -> None:
    dash_app = tv_app(settings_for, sqlite_url)
    engine = dash_app.server.extensions["kpi"].engine
    seed_team(engine)
    record_runs(engine, utcnow())
    create_kiosk(engine, "lobby")
    set_rotation(engine, "lobby", rotation_from_options("sales@08:00-12:00,cases@12:00-18:00", 5))
    server = serve(dash_app)
    driver = start_chromium(1920, 1080)
    try:
        today = utcnow().date()
        driver.get(f"{server.url}/tv?screen=lobby&refresh=1&now={today}T11:59:50")
        wait_for(lambda: shown(driver, "tv-title") == "Sales", message="the morning's slide")
        assert driver.find_elements(By.CSS_SELECTOR, "#tv-dots .tv-dot") == []  # one slide: no rotation dots
        driver.execute_script("window.tvMarker = 'no reload';")
        wait_for(lambda: shown(driver, "tv-title") == "Cases", timeout=30, message="the afternoon's slide at 12:00")
        assert shown(driver, "tv-clock") == "12:00"

        set_rotation(engine, "lobby", rotation_from_options("redmine:Platform", None))  # `kiosk set` elsewhere
        wait_for(lambda: shown(driver, "tv-title") == "Redmine", message="the new rotation")
        assert shown(driver, "tv-group") == "Platform"
        assert driver.execute_script("return window.tvMarker") == "no reload"  # nobody touched the screen
        assert visible_and_whole(driver, "tv-title")
        assert console_errors(driver) == []
    finally:
        driver.quit()
        server.stop()
        engine.dispose()


def sales_screen(settings_for: Any, sqlite_url: str, goal: float) -> tuple[Any, Any, Any]:
    """The seeded team on a Wednesday at 13:00 (Elif 19 points, Farid 18, Grace 18) with a daily goal of `goal`."""
    dash_app = tv_app(settings_for, sqlite_url, daily_goal=goal)
    engine = dash_app.server.extensions["kpi"].engine
    seed_team(engine, WEDNESDAY_1PM)
    derive_app(dash_app)  # what sync's store step keeps as it stores stage changes (the seed bypasses sync)
    record_runs(engine, WEDNESDAY_1PM)
    return dash_app, engine, serve(dash_app)


def board_rows(driver: Any) -> dict[str, tuple[str, str]]:
    """Name -> (badge text, row class) on the points board."""
    rows = driver.find_elements(By.CSS_SELECTOR, "#tv-panel .tv-board:first-child .lb-row")
    return {
        row.find_element(By.CSS_SELECTOR, ".lb-name").text: (
            row.find_element(By.CSS_SELECTOR, ".lb-badge").text,
            row.get_attribute("class"),
        )
        for row in rows
        if row.is_displayed()
    }


def test_the_points_board_glows_with_the_pace_of_the_goal(settings_for, sqlite_url) -> None:
    # Goal 38 at 13:00 is a pace of 19: Elif's 19 is on it (green), 18 is within 10 % below it (amber).
    _dash_app, engine, server = sales_screen(settings_for, sqlite_url, 38)
    driver = start_chromium(1920, 1080)
    try:
        driver.get(f"{server.url}/tv?pages=sales&now=2026-03-04T13:00:00")
        wait_for(lambda: len(board_rows(driver)) == 3, message="the points board")
        assert board_rows(driver) == {
            "Elif Eriksen": ("▲ ahead", "lb-row lb-level-ahead"),
            "Farid Fischer": ("● near", "lb-row lb-level-near"),
            "Grace Garcia": ("● near", "lb-row lb-level-near"),
        }
        assert "pace now 19" in driver.find_element(By.CSS_SELECTOR, "#tv-panel .leaderboard-title").text.lower()
        colours = driver.execute_script(
            "return [...document.querySelectorAll('#tv-panel .lb-badge')].map(b => getComputedStyle(b).color)"
        )
        assert len(set(colours)) == 2  # green and amber, besides the words
        assert all(badge.is_displayed() for badge in driver.find_elements(By.CSS_SELECTOR, "#tv-panel .lb-badge"))
        screenshot(driver, "tv-sales-pace")
    finally:
        driver.quit()
        server.stop()
        engine.dispose()


def test_a_goal_reached_is_shown_once_per_person_and_day(settings_for, sqlite_url) -> None:
    _dash_app, engine, server = sales_screen(settings_for, sqlite_url, 18.5)  # Elif (19) is past it, the others not
    driver = start_chromium(1920, 1080)
    try:
        driver.get(f"{server.url}/tv?pages=cases,sales&rotate=2&refresh=1&now=2026-03-04T13:00:00")
        wait_for(lambda: "Elif Eriksen has reached today's goal" in shown(driver, "tv-celebrate"), message="Elif")
        assert visible_and_whole(driver, "tv-celebrate")
        assert driver.execute_script("return document.querySelectorAll('audio, video').length") == 0  # quietly
        screenshot(driver, "tv-goal-reached")
        wait_for(lambda: not driver.find_element(By.ID, "tv-celebrate").is_displayed(), message="it goes away")

        with engine.begin() as conn:  # Farid's 19th point: one more call, and a sync run that brings it
            conn.execute(
                insert(phone_calls),
                [{"source_id": "43x999", "status": "Completed", "direction": "outbound", "raw": {},
                  "started_at": WEDNESDAY_1PM, "assignee_name": "Farid Fischer", "group_name": "Sales"}],
            )  # fmt: skip
        record_runs(engine, WEDNESDAY_1PM, sources=("vtiger",))
        wait_for(lambda: "Farid Fischer has reached" in shown(driver, "tv-celebrate"), message="Farid, alone")
        assert "Elif" not in shown(driver, "tv-celebrate")
        wait_for(lambda: not driver.find_element(By.ID, "tv-celebrate").is_displayed(), message="it goes away")

        driver.refresh()  # the same screen after a reload: nobody is celebrated twice on one day
        wait_for(lambda: shown(driver, "tv-title") in ("Cases", "Sales"), message="the slide after the reload")
        wait_for(lambda: driver.execute_script("return localStorage.getItem('kpi-tv-goals:2026-03-04')"))
        seen = driver.execute_script("return JSON.parse(localStorage.getItem('kpi-tv-goals:2026-03-04'))")
        assert sorted(seen) == ["Elif Eriksen", "Farid Fischer"]
        for _ in range(3):  # three refreshes with the goals in them
            wait_for(lambda: shown(driver, "tv-title") == "Sales", message="the sales slide")
            assert not driver.find_element(By.ID, "tv-celebrate").is_displayed()
            wait_for(lambda: shown(driver, "tv-title") == "Cases", message="the cases slide")
            assert not driver.find_element(By.ID, "tv-celebrate").is_displayed()
    finally:
        driver.quit()
        server.stop()
        engine.dispose()


class Relay:
    """A TCP relay in front of the test server, so that "the server is gone" means gone: stop() closes the port and
    every open connection (no keep-alive survives), start() opens the same port again to a (new) server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self) -> None:
        with self.lock:
            for sock in [self.listener, *self.sockets]:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self.sockets.clear()
            self.listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_the_tv_says_reconnecting_while_the_server_is_gone_and_recovers_alone(settings_for, sqlite_url) -> None:
    dash_app = tv_app(settings_for, sqlite_url)
    engine = dash_app.server.extensions["kpi"].engine
    seed_team(engine)
    record_runs(engine, utcnow())
    server = serve(dash_app)
    relay = Relay(int(server.url.rsplit(":", 1)[1]))
    relay.start()
    driver = start_chromium(1920, 1080)
    try:
        driver.get(f"{relay.url}/tv?pages=cases,redmine&rotate=2&refresh=1")
        wait_for(lambda: shown(driver, "tv-cases-created") == "18", message="the cases slide")
        assert not driver.find_element(By.ID, "tv-reconnecting").is_displayed()

        server.stop()  # the server goes away, and with it every connection to it
        server.server.server_close()
        relay.stop()
        wait_for(lambda: driver.find_element(By.ID, "tv-reconnecting").is_displayed(), message="Reconnecting…")
        assert "Reconnecting…" in shown(driver, "tv-reconnecting")
        assert visible_and_whole(driver, "tv-reconnecting")
        screenshot(driver, "tv-reconnecting")

        server = serve(dash_app)  # back, on another port behind the same address
        relay.target_port = int(server.url.rsplit(":", 1)[1])
        relay.start()
        wait_for(lambda: not driver.find_element(By.ID, "tv-reconnecting").is_displayed(), message="reconnected")
        wait_for(lambda: shown(driver, "tv-title") == "Redmine", timeout=30, message="the rotation going on")
        wait_for(lambda: shown(driver, "tv-title") == "Cases", timeout=30, message="and on")
        wait_for(lambda: shown(driver, "tv-cases-created") == "18", message="the slide's figures")
    finally:
        driver.quit()
        relay.stop()
        server.stop()
        engine.dispose()


def test_the_tv_reloads_fully_at_the_configured_hour(settings_for, sqlite_url) -> None:
    settings = settings_for(sqlite_url, auth_disabled=True)
    settings = replace(settings, kpi=replace(settings.kpi, tv=replace(settings.kpi.tv, reload_at=time(5, 30))))
    dash_app = create_app(settings)
    engine = dash_app.server.extensions["kpi"].engine
    seed_team(engine)
    record_runs(engine, utcnow())
    server = serve(dash_app)
    driver = start_chromium(1280, 800)
    try:
        today = utcnow().date()
        driver.get(f"{server.url}/tv?pages=cases&now={today}T05:29:50")
        wait_for(lambda: shown(driver, "tv-cases-created") == "18", message="the slide")
        driver.execute_script("window.tvMarker = 'before 05:30';")
        wait_for(lambda: driver.execute_script("return window.tvMarker === undefined"), message="the reload at 05:30")
        wait_for(lambda: shown(driver, "tv-cases-created") == "18", message="the slide after the reload")
    finally:
        driver.quit()
        server.stop()
        engine.dispose()

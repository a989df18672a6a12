"""Sales rules against a VTiger whose sales_stage picklist is not the old dashboard's (issue 12 item 1): with no
kpi.toml and the emulator serving VTiger's stock picklist, sync stores every deal and stage change, the app
starts, /status and /sales warn with the missing names, the picklist in order and the kpi.toml lines to write,
unknown stages score 0 until configured, and only a malformed configuration stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import Engine

from models import sales_rollups
from models.schema import deals
from settings import PROJECT_DIR, Settings, compare_stages_with_picklist, load_kpi_rules, load_settings
from sync.demo.vtiger_emulator import STOCK_SALES_STAGES, stock_picklists
from sync.engine import read_state
from tests.auth_support import callback_body, csrf_headers
from tests.browser import console_errors, screenshot, serve, start_chromium, wait_for
from tests.test_vtiger_sync import World
from view_models.sales import build_sales_view, stage_picklist

DAY = date(2026, 3, 2)  # tests.test_vtiger_sync.START's day (UTC)
# The default rules' names a stock VTiger lacks, in the order the rules name them.
MISSING = ["Demo Scheduled", "Demo Given", "Quote Sent", "Pilot", "Recycled"]


def stock_world(engine: Engine, settings: Settings) -> World:
    """Three deals in stock stages, synced; then each moves one stage on and is synced again: three observed
    stage changes, all a minute after START, all Ann Lee's (the deals' assignee)."""
    world = World(engine, settings, picklists=stock_picklists())
    world.deal(1, sales_stage="Prospecting")
    world.deal(2, sales_stage="Qualification")
    world.deal(3, sales_stage="Negotiation or Review")
    world.call(1)
    world.sync()
    moved = world.tick()
    world.deal(1, at=moved, sales_stage="Qualification")
    world.deal(2, at=moved, sales_stage="Proposal or Price Quote")
    world.deal(3, at=moved, sales_stage="Closed Won")
    world.sync()
    return world


def page_text(value: Any) -> str:
    """The text a Dash JSON response shows: the components' children, in document order, one string a line."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "props" in value and "type" in value:
        return page_text(value["props"].get("children"))
    if isinstance(value, dict):
        return "\n".join(page_text(item) for item in value.values())
    if isinstance(value, list):
        return "\n".join(page_text(item) for item in value)
    return ""


def rendered(dash_app: Any, output: str, values: dict[tuple[str, str], Any]) -> str:
    """The text of one callback's answer, posted as the browser's Dash renderer posts it."""
    client = dash_app.server.test_client()
    assert client.get("/").status_code == 200  # sets the CSRF cookie
    key = next(key for key in dash_app.callback_map if output in key)
    response = client.post(
        "/_dash-update-component", json=callback_body(dash_app, key, values), headers=csrf_headers(client)
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return page_text(response.get_json())


# --- sync ---------------------------------------------------------------------------------------------------------


def test_a_stock_picklist_without_kpi_toml_syncs_every_deal_and_stage_change(
    engine: Engine, settings_for: Callable[..., Settings]
) -> None:
    world = stock_world(engine, settings_for())

    assert {r["module"]: r["status"] for r in world.runs()} == {
        "users": "success", "Cases": "success", "Potentials": "success", "PhoneCalls": "success",
    }  # fmt: skip
    assert {deal_id: row["stage"] for deal_id, row in world.rows(deals).items()} == {
        "5x1": "Qualification", "5x2": "Proposal or Price Quote", "5x3": "Closed Won",
    }  # fmt: skip
    changes = [(c["deal_source_id"], c["previous_stage"], c["stage"], c["origin"]) for c in world.changes()]
    assert sorted(changes) == [
        ("5x1", "Prospecting", "Qualification", "observed"),
        ("5x2", "Qualification", "Proposal or Price Quote", "observed"),
        ("5x3", "Negotiation or Review", "Closed Won", "observed"),
    ]
    _, extra = read_state(engine, "vtiger", "Potentials")
    assert extra["picklists"]["sales_stage"] == list(STOCK_SALES_STAGES)
    [note] = extra["checks"]
    assert all(repr(name) in note for name in MISSING) and "score nothing" in note
    # The stored picklist, in VTiger's order, for the pages that sort stages by pipeline order.
    assert stage_picklist(engine) == STOCK_SALES_STAGES


# --- the pages ----------------------------------------------------------------------------------------------------


def test_the_app_starts_and_status_and_sales_show_the_missing_stages(
    engine: Engine, settings_for: Callable[..., Settings], database_url: str
) -> None:
    from app import create_app

    settings = settings_for(database_url, auth_disabled=True)
    stock_world(engine, settings)
    dash_app = create_app(settings)
    try:
        sales = rendered(dash_app, "page-content.children", {("url", "pathname"): "/sales"})
        status = rendered(dash_app, "status-stage-warning.children", {("url", "pathname"): "/status"})
    finally:
        dash_app.server.extensions["kpi"].engine.dispose()

    for text in (sales, status):
        assert "5 sales stages not in VTiger's pipeline" in text
        assert "There is no kpi.toml, and the default sales rules name stages" in text
        assert "stages the rules do not name score 0 until they are configured" in text
        for name in MISSING:
            assert f"{name}\n (named by " in text, name
        assert "Demo Scheduled\n (named by sales.stages, sales.demo_stage)" in text
        assert "Recycled\n (named by sales.excluded_stages)" in text
        # VTiger's picklist, numbered in its own order.
        numbered = "\n".join(f"{n}. {stage}" for n, stage in enumerate(STOCK_SALES_STAGES, 1))
        assert f"VTiger's stages, in pipeline order: \n{numbered}" in text
        assert 'excluded_stages = []  # VTiger has no "Recycled"' in text
        assert '[[sales.stages]]\nname = "Id. Decision Makers"\npoints = 0\ncredit = "assignee"\n' in text
    # The sales page's warning comes first: before the window columns and the charts.
    assert sales.index("not in VTiger's pipeline") < sales.index("Deals per stage")


def test_nothing_is_shown_when_the_rules_match_the_picklist(
    engine: Engine, settings_for: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    from app import create_app

    stock_world(engine, settings_for(database_url))
    snippet = compare_stages_with_picklist(settings_for().kpi.sales, STOCK_SALES_STAGES)
    assert snippet is not None
    (tmp_path / "kpi.toml").write_text(snippet.snippet)
    kpi = load_kpi_rules(tmp_path / "kpi.toml")
    assert compare_stages_with_picklist(kpi.sales, STOCK_SALES_STAGES) is None  # the lines fix every name
    dash_app = create_app(settings_for(database_url, auth_disabled=True, kpi=kpi, kpi_file=str(tmp_path / "kpi.toml")))
    try:
        sales = rendered(dash_app, "page-content.children", {("url", "pathname"): "/sales"})
        status = rendered(dash_app, "status-stage-warning.children", {("url", "pathname"): "/status"})
    finally:
        dash_app.server.extensions["kpi"].engine.dispose()
    assert "not in VTiger's pipeline" not in sales and "not in VTiger's pipeline" not in status
    assert "Deals per stage" in sales


# --- scoring ------------------------------------------------------------------------------------------------------


def test_unknown_stages_score_0_until_kpi_toml_names_them(
    engine: Engine, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(str(engine.url))
    stock_world(engine, settings)

    view = build_sales_view(engine, settings, DAY, today=DAY)
    scored = view.stage_changes.set_index("deal_source_id")
    assert list(scored.sort_index()["stage"]) == ["Qualification", "Proposal or Price Quote", "Closed Won"]
    assert list(scored["points"]) == [0, 0, 0]
    assert scored.loc["5x2", "note"] == "not a scored stage"
    # One call (1 point) and nothing from the stages: Ann Lee has 1.
    assert dict(zip(view.leaderboard["person"], view.leaderboard["points"], strict=True)) == {"Ann Lee": 1}

    # The snippet /status shows, with points set on two stages, as kpi.toml.
    lines = compare_stages_with_picklist(settings.kpi.sales, STOCK_SALES_STAGES)
    assert lines is not None
    text = lines.snippet.replace(
        'name = "Proposal or Price Quote"\npoints = 0', 'name = "Proposal or Price Quote"\npoints = 3'
    )
    text = text.replace('name = "Closed Won"\npoints = 0', 'name = "Closed Won"\npoints = 10')
    (tmp_path / "kpi.toml").write_text(text)
    configured = load_settings({"KPI_CONFIG": str(tmp_path / "kpi.toml")}, env_file=None, credentials_file=None).kpi
    configured_settings = settings_for(str(engine.url), kpi=configured)
    # The app started on the new kpi.toml re-derives the sales roll-ups (its fingerprint no longer matches).
    assert sales_rollups.ensure(engine, configured.sales, configured_settings.timezone)
    view = build_sales_view(engine, configured_settings, DAY, today=DAY)
    points = view.stage_changes.set_index("stage")["points"].to_dict()
    assert points == {"Qualification": 0, "Proposal or Price Quote": 3, "Closed Won": 10}
    assert dict(zip(view.leaderboard["person"], view.leaderboard["points"], strict=True)) == {"Ann Lee": 1 + 3 + 10}


# --- start-up -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("[sales]\ndaily_goal = 'many'\n", "sales.daily_goal must be a number of at least 1 (got 'many')"),
        ("[sales]\nstage = 'Pilot'\n", "sales.stage is not a known key"),
        ("[[sales.stages]]\nname = 'Pilot'\npoints = [\n", "not valid TOML"),
    ],
)
def test_a_malformed_kpi_toml_stops_start_up_with_one_line(toml: str, line: str, tmp_path: Path) -> None:
    (tmp_path / "kpi.toml").write_text(toml)
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "KPI_CONFIG": str(tmp_path / "kpi.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kpi.db'}",
    }
    started = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "app.py")], cwd=tmp_path, env=environ, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert started.returncode == 1
    assert started.stdout == ""
    [message] = started.stderr.splitlines()
    assert message.startswith(f"configuration error: {tmp_path / 'kpi.toml'}: ") and line in message


# --- in Chromium --------------------------------------------------------------------------------------------------


@pytest.fixture
def stock_server(settings_for: Callable[..., Settings], sqlite_url: str) -> Iterator[Any]:
    from app import create_app
    from models.db import make_engine

    engine = make_engine(sqlite_url)
    stock_world(engine, settings_for(sqlite_url))
    engine.dispose()
    dash_app = create_app(settings_for(sqlite_url, auth_disabled=True))
    server = serve(dash_app)
    yield server
    server.stop()
    dash_app.server.extensions["kpi"].engine.dispose()


@pytest.mark.browser
def test_the_warning_is_seen_at_the_top_of_sales_and_on_status(stock_server: Any) -> None:
    driver = start_chromium(1280, 900)
    try:
        driver.get(stock_server.url + "/sales")
        warning = wait_for(lambda: driver.find_elements(By.ID, "sales-stage-warning"), message="the warning")[0]
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#sales-windows .window-col"), message="the windows")
        assert warning.is_displayed()
        box = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", warning)
        windows = driver.find_element(By.ID, "sales-windows").rect
        screen = driver.execute_script("return window.innerHeight")
        assert box["top"] >= 0 and box["bottom"] <= screen and box["bottom"] <= windows["y"]  # on the first screen
        text = warning.text
        assert "5 sales stages not in VTiger's pipeline" in text
        assert all(name in text for name in MISSING) and "1. Prospecting" in text and "10. Closed Lost" in text
        assert "NaN" not in text and "None" not in text
        # The kpi.toml lines are folded on /sales: one click opens them, whole and readable.
        snippet = driver.find_element(By.ID, "sales-stage-warning-snippet")
        assert not snippet.is_displayed()
        warning.find_element(By.TAG_NAME, "summary").click()
        wait_for(snippet.is_displayed, message="the kpi.toml lines")
        assert '[[sales.stages]]\nname = "Prospecting"' in snippet.text
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1280
        assert console_errors(driver) == []
        screenshot(driver, "sales-stage-warning")

        driver.get(stock_server.url + "/status")
        lines = wait_for(lambda: driver.find_elements(By.ID, "status-stage-rules-snippet"), message="status lines")[0]
        assert lines.is_displayed() and 'excluded_stages = []  # VTiger has no "Recycled"' in lines.text
        assert "Recycled" in driver.find_element(By.ID, "status-stage-rules").text
        assert console_errors(driver) == []
    finally:
        driver.quit()


@pytest.mark.browser
def test_on_a_phone_the_sales_warning_is_one_short_block_that_links_to_status(stock_server: Any) -> None:
    driver = start_chromium(390, 844)
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        driver.get(stock_server.url + "/sales")
        warning = wait_for(lambda: driver.find_elements(By.ID, "sales-stage-warning"), message="the warning")[0]
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#sales-windows .window-col"), message="the windows")
        assert warning.is_displayed()
        screenshot(driver, "sales-stage-warning-phone")
        # The title and the missing names, comma-separated; the picklist and the lines wait on /status.
        assert warning.text.splitlines()[:2] == [
            "5 sales stages not in VTiger's pipeline",
            "Demo Scheduled, Demo Given, Quote Sent, Pilot, Recycled",
        ]
        assert not driver.find_element(By.CSS_SELECTOR, "#sales-stage-warning .stage-warning-picklist").is_displayed()
        assert warning.size["height"] <= 844 / 5
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        link = warning.find_element(By.LINK_TEXT, "What to change: Status")
        link.click()
        lines = wait_for(lambda: driver.find_elements(By.ID, "status-stage-rules-snippet"), message="status lines")[0]
        assert driver.current_url.endswith("/status") and lines.is_displayed()
        assert console_errors(driver) == []
    finally:
        driver.quit()

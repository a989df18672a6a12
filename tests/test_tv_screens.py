"""Named screens (views/tv_rotation.py, settings [tv], kiosk set, callbacks/tv.py): kpi.toml's [tv.screens.<name>]
and `kiosk set` parsed with clear errors, the slides a screen shows by time of day (hand-computed), kpi.toml
re-read when it changes, the daily reload moment, and the TV callback answering with a screen's own rotation."""

from __future__ import annotations

import json
import os
from datetime import datetime, time
from pathlib import Path

import pytest

from settings import ConfigError, Settings, current_tv_rules, load_kpi_rules
from tests.auth_support import callback_body, csrf_headers, kiosk_client
from tests.test_tv_input import RENDER
from view_models.tv_rotation import RotationError, ScreenSlide, parse_rotation, parse_slide_list
from view_models.tv_state import Slide, TvConfig, next_reload, parse_tv_query
from web.kiosk import create_kiosk, rotation_from_options, screen_rotation, set_rotation

LOBBY = """
[tv]
reload_at = "03:30"

[tv.screens.lobby]
seconds = 20
slides = [
  { page = "sales", group = "Sales", from = "08:00", to = "12:00" },
  { page = "cases", group = "Support", seconds = 40 },
  { page = "redmine", project = "Platform", from = "22:00", to = "02:00" },
]
"""


def kpi_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kpi.toml"
    path.write_text(text)
    return path


# --- parsing ---------------------------------------------------------------------------------------------------


def test_kpi_toml_names_screens_their_slides_seconds_and_windows(tmp_path: Path) -> None:
    rules = load_kpi_rules(kpi_file(tmp_path, LOBBY)).tv
    assert rules.reload_at == time(3, 30)
    lobby = rules.screen("Lobby")  # kiosk names match whatever their case
    assert lobby is not None and lobby.seconds == 20
    assert lobby.slides == (
        ScreenSlide("sales", "Sales", None, (time(8), time(12))),
        ScreenSlide("cases", "Support", 40, None),
        ScreenSlide("redmine", "Platform", None, (time(22), time(2))),
    )
    assert rules.screen("kitchen") is None
    assert load_kpi_rules(kpi_file(tmp_path, "")).tv.reload_at == time(4, 0)  # the default


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('slides = [{ page = "bogus" }]', "tv.screens.lobby.slides[0].page 'bogus' is not a slide"),
        ('slides = [{ page = "cases", from = "25:00", to = "12:00" }]', 'from must be a time of day like "08:00"'),
        ('slides = [{ page = "cases", from = "8am", to = "12:00" }]', "slides[0].from must be a time of day"),
        ('slides = [{ page = "cases", from = "08:00" }]', "slides[0] needs both from and to"),
        ('slides = [{ page = "cases", from = "08:00", to = "08:00" }]', "from and to are both 08:00"),
        ('slides = [{ page = "cases", seconds = 2 }]', "slides[0].seconds must be a whole number of 5 to 3600"),
        ('seconds = "ten"\nslides = ["cases"]', "tv.screens.lobby.seconds must be a whole number"),
        ('slides = [{ page = "redmine", group = "Sales" }]', 'slides[0].group: a redmine slide takes project = "..."'),
        ('slides = [{ page = "cases", colour = "red" }]', "slides[0].colour is not a known key"),
        ("slides = []", "tv.screens.lobby.slides must be a non-empty list"),
        ('slide = ["cases"]', "tv.screens.lobby.slide is not a known key"),
    ],
)
def test_a_bad_screen_stops_start_up_with_the_key_and_the_fix(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_kpi_rules(kpi_file(tmp_path, f"[tv.screens.lobby]\n{table}\n"))
    assert message in str(caught.value) and str(caught.value).startswith(str(tmp_path / "kpi.toml"))


def test_a_bad_reload_hour_or_tv_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tv.reload_at must be a time of day"):
        load_kpi_rules(kpi_file(tmp_path, '[tv]\nreload_at = "4 o\'clock"\n'))
    with pytest.raises(ConfigError, match=r"tv.reload is not a known key"):
        load_kpi_rules(kpi_file(tmp_path, '[tv]\nreload = "04:00"\n'))


def test_the_command_line_writes_the_same_rotation() -> None:
    assert parse_slide_list("sales:Sales@08:00-12:00, cases ,redmine:Platform") == [
        {"page": "sales", "group": "Sales", "from": "08:00", "to": "12:00"},
        {"page": "cases"},
        {"page": "redmine", "project": "Platform"},
    ]
    rotation = rotation_from_options("sales:Sales@08:00-12:00,cases", 15)
    assert rotation.seconds == 15 and rotation.slides[0].window == (time(8), time(12))
    assert parse_rotation(rotation.to_raw(), "again") == rotation  # what `kiosk set` stores reads back the same
    with pytest.raises(RotationError, match="write the window as @08:00-12:00"):
        parse_slide_list("sales@08:00")
    with pytest.raises(RotationError, match="seconds must be a whole number"):
        rotation_from_options("cases", 1)


def test_a_screen_may_rotate_the_support_slide_which_the_default_rotation_leaves_out() -> None:
    rotation = rotation_from_options("support:Support@09:00-17:00,cases", 20)
    assert [(slide.page, slide.selector) for slide in rotation.slides] == [("support", "Support"), ("cases", "")]
    assert "support" not in [
        slide.page
        for slide in parse_tv_query({}, tz_name="UTC", testing=True, real_now=datetime(2026, 3, 4, 12)).slides
    ]


# --- which slides, when ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "pages"),
    [
        (time(7, 59), ["cases"]),  # before the sales window
        (time(8, 0), ["sales", "cases"]),  # from is included ...
        (time(11, 59), ["sales", "cases"]),
        (time(12, 0), ["cases"]),  # ... to is not
        (time(21, 59), ["cases"]),
        (time(22, 0), ["cases", "redmine"]),  # a window across midnight
        (time(0, 30), ["cases", "redmine"]),
        (time(1, 59), ["cases", "redmine"]),
        (time(2, 0), ["cases"]),
    ],
)
def test_the_slides_follow_the_time_of_day(tmp_path: Path, clock: time, pages: list[str]) -> None:
    lobby = load_kpi_rules(kpi_file(tmp_path, LOBBY)).tv.screen("lobby")
    assert lobby is not None
    assert [slide.page for slide in lobby.active_at(clock)] == pages


def test_a_screen_outside_all_its_windows_shows_all_its_slides() -> None:
    rotation = rotation_from_options("sales@08:00-12:00,cases@12:00-18:00", None)
    assert [slide.page for slide in rotation.active_at(time(20))] == ["sales", "cases"]


def test_seconds_come_from_the_slide_then_the_screen_then_the_url(tmp_path: Path) -> None:
    url = parse_tv_query({"rotate": "45"}, tz_name="UTC", testing=False, real_now=datetime(2026, 3, 4, 12))
    lobby = load_kpi_rules(kpi_file(tmp_path, LOBBY)).tv.screen("lobby")
    assert url.rotation_at(lobby, time(9)) == ((Slide("sales", "Sales"), Slide("cases", "Support")), (20, 40))
    plain = rotation_from_options("cases", None)
    assert url.rotation_at(plain, time(9)) == ((Slide("cases", ""),), (45,))
    assert url.rotation_at(None, time(9)) == (url.slides, (45, 45, 45))  # no screen: today's rotation


# --- kpi.toml changes without a restart --------------------------------------------------------------------------


def lobby_seconds(settings: Settings) -> int | None:
    lobby = current_tv_rules(settings).screen("lobby")
    assert lobby is not None
    return lobby.seconds


def test_kpi_toml_is_read_again_when_it_changes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = kpi_file(tmp_path, LOBBY)
    settings = Settings(kpi=load_kpi_rules(path), kpi_file=str(path))
    assert lobby_seconds(settings) == 20
    path.write_text(LOBBY.replace("seconds = 20", "seconds = 25"))
    os.utime(path, ns=(1, 10**18))  # a new modification time, whatever the file system's resolution
    assert lobby_seconds(settings) == 25
    path.write_text(LOBBY.replace("seconds = 20", "seconds = 1"))  # a typo: the wall keeps the last good rotation
    os.utime(path, ns=(1, 2 * 10**18))
    assert lobby_seconds(settings) == 25
    assert "seconds must be a whole number" in caplog.text


# --- the daily reload -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "tz", "due"),
    [
        (datetime(2026, 3, 4, 3, 59, 55), "UTC", datetime(2026, 3, 4, 4, 0)),
        (datetime(2026, 3, 4, 4, 0, 0), "UTC", datetime(2026, 3, 5, 4, 0)),  # just reloaded: tomorrow's
        (datetime(2026, 3, 4, 23, 0), "UTC", datetime(2026, 3, 5, 4, 0)),
        # Berlin moves to summer time at 02:00 on 29 March 2026: 04:00 local that day is 02:00 UTC, not 03:00.
        (datetime(2026, 3, 28, 22, 0), "Europe/Berlin", datetime(2026, 3, 29, 2, 0)),
        (datetime(2026, 3, 27, 22, 0), "Europe/Berlin", datetime(2026, 3, 28, 3, 0)),
    ],
)
def test_the_daily_reload_is_due_at_the_local_hour(now: datetime, tz: str, due: datetime) -> None:
    from datetime import UTC

    assert next_reload(now, time(4, 0), tz) == int(due.replace(tzinfo=UTC).timestamp() * 1000)


# --- the TV callback -------------------------------------------------------------------------------------------


def render(client, dash_app, config: dict, rotation: int = 0) -> dict:
    body = callback_body(
        dash_app,
        RENDER,
        {("tv-rotate", "n_intervals"): rotation, ("tv-config", "data"): config, ("tv-signature", "data"): None},
    )
    response = client.post("/_dash-update-component", json=body, headers=csrf_headers(client))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.loads(response.get_data(as_text=True))["response"]


def test_a_kiosk_shows_its_own_rotation_and_a_change_at_its_next_tick(settings_for, sqlite_url) -> None:
    from tests.auth_support import AUTH_ON, build_app

    dash_app = build_app(settings_for(sqlite_url, **AUTH_ON))
    engine = dash_app.server.extensions["kpi"].engine
    client, _ = kiosk_client(dash_app, "lobby")
    url_config = {"slides": [["cases", ""], ["sales", ""], ["redmine", ""]], "rotate": 30}
    answer = render(client, dash_app, url_config)
    assert answer["tv-title"]["children"] == "Cases" and len(answer["tv-dots"]["children"]) == 3  # no settings yet

    set_rotation(engine, "lobby", rotation_from_options("redmine:Platform,sales", 12))
    first, second = render(client, dash_app, url_config, 0), render(client, dash_app, url_config, 1)
    assert (first["tv-title"]["children"], first["tv-group"]["children"]) == ("Redmine", "Platform")
    assert second["tv-title"]["children"] == "Sales"
    assert first["tv-rotate"]["interval"] == 12000  # the screen's seconds per slide
    assert second["tv-goals"]["data"]["people"] == []  # nobody has reached the goal in an empty database
    # A URL's `screen=` cannot make a kiosk show another screen's rotation.
    set_rotation(engine, "lobby", None)
    create_kiosk(engine, "other")
    set_rotation(engine, "other", rotation_from_options("redmine", None))
    assert render(client, dash_app, {**url_config, "screen": "other"})["tv-title"]["children"] == "Cases"
    assert screen_rotation(engine, dash_app.server.extensions["kpi"].settings, "lobby") is None
    engine.dispose()


def test_a_signed_in_person_may_preview_a_screen(app) -> None:
    engine = app.server.extensions["kpi"].engine
    create_kiosk(engine, "hall")
    set_rotation(engine, "hall", rotation_from_options("sales", 20))
    client = app.server.test_client()
    answer = render(client, app, {"slides": [["cases", ""]], "screen": "hall"})
    assert answer["tv-title"]["children"] == "Sales" and answer["tv-rotate"]["interval"] == 20000
    config = TvConfig.from_store({"screen": "hall"})
    assert config.screen == "hall" and TvConfig.from_store({"screen": "x" * 999}).screen == ""


# --- the migration ----------------------------------------------------------------------------------------------


def test_migration_0006_adds_the_rotation_column_and_takes_it_away(tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from models.db import alembic_config, make_engine, upgrade_database
    from models.schema import metadata

    url = f"sqlite:///{tmp_path / 'screens.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert [
            diff for diff in compare_metadata(MigrationContext.configure(conn), metadata) if "kiosk" in str(diff)
        ] == []
    command.downgrade(alembic_config(url), "0004")
    assert "rotation" not in {column["name"] for column in inspect(make_engine(url)).get_columns("kiosk_tokens")}
    upgrade_database(url)
    assert "rotation" in {column["name"] for column in inspect(make_engine(url)).get_columns("kiosk_tokens")}
    engine.dispose()

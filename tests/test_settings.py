"""settings.py: environment, .env, the old credentials.json, kpi.toml, and one clear line per bad key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from settings import DEFAULT_STAGES, ConfigError, load_kpi_rules, load_settings


def load(environ: dict[str, str], tmp_path: Path, **kwargs):
    kwargs.setdefault("env_file", tmp_path / "none.env")
    kwargs.setdefault("credentials_file", tmp_path / "none.json")
    return load_settings(environ, **kwargs)


def test_defaults_are_the_embedded_demo_setup(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.database_url == "sqlite:///kpi.db"
    assert settings.redis_url == ""
    assert settings.timezone == "UTC"
    assert settings.sync_interval_minutes == 10
    assert settings.demo_mode
    assert settings.kpi.sales.stages == DEFAULT_STAGES


def test_environment_overrides_env_file_which_overrides_credentials(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TIMEZONE=Europe/Berlin\nSYNC_INTERVAL_MINUTES=5\n")
    (tmp_path / "credentials.json").write_text(
        json.dumps(
            {
                "host": "https://x.od1.vtiger.com/restapi/v1/vtiger/default",
                "username": "a@b.c",
                "access_key": "k1",
                "django_secret_key": "old-secret",
            }
        )
    )
    settings = load(
        {"SYNC_INTERVAL_MINUTES": "7"},
        tmp_path,
        env_file=tmp_path / ".env",
        credentials_file=tmp_path / "credentials.json",
    )
    assert settings.timezone == "Europe/Berlin"
    assert settings.sync_interval_minutes == 7
    assert settings.secret_key == "old-secret"
    assert settings.vtiger is not None and settings.vtiger.access_key == "k1"
    assert not settings.demo_mode


def test_old_credentials_file_moves_over_whole(tmp_path: Path) -> None:
    old = {
        "username": "api@example.com",
        "access_key": "abc123",
        "host": "https://acme.od2.vtiger.com/restapi/v1/vtiger/default",
        "host_url_cases": "https://acme.od2.vtiger.com/index.php?module=Cases&view=Detail&record=",
        "host_url_calls": "https://acme.od2.vtiger.com/index.php?module=PhoneCalls&view=Detail&record=",
        "host_url_opps": "https://acme.od2.vtiger.com/index.php?module=Potentials&view=Detail&record=",
        "django_secret_key": "s3cret",
        "redmine_username": "bot",
        "redmine_access_key": "pw",
        "redmine_host": "https://redmine.example.com",
    }
    (tmp_path / "credentials.json").write_text(json.dumps(old))
    settings = load({}, tmp_path, credentials_file=tmp_path / "credentials.json")
    assert settings.vtiger is not None
    assert settings.vtiger.record_link("Potentials", "5x123") == (
        "https://acme.od2.vtiger.com/index.php?module=Potentials&view=Detail&record=123"
    )
    assert settings.redmine is not None
    assert (settings.redmine.username, settings.redmine.password) == ("bot", "pw")
    assert settings.redmine.issue_link(42) == "https://redmine.example.com/issues/42"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VTIGER_URL": "https://x.vtiger.com/restapi/v1/vtiger/default", "VTIGER_USERNAME": "u"},
         "VTIGER_ACCESS_KEY is empty: set it, or remove VTIGER_URL to run on demo data"),
        ({"VTIGER_URL": "x.vtiger.com", "VTIGER_USERNAME": "u", "VTIGER_ACCESS_KEY": "k"}, "VTIGER_URL must start"),
        ({"REDMINE_URL": "https://r.example.com"}, "REDMINE_API_KEY is empty"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE is not an IANA time zone"),
        ({"SYNC_INTERVAL_MINUTES": "often"}, "SYNC_INTERVAL_MINUTES must be a whole number"),
        ({"SYNC_INTERVAL_MINUTES": "0"}, "SYNC_INTERVAL_MINUTES must be at least 1"),
        ({"AUTH_DISABLED": "maybe"}, "AUTH_DISABLED must be true or false"),
        ({"KPI_CONFIG": "/nonexistent/kpi.toml"}, "KPI_CONFIG: file /nonexistent/kpi.toml does not exist"),
    ],
)  # fmt: skip
def test_bad_values_fail_with_one_line_naming_the_key(environ: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(environ, tmp_path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_example_kpi_file_parses_and_equals_the_defaults() -> None:
    rules = load_kpi_rules(Path(__file__).resolve().parent.parent / "kpi.example.toml")
    assert rules.sales.stages == DEFAULT_STAGES
    assert rules.sales.daily_goal == 100
    assert rules.cases.resolved_statuses == ("Resolved", "Closed")
    assert rules.redmine.rejected_statuses == ("Rejected",)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[sales]\ndaily_goal = 0\n", "sales.daily_goal must be a number of at least 1"),
        ("[sales]\ngoal = 5\n", "sales.goal is not a known key"),
        ("[sales]\nstage_time_format = '%m-%d-%Y %H:%M %p'\n", "mixes %H with %p"),
        ("[[sales.stages]]\npoints = 3\n", "sales.stages[0].name is required"),
        ("[[sales.stages]]\nname='A'\n[[sales.stages]]\nname='A'\n", "names the stage 'A' twice"),
        ("[cases]\nresolved_statuses = 'Resolved'\n", "cases.resolved_statuses must be a list"),
        ("[sales]\nholidays_country = 'XX'\n", "sales.holidays_country 'XX' is not a known country code"),
        ("[reports]\nx = 1\n", "reports is not a known section"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_kpi_toml_names_the_key(toml: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_kpi_rules(path)
    assert message in str(caught.value)


def test_kpi_rules_from_file_replace_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "kpi.toml"
    path.write_text(
        "[sales]\ndaily_goal = 50\ngroups = ['Sales']\n"
        "[[sales.stages]]\nname = 'Demo Given'\npoints = 10\ncredit = 'assignee'\n"
    )
    rules = load_kpi_rules(path)
    assert rules.sales.daily_goal == 50
    assert rules.sales.groups == ("Sales",)
    assert [(s.name, s.points) for s in rules.sales.stages] == [("Demo Given", 10)]

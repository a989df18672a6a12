"""sync/demo/: the synthetic data is deterministic, shaped like the APIs' records, realistic in its rhythm, and
reaches the tables only through the real clients, mapping and upserts (so mapped columns such as resolved_at and
deal_stage_changes are filled). Loads that go through the sync use a short history to keep the tests quick; the
90-day figures are checked on the generated records themselves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from models.db import make_engine, upgrade_database
from models.schema import (
    cases,
    deal_stage_changes,
    deals,
    phone_calls,
    redmine_issues,
    sync_runs,
    vtiger_groups,
    vtiger_users,
)
from settings import DEFAULT_STAGE_TIME_FORMAT, RedmineSettings, Settings
from sync.demo import source as demo
from sync.demo.load import load_demo
from sync.engine import SyncError

NOW = datetime(2026, 3, 4, 15, 30)  # a Wednesday afternoon (UTC)
SOURCE_TABLES = (cases, deals, deal_stage_changes, phone_calls, redmine_issues, vtiger_users, vtiger_groups)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The demo's clock, fixed at NOW; a short history keeps the loads quick; no data cached across tests."""
    fixed = Clock(NOW)
    monkeypatch.setattr(demo, "clock", fixed)
    monkeypatch.setattr(demo, "HISTORY_DAYS", 12)
    demo.reset_cache()
    yield fixed
    demo.reset_cache()


@pytest.fixture
def demo_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    return settings_for(database_url, timezone="America/Chicago")


def rows(engine: Engine, table, drop: tuple[str, ...] = ("id", "first_seen_at")) -> list[dict]:
    key = table.c.source_id if "source_id" in table.c else table.c.id
    with engine.connect() as conn:
        found = conn.execute(select(table).order_by(key, *table.primary_key.columns)).mappings()
        return [{k: v for k, v in row.items() if k not in drop} for row in found]


def test_the_demo_goes_through_the_real_mapping(clock: Clock, engine: Engine, demo_settings: Settings) -> None:
    summary = load_demo(engine, demo_settings)

    assert "anchor 2026-03-04" in summary and "inserted" in summary
    found_cases = rows(engine, cases)
    resolved = [row for row in found_cases if row["status"] in ("Resolved", "Closed")]
    assert resolved and all(row["resolved_at"] and row["resolved_at"] >= row["created_at"] for row in resolved)
    assert all(row["resolved_at"] is None for row in found_cases if row["status"] not in ("Resolved", "Closed"))
    assert {row["group_name"] for row in found_cases} == {"Support", "Tier 2"}
    assert all(row["assignee_name"] for row in found_cases)  # a user's or a group's name, resolved by sync

    changes = rows(engine, deal_stage_changes)
    assert {"Needs Analysis", "Demo Scheduled", "Demo Given"} <= {row["stage"] for row in changes}
    assert all(row["origin"] == "field" for row in changes)
    assert any(row["qualified_by_name"] != row["assignee_name"] for row in changes)

    calls = rows(engine, phone_calls)
    assert {row["group_name"] for row in calls} == {"Sales", "Sales Managers"}
    # starttime is local (America/Chicago) in the API; mapped back to UTC it precedes createdtime by the call.
    assert all(row["started_at"] <= row["created_at"] <= row["started_at"] + timedelta(hours=2) for row in calls)

    issues = rows(engine, redmine_issues)
    assert {row["project_name"] for row in issues} == {"Platform", "Mobile App", "Integrations"}
    assert any(row["is_closed"] and row["closed_at"] for row in issues)
    assert len(rows(engine, vtiger_users)) == 31 and len(rows(engine, vtiger_groups)) == 4

    runs = rows(engine, sync_runs, drop=())
    assert runs and all(run["trigger"] == "demo" and run["status"] == "success" for run in runs)


def test_loading_twice_changes_nothing(clock: Clock, engine: Engine, demo_settings: Settings) -> None:
    load_demo(engine, demo_settings)
    before = {table.name: rows(engine, table) for table in SOURCE_TABLES}

    summary = load_demo(engine, demo_settings)

    assert summary.endswith("this run 0 inserted, 0 updated")
    assert {table.name: rows(engine, table) for table in SOURCE_TABLES} == before


def test_two_loads_into_fresh_databases_give_identical_rows(
    clock: Clock, settings_for: Callable[..., Settings], tmp_path
) -> None:
    tables = []
    for name in ("first", "second"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade_database(url)
        engine = make_engine(url)
        demo.reset_cache()  # generated again from scratch, as in a new process
        load_demo(engine, settings_for(url))
        tables.append({table.name: rows(engine, table) for table in SOURCE_TABLES})
        engine.dispose()

    assert tables[0] == tables[1]
    assert len(tables[0]["cases"]) > 300


def test_records_appear_and_change_as_the_clock_advances(clock: Clock, engine: Engine, demo_settings: Settings) -> None:
    load_demo(engine, demo_settings)
    first = {row["source_id"]: row for row in rows(engine, cases)}

    clock.now = NOW + timedelta(hours=2)  # still working hours in Chicago
    later = load_demo(engine, demo_settings)

    now_cases = {row["source_id"]: row for row in rows(engine, cases)}
    assert set(first) < set(now_cases)  # new cases, none lost
    assert any(now_cases[key]["status"] != row["status"] for key, row in first.items())  # and progress
    assert "0 inserted" not in later
    new_calls = [row for row in rows(engine, phone_calls) if row["created_at"] > NOW]
    assert new_calls and all(row["created_at"] <= clock.now for row in new_calls)

    # Days later, with the anchor stored: the history stays where it was, and the days between are filled in.
    clock.now = NOW + timedelta(days=3)
    load_demo(engine, demo_settings)
    assert demo.demo_anchor(engine, clock.now) == demo.Anchor(date(2026, 3, 4), 12)
    created = sorted(row["created_at"] for row in rows(engine, cases))
    assert created[0].date() == date(2026, 2, 20)
    assert created[-1] > NOW + timedelta(days=2)


def test_a_case_deleted_at_the_source_is_marked_deleted(clock: Clock, engine: Engine, demo_settings: Settings) -> None:
    load_demo(engine, demo_settings)
    # About 1 % of cases are spam, deleted within hours of creation: take the next such deletion.
    world = demo.world_for(demo.DemoConfig.of(demo.demo_anchor(engine, NOW), demo_settings), NOW)
    deletion = next(event for event in world.generator.vtiger.pending() if event.delete and event.module == "Cases")
    case_id = deletion.record["id"]

    clock.now = deletion.at - timedelta(seconds=1)
    load_demo(engine, demo_settings)
    [before] = [row for row in rows(engine, cases) if row["source_id"] == case_id]
    clock.now = deletion.at
    load_demo(engine, demo_settings)
    [after] = [row for row in rows(engine, cases) if row["source_id"] == case_id]

    assert before["deleted_at"] is None
    assert after["deleted_at"] is not None  # VTiger's /sync listed it in `deleted`; the row is kept, marked


def test_demo_load_refuses_real_credentials(clock: Clock, sqlite_engine: Engine, settings_for) -> None:
    settings = settings_for(redmine=RedmineSettings(url="https://redmine.example.com", api_key="k"))

    with pytest.raises(SyncError, match="REDMINE_URL is set: the demo would mix synthetic rows into the real tables"):
        load_demo(sqlite_engine, settings)

    assert rows(sqlite_engine, redmine_issues) == []


# --- the 90-day data set itself (no sync needed) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> demo.DemoWorld:
    settings = Settings(timezone="America/Chicago")
    config = demo.DemoConfig.of(demo.Anchor(NOW.date(), 90), settings)
    generated = demo.DemoWorld(config)
    generated.advance(NOW)
    return generated


def local(text: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime:
    utc = datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo("UTC"))
    return utc.astimezone(ZoneInfo("America/Chicago")).replace(tzinfo=None)


def test_ninety_days_have_the_expected_volumes(world: demo.DemoWorld) -> None:
    assert 1800 <= len(world.vtiger.records("Cases")) <= 3200
    assert 300 <= len(world.vtiger.records("Potentials")) <= 700
    assert 15_000 <= len(world.vtiger.records("PhoneCalls")) <= 26_000
    assert 400 <= len(world.redmine.issue_ids) <= 800
    assert len(demo.PEOPLE) == 30 and [name for _, name in demo.GROUPS] == [
        "Support",
        "Tier 2",
        "Sales",
        "Sales Managers",
    ]


def test_records_are_shaped_like_the_api(world: demo.DemoWorld) -> None:
    for module in ("Cases", "Potentials", "PhoneCalls"):
        for record in world.vtiger.records(module)[:200]:
            public = {key: value for key, value in record.items() if not key.startswith("_")}
            assert all(isinstance(value, str) for value in public.values()), public
            assert datetime.strptime(public["modifiedtime"], "%Y-%m-%d %H:%M:%S") <= NOW
    deal = world.vtiger.records("Potentials")[0]
    assert deal["amount"].split(".")[1] == "00000000"
    datetime.strptime(deal["cf_potentials_needsanalysischangedat"], DEFAULT_STAGE_TIME_FORMAT)
    issue = world.redmine.issue(world.redmine.issue_ids[0])
    assert (
        issue is not None and issue["created_on"].endswith("Z") and set(issue["status"]) == {"id", "name", "is_closed"}
    )


def test_cases_follow_a_working_rhythm(world: demo.DemoWorld) -> None:
    records = world.vtiger.records("Cases")
    per_day = Counter(local(record["createdtime"]).date() for record in records)
    weekdays = [count for day, count in per_day.items() if day.weekday() < 5 and day < NOW.date()]
    weekends = [count for day, count in per_day.items() if day.weekday() >= 5]
    assert mean(weekdays) > 4 * mean(weekends)
    hours = [local(record["createdtime"]).hour for record in records]
    assert sum(8 <= hour < 18 for hour in hours) / len(hours) > 0.95

    statuses = Counter(record["casestatus"] for record in records)
    assert statuses["Closed"] > statuses["Resolved"] > statuses["Open"] > 0
    resolved = [record for record in records if record["casestatus"] in ("Resolved", "Closed")]
    lags = [
        datetime.strptime(r["sla_actual_closureon"], "%Y-%m-%d %H:%M:%S")
        - datetime.strptime(r["createdtime"], "%Y-%m-%d %H:%M:%S")
        for r in resolved
    ]
    assert all(lag > timedelta(0) for lag in lags) and max(lags) > timedelta(days=2)
    assert any(record["reopen_count"] == "1" for record in resolved)


def test_deals_walk_the_stages_and_are_not_always_qualified_by_their_owner(world: demo.DemoWorld) -> None:
    records = world.vtiger.records("Potentials")
    stages = {record["sales_stage"] for record in records}
    assert {
        "Needs Analysis",
        "Demo Scheduled",
        "Demo Given",
        "Quote Sent",
        "Pilot",
        "Closed Won",
        "Closed Lost",
    } <= stages
    assert "Recycled" in stages
    others = [record for record in records if record["cf_potentials_qualifiedby"] != record["assigned_user_id"]]
    assert 0.2 < len(others) / len(records) < 0.6
    won = next(record for record in records if record["sales_stage"] == "Closed Won")
    assert won["cf_potentials_closedwonchangedat"] and won["cf_potentials_demogivenchangedat"]


def test_salespeople_make_dozens_of_calls_a_weekday(world: demo.DemoWorld) -> None:
    records = world.vtiger.records("PhoneCalls")
    sales = {person.ws_id for person in demo.SALES}
    per_person_day = Counter(
        (record["assigned_user_id"], record["starttime"][:10])
        for record in records
        if record["assigned_user_id"] in sales
    )
    assert 18 <= mean(per_person_day.values()) <= 40
    assert Counter(record["callstatus"] for record in records).most_common(1)[0][0] == "completed"


def test_redmine_issues_spread_over_projects_statuses_and_a_group(world: demo.DemoWorld) -> None:
    issues = [world.redmine.issue(issue_id) for issue_id in world.redmine.issue_ids]
    statuses = Counter(issue["status"]["name"] for issue in issues if issue)
    assert {"New", "In Progress", "Resolved", "Closed", "Rejected"} <= set(statuses)
    assert any(issue and issue.get("assigned_to") == demo.REDMINE_GROUP for issue in issues)
    closed = [issue for issue in issues if issue and issue["status"]["is_closed"]]
    assert closed and all(issue["closed_on"] for issue in closed)


def test_the_same_day_is_generated_the_same_whatever_the_range(world: demo.DemoWorld) -> None:
    config = replace(world.config)
    shorter = demo.DemoWorld(config)
    shorter.advance(NOW - timedelta(days=30))
    early = {r["id"]: r for r in shorter.vtiger.records("Cases")}
    later = {r["id"]: r for r in world.vtiger.records("Cases")}
    created_before = {key for key, r in later.items() if r["createdtime"] < "2026-01-01"}
    assert created_before and created_before <= set(early)
    assert all(early[key]["createdtime"] == later[key]["createdtime"] for key in created_before)

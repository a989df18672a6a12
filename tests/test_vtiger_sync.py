"""sync/vtiger_sync.py end to end: the real VtigerClient against the emulator, into SQLite and PostgreSQL (the
`engine` fixture runs every test on both). Faults included: after each, no row lost or duplicated, the watermark
not past uncommitted data, the failure in sync_runs, and the next run ends with exactly the emulator's records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, Table, func, select

from models.schema import case_status_changes, cases, deal_stage_changes, deals, phone_calls, sync_runs, vtiger_users
from settings import KpiRules, SalesRules, Settings, StageRule
from sync import vtiger_sync
from sync.engine import RunRecord, SyncError, read_state, write_state
from sync.vtiger import VtigerClient, parse_unix
from sync.vtiger_sync import sync_vtiger
from tests.emulator_faults import FaultyVtigerEmulator

KEY = "acc3ss-k3y-for-tests"
START = datetime(2026, 3, 2, 12, 0, 0)
USERS = [
    {"id": "19x1", "user_name": "admin@example.com", "first_name": "Ada", "last_name": "Admin", "email1": "a@x",
     "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"},
    {"id": "19x5", "user_name": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "email1": "ann@x",
     "status": "Active", "user_primary_group": "20x3", "time_zone": "UTC"},
]  # fmt: skip
CHICAGO_ADMIN = [{**USERS[0], "time_zone": "America/Chicago"}, USERS[1]]  # /me gives the API user's zone
GROUPS = [{"id": "20x2", "groupname": "Support"}, {"id": "20x3", "groupname": "Sales"}]
TABLES: dict[str, Table] = {"Cases": cases, "Potentials": deals, "PhoneCalls": phone_calls}


class World:
    """An emulator with a movable clock, record factories, and a way to sync it into the database."""

    def __init__(self, engine: Engine, settings: Settings, **emulator_options: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.now = START
        options: dict[str, Any] = {"users": USERS, "groups": GROUPS, "username": "admin@example.com"}
        options.update(access_key=KEY, clock=lambda: self.now)
        options.update(emulator_options)
        self.emulator = FaultyVtigerEmulator(**options)
        self.client = self.make_client()
        self.slept: list[float] = []

    def make_client(self, key: str = KEY, session: requests.Session | None = None, **kwargs: Any) -> VtigerClient:
        return VtigerClient(
            self.emulator.base_url,
            "admin@example.com",
            key,
            session=session or self.emulator.session(),
            sleep=lambda seconds: self.slept.append(seconds),
            **kwargs,
        )

    def tick(self, seconds: int = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def stamp(self, at: datetime | None = None) -> str:
        return (at or self.now).strftime("%Y-%m-%d %H:%M:%S")

    def prefix(self, module: str) -> str:
        return self.emulator.prefixes[module]

    def case(self, number: int, *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        record = {
            "id": f"{self.prefix('Cases')}{number}", "case_no": f"CC{number}", "title": f"Case {number}",
            "casestatus": "Open", "casepriority": "Low", "assigned_user_id": f"{self.prefix('Users')}5",
            "group_id": f"{self.prefix('Groups')}2", "modifiedby": f"{self.prefix('Users')}1",
            "createdtime": "2026-01-01 08:00:00", "modifiedtime": self.stamp(at), "time_spent": "1.5",
            "sla_actual_closureon": "",
        }  # fmt: skip
        record.update(fields)
        return self.emulator.put("Cases", record)

    def deal(self, number: int, *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        record = {
            "id": f"{self.prefix('Potentials')}{number}", "potential_no": f"POT{number}",
            "potentialname": f"Deal {number}", "amount": "1000.00000000", "sales_stage": "Prospecting",
            "pipeline": "Standard Sales Pipeline", "closingdate": "2026-06-30",
            "assigned_user_id": f"{self.prefix('Users')}5", "modifiedby": f"{self.prefix('Users')}5",
            "cf_potentials_qualifiedby": f"{self.prefix('Users')}1", "createdtime": "2026-01-01 08:00:00",
            "modifiedtime": self.stamp(at), "cf_potentials_demoscheduledchangedat": "",
            "cf_potentials_demogivenchangedat": "",
        }  # fmt: skip
        record.update(fields)
        return self.emulator.put("Potentials", record)

    def call(self, number: int, *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        record = {
            "id": f"{self.prefix('PhoneCalls')}{number}", "callstatus": "completed", "direction": "outbound",
            "starttime": "", "endtime": "", "totalduration": "60", "assigned_user_id": f"{self.prefix('Users')}5",
            "modifiedby": f"{self.prefix('Users')}5", "customernumber": "+1555", "recordingurl": "",
            "createdtime": self.stamp(at), "modifiedtime": self.stamp(at),
        }  # fmt: skip
        record.update(fields)
        return self.emulator.put("PhoneCalls", record)

    def populate(self, count: int = 30) -> None:
        """`count` records per module, one per second, ending a minute before now."""
        base = self.now - timedelta(seconds=count + 60)
        for n in range(1, count + 1):
            self.case(n, at=base + timedelta(seconds=n))
            self.deal(n, at=base + timedelta(seconds=n))
            self.call(n, at=base + timedelta(seconds=n))

    def sync(self, **kwargs: Any) -> list[RunRecord]:
        return sync_vtiger(self.engine, self.settings, client=kwargs.pop("client", self.client), **kwargs)

    def sync_failing(self, **kwargs: Any) -> SyncError | Exception:
        with pytest.raises(Exception) as failure:
            self.sync(**kwargs)
        return failure.value

    # --- what the database holds --------------------------------------------------------------------------------

    def rows(self, table: Table, *, live: bool = True) -> dict[str, dict[str, Any]]:
        query = select(table)
        if live:
            query = query.where(table.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return {row.source_id: dict(row._mapping) for row in conn.execute(query)}

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(sync_runs).order_by(sync_runs.c.id))]

    def changes(self) -> list[dict[str, Any]]:
        query = select(deal_stage_changes).order_by(deal_stage_changes.c.changed_at, deal_stage_changes.c.stage)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def assert_mirrors(self) -> None:
        """The live rows are exactly the emulator's records: same ids, same modifiedtime, same raw record."""
        for module, table in TABLES.items():
            expected = {r["id"]: r for r in self.emulator.records(module)}
            stored = self.rows(table)
            assert set(stored) == set(expected), module
            for ws_id, record in expected.items():
                assert stored[ws_id]["raw"] == record, ws_id
            with self.engine.connect() as conn:
                total = conn.execute(select(func.count()).select_from(table)).scalar_one()
                distinct = conn.execute(select(func.count(table.c.source_id.distinct()))).scalar_one()
            assert total == distinct

    def assert_watermark_safe(self, module: str) -> None:
        """Every record at or before the stored watermark is committed: the watermark never runs ahead."""
        watermark, _ = read_state(self.engine, "vtiger", module)
        if not watermark:
            return
        stored = self.rows(TABLES[module], live=False)
        for record in self.emulator.records(module):
            if parse_unix(record["modifiedtime"]) <= int(watermark):
                assert record["id"] in stored, f"{record['id']} is behind the watermark but not stored"


@pytest.fixture
def world(engine: Engine, settings_for: Callable[..., Settings]) -> World:
    return World(engine, settings_for())


def counts(runs: list[RunRecord]) -> dict[str, tuple[int, int, int]]:
    totals: dict[str, tuple[int, int, int]] = {}
    for run in runs:
        i, u, d = totals.get(run.module, (0, 0, 0))
        totals[run.module] = (i + run.inserted, u + run.updated, d + run.deleted)
    return totals


# --- the happy path -------------------------------------------------------------------------------------------------


def test_a_first_sync_mirrors_vtiger_and_a_second_changes_nothing(world: World) -> None:
    world.populate(30)
    world.emulator.delete("Cases", "39x3", world.now - timedelta(seconds=5))
    runs = world.sync()
    assert [r.module for r in runs] == ["users", "Cases", "Potentials", "PhoneCalls"]
    world.assert_mirrors()
    assert counts(runs)["Cases"] == (29, 0, 0)  # 39x3 was deleted before it was ever seen: nothing to store
    assert counts(runs)["users"] == (4, 0, 0)  # two users, two groups
    assert all(run.requests > 0 for run in runs)
    assert sum(run.requests for run in runs) == world.client.requests
    assert [r["status"] for r in world.runs()] == ["success"] * 4

    again = world.sync()
    assert all((run.inserted, run.updated, run.deleted) == (0, 0, 0) for run in again), counts(again)
    world.assert_mirrors()


def test_names_and_groups_are_resolved(world: World) -> None:
    world.case(1, assigned_user_id="20x3", group_id="")
    world.deal(1)
    world.call(1)
    world.sync()
    case = world.rows(cases)["39x1"]
    assert (case["assignee_name"], case["group_name"], case["modified_by_name"]) == ("Sales", "Sales", "Ada Admin")
    deal = world.rows(deals)["5x1"]
    assert (deal["assignee_name"], deal["group_name"], deal["qualified_by_name"]) == ("Ann Lee", "Sales", "Ada Admin")
    assert world.rows(phone_calls)["43x1"]["group_name"] == "Sales"


def test_paging_past_100_rows_and_a_second_holding_more_than_100(world: World) -> None:
    bulk = world.now - timedelta(hours=2)
    for n in range(1, 131):
        world.case(n, at=bulk)  # a bulk edit: 130 cases in one second
    for n in range(131, 341):
        world.case(n, at=world.now - timedelta(seconds=400 - n))
    runs = world.sync()
    assert counts(runs)["Cases"] == (340, 0, 0)
    world.assert_mirrors()
    sync_calls = [p for _m, endpoint, p in world.emulator.log if endpoint == "/sync" and p["elementType"] == "Cases"]
    assert len(sync_calls) >= 4


def test_changes_since_the_last_run_are_picked_up_including_a_late_commit_in_the_watermark_second(world: World) -> None:
    world.populate(5)
    world.sync()
    watermark = int(read_state(world.engine, "vtiger", "Cases")[0])
    # A record committed after the last call, but stamped in the watermark's own second (reference A.1).
    late = datetime(1970, 1, 1) + timedelta(seconds=watermark)
    world.case(99, at=late)
    world.tick()
    world.case(2, at=world.now, casestatus="Wait for Customer")
    runs = world.sync()
    assert counts(runs)["Cases"] == (1, 1, 0)
    world.assert_mirrors()


def test_deleted_records_are_marked_and_deal_history_with_them(world: World) -> None:
    world.populate(5)
    world.deal(9, sales_stage="Demo Scheduled", cf_potentials_demoscheduledchangedat="03-01-2026 10:00 AM")
    world.sync()
    world.tick()
    world.emulator.delete("Cases", "39x2", world.now)
    world.emulator.delete("Potentials", "5x9", world.now)
    world.tick()
    runs = world.sync()
    assert counts(runs)["Cases"] == (0, 0, 1)
    assert counts(runs)["Potentials"] == (0, 0, 1)
    assert world.rows(cases, live=False)["39x2"]["deleted_at"] is not None
    assert all(change["deleted_at"] is not None for change in world.changes() if change["deal_source_id"] == "5x9")
    world.assert_mirrors()


def test_picklists_and_the_id_prefix_are_kept_in_sync_state(world: World) -> None:
    world.sync()
    _, extra = read_state(world.engine, "vtiger", "Cases")
    assert extra["idPrefix"] == "39x"
    assert "Resolved" in extra["picklists"]["casestatus"]
    assert extra["method"] == "sync"
    _, extra = read_state(world.engine, "vtiger", "Potentials")
    assert "Demo Scheduled" in extra["picklists"]["sales_stage"]


def test_other_id_prefixes_work_everywhere(engine: Engine, settings_for: Callable[..., Settings]) -> None:
    prefixes = {"Cases": "41x", "Potentials": "13x", "PhoneCalls": "60x", "Users": "29x", "Groups": "30x"}
    users = [{**u, "id": "29x" + u["id"][3:], "user_primary_group": "30x" + u["user_primary_group"][3:]} for u in USERS]
    groups = [{**g, "id": "30x" + g["id"][3:]} for g in GROUPS]
    world = World(engine, settings_for(), id_prefixes=prefixes, users=users, groups=groups)
    world.populate(3)
    world.deal(7, assigned_user_id="30x3")
    world.sync()
    world.assert_mirrors()
    assert read_state(engine, "vtiger", "Cases")[1]["idPrefix"] == "41x"
    assert read_state(engine, "vtiger", "Potentials")[1]["idPrefix"] == "13x"
    assert world.rows(cases)["41x1"]["assignee_name"] == "Ann Lee"
    assert world.rows(deals)["13x7"]["assignee_name"] == "Sales"


def test_the_sync_works_over_real_http(world: World, httpserver: HTTPServer) -> None:
    world.populate(3)
    base_url = world.emulator.serve(httpserver)
    client = VtigerClient(base_url, "admin@example.com", KEY, sleep=lambda _s: None)
    world.sync(client=client)
    world.assert_mirrors()


# --- users and groups -------------------------------------------------------------------------------------------


def test_an_unknown_user_id_triggers_a_users_reread(world: World) -> None:
    world.populate(2)
    world.sync()
    users_queries = sum(1 for _m, e, p in world.emulator.log if e == "/query" and "FROM Users" in p["query"])
    world.emulator.users.append(
        {"id": "19x9", "user_name": "new@example.com", "first_name": "Nia", "last_name": "New", "email1": "",
         "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"}
    )  # fmt: skip
    world.tick()
    world.case(50, assigned_user_id="19x9")
    runs = world.sync()
    assert [r.module for r in runs] == ["users", "Cases", "users", "Potentials", "PhoneCalls"]
    assert world.rows(cases)["39x50"]["assignee_name"] == "Nia New"
    assert "19x9" in _user_ids(world)
    after = sum(1 for _m, e, p in world.emulator.log if e == "/query" and "FROM Users" in p["query"])
    assert after == users_queries + 1
    # Still unknown after the re-read (a purged user): no re-read on every page of the run.
    world.tick()
    world.case(51, assigned_user_id="19x404")
    world.case(52, assigned_user_id="19x404")
    runs = world.sync()
    assert [r.module for r in runs].count("users") == 2
    assert world.rows(cases)["39x51"]["assignee_id"] == "19x404"
    assert world.rows(cases)["39x51"]["assignee_name"] == ""


def _user_ids(world: World) -> set[str]:
    with world.engine.connect() as conn:
        return set(conn.scalars(select(vtiger_users.c.source_id)))


# --- credentials and configuration -----------------------------------------------------------------------------------


def test_a_bad_key_is_one_failed_run_with_a_clear_error(world: World) -> None:
    world.populate(2)
    error = world.sync_failing(client=world.make_client(key="not-the-key"))
    assert isinstance(error, SyncError)
    runs = world.runs()
    assert len(runs) == 1
    assert (runs[0]["module"], runs[0]["status"]) == ("users", "failed")
    assert runs[0]["error"].startswith("VTiger rejected VTIGER_USERNAME/VTIGER_ACCESS_KEY (401")
    assert "not-the-key" not in runs[0]["error"]
    assert world.rows(cases) == {}


def test_an_unknown_stage_in_the_config_is_a_note_and_the_deals_are_stored(
    engine: Engine, settings_for: Callable[..., Settings]
) -> None:
    stages = (StageRule("Demo Booked", 5, "assignee", "cf_potentials_demobookedat"),)
    settings = settings_for(kpi=KpiRules(sales=SalesRules(stages=stages)))
    world = World(engine, settings)
    world.populate(2)
    world.sync()
    assert {r["module"]: r["status"] for r in world.runs()}["Potentials"] == "success"
    assert set(world.rows(deals)) == {"5x1", "5x2"}
    _, extra = read_state(engine, "vtiger", "Potentials")
    [note] = extra["checks"]
    assert "'Demo Booked'" in note and "Prospecting" in note


# --- cases and deals over time ------------------------------------------------------------------------------------


def test_a_reopened_case_clears_its_resolution_time(world: World) -> None:
    world.case(1)
    world.sync()
    resolved_at = world.tick()
    world.case(1, casestatus="Resolved")
    world.tick(3600)  # the sync sees it an hour later: the time is still the record's
    world.sync()
    assert world.rows(cases)["39x1"]["resolved_at"] == resolved_at
    world.case(1, at=world.tick(), casestatus="Closed")
    world.sync()
    assert world.rows(cases)["39x1"]["resolved_at"] == resolved_at
    world.case(1, at=world.tick(), casestatus="Open")
    world.sync()
    assert world.rows(cases)["39x1"]["resolved_at"] is None


def status_changes(world: World) -> list[tuple[str, str, str, bool]]:
    c = case_status_changes.c
    query = select(case_status_changes).order_by(c.changed_at, c.id)
    with world.engine.connect() as conn:
        return [(r.from_status, r.to_status, r.origin, r.deleted_at is None) for r in conn.execute(query)]


def test_status_changes_and_reopens_are_recorded(world: World) -> None:
    world.case(1, reopen_count="0")
    world.sync()
    assert status_changes(world) == []  # a new case has no observed history
    world.case(1, at=world.tick(), casestatus="Resolved", reopen_count="0")
    world.sync()
    world.case(1, at=world.tick(), casestatus="Open", reopen_count="1")  # reopened: observed, count agrees
    world.sync()
    world.sync()  # nothing new: nothing doubled
    assert status_changes(world) == [("Open", "Resolved", "observed", True), ("Resolved", "Open", "observed", True)]
    # Resolved and reopened again between two syncs: only reopen_count tells.
    world.case(1, at=world.tick(), casestatus="Open", reopen_count="2")
    world.sync()
    assert status_changes(world)[-1] == ("", "Open", "reopen_count", True)
    assert world.rows(cases)["39x1"]["reopen_count"] == 2
    world.tick()
    world.emulator.delete("Cases", "39x1", world.now)
    world.tick()
    world.sync()
    assert [alive for *_, alive in status_changes(world)] == [False, False, False]


def test_pm_in_a_stage_field_is_parsed_in_the_users_time_zone(
    engine: Engine, settings_for: Callable[..., Settings]
) -> None:
    world = World(engine, settings_for(), users=CHICAGO_ADMIN)
    world.deal(1, sales_stage="Demo Scheduled", cf_potentials_demoscheduledchangedat="12-08-2020 03:27 PM")
    world.sync()
    [change] = world.changes()
    assert change["changed_at"] == datetime(2020, 12, 8, 21, 27)
    assert (change["stage"], change["origin"]) == ("Demo Scheduled", "field")
    assert (change["assignee_name"], change["qualified_by_name"]) == ("Ann Lee", "Ada Admin")


def test_the_configured_stage_time_zone_wins(engine: Engine, settings_for: Callable[..., Settings]) -> None:
    settings = settings_for()
    settings = replace(
        settings, kpi=replace(settings.kpi, sales=replace(settings.kpi.sales, stage_time_zone="Asia/Tokyo"))
    )
    world = World(engine, settings, users=CHICAGO_ADMIN)
    world.deal(1, sales_stage="Demo Scheduled", cf_potentials_demoscheduledchangedat="12-08-2020 03:27 PM")
    world.sync()
    assert world.changes()[0]["changed_at"] == datetime(2020, 12, 8, 6, 27)


def test_observed_transitions_without_double_counting(world: World) -> None:
    world.deal(1, sales_stage="Demo Scheduled", cf_potentials_demoscheduledchangedat="03-02-2026 11:00 AM")
    world.sync()
    # The workflow stamps Demo Given in the same edit: one change, from the field.
    given_at = world.tick(600)
    world.deal(1, sales_stage="Demo Given", cf_potentials_demoscheduledchangedat="03-02-2026 11:00 AM",
               cf_potentials_demogivenchangedat=given_at.strftime("%m-%d-%Y %I:%M %p"))  # fmt: skip
    world.sync()
    # Pilot has no field stamped: the transition sync saw is recorded.
    pilot_at = world.tick(600)
    world.deal(1, sales_stage="Pilot", cf_potentials_demoscheduledchangedat="03-02-2026 11:00 AM",
               cf_potentials_demogivenchangedat=given_at.strftime("%m-%d-%Y %I:%M %p"))  # fmt: skip
    world.sync()
    got = [(c["stage"], c["origin"], c["previous_stage"], c["changed_at"]) for c in world.changes()]
    assert got == [
        ("Demo Scheduled", "field", "", datetime(2026, 3, 2, 11, 0)),
        ("Demo Given", "field", "", given_at),
        ("Pilot", "observed", "Demo Given", pilot_at),
    ]
    again = world.sync()
    assert counts(again)["Potentials"] == (0, 0, 0)
    assert len(world.changes()) == 3


def test_a_field_stamp_arriving_after_the_observed_change_replaces_it(world: World) -> None:
    world.deal(1, sales_stage="Prospecting")
    world.sync()
    moved_at = world.tick(600)
    world.deal(1, sales_stage="Demo Given")
    world.sync()
    assert [(c["stage"], c["origin"]) for c in world.changes()] == [("Demo Given", "observed")]
    world.deal(1, at=world.tick(120), sales_stage="Demo Given",
               cf_potentials_demogivenchangedat=moved_at.strftime("%m-%d-%Y %I:%M %p"))  # fmt: skip
    world.sync()
    assert [(c["stage"], c["origin"], c["changed_at"]) for c in world.changes()] == [("Demo Given", "field", moved_at)]


# --- faults ---------------------------------------------------------------------------------------------------------

FAULTS: dict[str, dict[str, Any]] = {
    "500 persisting on page 3": {"status": 500, "times": 50},
    "malformed JSON on page 3": {"status": 200, "body": b'{"success": true, "result": {"updated": ['},
    "empty body on page 3": {"status": 200, "body": b""},
    "success false on page 3": {"error": ("DATABASE_QUERY_ERROR", "Database error while performing operation")},
    "timeouts on page 3": {"raise_exc": requests.ReadTimeout("read timed out"), "times": 50},
    "the process crashing on page 3": {"raise_exc": RuntimeError("worker killed"), "times": 1},
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_a_failure_half_way_loses_nothing_and_the_next_run_recovers(world: World, fault: str) -> None:
    for n in range(1, 351):  # 4 pages of /sync
        world.case(n, at=world.now - timedelta(seconds=1000 - n))
    world.populate(3)
    world.emulator.inject(path="/sync", when=lambda _p, params: params["elementType"] == "Cases", after=2,
                          **FAULTS[fault])  # fmt: skip
    error = world.sync_failing()
    runs = {r["module"]: r for r in world.runs()}
    assert runs["Cases"]["status"] == "failed"
    assert runs["Cases"]["error"]
    assert runs["Cases"]["rows_inserted"] == 200  # pages 1 and 2 were committed
    assert runs["Potentials"]["status"] == runs["PhoneCalls"]["status"] == "success"
    assert str(error) in runs["Cases"]["error"] or "worker killed" in runs["Cases"]["error"]
    assert len(world.rows(cases)) == 200
    world.assert_watermark_safe("Cases")

    world.emulator.clear_faults()
    assert counts(world.sync())["Cases"] == (150, 0, 0)
    world.assert_mirrors()
    assert counts(world.sync())["Cases"] == (0, 0, 0)


def test_429_with_flood_control_headers_waits_and_the_run_succeeds(world: World) -> None:
    world.populate(3)
    reset = int(world.client.clock()) + 30
    world.emulator.inject(status=429, path="/sync", headers={"X-FloodControl-Remaining": "0",
                          "X-FloodControl-Reset": str(reset)})  # fmt: skip
    world.sync()
    world.assert_mirrors()
    assert len(world.slept) == 1 and 0 < world.slept[0] <= 31
    assert {r["status"] for r in world.runs()} == {"success"}


def test_a_429_that_persists_fails_the_run_and_the_next_run_recovers(world: World) -> None:
    world.populate(3)
    world.emulator.inject(status=429, path="/sync", headers={"Retry-After": "1"}, times=100)
    error = world.sync_failing()
    assert "rate limit" in str(error)
    assert world.rows(cases) == {}
    world.emulator.clear_faults()
    world.sync()
    world.assert_mirrors()


# --- the keyset fallback ------------------------------------------------------------------------------------------


def test_a_non_admin_api_user_falls_back_to_the_keyset_query_and_says_so(
    engine: Engine, settings_for: Callable[..., Settings]
) -> None:
    world = World(engine, settings_for(), admin=False)
    bulk = world.now - timedelta(hours=1)
    for n in range(1, 121):
        world.case(n, at=bulk)
    world.populate(3)
    world.sync()
    world.assert_mirrors()
    watermark, extra = read_state(engine, "vtiger", "Cases")
    assert extra["method"] == "query"
    assert "/sync was refused" in extra["warning"] and "ACCESS_DENIED" in extra["warning"]
    assert int(watermark) == max(parse_unix(r["modifiedtime"]) for r in world.emulator.records("Cases"))
    world.tick()
    world.case(2, at=world.now, casestatus="Closed")
    runs = world.sync()
    assert counts(runs)["Cases"] == (0, 1, 0)
    world.assert_mirrors()


def test_a_sync_endpoint_failing_from_the_start_falls_back_to_the_keyset_query(world: World) -> None:
    world.populate(3)
    world.emulator.inject(status=503, path="/sync", times=1000)
    world.sync()
    world.assert_mirrors()
    assert read_state(world.engine, "vtiger", "PhoneCalls")[1]["method"] == "query"


# --- full sync and reconciliation -----------------------------------------------------------------------------------


def test_a_full_sync_finds_records_purged_from_the_recycle_bin(world: World) -> None:
    world.populate(5)
    world.sync()
    world.emulator.purge("Cases", "39x4")  # gone without ever being listed in `deleted`
    world.emulator.purge("Potentials", "5x1")
    assert counts(world.sync())["Cases"] == (0, 0, 0)
    runs = world.sync(full=True)
    assert counts(runs)["Cases"] == (0, 0, 1)
    assert counts(runs)["Potentials"] == (0, 0, 1)
    world.assert_mirrors()
    assert "reconciled_at" in read_state(world.engine, "vtiger", "Cases")[1]


def test_the_lock_is_refreshed_between_pages(world: World) -> None:
    for n in range(1, 251):
        world.case(n, at=world.now - timedelta(seconds=1000 - n))

    class Lock:
        refreshed = 0

        def refresh(self) -> None:
            self.refreshed += 1

    lock = Lock()
    world.sync(lock=lock)
    assert lock.refreshed >= 3 + 2  # three Cases pages, at least one page for each other module


# --- fetching the next page while one is stored -------------------------------------------------------------------


def _cases_one_a_second(world: World, count: int) -> list[dict[str, Any]]:
    """`count` cases one second apart, oldest first: /sync pages of 100 end at records 100, 200, ..."""
    return [world.case(n, at=world.now - timedelta(seconds=1000 - n)) for n in range(1, count + 1)]


def _page_fetchers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "vtiger-page-fetcher"]


def _cases_writes(monkeypatch: pytest.MonkeyPatch, during: Callable[[int], None] = lambda _page: None) -> list[dict]:
    """Record every write_state of Cases (inside its page's transaction); `during(page number)` runs there."""
    writes: list[dict[str, Any]] = []

    def recording(conn: Any, source: str, module: str, watermark: str, extra: dict | None = None) -> None:
        if module == "Cases":
            writes.append({"watermark": watermark, "extra": extra is not None})
            during(len(writes))
        write_state(conn, source, module, watermark, extra)

    monkeypatch.setattr(vtiger_sync, "write_state", recording)
    return writes


def test_a_fetch_error_on_page_3_while_page_2_is_stored_keeps_the_watermark_at_page_2(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _cases_one_a_second(world, 350)
    world.emulator.inject(path="/sync", when=lambda _p, params: params["elementType"] == "Cases", after=2,
                          error=("DATABASE_QUERY_ERROR", "Database error while performing operation"))  # fmt: skip
    failed_before_page_2_committed: list[bool] = []

    def on_page(page: int) -> None:
        if page == 2:  # page 2's rows are written, not committed: the fetch of page 3 fails meanwhile
            for fetcher in _page_fetchers():
                fetcher.join(10)
            failed_before_page_2_committed.append(_cases_sync_calls(world) == 3 and not _page_fetchers())

    writes = _cases_writes(monkeypatch, on_page)
    error = world.sync_failing()
    assert failed_before_page_2_committed == [True]
    assert "DATABASE_QUERY_ERROR" in str(error)
    runs = {r["module"]: r for r in world.runs()}
    assert runs["Cases"]["status"] == "failed" and "DATABASE_QUERY_ERROR" in runs["Cases"]["error"]
    assert runs["Cases"]["rows_inserted"] == 200
    assert runs["Potentials"]["status"] == runs["PhoneCalls"]["status"] == "success"
    assert set(world.rows(cases)) == {r["id"] for r in records[:200]}
    page_2_end = parse_unix(records[199]["modifiedtime"])
    assert [int(w["watermark"]) for w in writes] == [parse_unix(records[99]["modifiedtime"]), page_2_end]
    assert read_state(world.engine, "vtiger", "Cases")[0] == str(page_2_end)
    world.assert_watermark_safe("Cases")
    assert not _page_fetchers()

    world.emulator.clear_faults()
    assert counts(world.sync())["Cases"] == (150, 0, 0)
    world.assert_mirrors()


def test_a_failure_storing_a_page_stops_the_fetcher_and_the_next_run_recovers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _cases_one_a_second(world, 350)
    map_record = vtiger_sync._VtigerSync.map_record

    def failing(self: Any, module: str, record: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if record["id"] == records[149]["id"]:  # on page 2
            raise RuntimeError("disk full")
        return map_record(self, module, record, *args, **kwargs)

    monkeypatch.setattr(vtiger_sync._VtigerSync, "map_record", failing)
    error = world.sync_failing()
    assert "disk full" in str(error)
    assert not _page_fetchers()  # stopped and waited for: nothing uses the client after the run
    cases_pages = [p for _m, e, p in world.emulator.log if e == "/sync" and p["elementType"] == "Cases"]
    # Page 2 failed: page 3 (handed over) and page 4 (waiting to be) may have been fetched, page 5 never.
    assert 2 <= len(cases_pages) <= 4
    assert set(world.rows(cases)) == {r["id"] for r in records[:100]}
    assert read_state(world.engine, "vtiger", "Cases")[0] == str(parse_unix(records[99]["modifiedtime"]))
    assert {r["module"]: r["status"] for r in world.runs()}["Cases"] == "failed"

    monkeypatch.undo()
    assert counts(world.sync())["Cases"] == (250, 0, 0)
    world.assert_mirrors()


def test_the_fetcher_stays_one_page_ahead(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _cases_one_a_second(world, 650)
    fetched: list[int] = []

    def on_page(page: int) -> None:
        # While page 1 is stored the fetcher may get pages 2 (handed over) and 3 (waiting), never page 4.
        if page == 1:
            deadline = time.monotonic() + 10
            while _cases_sync_calls(world) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # room for a fetcher that does not wait to run further ahead
            fetched.append(_cases_sync_calls(world))

    _cases_writes(monkeypatch, on_page)
    world.sync()
    assert fetched == [3]
    world.assert_mirrors()


def _cases_sync_calls(world: World) -> int:
    return sum(1 for _m, e, p in list(world.emulator.log) if e == "/sync" and p["elementType"] == "Cases")


def test_a_users_reread_mid_module_never_shares_the_client_with_the_fetcher(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.populate(2)
    world.sync()
    world.emulator.users.append(
        {"id": "19x9", "user_name": "new@example.com", "first_name": "Nia", "last_name": "New", "email1": "",
         "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"}
    )  # fmt: skip
    world.tick(2000)  # the cases below come after the first run's watermark
    records = _cases_one_a_second(world, 350)
    world.case(150, at=world.now - timedelta(seconds=1000 - 150), assigned_user_id="19x9")  # on page 2
    guard, active, most = threading.Lock(), [0], [0]
    reply = world.emulator.reply

    def counting_reply(*args: Any, **kwargs: Any) -> Any:
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.005)  # widens the window in which two threads would overlap
            return reply(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(world.emulator, "reply", counting_reply)
    calls_before = len(world.emulator.log)
    runs = world.sync()
    assert most[0] == 1
    assert [r.module for r in runs] == ["users", "Cases", "users", "Potentials", "PhoneCalls"]
    assert world.rows(cases)[records[149]["id"]]["assignee_name"] == "Nia New"
    # Each run counts its own requests, though the users re-read ran while the fetcher was paging Cases.
    log = world.emulator.log[calls_before:]
    cases_calls = sum(1 for _m, _e, p in log if p.get("elementType") == "Cases")
    assert runs[1].requests == cases_calls
    assert sum(r.requests for r in runs) == len(log)
    world.assert_mirrors()


def test_the_watermark_is_written_with_every_page_and_extra_only_when_it_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cases_one_a_second(world, 250)
    for n in range(1, 151):
        world.deal(n, at=world.now - timedelta(seconds=1000 - n))
    for n in (50, 120):  # a problem on each of the two Potentials pages: extra changes on both
        world.deal(n, at=world.now - timedelta(seconds=1000 - n), cf_potentials_demogivenchangedat="soon")
    written: list[tuple[str, bool]] = []

    def recording(conn: Any, source: str, module: str, watermark: str, extra: dict | None = None) -> None:
        written.append((module, extra is not None))
        write_state(conn, source, module, watermark, extra)

    monkeypatch.setattr(vtiger_sync, "write_state", recording)
    world.sync()
    assert [with_extra for module, with_extra in written if module == "Cases"] == [True, False, False]
    assert [with_extra for module, with_extra in written if module == "Potentials"] == [True, True]
    _, extra = read_state(world.engine, "vtiger", "Cases")
    assert extra["method"] == "sync" and extra["idPrefix"] == "39x" and "casestatus" in extra["picklists"]
    _, extra = read_state(world.engine, "vtiger", "Potentials")
    assert extra["stage_time_problems"]["count"] == 2
    written.clear()
    world.sync()  # every run writes its extra once: the checks and picklists may have changed in between
    assert [with_extra for module, with_extra in written if module == "Cases"] == [True]

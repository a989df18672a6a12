"""sync/vtiger_mapping.py: API records → rows, names, resolution times, call times and deal stage changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from settings import CaseRules, SalesRules, StageRule
from sync.vtiger_mapping import (
    Directory,
    call_row,
    case_row,
    deal_row,
    field_stage_changes,
    group_row,
    observed_stage_change,
    parse_local,
    parse_utc,
    reconcile_stage_changes,
    unknown_ids,
    user_row,
)

SEEN = datetime(2026, 3, 1, 8, 0, 0)
CHICAGO = ZoneInfo("America/Chicago")
RULES = CaseRules()
SALES = SalesRules(
    stages=(
        StageRule("Demo Scheduled", 5, "cf_potentials_qualifiedby", "cf_potentials_demoscheduledchangedat"),
        StageRule("Demo Given", 5, "assignee", "cf_potentials_demogivenchangedat"),
    )
)


@pytest.fixture
def directory() -> Directory:
    users = [
        user_row({"id": "19x5", "user_name": "ann@x.com", "first_name": "Ann", "last_name": "Lee",
                  "email1": "ann@x.com", "status": "Active", "user_primary_group": "20x2"}),
        user_row({"id": "19x6", "user_name": "bob@x.com", "first_name": "", "last_name": "", "status": "Inactive"}),
    ]  # fmt: skip
    groups = [group_row({"id": "20x2", "groupname": "Sales"}), group_row({"id": "20x3", "groupname": "Support"})]
    return Directory(
        users={u["source_id"]: u for u in users},
        groups={g["source_id"]: g["name"] for g in groups},
        employees={"68x40": "19x5"},
    )


def case(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "39x10", "case_no": "CC21063", "title": "Printer on fire", "casestatus": "Open",
        "casepriority": "High", "assigned_user_id": "19x5", "group_id": "20x3", "modifiedby": "19x6",
        "createdtime": "2026-02-01 10:00:00", "modifiedtime": "2026-02-03 11:30:00", "time_spent": "0.594",
        "sla_actual_closureon": "", "satisfaction_index": "",
    }  # fmt: skip
    record.update(fields)
    return record


def deal(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "5x77", "potential_no": "POT2122", "potentialname": "Big deal", "amount": "12000.00000000",
        "sales_stage": "Demo Scheduled", "pipeline": "Standard Sales Pipeline", "closingdate": "2026-04-30",
        "assigned_user_id": "19x5", "modifiedby": "19x5", "cf_potentials_qualifiedby": "19x6",
        "createdtime": "2020-12-08 21:27:04", "modifiedtime": "2020-12-08 21:28:00",
        "current_stage_entry_time": "", "cf_potentials_demoscheduledchangedat": "12-08-2020 03:27 PM",
        "cf_potentials_demogivenchangedat": "",
    }  # fmt: skip
    record.update(fields)
    return record


# --- users, groups, names -----------------------------------------------------------------------------------------


def test_user_rows_fall_back_to_the_login_for_a_name(directory: Directory) -> None:
    assert directory.users["19x5"]["full_name"] == "Ann Lee"
    assert directory.users["19x5"]["primary_group_id"] == "20x2"
    assert directory.users["19x6"]["full_name"] == "bob@x.com"


def test_unknown_ids_are_ws_ids_the_directory_cannot_name(directory: Directory) -> None:
    records = [
        {"assigned_user_id": "19x5", "modifiedby": "19x99", "group_id": "20x8"},
        {"assigned_user_id": "", "modifiedby": "Maxwell", "group_id": "20x2"},
    ]
    assert unknown_ids(records, ("assigned_user_id", "modifiedby", "group_id"), directory) == {"19x99", "20x8"}


# --- cases ----------------------------------------------------------------------------------------------------------


def test_a_case_row_resolves_people_and_parses_values(directory: Directory) -> None:
    row = case_row(case(), directory, RULES, seen_at=SEEN)
    assert row["source_id"] == "39x10"
    assert (row["assignee_name"], row["group_id"], row["group_name"]) == ("Ann Lee", "20x3", "Support")
    assert (row["modified_by_id"], row["modified_by_name"]) == ("19x6", "bob@x.com")
    assert row["created_at"] == datetime(2026, 2, 1, 10, 0, 0)
    assert row["updated_at"] == datetime(2026, 2, 3, 11, 30, 0)
    assert row["time_spent_hours"] == pytest.approx(0.594)
    assert row["resolved_at"] is None
    assert row["deleted_at"] is None and row["first_seen_at"] == SEEN
    assert row["raw"] == case()


def test_a_case_assigned_to_a_group_is_named_by_the_group(directory: Directory) -> None:
    row = case_row(case(assigned_user_id="20x2", group_id=""), directory, RULES, seen_at=SEEN)
    assert (row["assignee_name"], row["group_id"], row["group_name"]) == ("Sales", "20x2", "Sales")


def test_empty_strings_are_empty_values(directory: Directory) -> None:
    row = case_row(case(time_spent="", modifiedby="", createdtime=""), directory, RULES, seen_at=SEEN)
    assert row["time_spent_hours"] is None and row["modified_by_name"] == "" and row["created_at"] is None


def test_resolution_time_comes_from_sla_actual_closureon(directory: Directory) -> None:
    record = case(casestatus="Resolved", sla_actual_closureon="2026-02-02 09:15:00")
    assert case_row(record, directory, RULES, seen_at=SEEN)["resolved_at"] == datetime(2026, 2, 2, 9, 15)


def test_first_seen_resolved_uses_modifiedtime_not_the_clock(directory: Directory) -> None:
    row = case_row(case(casestatus="Resolved"), directory, RULES, seen_at=SEEN)
    assert row["resolved_at"] == datetime(2026, 2, 3, 11, 30, 0)


def test_a_stored_resolution_is_kept_while_the_case_stays_resolved(directory: Directory) -> None:
    stored = {"status": "Resolved", "resolved_at": datetime(2026, 2, 3, 11, 30)}
    later = case(casestatus="Closed", modifiedtime="2026-02-10 08:00:00")
    assert case_row(later, directory, RULES, seen_at=SEEN, stored=stored)["resolved_at"] == datetime(2026, 2, 3, 11, 30)


def test_a_reopened_case_loses_its_resolution_time(directory: Directory) -> None:
    stored = {"status": "Resolved", "resolved_at": datetime(2026, 2, 3, 11, 30)}
    reopened = case(casestatus="Open", sla_actual_closureon="2026-02-03 11:30:00")
    assert case_row(reopened, directory, RULES, seen_at=SEEN, stored=stored)["resolved_at"] is None


def test_resolved_statuses_come_from_the_rules(directory: Directory) -> None:
    rules = CaseRules(resolved_statuses=("Done",))
    assert case_row(case(casestatus="Resolved"), directory, rules, seen_at=SEEN)["resolved_at"] is None
    assert case_row(case(casestatus="Done"), directory, rules, seen_at=SEEN)["resolved_at"] is not None


# --- deals ----------------------------------------------------------------------------------------------------------


def test_a_deal_row(directory: Directory) -> None:
    row = deal_row(deal(), directory, SALES, seen_at=SEEN)
    assert row["amount"] == 12000.0 and row["closing_date"] == date(2026, 4, 30)
    assert (row["deal_no"], row["name"], row["stage"]) == ("POT2122", "Big deal", "Demo Scheduled")
    assert (row["assignee_name"], row["group_id"], row["group_name"]) == ("Ann Lee", "20x2", "Sales")
    assert (row["qualified_by_id"], row["qualified_by_name"]) == ("19x6", "bob@x.com")
    assert row["stage_entered_at"] is None


def test_qualified_by_an_employee_id_resolves_through_the_employee_map(directory: Directory) -> None:
    row = deal_row(deal(cf_potentials_qualifiedby="68x40"), directory, SALES, seen_at=SEEN)
    assert (row["qualified_by_id"], row["qualified_by_name"]) == ("68x40", "Ann Lee")
    row = deal_row(deal(cf_potentials_qualifiedby="68x41"), directory, SALES, seen_at=SEEN)
    assert (row["qualified_by_id"], row["qualified_by_name"]) == ("68x41", "")


def test_the_qualified_by_field_is_configurable(directory: Directory) -> None:
    rules = replace(SALES, qualified_by_field="cf_potentials_setter")
    row = deal_row(deal(cf_potentials_setter="19x5"), directory, rules, seen_at=SEEN)
    assert row["qualified_by_name"] == "Ann Lee"


def test_a_deal_owned_by_a_group(directory: Directory) -> None:
    row = deal_row(deal(assigned_user_id="20x3"), directory, SALES, seen_at=SEEN)
    assert (row["assignee_name"], row["group_id"], row["group_name"]) == ("Support", "20x3", "Support")


def test_pm_in_a_stage_field_is_the_afternoon_in_the_users_time_zone(directory: Directory) -> None:
    row = deal_row(deal(), directory, SALES, seen_at=SEEN)
    changes, problems = field_stage_changes(deal(), row, SALES, CHICAGO)
    assert problems == []
    assert len(changes) == 1
    change = changes[0]
    # 03:27 PM in Chicago (UTC-6 in December) is 21:27 UTC: the old dashboard read it as 03:27.
    assert change["changed_at"] == datetime(2020, 12, 8, 21, 27)
    assert (change["stage"], change["origin"], change["previous_stage"]) == ("Demo Scheduled", "field", "")
    assert (change["assignee_name"], change["group_name"], change["qualified_by_name"]) == (
        "Ann Lee",
        "Sales",
        "bob@x.com",
    )


def test_am_and_noon_parse_right() -> None:
    fmt = SalesRules().stage_time_format
    utc = ZoneInfo("UTC")
    assert parse_local("12-08-2020 12:05 AM", utc, fmt) == datetime(2020, 12, 8, 0, 5)
    assert parse_local("12-08-2020 12:05 PM", utc, fmt) == datetime(2020, 12, 8, 12, 5)
    assert parse_local("12-08-2020 03:27 PM", ZoneInfo("America/New_York"), fmt) == datetime(2020, 12, 8, 20, 27)


def test_an_unreadable_stage_time_is_reported_not_guessed(directory: Directory) -> None:
    record = deal(cf_potentials_demoscheduledchangedat="yesterday-ish")
    row = deal_row(record, directory, SALES, seen_at=SEEN)
    changes, problems = field_stage_changes(record, row, SALES, CHICAGO)
    assert changes == []
    assert [(p.deal_id, p.field, p.value) for p in problems] == [
        ("5x77", "cf_potentials_demoscheduledchangedat", "yesterday-ish")
    ]


def test_an_observed_transition_needs_a_stored_row_in_another_stage(directory: Directory) -> None:
    record = deal(sales_stage="Demo Given", modifiedtime="2026-02-05 16:00:00")
    row = deal_row(record, directory, SALES, seen_at=SEEN)
    assert observed_stage_change(record, row, None) is None
    assert observed_stage_change(record, row, {"stage": "Demo Given"}) is None
    change = observed_stage_change(record, row, {"stage": "Demo Scheduled", "updated_at": datetime(2026, 2, 1)})
    assert change is not None
    assert (change["stage"], change["previous_stage"], change["origin"]) == ("Demo Given", "Demo Scheduled", "observed")
    assert change["changed_at"] == datetime(2026, 2, 5, 16, 0)


def test_an_observed_transition_uses_the_stage_entry_time_when_it_is_plausible(directory: Directory) -> None:
    record = deal(sales_stage="Demo Given", modifiedtime="2026-02-05 16:00:00")
    record["current_stage_entry_time"] = "2026-02-04 09:00:00"
    row = deal_row(record, directory, SALES, seen_at=SEEN)
    stored = {"stage": "Demo Scheduled", "updated_at": datetime(2026, 2, 1)}
    change = observed_stage_change(record, row, stored)
    assert change is not None and change["changed_at"] == datetime(2026, 2, 4, 9, 0)
    stale = {"stage": "Demo Scheduled", "updated_at": datetime(2026, 2, 4, 12, 0)}  # entry before our last look
    change = observed_stage_change(record, row, stale)
    assert change is not None and change["changed_at"] == datetime(2026, 2, 5, 16, 0)


def _change(stage: str, at: datetime, origin: str) -> dict[str, Any]:
    return {"deal_source_id": "5x77", "stage": stage, "changed_at": at, "origin": origin, "deleted_at": None}


def test_a_field_change_within_24_hours_wins_over_an_observed_one() -> None:
    field = _change("Demo Given", datetime(2026, 2, 5, 15, 58), "field")
    observed = _change("Demo Given", datetime(2026, 2, 5, 16, 0), "observed")
    keep, drop = reconcile_stage_changes([field, observed], [])
    assert keep == [field] and drop == []
    # The field change arrives after the observed one was stored: the stored one goes.
    keep, drop = reconcile_stage_changes([field], [observed])
    assert keep == [field] and drop == [("5x77", "Demo Given", datetime(2026, 2, 5, 16, 0))]
    # An observed change already backed by a stored field change is not written.
    keep, drop = reconcile_stage_changes([observed], [field])
    assert keep == [] and drop == []


def test_changes_further_apart_or_of_other_stages_both_stay() -> None:
    field = _change("Demo Given", datetime(2026, 2, 1, 9, 0), "field")
    later = _change("Demo Given", datetime(2026, 2, 5, 16, 0), "observed")
    other = _change("Pilot", datetime(2026, 2, 1, 9, 30), "observed")
    keep, drop = reconcile_stage_changes([field, later, other], [])
    assert keep == [field, later, other] and drop == []


# --- phone calls ---------------------------------------------------------------------------------------------------


def call(**fields: Any) -> dict[str, Any]:
    record = {
        "id": "43x9", "callstatus": "completed", "direction": "outbound", "starttime": "2026-01-15 09:48:02",
        "endtime": "2026-01-15 09:48:58", "totalduration": "56", "assigned_user_id": "19x5", "modifiedby": "19x5",
        "customernumber": "+15551234", "recordingurl": "", "createdtime": "2026-01-15 14:48:02",
        "modifiedtime": "2026-01-15 14:49:00",
    }  # fmt: skip
    record.update(fields)
    return record


def test_call_start_is_the_local_starttime_converted_to_utc(directory: Directory) -> None:
    row = call_row(call(), directory, ZoneInfo("America/New_York"), seen_at=SEEN)
    assert row["started_at"] == datetime(2026, 1, 15, 14, 48, 2)  # = createdtime, as in the reference sample
    assert row["ended_at"] == datetime(2026, 1, 15, 14, 48, 58)
    assert row["duration_seconds"] == 56
    assert (row["assignee_name"], row["group_name"]) == ("Ann Lee", "Sales")
    assert row["customer_number"] == "+15551234"


def test_without_starttime_a_call_starts_at_createdtime(directory: Directory) -> None:
    row = call_row(call(starttime="", endtime=""), directory, CHICAGO, seen_at=SEEN)
    assert row["started_at"] == datetime(2026, 1, 15, 14, 48, 2)
    assert row["ended_at"] == datetime(2026, 1, 15, 14, 48, 58)  # start + totalduration


def test_an_empty_duration_is_zero(directory: Directory) -> None:
    assert call_row(call(totalduration=""), directory, CHICAGO, seen_at=SEEN)["duration_seconds"] == 0


# API timestamps take a fast path (fromisoformat) when they have the API's exact shape; whatever the text, the
# answer must be what the strptime loop gives.
TIMESTAMP_TEXTS = [
    "2025-06-02 08:00:00", "2024-02-29 23:59:59", "2023-02-29 00:00:00", "2025-13-01 00:00:00",
    "2025-00-10 10:00:00", "2025-06-00 10:00:00", "2025-06-31 10:00:00", "2025-06-02 24:00:00",
    "2025-06-02 23:60:00", "2025-06-02 23:59:60", "0000-01-01 00:00:00", "2025-6-2 8:0:0", "2025-06-02 08:00",
    "2025-06-02T08:00:00", "2025-06-02 08:00:00.5", "2025-06-02 08:00:00+02:00", "2025-06-02", "20250602 080000",
    "２０２５-06-02 08:00:00", " 2025-06-02 08:00:00 ", "not a time", "",
]  # fmt: skip


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), fmt)
    except ValueError:
        return None


@pytest.mark.parametrize("text", TIMESTAMP_TEXTS)
def test_api_timestamps_parse_as_strptime_does(text: str) -> None:
    formats = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
    assert parse_utc(text) == next((m for fmt in formats if (m := _strptime(text, fmt))), None)
    local = _strptime(text, "%Y-%m-%d %H:%M:%S")
    expected = local.replace(tzinfo=CHICAGO).astimezone(UTC).replace(tzinfo=None) if local else None
    assert parse_local(text, CHICAGO) == expected

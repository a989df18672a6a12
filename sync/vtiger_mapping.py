"""Pure mapping from VTiger Cloud API records to rows of `cases`, `deals`, `deal_stage_changes`,
`phone_calls`, `vtiger_users` and `vtiger_groups` (column names: models/schema.py).

Rules, and the choices made where the API leaves room:
- `createdtime`/`modifiedtime` (and `sla_actual_closureon`, `current_stage_entry_time`) are UTC strings; date-only
  fields are `YYYY-MM-DD`; `""` is empty; currency strings become floats; `time_spent` is hours.
- Names: the assignee is a user (its full name) or a group (its name, and then the group columns are that group).
  Cases take their group from `group_id`; deals and calls from the assignee's primary group, as the old dashboard
  did. Ids that cannot be resolved keep their id with an empty name (the sync re-reads users first).
- Qualified by (the deal field `SalesRules.qualified_by_field`): a user ws id resolves directly; an Employees id
  (68x…, the old instance) resolves through the Employees → user map when the instance has one; anything else
  keeps its id and an empty name.
- Case resolution time: only a case whose status is now in `CaseRules.resolved_statuses` has one (a reopened case
  loses it). It is `sla_actual_closureon` when set; else the time already stored for this resolution; else the
  record's `modifiedtime` when sync first sees it resolved. Not the local clock: a first backfill must not put
  every old resolution on today.
- Phone calls: `started_at` is `starttime`, which VTiger gives in the API user's local time (reference 2.2: 5 h
  behind createdtime in the sample), converted from that zone to UTC; without `starttime` it is `createdtime`.
  `ended_at` is `endtime` the same way, else start + `totalduration`. Duration is `totalduration` seconds.
- Deal stage changes come from two places. "field": the configured "stage changed at" custom fields, text such
  as "12-08-2020 03:27 PM" in `stage_time_format` and the stage time zone. "observed": sync saw the stored stage
  differ from the record's; the change time is the record's `current_stage_entry_time` when it lies between the
  stored row's modifiedtime and the record's (it is VTiger's own time of entering the stage), else the record's
  `modifiedtime`. When a "field" change of the same deal and stage lies within 24 hours of an "observed" one,
  they are one transition seen twice: only the "field" one is kept (its time is the workflow's own).
  Names on a change are copied from the deal at the time sync records it, and never rewritten.
- Every source row keeps `raw` (the record as the API sent it), `first_seen_at`, and `deleted_at = None` (a
  record we can read exists, so a row marked deleted earlier comes back).

No I/O: no HTTP, no database, no clock (callers pass `seen_at`). Must not import Dash, Flask, requests or
sqlalchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from settings import CaseRules, SalesRules

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DOUBLE_COUNT_WINDOW = timedelta(hours=24)
WS_ID = re.compile(r"\d+x\d+")  # a web-service id such as 19x5 (a text field holding a name is not one)
# The exact shape VTiger sends ("2025-06-02 08:00:00"). For it, fromisoformat (C) gives what strptime (pure
# Python, ~15 µs a call, several calls per record) gives; anything else still goes through strptime.
API_TIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
DEFAULT_QUALIFIED_BY_FIELD = "cf_potentials_qualifiedby"


# --- the id → name directory ----------------------------------------------------------------------------------


@dataclass
class Directory:
    """Users (ws id → vtiger_users row), groups (ws id → name) and Employees ids (→ user ws id)."""

    users: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    employees: dict[str, str] = field(default_factory=dict)

    def knows(self, ws_id: str) -> bool:
        return not ws_id or ws_id in self.users or ws_id in self.groups or ws_id in self.employees

    def user_name(self, ws_id: str) -> str:
        user = self.users.get(self.employees.get(ws_id, ws_id))
        return str(user.get("full_name") or "") if user else ""

    def owner(self, ws_id: str) -> tuple[str, str, str]:
        """(assignee name, group id, group name) of an owner that is a user or a group."""
        if ws_id in self.groups:
            return self.groups[ws_id], ws_id, self.groups[ws_id]
        group_id = str((self.users.get(ws_id) or {}).get("primary_group_id") or "")
        return self.user_name(ws_id), group_id, self.groups.get(group_id, "")


def unknown_ids(records: Iterable[Mapping[str, Any]], fields: Iterable[str], directory: Directory) -> set[str]:
    """Reference ids (users, groups, employees) in these fields that the directory cannot name yet."""
    names = tuple(fields)
    found = set()
    for record in records:
        for name in names:
            value = text(record.get(name))
            if WS_ID.fullmatch(value) and not directory.knows(value):
                found.add(value)
    return found


def user_row(user: Mapping[str, Any]) -> dict[str, Any]:
    first, last, login = text(user.get("first_name")), text(user.get("last_name")), text(user.get("user_name"))
    return {
        "source_id": text(user.get("id")),
        "user_name": login,
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip() or login,
        "email": text(user.get("email1")),
        "status": text(user.get("status")),
        "primary_group_id": text(user.get("user_primary_group")),
        "raw": dict(user),
    }


def group_row(group: Mapping[str, Any]) -> dict[str, Any]:
    return {"source_id": text(group.get("id")), "name": text(group.get("groupname")), "raw": dict(group)}


# --- value parsing ----------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_utc(value: Any) -> datetime | None:
    """An API timestamp ("YYYY-MM-DD HH:MM:SS", UTC) as naive UTC; None when empty or not a timestamp."""
    raw = text(value)
    if not raw:
        return None
    for fmt in (API_TIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        moment = parse_format(raw, fmt)
        if moment is not None:
            return moment
    return None


def parse_local(value: Any, tz: ZoneInfo, fmt: str = API_TIME_FORMAT) -> datetime | None:
    """A local wall-clock text in `tz` as naive UTC; None when empty or not in `fmt`."""
    raw = text(value)
    if not raw:
        return None
    local = parse_format(raw, fmt)
    if local is None:
        return None
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def parse_format(raw: str, fmt: str) -> datetime | None:
    """`datetime.strptime(raw, fmt)`, or None when it refuses; the API's own format takes a fast path."""
    if fmt == API_TIME_FORMAT and API_TIME_SHAPE.fullmatch(raw):
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return None  # the right shape but no such moment (month 13), which strptime refuses too
    try:
        return datetime.strptime(raw, fmt)
    except ValueError:
        return None


def parse_date(value: Any) -> Any:
    moment = parse_utc(value) if len(text(value)) > 10 else None
    if moment is not None:
        return moment.date()
    try:
        return datetime.strptime(text(value), "%Y-%m-%d").date()
    except ValueError:
        return None


def parse_float(value: Any) -> float | None:
    """Currency and hours come as strings ("12000.00000000", "0.594"); "" is no value."""
    raw = text(value).replace(",", "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def parse_seconds(value: Any) -> int | None:
    """Durations are whole seconds as strings; "" means 0 (reference A.3), a missing field means unknown."""
    if value is None:
        return None
    raw = text(value)
    if not raw:
        return 0
    number = parse_float(raw)
    return None if number is None else round(number)


def _source_columns(record: Mapping[str, Any], seen_at: datetime) -> dict[str, Any]:
    return {
        "source_id": text(record.get("id")),
        "created_at": parse_utc(record.get("createdtime")),
        "updated_at": parse_utc(record.get("modifiedtime")),
        "deleted_at": None,
        "first_seen_at": seen_at,
        "raw": dict(record),
    }


# --- cases ------------------------------------------------------------------------------------------------------


def case_row(
    record: Mapping[str, Any],
    directory: Directory,
    rules: CaseRules,
    *,
    seen_at: datetime,
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Cases record → a `cases` row; `stored` is the row already in the database (for resolved_at)."""
    assignee_id = text(record.get("assigned_user_id"))
    assignee_name, _owner_group_id, _owner_group = directory.owner(assignee_id)
    group_id = text(record.get("group_id"))
    if not group_id and assignee_id in directory.groups:
        group_id = assignee_id
    modifier = text(record.get("modifiedby"))
    status = text(record.get("casestatus"))
    return {
        **_source_columns(record, seen_at),
        "case_no": text(record.get("case_no")),
        "title": text(record.get("title")),
        "status": status,
        "priority": text(record.get("casepriority")),
        "assignee_id": assignee_id,
        "assignee_name": assignee_name,
        "group_id": group_id,
        "group_name": directory.groups.get(group_id, ""),
        "modified_by_id": modifier,
        "modified_by_name": directory.user_name(modifier),
        "resolved_at": case_resolved_at(record, status, rules, stored),
        "time_spent_hours": parse_float(record.get("time_spent")),
        "satisfaction": text(record.get("satisfaction_index")),
        "reopen_count": _whole_or_none(record.get("reopen_count")),
        "source_due_at": parse_utc(record.get(rules.sla.due_field)) if rules.sla.due_field else None,
    }


def observed_status_changes(
    record: Mapping[str, Any], row: Mapping[str, Any], stored: Mapping[str, Any] | None, rules: CaseRules
) -> list[dict[str, Any]]:
    """The case's status changes this update shows against the stored row: the observed change (at the case's
    modification time), plus one "reopen_count" row when VTiger's reopen_count rose by more than the observed
    change explains (reopened and resolved again between two syncs). A new case has no history to compare."""
    if stored is None:
        return []
    changed_at = row["updated_at"] or row["first_seen_at"]
    base = {
        "case_source_id": row["source_id"],
        "changed_at": changed_at,
        "assignee_name": row["assignee_name"],
        "group_name": row["group_name"],
        "deleted_at": None,
    }
    changes = []
    if stored.get("status", "") != row["status"]:
        changes.append(
            {**base, "from_status": stored.get("status", ""), "to_status": row["status"], "origin": "observed"}
        )
    observed_reopens = sum(
        1 for change in changes if change["from_status"] in rules.resolved_statuses
        and change["to_status"] not in rules.resolved_statuses
    )  # fmt: skip
    before, now = stored.get("reopen_count"), row["reopen_count"]
    if before is not None and now is not None and now - before > observed_reopens:
        changes.append({**base, "from_status": "", "to_status": row["status"], "origin": "reopen_count"})
    return changes


def _whole_or_none(value: Any) -> int | None:
    try:
        return int(float(str(value))) if str(value).strip() else None
    except ValueError:
        return None


def case_resolved_at(
    record: Mapping[str, Any], status: str, rules: CaseRules, stored: Mapping[str, Any] | None
) -> datetime | None:
    if status not in rules.resolved_statuses:
        return None  # open, or reopened: a resolution that was undone does not count
    closed_on = parse_utc(record.get("sla_actual_closureon"))
    if closed_on is not None:
        return closed_on
    if stored and stored.get("resolved_at") and stored.get("status") in rules.resolved_statuses:
        return stored["resolved_at"]  # still the same resolution (e.g. Resolved → Closed)
    return parse_utc(record.get("modifiedtime"))


# --- deals ------------------------------------------------------------------------------------------------------


def deal_row(
    record: Mapping[str, Any], directory: Directory, rules: SalesRules, *, seen_at: datetime
) -> dict[str, Any]:
    assignee_id = text(record.get("assigned_user_id"))
    assignee_name, group_id, group_name = directory.owner(assignee_id)
    qualifier = text(record.get(qualified_by_field(rules)))
    modifier = text(record.get("modifiedby"))
    return {
        **_source_columns(record, seen_at),
        "deal_no": text(record.get("potential_no")),
        "name": text(record.get("potentialname")),
        "stage": text(record.get("sales_stage")),
        "pipeline": text(record.get("pipeline")),
        "amount": parse_float(record.get("amount")),
        "closing_date": parse_date(record.get("closingdate")),
        "assignee_id": assignee_id,
        "assignee_name": assignee_name,
        "group_id": group_id,
        "group_name": group_name,
        "qualified_by_id": qualifier,
        "qualified_by_name": directory.user_name(qualifier),
        "modified_by_id": modifier,
        "modified_by_name": directory.user_name(modifier),
        "stage_entered_at": parse_utc(record.get("current_stage_entry_time")),
    }


def qualified_by_field(rules: SalesRules) -> str:
    return str(getattr(rules, "qualified_by_field", "") or DEFAULT_QUALIFIED_BY_FIELD)


def reference_fields(module: str, rules: SalesRules) -> tuple[str, ...]:
    """The fields of a module that hold user/group ids the directory must know."""
    common = ("assigned_user_id", "modifiedby")
    if module == "Cases":
        return (*common, "group_id")
    if module == "Potentials":
        return (*common, qualified_by_field(rules))
    return common


@dataclass
class StageTimeProblem:
    """A "stage changed at" field whose text does not match the configured format."""

    deal_id: str
    field: str
    value: str


def field_stage_changes(
    record: Mapping[str, Any], deal: Mapping[str, Any], rules: SalesRules, tz: ZoneInfo
) -> tuple[list[dict[str, Any]], list[StageTimeProblem]]:
    """Stage changes written by the instance's workflows into the configured custom fields."""
    changes, problems = [], []
    for rule in rules.stages:
        if not rule.changed_at_field:
            continue
        value = text(record.get(rule.changed_at_field))
        if not value:
            continue
        changed_at = parse_local(value, tz, rules.stage_time_format)
        if changed_at is None:
            problems.append(StageTimeProblem(deal["source_id"], rule.changed_at_field, value))
            continue
        changes.append(_change(deal, rule.name, "", changed_at, "field"))
    return changes, problems


def observed_stage_change(
    record: Mapping[str, Any], deal: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The transition sync sees when the stored deal was in another stage; None on first sight or no change."""
    if stored is None or not deal["stage"] or stored.get("stage") == deal["stage"]:
        return None
    modified = deal["updated_at"]
    if modified is None:
        return None
    entered = deal.get("stage_entered_at")
    previous_modified = stored.get("updated_at")
    changed_at = modified
    if entered is not None and (previous_modified is None or previous_modified <= entered) and entered <= modified:
        changed_at = entered
    return _change(deal, deal["stage"], text(stored.get("stage")), changed_at, "observed")


def _change(deal: Mapping[str, Any], stage: str, previous: str, changed_at: datetime, origin: str) -> dict[str, Any]:
    return {
        "deal_source_id": deal["source_id"],
        "deal_no": deal["deal_no"],
        "stage": stage,
        "previous_stage": previous,
        "changed_at": changed_at,
        "origin": origin,
        "assignee_name": deal["assignee_name"],
        "group_name": deal["group_name"],
        "qualified_by_name": deal["qualified_by_name"],
        "deleted_at": None,
    }


def reconcile_stage_changes(
    new: Iterable[Mapping[str, Any]], stored: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[str, str, datetime]]]:
    """Drop double counts between the two origins: (rows to write, keys of stored observed rows to remove).

    A "field" change wins over an "observed" one of the same deal and stage within 24 hours, whichever arrived
    first. Keys are (deal_source_id, stage, changed_at).
    """
    new_rows = [dict(row) for row in new]
    live_rows = [dict(row) for row in stored if row.get("deleted_at") is None]
    fields = [row for row in [*new_rows, *live_rows] if row["origin"] == "field"]

    def near_field(row: Mapping[str, Any]) -> bool:
        return any(
            f["deal_source_id"] == row["deal_source_id"]
            and f["stage"] == row["stage"]
            and abs(f["changed_at"] - row["changed_at"]) <= DOUBLE_COUNT_WINDOW
            for f in fields
        )

    keep = [row for row in new_rows if row["origin"] == "field" or not near_field(row)]
    drop = [
        (row["deal_source_id"], row["stage"], row["changed_at"])
        for row in live_rows
        if row["origin"] == "observed" and near_field(row) and not _same_key_in(row, keep)
    ]
    return keep, drop


def _same_key_in(row: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> bool:
    key = (row["deal_source_id"], row["stage"], row["changed_at"])
    return any((r["deal_source_id"], r["stage"], r["changed_at"]) == key for r in rows)


# --- phone calls ------------------------------------------------------------------------------------------------


def call_row(
    record: Mapping[str, Any], directory: Directory, user_tz: ZoneInfo, *, seen_at: datetime
) -> dict[str, Any]:
    assignee_id = text(record.get("assigned_user_id"))
    assignee_name, group_id, group_name = directory.owner(assignee_id)
    modifier = text(record.get("modifiedby"))
    duration = parse_seconds(record.get("totalduration"))
    started = parse_local(record.get("starttime"), user_tz) or parse_utc(record.get("createdtime"))
    ended = parse_local(record.get("endtime"), user_tz)
    if ended is None and started is not None and duration is not None:
        ended = started + timedelta(seconds=duration)
    return {
        **_source_columns(record, seen_at),
        "status": text(record.get("callstatus")),
        "direction": text(record.get("direction")),
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": duration,
        "assignee_id": assignee_id,
        "assignee_name": assignee_name,
        "group_id": group_id,
        "group_name": group_name,
        "modified_by_id": modifier,
        "modified_by_name": directory.user_name(modifier),
        "customer_number": text(record.get("customernumber")),
        "recording_url": text(record.get("recordingurl")),
    }

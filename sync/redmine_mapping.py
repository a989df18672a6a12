"""Pure mapping from Redmine REST JSON to rows of `redmine_issues` and `redmine_statuses`, plus the timestamp
helpers the client and the sync share (Redmine's `YYYY-MM-DDTHH:MM:SSZ` <-> naive UTC datetimes).

No I/O here: no HTTP, no database, no clock (the caller passes `seen_at`). Must not import Dash, Flask,
requests or sqlalchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sync.engine import SyncError

REDMINE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class RedmineDataError(SyncError):
    """Redmine sent a record we cannot store faithfully (no id, a timestamp that is not one)."""


def parse_time(value: Any, *, issue_id: Any = "?", field: str = "timestamp") -> datetime | None:
    """Redmine's `2026-11-24T13:38:43Z` (or any ISO form with an offset) as naive UTC; None for null/empty."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RedmineDataError(f"Redmine issue {issue_id}: {field} {value!r} is not an ISO timestamp") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_time(moment: datetime) -> str:
    """A naive-UTC datetime in the only form Redmine's filters accept (whole seconds, `Z`)."""
    return moment.replace(microsecond=0).strftime(REDMINE_TIME_FORMAT)


def status_rows(statuses: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """/issue_statuses.json entries -> redmine_statuses rows."""
    rows = []
    for status in statuses:
        if not isinstance(status, Mapping) or not _is_int(status.get("id")):
            raise RedmineDataError(f"Redmine sent an issue status without an integer id: {status!r}")
        rows.append(
            {"id": int(status["id"]), "name": str(status.get("name") or ""), "is_closed": bool(status.get("is_closed"))}
        )
    return rows


def issue_row(
    issue: Mapping[str, Any], *, seen_at: datetime, closed_status_ids: Mapping[int, bool] | None = None
) -> dict[str, Any]:
    """One /issues.json entry -> a redmine_issues row.

    `closed_status_ids` ({status id: is_closed}, from redmine_statuses) is only the fallback for servers older
    than 5.0, whose issue JSON has no `status.is_closed`. `deleted_at` is always None: an issue we can read
    exists, so a row marked deleted earlier comes back to life on upsert.
    """
    if not isinstance(issue, Mapping) or not _is_int(issue.get("id")):
        raise RedmineDataError(f"Redmine sent an issue without an integer id: {str(issue)[:200]}")
    issue_id = int(issue["id"])
    status = _named(issue, "status")
    assignee = _named(issue, "assigned_to")
    return {
        "source_id": str(issue_id),
        "subject": str(issue.get("subject") or ""),
        "project_id": _int_or_none(_named(issue, "project").get("id")),
        "project_name": _name(issue, "project"),
        "tracker_name": _name(issue, "tracker"),
        "status_id": _int_or_none(status.get("id")),
        "status_name": _name(issue, "status"),
        "is_closed": _is_closed(status, closed_status_ids or {}),
        "priority_name": _name(issue, "priority"),
        "author_name": _name(issue, "author"),
        # assigned_to may be a group ({"id": 8, "name": "Support Team"}); its embedded name is all we need
        "assignee_id": _int_or_none(assignee.get("id")),
        "assignee_name": _name(issue, "assigned_to"),
        "created_at": parse_time(issue.get("created_on"), issue_id=issue_id, field="created_on"),
        "updated_at": parse_time(issue.get("updated_on"), issue_id=issue_id, field="updated_on"),
        "closed_at": parse_time(issue.get("closed_on"), issue_id=issue_id, field="closed_on"),
        "done_ratio": _int_or_none(issue.get("done_ratio")),
        "estimated_hours": _float_or_none(issue.get("estimated_hours")),
        "due_date": _date_or_none(issue.get("due_date")),
        "deleted_at": None,
        "first_seen_at": seen_at,
        "raw": dict(issue),
    }


def _named(issue: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested {id, name} object; Redmine leaves empty ones out, so absent means {}."""
    value = issue.get(key)
    return value if isinstance(value, Mapping) else {}


def _name(issue: Mapping[str, Any], key: str) -> str:
    return str(_named(issue, key).get("name") or "")


def _is_closed(status: Mapping[str, Any], closed_status_ids: Mapping[int, bool]) -> bool:
    if isinstance(status.get("is_closed"), bool):
        return status["is_closed"]
    status_id = _int_or_none(status.get("id"))
    return bool(closed_status_ids.get(status_id, False)) if status_id is not None else False


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().isdigit()


def _int_or_none(value: Any) -> int | None:
    return int(value) if _is_int(value) else None


def _float_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _date_or_none(value: Any) -> date | None:
    """Redmine's `due_date` ("2026-12-03"); anything else is no due date rather than a failed sync."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None

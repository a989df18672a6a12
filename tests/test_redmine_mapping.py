"""sync/redmine_mapping.py: Redmine 5.0 issue and status JSON -> rows, and the timestamp helpers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from sync.redmine_mapping import RedmineDataError, format_time, issue_row, parse_time, status_rows

SEEN = datetime(2026, 11, 24, 15, 0, 0)


def sample_issue(**changes: Any) -> dict[str, Any]:
    """An issue exactly as Redmine 5.0.4 lists it (copied from the live peer)."""
    issue: dict[str, Any] = {
        "id": 19,
        "project": {"id": 1, "name": "KPI Demo"},
        "tracker": {"id": 1, "name": "Bug"},
        "status": {"id": 6, "name": "Rejected", "is_closed": True},
        "priority": {"id": 3, "name": "High"},
        "author": {"id": 1, "name": "Redmine Admin"},
        "assigned_to": {"id": 8, "name": "Support Team"},
        "subject": "Demo issue 19",
        "description": "seeded",
        "start_date": "2026-11-24",
        "due_date": None,
        "done_ratio": 30,
        "is_private": False,
        "estimated_hours": 5.0,
        "total_estimated_hours": 5.0,
        "created_on": "2026-11-24T14:25:51Z",
        "updated_on": "2026-11-24T14:25:52Z",
        "closed_on": "2026-11-24T14:25:52Z",
    }
    issue.update(changes)
    return issue


def test_issue_row_maps_every_column() -> None:
    row = issue_row(sample_issue(), seen_at=SEEN)
    assert row == {
        "source_id": "19",
        "subject": "Demo issue 19",
        "project_id": 1,
        "project_name": "KPI Demo",
        "tracker_name": "Bug",
        "status_id": 6,
        "status_name": "Rejected",
        "is_closed": True,
        "priority_name": "High",
        "author_name": "Redmine Admin",
        "assignee_id": 8,
        "assignee_name": "Support Team",  # a group: its embedded name is kept
        "created_at": datetime(2026, 11, 24, 14, 25, 51),
        "updated_at": datetime(2026, 11, 24, 14, 25, 52),
        "closed_at": datetime(2026, 11, 24, 14, 25, 52),
        "done_ratio": 30,
        "estimated_hours": 5.0,
        "due_date": None,
        "deleted_at": None,
        "first_seen_at": SEEN,
        "raw": sample_issue(),
    }
    assert issue_row(sample_issue(due_date="2026-12-03"), seen_at=SEEN)["due_date"] == date(2026, 12, 3)
    assert issue_row(sample_issue(due_date="soon"), seen_at=SEEN)["due_date"] is None


def test_missing_nested_objects_become_blank_not_errors() -> None:
    issue = sample_issue(closed_on=None, estimated_hours=None, done_ratio=None)
    del issue["assigned_to"], issue["priority"]
    row = issue_row(issue, seen_at=SEEN)
    assert (row["assignee_id"], row["assignee_name"], row["priority_name"]) == (None, "", "")
    assert (row["closed_at"], row["estimated_hours"], row["done_ratio"]) == (None, None, None)


def test_is_closed_comes_from_the_embedded_status_first() -> None:
    # The statuses table says 6 is open (stale); Redmine 5.0's embedded flag wins.
    assert issue_row(sample_issue(), seen_at=SEEN, closed_status_ids={6: False})["is_closed"] is True


def test_is_closed_falls_back_to_the_statuses_table_for_older_servers() -> None:
    old_style = sample_issue(status={"id": 5, "name": "Closed"})
    assert issue_row(old_style, seen_at=SEEN, closed_status_ids={5: True})["is_closed"] is True
    assert issue_row(old_style, seen_at=SEEN, closed_status_ids={})["is_closed"] is False


def test_resolved_is_open_when_redmine_says_so() -> None:
    resolved = sample_issue(status={"id": 3, "name": "Resolved", "is_closed": False}, closed_on=None)
    assert issue_row(resolved, seen_at=SEEN)["is_closed"] is False


def test_timestamps_with_offsets_become_naive_utc() -> None:
    row = issue_row(sample_issue(updated_on="2026-11-24T16:25:52+02:00"), seen_at=SEEN)
    assert row["updated_at"] == datetime(2026, 11, 24, 14, 25, 52)


@pytest.mark.parametrize(
    ("issue", "message"),
    [
        ({"subject": "no id"}, "without an integer id"),
        (sample_issue(id=True), "without an integer id"),
        (sample_issue(updated_on="yesterday"), "issue 19: updated_on 'yesterday' is not an ISO timestamp"),
    ],
)
def test_unusable_issues_are_clear_errors(issue: dict[str, Any], message: str) -> None:
    with pytest.raises(RedmineDataError, match=message):
        issue_row(issue, seen_at=SEEN)


def test_status_rows() -> None:
    statuses = [{"id": 1, "name": "New", "is_closed": False}, {"id": 5, "name": "Closed", "is_closed": True}]
    assert status_rows(statuses) == [
        {"id": 1, "name": "New", "is_closed": False},
        {"id": 5, "name": "Closed", "is_closed": True},
    ]
    with pytest.raises(RedmineDataError, match="issue status without an integer id"):
        status_rows([{"name": "Nameless"}])


def test_time_helpers_round_trip_in_redmines_filter_format() -> None:
    moment = datetime(2026, 11, 24, 13, 38, 44, 994082)
    assert format_time(moment) == "2026-11-24T13:38:44Z"  # whole seconds: fractions get 422 from Redmine
    assert parse_time("2026-11-24T13:38:44Z") == datetime(2026, 11, 24, 13, 38, 44)
    assert parse_time(None) is None
    assert parse_time("") is None

"""sync/demo/redmine_emulator.py reproduces the Redmine 5.0 behaviour recorded in reference/redmine-api.md, so
tests and the demo that run on it mean something for the real server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from sync.demo.redmine_emulator import EMULATOR_URL
from tests.emulator_faults import FaultyRedmineEmulator

NOW = datetime(2026, 11, 24, 18, 0, 0)
T = datetime(2026, 11, 24, 13, 38, 44)


@pytest.fixture
def emulator() -> FaultyRedmineEmulator:
    emulator = FaultyRedmineEmulator(clock=lambda: NOW, api_key="key")
    # As Redmine's database keeps them: 13:38:43.5 (shown :43), 13:38:44.0, 13:38:44.9 (shown :44), 13:38:45.2.
    for issue_id, moment in enumerate(
        [T - timedelta(milliseconds=500), T, T + timedelta(milliseconds=900), T + timedelta(milliseconds=1200)],
        start=1,
    ):
        status = {"id": 5, "name": "Closed"} if issue_id == 4 else {"id": 1, "name": "New"}
        emulator.put_issue({"id": issue_id, "subject": f"#{issue_id}", "status": status}, updated_at=moment)
    return emulator


def get(emulator: FaultyRedmineEmulator, path: str, key: str = "key", **params: Any) -> tuple[int, Any]:
    status, _, body = emulator.handle("GET", path, {k: str(v) for k, v in params.items()}, {"X-Redmine-API-Key": key})
    return status, json.loads(body) if body and body.startswith(b"{") else body


def ids(emulator: FaultyRedmineEmulator, **params: Any) -> list[int]:
    status, body = get(emulator, "/issues.json", **{"status_id": "*", "sort": "updated_on,id", **params})
    assert status == 200, body
    return [issue["id"] for issue in body["issues"]]


def test_timestamps_are_shown_truncated_to_the_second(emulator: FaultyRedmineEmulator) -> None:
    _, body = get(emulator, "/issues/1.json")
    assert body["issue"]["updated_on"] == "2026-11-24T13:38:43Z"


def test_greater_or_equal_means_after_the_previous_second(emulator: FaultyRedmineEmulator) -> None:
    # `>=13:38:44` is `updated_on > 13:38:43`: it includes issue 1, shown as 13:38:43.
    assert ids(emulator, updated_on=">=2026-11-24T13:38:44Z") == [1, 2, 3, 4]
    assert ids(emulator, updated_on=">=2026-11-24T13:38:45Z") == [3, 4]
    assert ids(emulator, updated_on="<=2026-11-24T13:38:44Z") == [1, 2]
    assert ids(emulator, updated_on="><2026-11-24T13:38:45Z|2026-11-24T13:38:45Z") == [3]


def test_bad_timestamps_get_422(emulator: FaultyRedmineEmulator) -> None:
    for value in (">=2026-11-24T13:38:44+00:00", ">=2026-11-24T13:38:44.5Z", ">=yesterday", "2026-11-24"):
        assert get(emulator, "/issues.json", updated_on=value) == (422, {"errors": ["Updated is invalid"]})


def test_status_filter_defaults_to_open(emulator: FaultyRedmineEmulator) -> None:
    _, body = get(emulator, "/issues.json")
    assert [issue["id"] for issue in body["issues"]] == [3, 2, 1]  # default sort id:desc, closed #4 left out
    assert ids(emulator, status_id="closed") == [4]
    assert ids(emulator, status_id="1|5") == [1, 2, 3, 4]
    assert body["issues"][0]["status"]["is_closed"] is False  # filled in from the statuses, as 5.0 does


def test_limit_is_clamped_and_total_count_is_the_whole_match(emulator: FaultyRedmineEmulator) -> None:
    for n in range(5, 160):
        emulator.put_issue({"id": n, "status": {"id": 1, "name": "New"}}, updated_at=T + timedelta(seconds=n))
    _, body = get(emulator, "/issues.json", status_id="*", limit=500)
    assert (len(body["issues"]), body["limit"], body["total_count"]) == (100, 100, 159)
    _, body = get(emulator, "/issues.json", status_id="*", limit=0)
    assert body["limit"] == 25
    _, body = get(emulator, "/issues.json", status_id="*", sort="id", limit=50, page=2)
    assert (body["offset"], body["issues"][0]["id"]) == (50, 51)


def test_issue_id_filters(emulator: FaultyRedmineEmulator) -> None:
    assert ids(emulator, issue_id="2,4,99") == [2, 4]
    assert ids(emulator, issue_id=">=3") == [3, 4]
    assert ids(emulator, issue_id="><2|3") == [2, 3]


def test_a_bad_key_is_anonymous(emulator: FaultyRedmineEmulator) -> None:
    assert get(emulator, "/users/current.json", key="nope")[0] == 401
    status, body = get(emulator, "/issues.json", key="nope", status_id="*")
    assert (status, body["issues"], body["total_count"]) == (200, [], 0)


def test_missing_records_and_unknown_paths(emulator: FaultyRedmineEmulator) -> None:
    assert get(emulator, "/issues/99.json") == (404, b"")
    status, headers, body = emulator.handle("GET", "/issue_priorities.json", {}, {})
    assert (status, headers["Content-Type"].split(";")[0], body[:15]) == (404, "text/html", b"<!DOCTYPE html>")


def test_future_issues_appear_when_the_clock_reaches_them() -> None:
    now = [NOW]
    emulator = FaultyRedmineEmulator(clock=lambda: now[0], api_key="key")
    emulator.put_issue({"id": 1, "status": {"id": 1, "name": "New"}}, updated_at=NOW + timedelta(minutes=10))
    assert ids(emulator) == []
    now[0] += timedelta(minutes=10)
    assert ids(emulator) == [1]


def test_update_and_delete(emulator: FaultyRedmineEmulator) -> None:
    emulator.update_issue(1, {"subject": "renamed"}, at=NOW)
    assert emulator.issue(1)["subject"] == "renamed"
    assert ids(emulator)[-1] == 1  # moved to the end of the updated_on order
    emulator.delete_issue(1)
    assert 1 not in ids(emulator)


def test_session_and_faults(emulator: FaultyRedmineEmulator) -> None:
    session = emulator.session()
    url = EMULATOR_URL + "/issues.json"
    emulator.fail(503, times=2, after=1)
    emulator.rate_limit(retry_after=7, path="/issue_statuses.json")
    assert session.get(url, timeout=5).status_code == 200  # `after=1` lets the first through
    assert [session.get(url, timeout=5).status_code for _ in range(3)] == [503, 503, 200]
    limited = session.get(EMULATOR_URL + "/issue_statuses.json", timeout=5)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    emulator.timeout()
    with pytest.raises(requests.ReadTimeout):
        session.get(url, timeout=5)
    slept: list[float] = []
    emulator.sleep = slept.append
    emulator.delay(2)
    assert session.get(url, timeout=5).status_code == 200 and slept == [2]
    emulator.malformed()
    with pytest.raises(ValueError):
        session.get(url, timeout=5).json()

"""sync/redmine.py against the emulator: credential checks, clear errors for every kind of bad reply, and the
keyset paging loop (offset 0, overlap seconds, bulk edits within one second, edits during paging, no local clock,
no endless loops)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from settings import RedmineSettings
from sync.demo.redmine_emulator import EMULATOR_URL
from sync.engine import SyncError
from sync.redmine import IssuePage, RedmineAuthError, RedmineClient, RedmineError
from tests.emulator_faults import FaultyRedmineEmulator

T0 = datetime(2026, 11, 24, 9, 0, 0)
NOW = datetime(2026, 11, 24, 18, 0, 0)
KEY = "k" * 40


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_issue(issue_id: int, status_id: int = 1) -> dict[str, Any]:
    names = {1: "New", 2: "In Progress", 5: "Closed", 6: "Rejected"}
    return {
        "id": issue_id,
        "project": {"id": 1, "name": "KPI Demo"},
        "tracker": {"id": 1, "name": "Bug"},
        "status": {"id": status_id, "name": names[status_id]},
        "subject": f"Issue {issue_id}",
    }


def fill(
    emulator: FaultyRedmineEmulator, count: int, start: datetime = T0, step: timedelta = timedelta(seconds=7)
) -> None:
    """`count` issues (every fourth closed), issue n updated at start + n*step plus a fraction of a second, as
    Redmine's database stores it."""
    for n in range(1, count + 1):
        moment = start + n * step + timedelta(microseconds=(n * 137_131) % 1_000_000)
        emulator.put_issue(make_issue(n, 5 if n % 4 == 0 else 1), updated_at=moment)


@pytest.fixture
def emulator() -> FaultyRedmineEmulator:
    return FaultyRedmineEmulator(clock=Clock(), api_key=KEY)


def client_for(emulator: FaultyRedmineEmulator, sleeps: list[float] | None = None, **kwargs: Any) -> RedmineClient:
    kwargs.setdefault("api_key", KEY)
    record = sleeps.append if sleeps is not None else (lambda seconds: None)
    return RedmineClient(EMULATOR_URL, session=emulator.session(), sleep=record, **kwargs)


def collect(pages: Iterator[IssuePage]) -> tuple[list[int], str]:
    """Every id handed out, and the final watermark; checks the watermark never moves backwards."""
    ids: list[int] = []
    watermark = ""
    for page in pages:
        ids.extend(issue["id"] for issue in page.issues)
        assert page.watermark >= watermark, "the watermark moved backwards"
        watermark = page.watermark
    return ids, watermark


def issue_requests(emulator: FaultyRedmineEmulator) -> list[dict[str, str]]:
    return [params for method, path, params in emulator.requests if path == "/issues.json"]


# --- credentials ------------------------------------------------------------------------------------------------


def test_current_user_with_a_good_key(emulator: FaultyRedmineEmulator) -> None:
    assert client_for(emulator).current_user()["login"] == "demo"


def test_a_bad_key_is_one_clear_error_although_issues_json_would_answer_200(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 3)
    client = client_for(emulator, api_key="wrong")
    # The trap: as anonymous, /issues.json "works" and shows nothing.
    assert collect(client.issue_pages())[0] == []
    with pytest.raises(RedmineAuthError) as caught:
        client.current_user()
    assert str(caught.value) == (
        "Redmine rejected REDMINE_API_KEY (401): copy the key from My account → API access key"
    )


def test_a_disabled_rest_api_is_a_distinct_error(emulator: FaultyRedmineEmulator) -> None:
    emulator.rest_api_enabled = False
    with pytest.raises(RedmineAuthError, match=r"\(403\): enable it in Administration → Settings → API"):
        client_for(emulator).current_user()


def test_basic_auth_with_username_and_password(emulator: FaultyRedmineEmulator) -> None:
    # The emulator accepts Basic <key>:<anything>, as Redmine does.
    client = client_for(emulator, api_key="", username=KEY, password="x")
    assert client.current_user()["id"] == 1
    with pytest.raises(RedmineAuthError, match="rejected REDMINE_USERNAME/REDMINE_PASSWORD"):
        client_for(emulator, api_key="", username="nobody", password="x").current_user()


def test_an_old_credentials_json_key_in_the_password_field_still_works() -> None:
    """credentials.json had redmine_username + redmine_access_key; the "access key" is usually the API key."""
    hex_key = "0123456789abcdef" * 2 + "01234567"
    emulator = FaultyRedmineEmulator(api_key=hex_key)
    client = RedmineClient(EMULATOR_URL, username="alice", password=hex_key, session=emulator.session())
    assert client.current_user()["login"] == "demo"
    assert client.statuses()  # later calls use the key too
    wrong = RedmineClient(EMULATOR_URL, username="alice", password="f" * 40, session=emulator.session())
    with pytest.raises(RedmineAuthError, match="REDMINE_USERNAME/REDMINE_PASSWORD"):
        wrong.current_user()


def test_no_credentials_at_all_is_refused_up_front() -> None:
    with pytest.raises(RedmineAuthError, match="REDMINE_API_KEY is empty"):
        RedmineClient(EMULATOR_URL)


def test_from_settings_prefers_the_key(emulator: FaultyRedmineEmulator) -> None:
    settings = RedmineSettings(url=EMULATOR_URL + "/", api_key=KEY, username="old", password="pw")
    client = RedmineClient.from_settings(settings, session=emulator.session())
    assert client.base_url == EMULATOR_URL
    assert client.current_user()["login"] == "demo"


# --- bad replies -------------------------------------------------------------------------------------------------


def test_a_wrong_base_url_gets_an_html_404_and_a_clear_error(emulator: FaultyRedmineEmulator) -> None:
    client = RedmineClient(EMULATOR_URL + "/projects/kpi", api_key=KEY, session=emulator.session())
    with pytest.raises(
        RedmineError, match=r"has no /issue_statuses.json \(404, an HTML page\): check that REDMINE_URL"
    ):
        client.statuses()


def test_an_empty_404_is_a_clear_error(emulator: FaultyRedmineEmulator) -> None:
    client = client_for(emulator)
    emulator.fail(404, path="/issue_statuses.json")
    with pytest.raises(RedmineError, match=r"answered 404 for /issue_statuses\.json"):
        client.statuses()


def test_a_422_shows_redmines_own_errors(emulator: FaultyRedmineEmulator) -> None:
    emulator.fail(422, path="/issues.json", body=b'{"errors":["Updated is invalid","Tracker is invalid"]}')
    with pytest.raises(RedmineError, match=r"rejected the query /issues.json \(422\): Updated is invalid; Tracker"):
        list(client_for(emulator).issue_pages())


def test_the_emulator_refuses_fractional_seconds_like_redmine(emulator: FaultyRedmineEmulator) -> None:
    session = emulator.session()
    params = {"status_id": "*", "updated_on": ">=2026-11-24T13:38:44.5+00:00"}
    response = session.get(EMULATOR_URL + "/issues.json", params=params, headers={"X-Redmine-API-Key": KEY})
    assert (response.status_code, response.json()) == (422, {"errors": ["Updated is invalid"]})


def test_malformed_json_is_a_clear_error(emulator: FaultyRedmineEmulator) -> None:
    emulator.malformed(path="/issue_statuses.json")
    with pytest.raises(RedmineError, match="with a body that is not JSON"):
        client_for(emulator).statuses()


def test_json_of_the_wrong_shape_is_a_clear_error(emulator: FaultyRedmineEmulator) -> None:
    emulator.fail(200, path="/issues.json", body=b'{"issues": "nope"}')
    with pytest.raises(RedmineError, match="did not return an issues list"):
        list(client_for(emulator).issue_pages())


def test_server_errors_and_rate_limits_are_retried(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 5)
    emulator.fail(500, path="/issues.json")
    emulator.rate_limit(retry_after=3, path="/issues.json")
    sleeps: list[float] = []
    client = client_for(emulator, sleeps)
    ids, _ = collect(client.issue_pages())
    assert sorted(ids) == [1, 2, 3, 4, 5]
    assert 3 in sleeps  # Retry-After honoured
    assert client.requests == 3


def test_a_timeout_is_retried(emulator: FaultyRedmineEmulator) -> None:
    emulator.put_issue(make_issue(1), updated_at=T0)
    emulator.timeout(path="/issue_statuses.json")
    assert len(client_for(emulator).statuses()) == 6


def test_persistent_failure_ends_in_a_sync_error(emulator: FaultyRedmineEmulator) -> None:
    emulator.fail(503, times=50)
    with pytest.raises(SyncError):
        client_for(emulator).statuses()


# --- keyset paging -------------------------------------------------------------------------------------------------


def test_pages_with_offset_zero_and_a_moving_watermark(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 250)
    ids, watermark = collect(client_for(emulator).issue_pages())
    assert sorted(set(ids)) == list(range(1, 251))
    assert len(ids) == len(set(ids)), "an issue was handed out twice"
    assert watermark == emulator.issue(250)["updated_on"]
    sent = issue_requests(emulator)
    assert all(p["offset"] == "0" and p["sort"] == "updated_on,id" and p["status_id"] == "*" for p in sent)
    assert all(p["limit"] == "100" for p in sent)
    assert "updated_on" not in sent[0]
    assert sent[1]["updated_on"] == ">=" + emulator.issue(100)["updated_on"]
    assert len(sent) == 3


def test_closed_issues_are_included(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 8)
    ids, _ = collect(client_for(emulator).issue_pages())
    assert {4, 8} <= set(ids)


def test_incremental_from_a_watermark_rereads_only_the_overlap(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 30)
    since = emulator.issue(20)["updated_on"]
    ids, watermark = collect(client_for(emulator).issue_pages(since))
    # `>=T` also returns what displays as T-1s; with 7 s between issues that is just issue 20 itself.
    assert sorted(ids) == list(range(20, 31))
    assert watermark == emulator.issue(30)["updated_on"]


def test_the_watermark_never_comes_from_the_local_clock(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 3)
    _, watermark = collect(client_for(emulator).issue_pages())
    assert watermark == emulator.issue(3)["updated_on"]
    # Nothing new: the watermark stays, it does not jump to "now".
    assert collect(client_for(emulator).issue_pages(watermark)) == ([3], watermark)


def test_nothing_is_missed_when_an_issue_is_edited_between_pages(emulator: FaultyRedmineEmulator) -> None:
    """Reference B.3's drift: with offsets, editing an issue of page 1 shifts page 2 and skips one."""
    fill(emulator, 250)
    client = client_for(emulator)
    clock = emulator.clock
    assert isinstance(clock, Clock)  # the fixture's, which can be moved on
    ids: list[int] = []
    for number, page in enumerate(client.issue_pages()):
        ids.extend(issue["id"] for issue in page.issues)
        if number == 0:
            clock.now += timedelta(minutes=5)
            emulator.update_issue(1, {"subject": "edited while paging"})
            emulator.update_issue(150, {"subject": "edited before it was read"})
    assert set(ids) == set(range(1, 251))
    assert ids.count(1) == 2  # read again after the edit
    assert ids.count(150) == 1


def test_a_bulk_edit_within_one_second_is_walked_by_id(emulator: FaultyRedmineEmulator) -> None:
    """250 issues in the same second: a full page with no progress triggers the `><W|W+1s` walk."""
    for n in range(1, 251):
        emulator.put_issue(make_issue(n), updated_at=T0 + timedelta(microseconds=n * 3000))
    emulator.put_issue(make_issue(251), updated_at=T0 + timedelta(seconds=5))
    ids, watermark = collect(client_for(emulator).issue_pages())
    assert set(ids) == set(range(1, 252))
    assert len(ids) == len(set(ids))
    assert watermark == "2026-11-24T09:00:05Z"
    walk = [p for p in issue_requests(emulator) if p.get("updated_on", "").startswith("><")]
    assert walk and all(p["sort"] == "id" for p in walk)
    assert walk[0]["updated_on"] == "><2026-11-24T09:00:00Z|2026-11-24T09:00:01Z"


def test_a_bulk_edit_straddling_a_second_boundary(emulator: FaultyRedmineEmulator) -> None:
    # 150 issues at 09:00:00.5-09:00:00.999 and 150 at 09:00:01.0-09:00:01.5: pages sit within two seconds.
    for n in range(1, 301):
        emulator.put_issue(make_issue(n), updated_at=T0 + timedelta(milliseconds=500 + n * 3))
    ids, _ = collect(client_for(emulator, page_size=100).issue_pages())
    assert set(ids) == set(range(1, 301))


def test_small_pages_work_like_large_ones(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 57, step=timedelta(milliseconds=400))  # several issues per second
    ids, watermark = collect(client_for(emulator, page_size=5).issue_pages())
    assert set(ids) == set(range(1, 58))
    assert watermark == emulator.issue(57)["updated_on"]


def test_a_server_that_ignores_the_filter_stops_with_an_error_instead_of_looping(
    emulator: FaultyRedmineEmulator,
) -> None:
    fill(emulator, 250)
    emulator._conditions = lambda params: []  # type: ignore[method-assign]  # a proxy that strips filters: replaced on this instance
    with pytest.raises(RedmineError, match="ignored the updated_on filter"):
        collect(client_for(emulator).issue_pages())


def test_endless_new_activity_hits_the_page_budget(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 100)
    clock = emulator.clock
    assert isinstance(clock, Clock)  # the fixture's, which can be moved on
    client = client_for(emulator, page_size=10)
    next_id = 1000
    with pytest.raises(RedmineError, match="did not finish after"):
        for _page in client.issue_pages():
            # Someone keeps creating 10 issues a second, faster than we read.
            for _ in range(10):
                clock.now += timedelta(seconds=1)
                emulator.put_issue(make_issue(next_id), updated_at=clock.now)
                next_id += 1


def test_future_issues_are_invisible_until_their_time(emulator: FaultyRedmineEmulator) -> None:
    emulator.put_issue(make_issue(1), updated_at=NOW - timedelta(hours=1))
    emulator.put_issue(make_issue(2), updated_at=NOW + timedelta(hours=1))
    client = client_for(emulator)
    ids, watermark = collect(client.issue_pages())
    assert ids == [1]
    clock = emulator.clock
    assert isinstance(clock, Clock)  # the fixture's, which can be moved on
    clock.now = NOW + timedelta(hours=2)
    assert collect(client.issue_pages(watermark))[0] == [1, 2]


# --- ids for the reconciliation ---------------------------------------------------------------------------------------


def test_all_issue_ids_pages_by_id_keyset(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 230)
    emulator.delete_issue(17)
    client = client_for(emulator)
    assert client.all_issue_ids() == set(range(1, 231)) - {17}
    sent = issue_requests(emulator)
    assert [p["issue_id"] for p in sent] == [">=1", ">=102", ">=202"]
    assert all(p["status_id"] == "*" and p["offset"] == "0" for p in sent)


def test_issues_by_ids_drops_the_invisible(emulator: FaultyRedmineEmulator) -> None:
    fill(emulator, 5)
    found = client_for(emulator).issues_by_ids([2, 4, 99])
    assert sorted(issue["id"] for issue in found) == [2, 4]


def test_requests_are_counted(emulator: FaultyRedmineEmulator) -> None:
    client = client_for(emulator)
    client.current_user()
    client.statuses()
    assert client.requests == 2

"""sync/vtiger.py against the VTiger emulator served over real HTTP (pytest-httpserver), plus scripted replies for
the faults the emulator does not produce by itself. sync/demo/vtiger_emulator.py's own behaviour is checked here too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from sync.http import HttpError, HttpTimeout
from sync.vtiger import VtigerAuthError, VtigerClient, VtigerError, format_unix, parse_unix
from tests.emulator_faults import FaultyVtigerEmulator

KEY = "Zk3yS3cr3tAcc3ss"
NOW = datetime(2026, 3, 2, 12, 0, 0)
USERS = [
    {"id": "19x1", "user_name": "admin@example.com", "first_name": "Ada", "last_name": "Admin",
     "email1": "admin@example.com", "status": "Active", "user_primary_group": "20x2", "time_zone": "America/Chicago"},
    {"id": "19x7", "user_name": "sam@example.com", "first_name": "Sam", "last_name": "Seller",
     "email1": "sam@example.com", "status": "Inactive", "user_primary_group": "20x3", "time_zone": "UTC"},
]  # fmt: skip
GROUPS = [{"id": "20x2", "groupname": "Support"}, {"id": "20x3", "groupname": "Sales"}]


class FakeTime:
    """A clock the fake sleep moves forward, so flood-control waits take no real time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_emulator(**kwargs: Any) -> FaultyVtigerEmulator:
    options: dict[str, Any] = {"users": USERS, "groups": GROUPS, "clock": lambda: NOW}
    options.update(username="admin@example.com", access_key=KEY)
    options.update(kwargs)
    return FaultyVtigerEmulator(**options)


def put_cases(
    emulator: FaultyVtigerEmulator, count: int, *, second: datetime | None = None, start: int = 1
) -> list[str]:
    """`count` cases; all modified in `second` when given, else one per second from NOW - count seconds."""
    ids = []
    for number in range(start, start + count):
        modified = second or NOW - timedelta(seconds=10_000 - number)
        ws_id = f"{emulator.prefixes['Cases']}{number}"
        emulator.put(
            "Cases",
            {"id": ws_id, "case_no": f"CC{number}", "title": f"Case {number}", "casestatus": "Open",
             "assigned_user_id": "19x1" if number % 2 else "19x7", "createdtime": "2026-01-01 00:00:00",
             "modifiedtime": modified.strftime("%Y-%m-%d %H:%M:%S")},
        )  # fmt: skip
        ids.append(ws_id)
    return ids


@pytest.fixture(scope="module")
def running_server() -> Iterator[HTTPServer]:
    """A threaded local HTTP server (a deliberately slow reply must not block the retry behind it), started once
    per module because stopping a threaded server takes half a second."""
    httpserver = HTTPServer(threaded=True)
    httpserver.start()
    yield httpserver
    if httpserver.is_running():
        httpserver.stop()


@pytest.fixture
def server(running_server: HTTPServer) -> Iterator[HTTPServer]:
    running_server.clear()
    yield running_server
    running_server.clear()


@pytest.fixture
def emulator() -> FaultyVtigerEmulator:
    return make_emulator()


@pytest.fixture
def connect(server: HTTPServer) -> Callable[..., VtigerClient]:
    """A VtigerClient talking to an emulator over real HTTP, with a sleep that does not sleep."""

    def build(emulator: FaultyVtigerEmulator, key: str = KEY, **kwargs: Any) -> VtigerClient:
        server.clear()
        base_url = emulator.serve(server)
        kwargs.setdefault("sleep", lambda _seconds: None)
        return VtigerClient(base_url, "admin@example.com", key, **kwargs)

    return build


# --- credentials and describe -------------------------------------------------------------------------------------


def test_me_checks_the_credentials(emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]) -> None:
    client = connect(emulator)
    me = client.me()
    assert me["id"] == "19x1"
    assert client.time_zone == "America/Chicago"


def test_a_bad_key_is_one_clear_error_without_retries_or_the_key(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    client = connect(emulator, key="wrong-key-123")
    with pytest.raises(VtigerAuthError) as failure:
        client.me()
    message = str(failure.value)
    assert message.startswith("VTiger rejected VTIGER_USERNAME/VTIGER_ACCESS_KEY (401")
    assert "check the access key under My Preferences" in message
    assert "wrong-key-123" not in message
    assert client.requests == 1


def test_describe_reads_the_id_prefix_and_picklists(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    info = connect(emulator).describe("Cases")
    assert info.id_prefix == "39x"  # vtiger says "39"; the client always appends the x
    assert info.picklists["casestatus"][-2:] == ["Resolved", "Closed"]
    assert "case_no" in info.fields


def test_describe_handles_plain_string_picklists_and_other_prefixes(connect: Callable[..., VtigerClient]) -> None:
    emulator = make_emulator(picklist_style="plain", id_prefixes={"Potentials": "13x"})
    info = connect(emulator).describe("Potentials")
    assert info.id_prefix == "13x"
    assert "Demo Scheduled" in info.picklists["sales_stage"]


def test_picklist_values_accept_both_shapes() -> None:
    from sync.vtiger import picklist_values

    field = {"name": "s", "type": {"name": "picklist", "picklistValues": [{"label": "A", "value": "a"}, "B", ""]}}
    assert picklist_values(field) == ["a", "B"]
    assert picklist_values({"name": "t", "type": {"name": "string"}}) is None


# --- queries ------------------------------------------------------------------------------------------------------


def test_query_adds_the_mandatory_semicolon(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    put_cases(emulator, 3)
    client = connect(emulator)
    assert client.count("Cases") == 3
    assert [r["id"] for r in client.query("SELECT id FROM Cases ORDER BY id")] == ["39x1", "39x2", "39x3"]


def test_the_emulator_refuses_a_query_without_semicolon_and_caps_at_100(emulator: FaultyVtigerEmulator) -> None:
    put_cases(emulator, 120)
    status, _headers, body = emulator.handle(
        "GET", "/query", {"query": "SELECT id FROM Cases"}, (emulator.username, KEY)
    )
    assert status == 200
    assert json.loads(body)["error"]["code"] == "QUERY_SYNTAX_ERROR"
    assert "SEMICOLON" in json.loads(body)["error"]["message"]
    for vtql, expected in [("SELECT id FROM Cases LIMIT 150;", 100), ("SELECT id FROM Cases LIMIT 100,200;", 20)]:
        _status, _headers, body = emulator.handle("GET", "/query", {"query": vtql}, (emulator.username, KEY))
        assert len(json.loads(body)["result"]) == expected
    _status, _headers, body = emulator.handle(
        "GET", "/query", {"query": "SELECT count(*) FROM Cases;"}, (emulator.username, KEY)
    )
    assert json.loads(body)["result"] == [{"count": "120"}]


def test_paging_goes_past_100_rows_while_full_pages_come_back(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    ids = put_cases(emulator, 250)
    client = connect(emulator)
    rows = client.query_all("SELECT id FROM Cases ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert client.requests == 3
    queries = [params["query"] for _m, endpoint, params in emulator.log if endpoint == "/query"]
    assert queries[-1] == "SELECT id FROM Cases ORDER BY id LIMIT 200,100;"


def test_exactly_100_rows_costs_one_extra_empty_page(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    put_cases(emulator, 100)
    client = connect(emulator)
    assert len(client.query_all("SELECT id FROM Cases")) == 100
    assert client.requests == 2


def test_a_query_error_names_the_endpoint_and_code(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    with pytest.raises(VtigerError) as failure:
        connect(emulator).query("SELECT nosuchfield FROM Cases;")
    assert failure.value.code == "QUERY_SYNTAX_ERROR"
    assert "VTiger refused /query (QUERY_SYNTAX_ERROR): Unknown column nosuchfield" in str(failure.value)


# --- /sync --------------------------------------------------------------------------------------------------------


def test_sync_returns_every_tie_of_the_last_second_even_past_100(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    crowded = NOW - timedelta(days=1)
    put_cases(emulator, 150, second=crowded)
    put_cases(emulator, 5, start=151)
    client = connect(emulator)
    first = client.sync_page("Cases", 0)
    assert len(first.updated) == 150
    assert first.more is True
    assert first.last_modified_time == parse_unix(crowded.strftime("%Y-%m-%d %H:%M:%S"))
    second = client.sync_page("Cases", first.last_modified_time)
    assert len(second.updated) == 5 and second.more is False


def test_sync_lists_deleted_ids(emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]) -> None:
    put_cases(emulator, 3)
    emulator.delete("Cases", "39x2", NOW - timedelta(minutes=1))
    page = connect(emulator).sync_page("Cases", 0)
    assert page.deleted == ["39x2"]
    assert sorted(r["id"] for r in page.updated) == ["39x1", "39x3"]


def test_sync_application_needs_an_admin(connect: Callable[..., VtigerClient]) -> None:
    emulator = make_emulator(admin=False)
    put_cases(emulator, 4)
    client = connect(emulator)
    with pytest.raises(VtigerError) as failure:
        client.sync_page("Cases", 0)
    assert failure.value.code == "ACCESS_DENIED"
    assert "admin" in str(failure.value)
    # syncType=user silently shows only the caller's own records: why the dashboard never uses it.
    assert {r["assigned_user_id"] for r in client.sync_page("Cases", 0, sync_type="user").updated} == {"19x1"}


def test_records_modified_after_the_clock_are_invisible() -> None:
    now = {"value": NOW}
    emulator = make_emulator(clock=lambda: now["value"])
    emulator.put("Cases", {"id": "39x1", "createdtime": NOW, "modifiedtime": NOW + timedelta(minutes=5)})
    assert emulator.records("Cases") == []
    now["value"] = NOW + timedelta(minutes=5)
    assert [r["id"] for r in emulator.records("Cases")] == ["39x1"]


# --- keyset fallback ----------------------------------------------------------------------------------------------


def test_keyset_pages_read_everything_once_including_a_crowded_second(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    put_cases(emulator, 130)  # one per second
    put_cases(emulator, 230, second=NOW - timedelta(minutes=1), start=131)  # a bulk import in one second
    put_cases(emulator, 7, start=400)
    client = connect(emulator)
    seen: list[str] = []
    watermarks = []
    for page in client.keyset_pages("Cases", 0):
        seen += [r["id"] for r in page.records]
        watermarks.append(page.watermark)
    assert sorted(set(seen)) == sorted(r["id"] for r in emulator.records("Cases"))
    assert len(seen) == len(set(seen))
    assert watermarks == sorted(watermarks)
    assert format_unix(watermarks[-1]) == max(r["modifiedtime"] for r in emulator.records("Cases"))


def test_keyset_from_a_watermark_rereads_that_second(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    put_cases(emulator, 10)
    client = connect(emulator)
    fifth = parse_unix(emulator.records("Cases")[4]["modifiedtime"])
    pages = list(client.keyset_pages("Cases", fifth))
    assert [r["id"] for r in pages[0].records] == [f"39x{n}" for n in range(5, 11)]


# --- users, groups, employees --------------------------------------------------------------------------------------


def test_users_are_paged_and_include_the_primary_group_when_the_instance_has_it(
    connect: Callable[..., VtigerClient],
) -> None:
    many = USERS + [
        {"id": f"19x{n}", "user_name": f"u{n}", "first_name": "U", "last_name": str(n), "email1": "",
         "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"}
        for n in range(100, 230)
    ]  # fmt: skip
    emulator = make_emulator(users=many)
    client = connect(emulator)
    users = client.users()
    assert len(users) == len(many)
    assert users[0]["user_primary_group"] == "20x2"
    assert "accesskey" not in users[0]


def test_users_without_a_primary_group_field_are_read_without_it(connect: Callable[..., VtigerClient]) -> None:
    plain = [{k: v for k, v in u.items() if k not in ("user_primary_group", "time_zone")} for u in USERS]
    client = connect(make_emulator(users=plain))
    assert [u["id"] for u in client.users()] == ["19x1", "19x7"]
    assert [g["groupname"] for g in client.groups()] == ["Support", "Sales"]


def test_employees_map_to_users_or_to_nothing(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    assert connect(emulator).employee_users() == {}
    emulator.put(
        "Employees", {"id": "68x5", "user_id": "19x7", "createdtime": "2026-01-01 00:00:00", "modifiedtime": NOW}
    )
    assert connect(emulator).employee_users() == {"68x5": "19x7"}


def test_ids_and_existing_ids(emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]) -> None:
    put_cases(emulator, 205)
    emulator.delete("Cases", "39x3", NOW)
    client = connect(emulator)
    listed = [ws_id for page in client.ids("Cases") for ws_id in page]
    assert len(listed) == 204 and "39x3" not in listed
    assert client.existing_ids("Cases", ["39x1", "39x3", "39x999"]) == {"39x1"}


# --- faults ---------------------------------------------------------------------------------------------------------


def test_a_500_is_retried_and_the_call_succeeds(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    put_cases(emulator, 2)
    emulator.inject(status=500, path="/sync", times=2)
    client = connect(emulator)
    assert len(client.sync_page("Cases", 0).updated) == 2
    assert client.requests == 3


def test_a_persistent_500_is_a_clear_error_naming_the_endpoint(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    emulator.inject(status=500, path="/sync", times=10, body=b"<html>Fatal error</html>")
    client = connect(emulator, max_attempts=3)
    with pytest.raises(VtigerError) as failure:
        client.sync_page("Cases", 0)
    assert failure.value.status == 500
    assert "/sync" in str(failure.value) and "HTTP 500" in str(failure.value)
    assert client.requests == 3


def test_429_waits_for_the_flood_control_reset_then_retries(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    clock = FakeTime()
    emulator.rate_clock = clock.time
    put_cases(emulator, 2)
    emulator.inject(
        status=429,
        path="/query",
        headers={"X-FloodControl-Remaining": "0", "X-FloodControl-Reset": str(int(clock.now) + 20)},
    )
    client = connect(emulator, sleep=clock.sleep, clock=clock.time)
    assert client.count("Cases") == 2
    assert clock.sleeps == [20.5]


def test_429_honours_retry_after(emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]) -> None:
    clock = FakeTime()
    emulator.inject(status=429, path="/me", headers={"Retry-After": "9"})
    client = connect(emulator, sleep=clock.sleep, clock=clock.time)
    client.me()
    assert clock.sleeps == [9.0]


def test_a_low_flood_control_budget_slows_down_instead_of_hitting_429(connect: Callable[..., VtigerClient]) -> None:
    clock = FakeTime(start=1_800_000_030.0)  # half way through a minute
    emulator = make_emulator(minute_limit=5, rate_clock=clock.time)
    ids = put_cases(emulator, 450)
    client = connect(emulator, sleep=clock.sleep, clock=clock.time)
    rows = client.query_all("SELECT id FROM Cases ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert clock.sleeps, "the client should have waited for the minute to reset"
    assert all(0 < s <= 61 for s in clock.sleeps)
    assert client.requests == 5  # no 429 was provoked, so no retries


def test_a_timeout_over_real_http_is_retried(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    emulator.inject(path="/me", status=200, delay=0.6, body=b"{}")
    client = connect(emulator, timeout=(1.0, 0.2))
    assert client.me()["id"] == "19x1"
    assert client.requests == 2


def test_a_server_that_keeps_timing_out_is_a_clear_error(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    emulator.inject(path="/me", status=200, delay=0.3, body=b"{}", times=2)
    client = connect(emulator, timeout=(1.0, 0.1), max_attempts=2)
    with pytest.raises(HttpTimeout) as failure:
        client.me()
    assert "VTiger did not answer GET /restapi/v1/vtiger/default/me" in str(failure.value)


def test_success_false_is_an_error_naming_the_endpoint(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient]
) -> None:
    emulator.inject(path="/describe", error=("DATABASE_QUERY_ERROR", "Database error while performing operation"))
    with pytest.raises(VtigerError) as failure:
        connect(emulator).describe("Cases")
    assert str(failure.value) == (
        "VTiger refused /describe (DATABASE_QUERY_ERROR): Database error while performing operation"
    )


def test_a_4xx_with_the_message_only_in_the_reason_phrase(connect: Callable[..., VtigerClient]) -> None:
    emulator = make_emulator(error_style="reason")
    with pytest.raises(VtigerError) as failure:
        connect(emulator).query("SELECT id FROM Nowhere;")
    assert failure.value.status == 400
    assert failure.value.code == "ACCESS_DENIED"
    assert "Permission to perform the operation is denied for name Nowhere" in str(failure.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"", "with an empty body"), (b'{"success": tru', "with a body that is not JSON"),
     (b"<html><body>Login</body></html>", "with a body that is not JSON"), (b"[1, 2]", "not a VTiger reply")],
)  # fmt: skip
def test_empty_and_malformed_bodies_are_clear_errors(
    emulator: FaultyVtigerEmulator, connect: Callable[..., VtigerClient], body: bytes, expected: str
) -> None:
    emulator.inject(path="/me", status=200, body=body)
    with pytest.raises(VtigerError) as failure:
        connect(emulator).me()
    assert "/me" in str(failure.value) and expected in str(failure.value)


def _scripted_session(headers: dict[str, str], body: dict[str, Any]) -> requests.Session:
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict

    class Adapter(BaseAdapter):
        def send(
            self,
            request: requests.PreparedRequest,
            stream: bool = False,
            timeout: Any = None,
            verify: Any = True,
            cert: Any = None,
            proxies: Mapping[str, str] | None = None,
        ) -> requests.Response:
            response = requests.Response()
            response.status_code = 200
            response.headers = CaseInsensitiveDict(headers)
            response._content = json.dumps(body).encode()
            response.request = request
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://fake/", Adapter())
    return session


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-FloodControl-Remaining": "lots"}, {"X-FloodControl-Remaining": "0"},
     {"X-FloodControl-Remaining": "1", "X-FloodControl-Reset": "tomorrow"},
     {"X-FloodControl-Remaining": "1", "X-FloodControl-Reset": "1"}],
)  # fmt: skip
def test_missing_or_garbled_flood_headers_never_crash(headers: dict[str, str]) -> None:
    clock = FakeTime()
    session = _scripted_session(headers, {"success": True, "result": {"id": "19x1"}})
    client = VtigerClient("http://fake/api", "u", "k3y", session=session, sleep=clock.sleep, clock=clock.time)
    assert client.me() == {"id": "19x1"}
    assert clock.sleeps == []


def test_an_empty_access_key_is_refused_before_any_request() -> None:
    with pytest.raises(VtigerAuthError, match="VTIGER_ACCESS_KEY is empty"):
        VtigerClient("http://fake/api", "u", "")


def test_http_errors_from_the_shared_layer_are_sync_errors() -> None:
    from sync.engine import SyncError

    assert issubclass(VtigerError, SyncError) and issubclass(HttpError, SyncError)


def test_the_emulator_evaluates_the_vtql_subset(emulator: FaultyVtigerEmulator) -> None:
    put_cases(emulator, 12)
    emulator.put(
        "Cases", {**emulator.records("Cases")[0], "id": "39x13", "title": "It's broken", "casestatus": "Closed"}
    )

    def ids(vtql: str) -> list[str]:
        _status, _headers, body = emulator.handle("GET", "/query", {"query": vtql}, (emulator.username, KEY))
        reply = json.loads(body)
        assert reply["success"], reply
        return [row["id"] for row in reply["result"]]

    assert ids("SELECT id FROM Cases WHERE id > '39x9' ORDER BY id;") == ["39x10", "39x11", "39x12", "39x13"]
    assert ids("SELECT id FROM Cases WHERE id IN ('39x2','39x11') ORDER BY id DESC;") == ["39x11", "39x2"]
    assert ids("select id from Cases where casestatus = 'Closed' or id = '39x1' order by id limit 5;") == [
        "39x1",
        "39x13",
    ]
    assert ids("SELECT id FROM Cases WHERE title LIKE '%''s broken';") == ["39x13"]
    ordered = ids("SELECT id FROM Cases ORDER BY modifiedtime,id LIMIT 0,100;")
    assert ordered[:3] == ["39x1", "39x13", "39x2"]  # 39x13 shares 39x1's second: the id breaks the tie


def test_flood_control_headers_are_on_every_reply_even_errors(emulator: FaultyVtigerEmulator) -> None:
    for auth in ((emulator.username, KEY), ("x", "y")):
        _status, headers, _body = emulator.handle("GET", "/me", {}, auth)
        for name in ("X-FloodControl-MinuteLimit", "X-FloodControl-Remaining", "X-FloodControl-Reset"):
            assert name in headers

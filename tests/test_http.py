"""sync/http.py: timeouts, bounded retries with backoff, Retry-After, request counting, credential-free errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from email.utils import formatdate
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug import Request, Response

from sync.engine import SyncError
from sync.http import HttpClient, HttpConnectionError, HttpError, HttpTimeout, parse_retry_after

SECRET = "s3cr3t-access-key"


Reply = tuple[int, dict[str, str], bytes]  # status, headers, body
Step = Reply | BaseException  # what the adapter answers next: a reply, or an exception it raises


class Scripted(BaseAdapter):
    """A transport that answers from a script: (status, headers, body) tuples or exceptions to raise."""

    def __init__(self, *script: Step) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self.sent.append(request)
        self.timeouts = timeout
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        status, headers, body = step
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Server Error")
        response.headers = CaseInsensitiveDict(headers)
        response._content = body
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_for(adapter: Scripted, **kwargs: Any) -> tuple[HttpClient, list[float]]:
    session = requests.Session()
    session.mount("http://api.test/", adapter)
    session.auth = ("someone@example.com", SECRET)
    slept: list[float] = []
    http = HttpClient(session, sleep=slept.append, name="Test", jitter=lambda: 1.0, **kwargs)
    return http, slept


OK: Reply = (200, {}, b'{"ok": true}')


def test_a_server_error_is_retried_with_growing_backoff_and_every_attempt_counted() -> None:
    adapter = Scripted((500, {}, b""), (502, {}, b""), OK)
    http, slept = client_for(adapter, backoff_base=1.0)
    response = http.get("http://api.test/x")
    assert response.status_code == 200
    assert http.requests == 3
    assert slept == [1.0, 2.0]  # jitter pinned to its top: base, then doubled


def test_every_call_carries_the_default_connect_and_read_timeouts() -> None:
    adapter = Scripted(OK)
    http, _ = client_for(adapter)
    http.get("http://api.test/x")
    assert adapter.timeouts == (5.0, 30.0)


def test_backoff_is_jittered_and_capped() -> None:
    http = HttpClient(jitter=lambda: 0.0, backoff_base=1.0, backoff_cap=4.0)
    assert [http.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_429_honours_retry_after_in_seconds() -> None:
    http, slept = client_for(Scripted((429, {"Retry-After": "7"}, b""), OK))
    assert http.get("http://api.test/x").status_code == 200
    assert slept == [7.0]


def test_429_honours_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    adapter = Scripted((429, {"Retry-After": formatdate(now + 30, usegmt=True)}, b""), OK)
    http, slept = client_for(adapter, clock=lambda: now)
    http.get("http://api.test/x")
    assert slept == [30.0]


def test_a_source_rule_gives_the_wait_when_there_is_no_retry_after() -> None:
    http, slept = client_for(Scripted((429, {}, b""), OK), retry_wait=lambda response: 12.0)
    http.get("http://api.test/x")
    assert slept == [12.0]


def test_a_wait_longer_than_max_wait_fails_at_once_instead_of_blocking_the_worker() -> None:
    http, slept = client_for(Scripted((429, {"Retry-After": "3600"}, b"")), max_wait=300)
    with pytest.raises(HttpError) as failure:
        http.get("http://api.test/x")
    assert failure.value.status == 429
    assert "3600" in str(failure.value)
    assert slept == []
    assert http.requests == 1


def test_a_persistent_5xx_gives_up_after_max_attempts_with_a_clear_error() -> None:
    http, slept = client_for(Scripted((503, {}, b"<h1>down for maintenance</h1>")), max_attempts=3)
    with pytest.raises(HttpError) as failure:
        http.get(f"http://api.test/restapi/query?query=SELECT&key={SECRET}")
    error = failure.value
    assert isinstance(error, SyncError)
    assert error.status == 503
    assert http.requests == 3 and len(slept) == 2
    message = str(error)
    assert "Test failed on GET /restapi/query with HTTP 503" in message
    assert "down for maintenance" in message
    assert SECRET not in message and "query=" not in message


def test_client_errors_are_returned_not_retried() -> None:
    http, slept = client_for(Scripted((404, {}, b"{}")))
    assert http.get("http://api.test/x").status_code == 404
    assert http.requests == 1 and slept == []


def test_connection_errors_are_retried_then_reported_without_credentials() -> None:
    refused = requests.ConnectionError(f"Max retries exceeded with url: /x?api_key={SECRET} (Connection refused)")
    http, slept = client_for(Scripted(refused), max_attempts=4)
    with pytest.raises(HttpConnectionError) as failure:
        http.get(f"http://someone:{SECRET}@api.test/x?api_key={SECRET}")
    assert http.requests == 4 and len(slept) == 3
    assert failure.value.status is None
    assert SECRET not in str(failure.value)
    assert "could not reach Test for GET /x" in str(failure.value)


def test_a_post_is_not_repeated_after_a_5xx_but_is_after_a_429() -> None:
    http, _ = client_for(Scripted((500, {}, b"")))
    assert http.post("http://api.test/create", data={"a": "1"}).status_code == 500
    assert http.requests == 1
    http, _ = client_for(Scripted((429, {"Retry-After": "1"}, b""), OK))
    assert http.post("http://api.test/create", data={"a": "1"}).status_code == 200
    assert http.requests == 2


def test_on_response_sees_every_reply() -> None:
    seen: list[int] = []
    http, _ = client_for(Scripted((500, {}, b""), OK), on_response=lambda r: seen.append(r.status_code))
    http.get("http://api.test/x")
    assert seen == [500, 200]


def test_scrub_removes_the_session_secrets_and_key_like_parameters() -> None:
    session = requests.Session()
    session.headers["X-Redmine-API-Key"] = "redmine-key-123"
    http = HttpClient(session)
    text = "GET https://user:pw@host/x?key=abc&token=def&page=2 with redmine-key-123"
    scrubbed = http.scrub(text)
    for secret in ("pw@", "abc", "def", "redmine-key-123"):
        assert secret not in scrubbed
    assert "page=2" in scrubbed


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("5", 5.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, 0.0) == expected


# --- real sockets ---------------------------------------------------------------------------------------------------


@pytest.fixture
def slow_server() -> Iterator[HTTPServer]:
    """A threaded server (a slow reply must not hold up the retry behind it)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_a_read_timeout_over_real_http_is_retried_then_succeeds(slow_server: HTTPServer) -> None:
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(_request: Request) -> Response:
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        if first:
            time.sleep(0.6)
        return Response('{"ok": true}', content_type="application/json")

    slow_server.expect_request("/slow").respond_with_handler(handler)
    http = HttpClient(timeout=(1.0, 0.2), sleep=lambda _s: None, name="Test")
    assert http.get(slow_server.url_for("/slow")).json() == {"ok": True}
    assert http.requests == 2


def test_a_server_that_never_answers_in_time_is_a_clear_timeout(slow_server: HTTPServer) -> None:
    def handler(_request: Request) -> Response:
        time.sleep(0.4)
        return Response("late")

    slow_server.expect_request("/never").respond_with_handler(handler)
    http = HttpClient(timeout=(1.0, 0.1), sleep=lambda _s: None, name="Test", max_attempts=2)
    with pytest.raises(HttpTimeout) as failure:
        http.get(slow_server.url_for("/never"))
    assert "Test did not answer GET /never within 0.1 s (2 attempts)" in str(failure.value)


def test_a_refused_connection_over_real_sockets_is_a_connection_error() -> None:
    http = HttpClient(sleep=lambda _s: None, name="Test", max_attempts=2)
    with pytest.raises(HttpConnectionError) as failure:
        http.get("http://127.0.0.1:9/x")
    assert "could not reach Test" in str(failure.value)
    assert http.requests == 2

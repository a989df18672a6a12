"""The in-process transport of the source emulators (vtiger_emulator.py, redmine_emulator.py beside it): a
`requests.Session` whose calls to an emulator's URL are answered by a function instead of a socket, so the real
clients run unchanged against an emulator in tests, the benchmark and the demo source.

    session = emulator_session("http://redmine.emulator", answer)   # answer(call: EmulatedCall) -> Reply
    session.get("http://redmine.emulator/issues.json", params={...})  # -> answer(EmulatedCall("GET", ...))

`answer` may raise (a `requests.ReadTimeout` to emulate a timeout): the exception reaches the caller as a real
transport's would. Must not import Dash, Flask or the database layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@dataclass
class Reply:
    """What an emulator answers: status, headers, body and the status line's reason phrase."""

    status: int
    headers: dict[str, str]
    body: bytes
    reason: str = ""


@dataclass(frozen=True)
class EmulatedCall:
    """One request as an emulator sees it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]  # the url-encoded body of a POST; empty otherwise
    headers: Mapping[str, str]
    read_timeout: float | None  # what the caller allows for the answer (emulated timeouts compare against it)
    request: requests.PreparedRequest  # for the exceptions an emulator raises (requests wants it on them)


Answer = Callable[[EmulatedCall], Reply]


def emulator_session(origin: str, answer: Answer) -> requests.Session:
    """A requests.Session whose calls below `origin` ("http://redmine.emulator") go to `answer`."""
    session = requests.Session()
    session.mount(origin + "/", EmulatorAdapter(answer))
    return session


class EmulatorAdapter(BaseAdapter):
    """A requests transport adapter that hands each request to an emulator's `answer` instead of a socket."""

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        reply = self.answer(_call(request, timeout))
        response = requests.Response()
        response.status_code = reply.status
        response.reason = reply.reason
        response.headers = CaseInsensitiveDict(reply.headers)
        response._content = reply.body
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release: no sockets."""


def _call(request: requests.PreparedRequest, timeout: Any) -> EmulatedCall:
    parts = urlsplit(request.url or "")
    form: dict[str, str] = {}
    if request.body and request.method == "POST":
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        form = dict(parse_qsl(body, keep_blank_values=True))
    return EmulatedCall(
        method=request.method or "GET",
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        form=form,
        # requests allows bytes header values; the emulators read text.
        headers=CaseInsensitiveDict(
            {name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
        ),
        # requests passes the timeout as the caller gave it: one number, or (connect, read).
        read_timeout=timeout[1] if isinstance(timeout, tuple) else timeout,
        request=request,
    )

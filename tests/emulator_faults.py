"""Fault injection for the source emulators (sync/demo/vtiger_emulator.py, sync/demo/redmine_emulator.py), used by
the tests only: each emulator takes an `intercept` hook, and the subclasses here plug a fault queue into it.

    emulator = FaultyVtigerEmulator(users=..., groups=...)   # VtigerEmulator's options
    emulator.inject(status=500, path="/sync", after=2)       # the third /sync call answers 500
    emulator = FaultyRedmineEmulator(clock=..., api_key=KEY) # RedmineEmulator's options, plus `sleep`
    emulator.fail(503, times=2)                              # also rate_limit(), malformed(), timeout(), delay()

Injected faults wait in a list, each letting `after` matching calls through and then firing `times` times
(`take_due`). Each emulator has its own Fault type (what a fault can do differs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import requests

from sync.demo.redmine_emulator import JSON_HEADERS, RedmineEmulator, make_reply
from sync.demo.transport import EmulatedCall, Reply
from sync.demo.vtiger_emulator import REASONS, ApiError, VtigerEmulator


class Countdown(Protocol):
    after: int  # matching calls still to let through
    times: int  # calls still to answer with this fault


F = TypeVar("F", bound=Countdown)


def take_due(faults: list[F], matches: Callable[[F], bool]) -> F | None:
    """The first matching fault that is due for this call, counted down (and dropped from `faults` once used
    up); a matching fault still letting calls through counts that call instead. Not thread-safe by itself:
    callers hold their emulator's lock."""
    for fault in faults:
        if not matches(fault):
            continue
        if fault.after > 0:
            fault.after -= 1
            continue
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
        return fault
    return None


# --- VTiger ---------------------------------------------------------------------------------------------------------


@dataclass
class VtigerFault:
    """One injected misbehaviour: it skips `after` matching calls, then fires `times` times."""

    status: int = 500
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    error: tuple[str, str] | None = None  # (code, message): a success:false body with HTTP 200
    raise_exc: BaseException | None = None  # raised by the in-process adapter (e.g. requests.ReadTimeout)
    delay: float = 0.0  # seconds slept before answering (real HTTP timeouts)
    path: str = ""  # only calls to this endpoint ("/sync", "/query", ...); empty: any
    when: Callable[[str, dict[str, str]], bool] | None = None  # extra match on (path, params)
    after: int = 0
    times: int = 1

    def matches(self, path: str, params: dict[str, str]) -> bool:
        if self.path and path != self.path:
            return False
        return self.when is None or self.when(path, params)


class FaultyVtigerEmulator(VtigerEmulator):
    """A VtigerEmulator that answers with injected faults: the next matching calls get a status (429 with its
    headers, 500), a malformed body, a `success:false` error, a delay, or a raised exception (in-process only)."""

    def __init__(self, **options: Any) -> None:
        self._faults: list[VtigerFault] = []
        super().__init__(intercept=self._take_fault, **options)

    def inject(self, **kwargs: Any) -> VtigerFault:
        """Queue a fault (see VtigerFault); e.g. inject(status=500, path="/sync", after=2) fails the third page."""
        fault = VtigerFault(**kwargs)
        if fault.status == 429 and not fault.headers:
            reset = int(self.rate_clock()) + 2
            fault.headers = {"X-FloodControl-Remaining": "0", "X-FloodControl-Reset": str(reset)}
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, endpoint: str, params: dict[str, str]) -> Callable[[dict[str, str]], Reply] | None:
        fault = take_due(self._faults, lambda fault: fault.matches(endpoint, params))
        return None if fault is None else partial(self._fault_reply, fault)

    def _fault_reply(self, fault: VtigerFault, headers: dict[str, str]) -> Reply:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.raise_exc is not None:
            raise fault.raise_exc
        headers = {**headers, **fault.headers}
        if fault.error is not None:
            code, message = fault.error
            return self.error_reply(ApiError(code, message), headers)
        body = fault.body if fault.body is not None else b""
        reason = fault.reason or REASONS.get(fault.status, "Error")
        return Reply(fault.status, {**headers, "Content-Type": "application/json"}, body, reason)


# --- Redmine --------------------------------------------------------------------------------------------------------


@dataclass
class RedmineFault:
    """What to do instead of answering: a status (with headers and body), a delay, or a read timeout."""

    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering; a delay >= the request's timeout raises requests.ReadTimeout
    answer: bool = False  # after the delay, answer normally instead of with `status`
    path: str = ""  # only requests to this path ("" = any)
    times: int = 1
    after: int = 0  # let this many matching requests through first

    def matches(self, path: str) -> bool:
        return not self.path or self.path == path


class FaultyRedmineEmulator(RedmineEmulator):
    """A RedmineEmulator whose in-process session answers with injected faults first: `inject(RedmineFault(...))`,
    or the shortcuts `fail(status)`, `rate_limit(retry_after)`, `malformed()`, `timeout()`, `delay(seconds)`. A
    fault applies to the next `times` requests matching its `path` (after skipping `after` of them)."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, **options: Any) -> None:
        self.faults: list[RedmineFault] = []
        self.sleep = sleep
        super().__init__(intercept=self._intercept, **options)

    def inject(self, fault: RedmineFault) -> RedmineFault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(
        self, status: int = 500, *, times: int = 1, path: str = "", after: int = 0, body: bytes = b""
    ) -> RedmineFault:
        return self.inject(RedmineFault(status=status, body=body, times=times, path=path, after=after))

    def rate_limit(self, retry_after: float = 1, *, times: int = 1, path: str = "", after: int = 0) -> RedmineFault:
        headers = {"Retry-After": str(retry_after)}
        return self.inject(RedmineFault(status=429, headers=headers, times=times, path=path, after=after))

    def malformed(self, *, times: int = 1, path: str = "", after: int = 0) -> RedmineFault:
        """200 with a body that is not JSON (a proxy's error page, a truncated reply)."""
        body = b'{"issues":[{"id":1,"subject":"trunc'
        headers = dict(JSON_HEADERS)
        return self.inject(RedmineFault(status=200, body=body, headers=headers, times=times, path=path, after=after))

    def timeout(self, *, times: int = 1, path: str = "", after: int = 0) -> RedmineFault:
        """The request times out (requests.ReadTimeout), without waiting for real."""
        return self.inject(RedmineFault(delay=float("inf"), times=times, path=path, after=after))

    def delay(self, seconds: float, *, times: int = 1, path: str = "", after: int = 0) -> RedmineFault:
        """Answer normally after `seconds` (through the injectable sleep)."""
        return self.inject(RedmineFault(delay=seconds, answer=True, times=times, path=path, after=after))

    def _intercept(self, call: EmulatedCall) -> Reply | None:
        fault = self._take_fault(call.path)
        return None if fault is None else self._fault_reply(fault, call)

    def _take_fault(self, path: str) -> RedmineFault | None:
        with self._lock:
            return take_due(self.faults, lambda fault: fault.matches(path))

    def _fault_reply(self, fault: RedmineFault, call: EmulatedCall) -> Reply | None:
        """The fault's answer, or None when it only delays the normal one."""
        if fault.delay:
            if call.read_timeout is not None and fault.delay >= call.read_timeout:
                raise requests.exceptions.ReadTimeout(
                    f"emulated read timeout ({call.read_timeout}s)", request=call.request
                )
            if fault.delay == float("inf"):
                raise requests.exceptions.ReadTimeout("emulated read timeout", request=call.request)
            self.sleep(fault.delay)
            if fault.answer:
                return None
        return make_reply(fault.status, fault.headers, fault.body)

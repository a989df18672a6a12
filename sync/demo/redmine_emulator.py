"""An in-memory Redmine 5.0 that answers the REST endpoints `sync.redmine.RedmineClient` uses, so the client runs
unchanged against it: the demo source feeds it synthetic issues, and the fault tests inject 500s, 429s, timeouts
and broken bodies into it (through `intercept`).

Stable API (the demo data engine depends on it):

    emulator = RedmineEmulator(statuses=DEFAULT_STATUSES, clock=utcnow, api_key="demo")
    emulator.put_issue(issue_json, updated_at=None)   # insert or replace an issue (JSON shaped like Redmine's)
    emulator.update_issue(issue_id, changes, at=None) # merge changes and bump updated_on (to `at` or clock())
    emulator.delete_issue(issue_id)                   # gone, like DELETE /issues/:id.json
    emulator.handle(method, path, params, headers) -> (status, headers, body_bytes)
    emulator.session() -> requests.Session            # mounted on EMULATOR_URL ("http://redmine.emulator")
    RedmineClient(EMULATOR_URL, api_key="demo", session=emulator.session())

`intercept=` lets a caller answer a request instead of the emulator (tests inject faults that way:
tests/emulator_faults.py). `emulator.requests` lists every (method, path, params) received.

What it reproduces from reference/redmine-api.md (B.1-B.4):
- Auth: `X-Redmine-API-Key`, `?key=`, or Basic `<key>:<anything>`. A wrong key is anonymous: /users/current.json
  answers 401, but /issues.json answers 200 with no issues (the trap the client guards against).
  `rest_api_enabled=False` makes /users/current.json answer 403.
- /issues.json: `status_id` (open by default, `closed`, `*`, `1|2`), `updated_on` and `created_on` with `>=`,
  `<=` and `><A|B` on whole-second UTC values `YYYY-MM-DDTHH:MM:SSZ` (anything else: 422 "Updated is invalid"),
  `issue_id` (`1,2,3`, `>=N`, `<=N`, `><A|B`), `project_id` (numeric id), `sort` (`updated_on`, `created_on`,
  `id`, each with `:desc`; unknown keys ignored; default `id:desc`), `offset`/`limit` (default 25, clamped to
  100, `limit<1` is 25) and `page`, and `total_count`.
- Second truncation: the emulator keeps updated_on with microseconds but shows whole seconds, and `>=T` means
  `updated_on > T-1s`, `<=T` means `updated_on <= T`, `><A|B` means `> A-1s and <= B`, as Redmine's SQL does.
- Issues whose updated_on is later than `clock()` are invisible (the demo adds records "in the future" that
  appear as time passes).
- /issue_statuses.json, /issues/:id.json (empty 404 when missing), an HTML 404 page for unknown paths.

Must not import Dash, Flask or the database layer (models.db's utcnow is a pure helper).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from models.db import utcnow
from sync.demo.transport import EmulatedCall, Reply, emulator_session

EMULATOR_URL = "http://redmine.emulator"

DEFAULT_STATUSES: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "New", "is_closed": False},
    {"id": 2, "name": "In Progress", "is_closed": False},
    {"id": 3, "name": "Resolved", "is_closed": False},  # Redmine's default data: "Resolved" is still open
    {"id": 4, "name": "Feedback", "is_closed": False},
    {"id": 5, "name": "Closed", "is_closed": True},
    {"id": 6, "name": "Rejected", "is_closed": True},
)

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HTML_404 = b"<!DOCTYPE html><html><head><title>Redmine 404 error</title></head><body><h2>404</h2></body></html>"
_EPOCH = datetime(1970, 1, 1)
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}

Response = tuple[int, dict[str, str], bytes]
# Called by the in-process session before answering (tests inject faults this way, tests/emulator_faults.py): a
# Reply to answer with instead, or None to answer normally. It may sleep or raise (a requests.ReadTimeout) first.
Intercept = Callable[[EmulatedCall], Reply | None]


class _FilterError(ValueError):
    """An invalid filter value: Redmine answers 422 with the field's label."""


@dataclass
class _Stored:
    issue: dict[str, Any]
    updated_at: datetime  # with microseconds, like Redmine's database
    created_at: datetime


class RedmineEmulator:
    """A thread-safe in-memory Redmine; see the module docstring for what it reproduces."""

    def __init__(
        self,
        *,
        statuses: Sequence[Mapping[str, Any]] = DEFAULT_STATUSES,
        clock: Callable[[], datetime] = utcnow,
        api_key: str = "demo",
        rest_api_enabled: bool = True,
        intercept: Intercept | None = None,
    ) -> None:
        self.statuses = [dict(status) for status in statuses]
        self.clock = clock
        self.api_key = api_key
        self.rest_api_enabled = rest_api_enabled
        self.intercept = intercept
        self.user = {"id": 1, "login": "demo", "admin": True, "firstname": "Demo", "lastname": "Admin"}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._issues: dict[int, _Stored] = {}
        self._lock = threading.RLock()

    # --- data -------------------------------------------------------------------------------------------------

    def put_issue(self, issue: Mapping[str, Any], *, updated_at: datetime | None = None) -> dict[str, Any]:
        """Insert or replace an issue. `updated_at` (naive UTC, may carry microseconds) overrides the JSON's
        updated_on; without either, updated_on is clock(). Returns the issue as the API will show it."""
        stored = dict(issue)
        if "id" not in stored:
            raise ValueError("an issue needs an integer id")
        precise = updated_at or _parse_json_time(stored.get("updated_on")) or self.clock()
        created = _parse_json_time(stored.get("created_on")) or precise
        stored["id"] = int(stored["id"])
        stored["updated_on"] = _json_time(precise)
        stored["created_on"] = _json_time(created)
        stored.setdefault("closed_on", None)
        with self._lock:
            self._issues[stored["id"]] = _Stored(stored, precise, created)
        return dict(stored)

    def update_issue(self, issue_id: int, changes: Mapping[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        """Merge `changes` into an issue and move its updated_on to `at` (default clock()), as an edit does."""
        with self._lock:
            issue = dict(self._issues[int(issue_id)].issue)
            issue.update(changes)
            issue.pop("updated_on", None)
            return self.put_issue(issue, updated_at=at or self.clock())

    def delete_issue(self, issue_id: int) -> None:
        with self._lock:
            self._issues.pop(int(issue_id), None)

    def issue(self, issue_id: int) -> dict[str, Any]:
        """A copy of the stored issue; KeyError for an id never stored."""
        with self._lock:
            return dict(self._issues[int(issue_id)].issue)

    @property
    def issue_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._issues)

    # --- HTTP -------------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]) -> Response:
        """Answer one request (no faults here: the in-process session applies them first)."""
        with self._lock:
            self.requests.append((method.upper(), path, dict(params)))
            authenticated = self._authenticated(params, headers)
            if method.upper() != "GET":
                return 405, {}, b""
            if path == "/users/current.json":
                return self._current_user(authenticated)
            visible = authenticated and self.rest_api_enabled
            if path == "/issue_statuses.json":
                return _json_response({"issue_statuses": [dict(s) for s in self.statuses]})
            if path == "/issues.json":
                return self._issues_list(params, visible)
            match = re.fullmatch(r"/issues/(\d+)\.json", path)
            if match:
                return self._issue_show(int(match.group(1)), visible)
            return 404, {"Content-Type": "text/html; charset=utf-8"}, _HTML_404

    def session(self) -> requests.Session:
        """A requests.Session whose EMULATOR_URL requests are answered by this emulator."""
        return emulator_session(EMULATOR_URL, self._answer)

    def _answer(self, call: EmulatedCall) -> Reply:
        """What the in-process session gets: the intercept's reply when it has one, else `handle`'s answer."""
        if self.intercept is not None:
            reply = self.intercept(call)
            if reply is not None:
                return reply
        return make_reply(*self.handle(call.method, call.path, call.query, call.headers))

    def _authenticated(self, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        lowered = {name.lower(): value for name, value in headers.items()}
        key = lowered.get("x-redmine-api-key") or params.get("key", "")
        authorization = lowered.get("authorization", "")
        if not key and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            key = decoded.split(":", 1)[0]
        return bool(self.api_key) and key == self.api_key

    def _current_user(self, authenticated: bool) -> Response:
        if not authenticated:
            return 401, {"WWW-Authenticate": 'Basic realm="Redmine API"'}, b""
        if not self.rest_api_enabled:
            return 403, {}, b""
        return _json_response({"user": dict(self.user, api_key=self.api_key)})

    def _issue_show(self, issue_id: int, visible: bool) -> Response:
        stored = self._issues.get(issue_id)
        if stored is None or not visible or stored.updated_at > self.clock():
            return 404, {"Content-Type": "application/json"}, b""
        return _json_response({"issue": self._rendered(stored)})

    def _issues_list(self, params: Mapping[str, str], visible: bool) -> Response:
        try:
            offset, limit = _offset_and_limit(params)
            conditions = self._conditions(params)
        except _FilterError as exc:
            return _json_response({"errors": [str(exc)]}, status=422)
        now = self.clock()
        rows = [] if not visible else [s for s in self._issues.values() if s.updated_at <= now]
        rows = [stored for stored in rows if all(condition(stored) for condition in conditions)]
        rows.sort(key=_sort_key(params.get("sort", "")))
        page = rows[offset : offset + limit]
        body = {
            "issues": [self._rendered(stored) for stored in page],
            "total_count": len(rows),
            "offset": offset,
            "limit": limit,
        }
        return _json_response(body)

    def _rendered(self, stored: _Stored) -> dict[str, Any]:
        issue = json.loads(json.dumps(stored.issue, default=str))
        status = issue.get("status")
        if isinstance(status, dict) and "is_closed" not in status:
            status["is_closed"] = self._is_closed(status.get("id"))
        return issue

    def _is_closed(self, status_id: Any) -> bool:
        return any(s["id"] == status_id and s.get("is_closed") for s in self.statuses)

    def _conditions(self, params: Mapping[str, str]) -> list[Callable[[_Stored], bool]]:
        conditions: list[Callable[[_Stored], bool]] = [self._status_condition(params.get("status_id", "open"))]
        for name, label, attribute in (
            ("updated_on", "Updated", "updated_at"),
            ("created_on", "Created", "created_at"),
        ):
            if params.get(name):
                conditions.append(_time_condition(params[name], label, attribute))
        if params.get("issue_id"):
            conditions.append(_id_condition(params["issue_id"]))
        if params.get("project_id", "").isdigit():
            project = int(params["project_id"])
            conditions.append(lambda stored: (stored.issue.get("project") or {}).get("id") == project)
        return conditions

    def _status_condition(self, value: str) -> Callable[[_Stored], bool]:
        def status_id(stored: _Stored) -> Any:
            return (stored.issue.get("status") or {}).get("id")

        if value == "*":
            return lambda stored: True
        if value == "closed":
            return lambda stored: self._is_closed(status_id(stored))
        if value in ("open", ""):
            return lambda stored: not self._is_closed(status_id(stored))
        wanted = {int(part) for part in value.split("|") if part.strip().isdigit()}
        return lambda stored: status_id(stored) in wanted


# --- filters and paging (Redmine's semantics) ------------------------------------------------------------------


def _offset_and_limit(params: Mapping[str, str]) -> tuple[int, int]:
    limit = _int(params.get("limit"), DEFAULT_LIMIT)
    limit = DEFAULT_LIMIT if limit < 1 else min(limit, MAX_LIMIT)
    if params.get("offset"):
        offset = max(_int(params.get("offset"), 0), 0)
    else:
        offset = (max(_int(params.get("page"), 1), 1) - 1) * limit
    return offset, limit


def _int(raw: str | None, default: int) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


def _time_value(raw: str, label: str) -> datetime:
    match = _TIMESTAMP.match(raw)
    if match:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    if _DATE.match(raw):
        return datetime.fromisoformat(raw)
    raise _FilterError(f"{label} is invalid")


def _time_condition(value: str, label: str, attribute: str) -> Callable[[_Stored], bool]:
    """Redmine's date_clause on a timestamp: `>=T` is `> T-1s`, `<=T` is `<= T`, `><A|B` is both."""
    if value.startswith("><"):
        parts = value[2:].split("|")
        if len(parts) != 2:
            raise _FilterError(f"{label} is invalid")
        low, high = _time_value(parts[0], label) - timedelta(seconds=1), _time_value(parts[1], label)
        if _DATE.match(parts[1]):
            high += timedelta(days=1) - timedelta(microseconds=1)  # a date's `to` is the end of that day
        return lambda stored: low < getattr(stored, attribute) <= high
    if value.startswith(">="):
        low = _time_value(value[2:], label) - timedelta(seconds=1)
        return lambda stored: getattr(stored, attribute) > low
    if value.startswith("<="):
        high = _time_value(value[2:], label)
        if _DATE.match(value[2:]):
            high += timedelta(days=1) - timedelta(microseconds=1)
        return lambda stored: getattr(stored, attribute) <= high
    raise _FilterError(f"{label} is invalid")


def _id_condition(value: str) -> Callable[[_Stored], bool]:
    def issue_id(stored: _Stored) -> int:
        return int(stored.issue["id"])

    try:
        if value.startswith("><"):
            low, high = (int(part) for part in value[2:].split("|"))
            return lambda stored: low <= issue_id(stored) <= high
        if value.startswith(">="):
            low = int(value[2:])
            return lambda stored: issue_id(stored) >= low
        if value.startswith("<="):
            high = int(value[2:])
            return lambda stored: issue_id(stored) <= high
    except ValueError as exc:
        raise _FilterError("Issue is invalid") from exc
    wanted = {int(part) for part in re.findall(r"\d+", value)}
    return lambda stored: issue_id(stored) in wanted


def _sort_key(sort: str) -> Callable[[_Stored], tuple]:
    """Redmine's `sort=a,b:desc`; unknown columns are ignored; the default is id:desc; ties broken by id:desc."""
    columns: list[tuple[str, bool]] = []
    for part in sort.split(","):
        name, _, direction = part.strip().partition(":")
        if name in ("id", "updated_on", "created_on"):
            columns.append((name, direction == "desc"))
    if not columns:
        columns = [("id", True)]
    if all(name != "id" for name, _ in columns):
        columns.append(("id", True))

    def value(stored: _Stored, name: str) -> float:
        if name == "id":
            return float(stored.issue["id"])
        moment = stored.updated_at if name == "updated_on" else stored.created_at
        return (moment - _EPOCH).total_seconds()

    def key(stored: _Stored) -> tuple:
        return tuple(-value(stored, name) if descending else value(stored, name) for name, descending in columns)

    return key


def _json_time(moment: datetime) -> str:
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_json_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def _json_response(body: Any, status: int = 200) -> Response:
    return status, dict(JSON_HEADERS), json.dumps(body).encode()


def make_reply(status: int, headers: dict[str, str], body: bytes) -> Reply:
    return Reply(status, headers, body, _REASONS.get(status, ""))

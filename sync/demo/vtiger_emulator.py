"""An in-memory VTiger Cloud REST API (`/restapi/v1/vtiger/default`), built from reference/vtiger-cloud-api.md.
Tests, the benchmark and the demo source run the real `VtigerClient` against it, in process or over real HTTP.

Stable API (the demo source and the tests depend on it):

    emulator = VtigerEmulator(
        users=[{"id": "19x1", "user_name": "admin@example.com", "first_name": "Ada", "last_name": "Admin",
                "email1": "admin@example.com", "status": "Active", "user_primary_group": "20x2",
                "time_zone": "America/Chicago"}, ...],
        groups=[{"id": "20x2", "groupname": "Sales"}, ...],
        picklists=None,            # {"Cases": {"casestatus": [...]}, "Potentials": {"sales_stage": [...]}, ...}
                                   # (stock_picklists(): VTiger's stock sales_stage values, STOCK_SALES_STAGES)
        clock=models.db.utcnow,    # naive UTC "now": records modified later than clock() are invisible
        id_prefixes=None,          # {"Cases": "39x", "Potentials": "5x", "PhoneCalls": "43x", "Users": "19x", ...}
        username="demo", access_key="demo",  # the Basic auth pair it accepts; /me is the user with that user_name
        admin=True,                # False: /sync?syncType=application answers ACCESS_DENIED, as for non-admins
    )
    emulator.put("Cases", {"id": "39x1", "createdtime": "2026-01-05 09:00:00", "modifiedtime": "...", ...})
    emulator.delete("Cases", "39x1", when)   # soft delete at `when` (datetime or "YYYY-MM-DD HH:MM:SS" UTC)
    emulator.purge("Cases", "39x1")          # gone for good (recycle bin emptied): /sync never lists it
    emulator.new_id("Cases")                 # next free ws id with the module's prefix
    emulator.records("Cases")                # what the API currently shows (visible and not deleted)
    session = emulator.session()             # requests.Session mounted on emulator.base_url, no sockets
    emulator.serve(httpserver)               # answer on a pytest-httpserver HTTPServer; returns its base URL
    status, headers, body = emulator.handle("GET", "/query", {"query": "SELECT ..."}, auth=("demo", "demo"))

Behaviour that mirrors the sheet:
- Basic auth on every call; a wrong pair is HTTP 401 with `INVALID_USER_CREDENTIALS`.
- `/me`, `/describe` (idPrefix is the bare module number such as "39", as vtiger returns it; picklistValues as
  `{label, value}` dicts, or plain strings with `picklist_style="plain"`), `/listtypes`, `/retrieve`.
- `/query`: the VTQL subset `SELECT *|cols|count(*) FROM M [WHERE c op v [AND|OR ...]] [ORDER BY a[,b]] [ASC|DESC]
  [LIMIT [off,]n];` with the mandatory `;` (else QUERY_SYNTAX_ERROR "expected one of: SEMICOLON"), at most 100
  rows (no LIMIT means 100; `LIMIT 150` gives 100), count(*) as `[{"count": "120"}]` (a string), ids compared and
  ordered by their numeric part, unknown columns refused.
- `/sync`: the GetUpdates algorithm. Take the first 100 rows (deleted ones included) with modifiedtime > T by
  modifiedtime, call their max M, return every row with T < modifiedtime <= M (so ties may exceed 100), deleted
  ids in `deleted`, `more` when anything newer than M exists, `lastModifiedTime` = M (T when nothing is newer).
  `syncType=user` (the default) returns only records assigned to the caller; `application` needs `admin=True`.
- Flood-control and rate-limit headers on every reply. With `minute_limit` set, calls beyond it within one
  minute of `rate_clock` get HTTP 429 (with X-FloodControl-Reset); without it the budget never runs out.
- Errors are `{"success": false, "error": {"code", "message"}}` with HTTP 200 (`error_style="body"`, the default),
  or HTTP 400 with the message only in the reason phrase and an empty body (`error_style="reason"`).
- `intercept=`: called for every call (under the emulator's lock, counted and logged like any) with the endpoint
  and the parameters; it returns None to answer normally, or a function that makes the reply from the flood-control
  headers. Tests inject faults that way (tests/emulator_faults.py).

Must not import Dash, Flask or the database layer (it keeps no state outside memory).
"""

from __future__ import annotations

import base64
import bisect
import calendar
import copy
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from sync.demo.transport import EmulatedCall, Reply, emulator_session

BASE_PATH = "/restapi/v1/vtiger/default"
# See the module docstring: (endpoint, params) -> None, or a function of the reply headers that answers instead.
Intercept = Callable[[str, dict[str, str]], Callable[[dict[str, str]], Reply] | None]
EMULATOR_URL = "http://vtiger.emulator" + BASE_PATH
MAX_ROWS = 100
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

DEFAULT_PREFIXES = {
    "Users": "19x",
    "Groups": "20x",
    "Cases": "39x",
    "Potentials": "5x",
    "PhoneCalls": "43x",
    "Contacts": "4x",
    "Employees": "68x",
}

# The values the sheet lists (Cases) and the old dashboard's stages (Potentials).
DEFAULT_PICKLISTS: dict[str, dict[str, list[str]]] = {
    "Cases": {
        "casestatus": ["New", "Assigned", "Open", "Wait for Customer", "Wait for Third Party", "Resolved", "Closed"],
        "casepriority": ["Low", "Medium", "High", "Urgent"],
    },
    "Potentials": {
        "sales_stage": [
            "Prospecting",
            "Qualification",
            "Demo Scheduled",
            "Demo Given",
            "Needs Analysis",
            "Quote Sent",
            "Pilot",
            "Closed Won",
            "Closed Lost",
            "Recycled",
        ],
    },
    "PhoneCalls": {
        "callstatus": ["completed", "no-answer", "busy", "failed"],
        "direction": ["inbound", "outbound"],
    },
}

# VTiger's stock sales_stage picklist, as a fresh instance ships it: none of the old dashboard's stage names but
# Needs Analysis and the two Closed ones, and no "Recycled". `picklists=stock_picklists()` serves it.
STOCK_SALES_STAGES: tuple[str, ...] = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal or Price Quote",
    "Negotiation or Review",
    "Closed Won",
    "Closed Lost",
)


def stock_picklists() -> dict[str, dict[str, list[str]]]:
    """DEFAULT_PICKLISTS with VTiger's stock sales_stage values instead of the old dashboard's."""
    picklists = {module: dict(fields) for module, fields in DEFAULT_PICKLISTS.items()}
    picklists["Potentials"]["sales_stage"] = list(STOCK_SALES_STAGES)
    return picklists


# Fields every record of a module has (more come from the records themselves).
STANDARD_FIELDS: dict[str, tuple[str, ...]] = {
    "Cases": (
        "id", "case_no", "title", "casestatus", "casepriority", "assigned_user_id", "group_id", "created_user_id",
        "modifiedby", "createdtime", "modifiedtime", "time_spent", "sla_actual_closureon", "satisfaction_index",
        "contact_id", "isclosed",
    ),
    "Potentials": (
        "id", "potential_no", "potentialname", "amount", "sales_stage", "pipeline", "closingdate", "createdtime",
        "modifiedtime", "assigned_user_id", "created_user_id", "modifiedby", "current_stage_entry_time",
        "cf_potentials_qualifiedby", "contact_id",
    ),
    "PhoneCalls": (
        "id", "callstatus", "direction", "starttime", "endtime", "totalduration", "billduration",
        "assigned_user_id", "created_user_id", "modifiedby", "customer", "customernumber", "recordingurl",
        "createdtime", "modifiedtime",
    ),
    "Users": ("id", "user_name", "first_name", "last_name", "email1", "status"),
    "Groups": ("id", "groupname", "description"),
}  # fmt: skip

FIELD_TYPES: dict[str, dict[str, Any]] = {
    "assigned_user_id": {"name": "owner"},
    "group_id": {"name": "reference", "refersTo": ["Groups"]},
    "modifiedby": {"name": "reference", "refersTo": ["Users"]},
    "created_user_id": {"name": "reference", "refersTo": ["Users"]},
    "createdtime": {"name": "datetime"},
    "modifiedtime": {"name": "datetime"},
    "closingdate": {"name": "date"},
    "amount": {"name": "currency"},
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def format_time(value: datetime | str) -> str:
    return value if isinstance(value, str) else value.strftime(TIME_FORMAT)


def unix_seconds(text: str) -> int:
    return calendar.timegm(time.strptime(text, TIME_FORMAT))


class ApiError(Exception):
    """An error the API reports as {"success": false, "error": {...}}."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class VtigerEmulator:
    """The VTiger Cloud REST API in memory; see the module docstring for the stable API."""

    def __init__(
        self,
        *,
        users: Iterable[Mapping[str, Any]],
        groups: Iterable[Mapping[str, Any]],
        picklists: Mapping[str, Mapping[str, list[str]]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        id_prefixes: Mapping[str, str] | None = None,
        username: str = "demo",
        access_key: str = "demo",
        admin: bool = True,
        time_zone: str = "UTC",
        picklist_style: str = "dict",
        error_style: str = "body",
        minute_limit: int | None = None,
        rate_clock: Callable[[], float] = time.time,
        delay: float = 0.0,
        base_url: str = EMULATOR_URL,
        intercept: Intercept | None = None,
    ) -> None:
        self.prefixes = {**DEFAULT_PREFIXES, **(id_prefixes or {})}
        self.picklists = {module: dict(fields) for module, fields in (picklists or DEFAULT_PICKLISTS).items()}
        self.clock = clock
        self.username = username
        self.access_key = access_key
        self.admin = admin
        self.time_zone = time_zone
        self.picklist_style = picklist_style
        self.error_style = error_style
        self.minute_limit = minute_limit
        self.rate_clock = rate_clock
        self.delay = delay
        self.base_url = base_url
        self.intercept = intercept
        self.users = [dict(user) for user in users]
        self.groups = [dict(group) for group in groups]
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._mtimes: dict[str, dict[str, int]] = {}  # module -> ws id -> modifiedtime as unix seconds
        self._deleted: dict[str, dict[str, tuple[str, int]]] = {}  # module -> ws id -> deletion time (text, unix)
        # module -> [(unix time, crm id, ws id, is_deletion)] sorted: /sync pages by bisecting it, not by scanning
        self._index: dict[str, list[tuple[int, int, str, bool]]] = {}
        self._counters: dict[str, int] = {}
        self._window: tuple[int, int] = (0, 0)  # (minute, calls in it) for flood control
        self._lock = threading.RLock()  # the real-HTTP server may answer from several threads
        self.calls = 0
        self.log: list[tuple[str, str, dict[str, str]]] = []  # (method, endpoint, params) of every call

    # --- data -----------------------------------------------------------------------------------------------------

    def put(self, module: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a record (API-shaped: string values, ws id, UTC createdtime/modifiedtime)."""
        stored = dict(record)
        for key in ("id", "createdtime", "modifiedtime"):
            if not stored.get(key):
                raise ValueError(f"{module} record needs {key!r}: {record!r}")
            if isinstance(stored[key], datetime):
                stored[key] = format_time(stored[key])
        prefix = self.prefixes.get(module)
        if prefix and not str(stored["id"]).startswith(prefix):
            raise ValueError(f"{module} ids start with {prefix} here, not {stored['id']!r}")
        mtime = unix_seconds(stored["modifiedtime"])
        with self._lock:
            self._records.setdefault(module, {})[stored["id"]] = stored
            self._mtimes.setdefault(module, {})[stored["id"]] = mtime
            self._deleted.get(module, {}).pop(stored["id"], None)
            self._counters[module] = max(self._counters.get(module, 0), _crm_id(stored["id"]))
            self._index.pop(module, None)
        return stored

    def delete(self, module: str, ws_id: str, when: datetime | str | None = None) -> None:
        """Soft delete as vtiger does (deleted=1, modifiedtime=now): /sync lists the id, queries stop showing it."""
        with self._lock:
            if ws_id not in self._records.get(module, {}):
                raise KeyError(f"no {module} record {ws_id}")
            text = format_time(when or self.clock())
            self._deleted.setdefault(module, {})[ws_id] = (text, unix_seconds(text))
            self._index.pop(module, None)

    def purge(self, module: str, ws_id: str) -> None:
        """Remove a record for good (the recycle bin was emptied): /sync never reports it as deleted."""
        with self._lock:
            self._records.get(module, {}).pop(ws_id, None)
            self._mtimes.get(module, {}).pop(ws_id, None)
            self._deleted.get(module, {}).pop(ws_id, None)
            self._index.pop(module, None)

    def new_id(self, module: str) -> str:
        with self._lock:
            self._counters[module] = self._counters.get(module, 0) + 1
            return f"{self.prefixes[module]}{self._counters[module]}"

    def records(self, module: str) -> list[dict[str, Any]]:
        """The records the API shows now (visible, not deleted), in id order."""
        with self._lock:
            rows = copy.deepcopy(self._visible(module, self._now()))
        return sorted(rows, key=lambda r: _crm_id(r["id"]))

    # --- transports -----------------------------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A requests.Session whose calls to `base_url` are answered in process (no sockets)."""
        return emulator_session(self.base_url.split(BASE_PATH)[0], self._answer)

    def _answer(self, call: EmulatedCall) -> Reply:
        # A POST's form fields are parameters too, as the real API reads them.
        return self.reply(call.method, call.path, {**call.query, **call.form}, call.headers.get("Authorization"))

    def serve(self, httpserver: Any) -> str:
        """Answer every request on a pytest-httpserver HTTPServer; returns the API base URL on it."""
        from werkzeug import Response

        def respond(request: Any) -> Response:
            params = dict(request.args.items())
            if request.method == "POST":
                params.update(request.form.items())
            reply = self.reply(request.method, request.path, params, request.headers.get("Authorization"))
            status = f"{reply.status} {reply.reason}" if reply.reason else reply.status
            return Response(reply.body, status=status, headers=reply.headers)

        httpserver.expect_request(re.compile(".*")).respond_with_handler(respond)
        return httpserver.url_for(BASE_PATH)

    def handle(
        self, method: str, path: str, params: Mapping[str, str], auth: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        reply = self.reply(method, path, params, auth)
        return reply.status, reply.headers, reply.body

    # --- the API --------------------------------------------------------------------------------------------------

    def reply(self, method: str, path: str, params: Mapping[str, str], auth: Any = None) -> Reply:
        """Answer one call. `auth` is a (username, key) pair or an Authorization header value."""
        endpoint = path.split(BASE_PATH, 1)[-1] or "/"
        params = {str(k): str(v) for k, v in params.items()}
        with self._lock:
            self.calls += 1
            self.log.append((method.upper(), endpoint, params))
            intercepted = self.intercept(endpoint, params) if self.intercept is not None else None
            headers = self._rate_headers()
        if self.delay:
            time.sleep(self.delay)
        if intercepted is not None:
            return intercepted(headers)
        if headers.get("X-FloodControl-Remaining") == "-1":
            headers["X-FloodControl-Remaining"] = "0"
            return Reply(429, headers, b"", "Too Many Requests")
        if not self._authorised(auth):
            return self.error_reply(
                ApiError("INVALID_USER_CREDENTIALS", "Invalid username or access key", 401), headers
            )
        try:
            with self._lock:
                result = self._dispatch(method.upper(), endpoint, params)
        except ApiError as exc:
            return self.error_reply(exc, headers)
        body = json.dumps({"success": True, "result": result}).encode()
        return Reply(200, {**headers, "Content-Type": "application/json"}, body, "OK")

    def _dispatch(self, method: str, endpoint: str, params: dict[str, str]) -> Any:
        routes: dict[str, Callable[[dict[str, str]], Any]] = {
            "/me": lambda _p: self._me(),
            "/describe": self._describe,
            "/query": self._query,
            "/sync": self._sync,
            "/retrieve": self._retrieve,
            "/listtypes": lambda _p: self._listtypes(),
        }
        route = routes.get(endpoint)
        if route is None or method not in ("GET", "POST"):
            raise ApiError("UNKNOWN_OPERATION", f"Unknown operation {endpoint}", 404)
        return route(params)

    def _me(self) -> dict[str, Any]:
        me = next((u for u in self.users if u.get("user_name") == self.username), None)
        if me is None:
            me = {
                "id": f"{self.prefixes['Users']}1",
                "user_name": self.username,
                "first_name": "",
                "last_name": "Administrator",
                "email1": self.username,
                "status": "Active",
            }
        return {"time_zone": self.time_zone, "is_admin": "on" if self.admin else "off", **me}

    def _listtypes(self) -> dict[str, Any]:
        modules = sorted(set(self.prefixes) | set(self._records))
        return {
            "types": modules,
            "information": {m: {"isEntity": m not in ("Users", "Groups"), "label": m, "singular": m} for m in modules},
        }

    def _describe(self, params: dict[str, str]) -> dict[str, Any]:
        module = params.get("elementType", "")
        if module not in self.prefixes:
            raise ApiError("ACCESS_DENIED", f"Permission to perform the operation is denied for name {module}")
        fields = []
        for name in self._fields(module):
            kind: dict[str, Any] = dict(FIELD_TYPES.get(name, {"name": "string"}))
            values = self.picklists.get(module, {}).get(name)
            if values is not None:
                kind = {"name": "picklist", "picklistValues": self._picklist_values(values)}
            fields.append(
                {"name": name, "label": name.replace("_", " ").title(), "mandatory": name == "id", "type": kind}
            )
        return {
            "name": module,
            "label": module,
            "createable": True,
            "updateable": True,
            "deleteable": True,
            "retrieveable": True,
            "idPrefix": self.prefixes[module].rstrip("x"),  # vtiger returns the bare module number
            "fields": fields,
        }

    def _picklist_values(self, values: list[str]) -> list[Any]:
        if self.picklist_style == "plain":
            return list(values)
        return [{"label": value, "value": value} for value in values]

    def _fields(self, module: str) -> list[str]:
        names = list(STANDARD_FIELDS.get(module, ("id", "createdtime", "modifiedtime")))
        names += self.picklists.get(module, {}).keys()
        for row in self._source_rows(module):
            names += row.keys()
        return list(dict.fromkeys(name for name in names if not name.startswith("_")))

    def _retrieve(self, params: dict[str, str]) -> dict[str, Any]:
        ws_id = params.get("id", "")
        now = self._now()
        for module in self._records:
            for row in self._visible(module, now):
                if row["id"] == ws_id:
                    return row
        raise ApiError("ACCESS_DENIED", "Permission to perform the operation is denied for id")

    # --- /query ---------------------------------------------------------------------------------------------------

    def _query(self, params: dict[str, str]) -> list[dict[str, Any]]:
        query = Vtql.parse(params.get("query", ""))
        if query.module not in self.prefixes and query.module not in self._records:
            raise ApiError("ACCESS_DENIED", f"Permission to perform the operation is denied for name {query.module}")
        known = set(self._fields(query.module))
        for name in [*query.columns, *(c.column for c in query.conditions), *query.order_by]:
            if name not in known:
                raise ApiError("QUERY_SYNTAX_ERROR", f"Unknown column {name} in {query.module}")
        rows = [r for r in self._visible(query.module, self._now()) if query.accepts(r)]
        if query.count:
            return [{"count": str(len(rows))}]
        rows = query.sort(rows)
        rows = rows[query.offset : query.offset + query.limit]
        if query.columns:
            return [{"id": r["id"], **{c: r.get(c, "") for c in query.columns}} for r in rows]
        return rows

    # --- /sync ----------------------------------------------------------------------------------------------------

    def _sync(self, params: dict[str, str]) -> dict[str, Any]:
        module = params.get("elementType", "")
        sync_type = params.get("syncType", "user")
        if sync_type not in ("user", "userandgroup", "application"):
            raise ApiError("INVALID_PARAMETER", f"Invalid syncType {sync_type}")
        if sync_type == "application" and not self.admin:
            raise ApiError("ACCESS_DENIED", "Permission to perform the operation is denied for syncType application")
        if module not in self.prefixes or module in ("Users", "Groups"):
            raise ApiError("ACCESS_DENIED", f"Permission to perform the operation is denied for name {module}")
        try:
            since = int(float(params.get("modifiedTime", "0")))
        except ValueError as exc:
            raise ApiError("INVALID_PARAMETER", "modifiedTime must be a unix timestamp") from exc
        now = self._now()
        index = self._sorted(module)
        page: list[dict[str, Any]] = []
        upto: int | None = None
        more = False
        for entry in index[bisect.bisect_right(index, (since, sys.maxsize)) :]:
            if entry[0] > now:
                break  # not happened yet
            view = self._entry_view(module, entry, now)
            if view is None or not self._owned(view, sync_type):
                continue
            if upto is not None and entry[0] > upto:
                more = True
                break
            page.append(view)
            if upto is None and len(page) == MAX_ROWS:
                upto = entry[0]  # every later row of this same second still belongs to the page
        if not page:
            return {"updated": [], "deleted": [], "more": False, "lastModifiedTime": since}
        return {
            "updated": [row for row in page if not row.get("_deleted")],
            "deleted": [row["id"] for row in page if row.get("_deleted")],
            "more": more,
            "lastModifiedTime": upto if upto is not None else self._entry_time(module, page[-1]),
        }

    def _owned(self, row: dict[str, Any], sync_type: str) -> bool:
        if sync_type == "application":
            return True
        me = self._me()
        owners = {me["id"]}
        if sync_type == "userandgroup" and me.get("user_primary_group"):
            owners.add(me["user_primary_group"])
        return row.get("assigned_user_id") in owners

    # --- state ----------------------------------------------------------------------------------------------------

    def _source_rows(self, module: str) -> list[dict[str, Any]]:
        if module == "Users":
            return self.users
        if module == "Groups":
            return self.groups
        return list(self._records.get(module, {}).values())

    def _now(self) -> int:
        return unix_seconds(format_time(self.clock()))

    def _visible(self, module: str, now: int) -> list[dict[str, Any]]:
        """Live records as queries see them at `now`: not deleted by then, and modified by then."""
        if module in ("Users", "Groups"):
            return self._source_rows(module)
        deleted = self._deleted.get(module, {})
        mtimes = self._mtimes.get(module, {})
        return [
            row
            for ws_id, row in self._records.get(module, {}).items()
            if mtimes[ws_id] <= now and not (ws_id in deleted and deleted[ws_id][1] <= now)
        ]

    def _sorted(self, module: str) -> list[tuple[int, int, str, bool]]:
        """Every record version and deletion of a module by time (rebuilt after a change, then reused)."""
        index = self._index.get(module)
        if index is None:
            entries = [(mtime, _crm_id(ws_id), ws_id, False) for ws_id, mtime in self._mtimes.get(module, {}).items()]
            entries += [(when[1], _crm_id(ws_id), ws_id, True) for ws_id, when in self._deleted.get(module, {}).items()]
            index = self._index[module] = sorted(entries)
        return index

    def _entry_view(self, module: str, entry: tuple[int, int, str, bool], now: int) -> dict[str, Any] | None:
        """What /sync shows for an index entry at `now`: the record, its deletion, or None when superseded."""
        _mtime, _crm, ws_id, is_deletion = entry
        record = self._records.get(module, {}).get(ws_id)
        if record is None:
            return None
        gone = self._deleted.get(module, {}).get(ws_id)
        if is_deletion:
            return (
                {
                    "id": ws_id,
                    "modifiedtime": gone[0],
                    "assigned_user_id": record.get("assigned_user_id"),
                    "_deleted": True,
                }
                if gone
                else None
            )
        if gone and gone[1] <= now:
            return None  # the deletion, not this version, is what the API shows now
        return record

    def _entry_time(self, module: str, view: dict[str, Any]) -> int:
        if view.get("_deleted"):
            return self._deleted[module][view["id"]][1]
        return self._mtimes[module][view["id"]]

    # --- replies --------------------------------------------------------------------------------------------------

    def error_reply(self, exc: ApiError, headers: dict[str, str]) -> Reply:
        if self.error_style == "reason" and exc.status != 401:
            # The documented Cloud style: a 4xx with the message only on the status line.
            return Reply(400 if exc.status == 200 else exc.status, headers, b"", f"{exc.code}: {exc.message}")
        body = json.dumps({"success": False, "error": {"code": exc.code, "message": exc.message}}).encode()
        return Reply(exc.status, {**headers, "Content-Type": "application/json"}, body, REASONS.get(exc.status, "OK"))

    def _authorised(self, auth: Any) -> bool:
        if isinstance(auth, str) and auth.lower().startswith("basic "):
            try:
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            auth = (user, key)
        return isinstance(auth, tuple) and auth == (self.username, self.access_key)

    def _rate_headers(self) -> dict[str, str]:
        """Flood-control headers; with minute_limit set, the budget of the current minute is enforced."""
        now = self.rate_clock()
        minute = int(now // 60)
        calls = self._window[1] + 1 if self._window[0] == minute else 1
        self._window = (minute, calls)
        limit = self.minute_limit or 6000
        remaining = limit - calls
        reset = str((minute + 1) * 60)
        return {
            "X-FloodControl-MinuteLimit": str(limit),
            "X-FloodControl-Remaining": str(remaining if remaining >= 0 else -1),
            "X-FloodControl-Reset": reset,
            "X-RateLimit-DailyLimit": "120000",
            "X-RateLimit-Remaining": str(max(0, 120000 - self.calls)),
            "X-RateLimit-Reset": str(int(now) + 86400),
            "X-Vtiger-Version": "emulator-1",
        }


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _crm_id(ws_id: str) -> int:
    try:
        return int(str(ws_id).split("x", 1)[1])
    except (IndexError, ValueError):
        return 0


# --- VTQL ---------------------------------------------------------------------------------------------------------

_QUERY = re.compile(
    r"^\s*select\s+(?P<columns>.+?)\s+from\s+(?P<module>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s+by\s+(?P<order>[\w\s,]+?)(?:\s+(?P<direction>asc|desc))?)?"
    r"(?:\s+limit\s+(?P<limit>\d+\s*(?:,\s*\d+)?))?\s*(?P<end>;)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"\s*(?P<column>\w+)\s*(?:(?P<op><=|>=|!=|<>|=|<|>|\s+like\s+)\s*(?P<value>'(?:[^'\\]|\\.|'')*'|[\w.:-]+)"
    r"|\s+(?P<not>not\s+)?in\s*\((?P<items>[^)]*)\))\s*",
    re.IGNORECASE,
)
_JOIN = re.compile(r"\s*(and|or)\b", re.IGNORECASE)
_ITEM = re.compile(r"\s*('(?:[^'\\]|\\.|'')*'|[\w.:-]+)\s*,?")


@dataclass
class Condition:
    column: str
    op: str
    values: list[str]
    joiner: str = "and"  # how it combines with what came before (left to right, no precedence)

    def test(self, row: dict[str, Any]) -> bool:
        actual = str(row.get(self.column, ""))
        if self.op in ("in", "not in"):
            found = any(_compare(self.column, actual, "=", v) for v in self.values)
            return found if self.op == "in" else not found
        return _compare(self.column, actual, self.op, self.values[0])


@dataclass
class Vtql:
    """The parsed subset of VTQL the client uses."""

    module: str
    columns: list[str]
    count: bool
    conditions: list[Condition]
    order_by: list[str]
    descending: bool
    offset: int
    limit: int

    @classmethod
    def parse(cls, text: str) -> Vtql:
        match = _QUERY.match(text or "")
        if match is None:
            raise ApiError("QUERY_SYNTAX_ERROR", f"Syntax Error on line 1: could not parse {text[:80]!r}")
        if not match.group("end"):
            raise ApiError("QUERY_SYNTAX_ERROR", "Syntax Error on line 1: token EOF, expected one of: SEMICOLON")
        raw_columns = match.group("columns").strip()
        count = raw_columns.replace(" ", "").lower() == "count(*)"
        columns = [] if count or raw_columns == "*" else [c.strip() for c in raw_columns.split(",") if c.strip()]
        if any(not re.fullmatch(r"\w+", c) for c in columns):
            raise ApiError("QUERY_SYNTAX_ERROR", f"Syntax Error on line 1: bad column list {raw_columns!r}")
        order = [c.strip() for c in (match.group("order") or "").split(",") if c.strip()]
        if len(order) > 2:
            raise ApiError("QUERY_SYNTAX_ERROR", "ORDER BY takes at most two columns")
        offset, limit = 0, MAX_ROWS
        if match.group("limit"):
            parts = [int(p) for p in match.group("limit").split(",")]
            offset, limit = (0, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        return cls(
            module=match.group("module"),
            columns=columns,
            count=count,
            conditions=_parse_where(match.group("where") or ""),
            order_by=order,
            descending=(match.group("direction") or "").lower() == "desc",
            offset=offset,
            limit=min(limit, MAX_ROWS),
        )

    def accepts(self, row: dict[str, Any]) -> bool:
        result = True
        for index, condition in enumerate(self.conditions):
            value = condition.test(row)
            if index == 0:
                result = value
            elif condition.joiner == "and":
                result = result and value
            else:
                result = result or value
        return result

    def sort(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.order_by:
            # vtiger's own order without ORDER BY is unspecified; crm id order is as good as any.
            return sorted(rows, key=lambda r: _crm_id(r["id"]))
        return sorted(
            rows, key=lambda r: tuple(_sort_key(c, r.get(c, "")) for c in self.order_by), reverse=self.descending
        )


def _parse_where(text: str) -> list[Condition]:
    conditions: list[Condition] = []
    position, joiner = 0, "and"
    text = text.strip()
    while position < len(text):
        match = _CONDITION.match(text, position)
        if match is None:
            raise ApiError("QUERY_SYNTAX_ERROR", f"Syntax Error on line 1 near {text[position : position + 30]!r}")
        if match.group("items") is not None:
            items = [_unquote(m.group(1)) for m in _ITEM.finditer(match.group("items")) if m.group(1)]
            op = "not in" if match.group("not") else "in"
            conditions.append(Condition(match.group("column"), op, items, joiner))
        else:
            op = match.group("op").strip().lower()
            conditions.append(
                Condition(match.group("column"), "!=" if op == "<>" else op, [_unquote(match.group("value"))], joiner)
            )
        position = match.end()
        if position >= len(text):
            break
        join = _JOIN.match(text, position)
        if join is None:
            raise ApiError("QUERY_SYNTAX_ERROR", f"Syntax Error on line 1 near {text[position : position + 30]!r}")
        joiner = join.group(1).lower()
        position = join.end()
    return conditions


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1].replace("''", "'").replace("\\'", "'")
    return token


def _sort_key(column: str, value: Any) -> Any:
    if column == "id" or column.endswith("_id"):
        return (0, _crm_id(str(value)), str(value))
    return (0, 0, str(value))


def _compare(column: str, actual: str, op: str, expected: str) -> bool:
    if op == "like":
        pattern = "^" + re.escape(expected).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pattern, actual, re.IGNORECASE | re.DOTALL) is not None
    if column == "id" and "x" in expected:
        left, right = _crm_id(actual), _crm_id(expected)
    else:
        left, right = _numeric_or_text(actual, expected)
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }[op]


def _numeric_or_text(actual: str, expected: str) -> tuple[Any, Any]:
    """Numbers compare as numbers (amount > 1000), everything else (timestamps included) as text."""
    try:
        return float(actual), float(expected)
    except ValueError:
        return actual, expected

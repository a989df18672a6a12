"""VTiger Cloud REST client for the sync (reference/vtiger-cloud-api.md A.1): Basic auth with the access key,
the credential check (`/me`), `describe` (id prefix, picklists), VTQL queries paged at 100 rows, `/sync` pages,
the keyset fallback over `modifiedtime,id`, Users, Groups and the Employees → user map.

Why it looks the way it does:
- VTiger reports failures three ways (a 4xx with the message only in the reason phrase, HTTP 200 with
  `success:false`, 429), and bodies may be empty or not JSON; every one becomes a VtigerError naming the endpoint.
- The flood-control headers are read after every reply: when `X-FloodControl-Remaining` is low the client sleeps
  until `X-FloodControl-Reset`; on 429 the retry waits for the reset (or backs off when there is none). Missing or
  garbled headers are ignored, never a crash (the old dashboard died on a KeyError there).
- Prefixes are never hard-coded: `describe` gives them ("39" or "39x" both become "39x").

Must not import Dash, Flask or the database layer.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from requests import Response  # `requests` is also a property name in the client class

from settings import VtigerSettings
from sync.engine import SyncError
from sync.http import CONNECT_TIMEOUT, READ_TIMEOUT, HttpClient, HttpError, Timeout

PAGE_SIZE = 100  # VTiger's hard cap per query
FLOOD_LOW_WATER = 2  # sleep until the reset when this few calls are left in the minute
MAX_FLOOD_SLEEP = 90.0  # a reset header further away than this is not trusted
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SAME_SECOND_PASSES = 5  # walks of one crowded second before giving up
KEY_HELP = "check the access key under My Preferences"
USER_COLUMNS = ("id", "user_name", "first_name", "last_name", "email1", "status", "user_primary_group", "time_zone")
AUTH_CODES = frozenset({"INVALID_USER_CREDENTIALS", "INVALID_SESSIONID", "AUTHENTICATION_REQUIRED", "INVALID_AUTH"})


class VtigerError(SyncError):
    """VTiger answered something the sync cannot use; the message names the endpoint and the fix."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.endpoint = endpoint


class VtigerAuthError(VtigerError):
    """The username / access key pair was refused."""


@dataclass
class ModuleInfo:
    """What `describe` says about a module."""

    name: str
    id_prefix: str  # always ends with "x", e.g. "39x"
    picklists: dict[str, list[str]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)


@dataclass
class SyncPage:
    """One `/sync` reply: changed records, deleted ws ids, whether more follow, and the page's high-water mark."""

    updated: list[dict[str, Any]]
    deleted: list[str]
    more: bool
    last_modified_time: int


@dataclass
class KeysetPage:
    """Records from the keyset fallback and the watermark (unix seconds) that is safe to store with them:
    every record modified at or before it has been handed out."""

    records: list[dict[str, Any]]
    watermark: int


class VtigerClient:
    """One VTiger Cloud instance, one API user. Not thread-safe (one sync per source at a time anyway)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        access_key: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: Timeout = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not access_key:
            raise VtigerAuthError("VTIGER_ACCESS_KEY is empty: set it, or remove VTIGER_URL to run on demo data")
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.page_size = max(1, min(int(page_size), PAGE_SIZE))
        self.http = HttpClient(
            session,
            timeout=timeout,
            sleep=sleep,
            name="VTiger",
            max_attempts=max_attempts,
            clock=clock,
            retry_wait=self._flood_reset_wait,
            on_response=self._throttle,
        )
        self.http.session.auth = (username, access_key)
        self.http.session.headers.setdefault("Accept", "application/json")
        self.shown_url = self.http.scrub(self.base_url)  # for messages: never with user info in it
        self.user: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: VtigerSettings, **kwargs: Any) -> VtigerClient:
        return cls(settings.url, settings.username, settings.access_key, **kwargs)

    @property
    def requests(self) -> int:
        """HTTP requests made so far (retries included)."""
        return self.http.requests

    @property
    def time_zone(self) -> str:
        """The API user's time zone from /me ("" before me() or when VTiger does not say)."""
        return str((self.user or {}).get("time_zone") or "")

    # --- endpoints ------------------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The API user; the credential check every sync starts with."""
        user = self._call("/me")
        if not isinstance(user, dict) or not user.get("id"):
            raise VtigerError(
                f"VTiger answered /me without a user: check that VTIGER_URL ({self.shown_url}) ends with "
                "/restapi/v1/vtiger/default",
                endpoint="/me",
            )
        self.user = user
        return user

    def describe(self, module: str) -> ModuleInfo:
        result = self._call("/describe", {"elementType": module})
        if not isinstance(result, dict):
            raise VtigerError(f"VTiger answered /describe for {module} with something that is not an object")
        prefix = str(result.get("idPrefix") or "").strip()
        if not prefix:
            raise VtigerError(f"VTiger's /describe for {module} has no idPrefix", endpoint="/describe")
        fields = [f for f in result.get("fields") or [] if isinstance(f, dict) and f.get("name")]
        return ModuleInfo(
            name=module,
            id_prefix=prefix if prefix.endswith("x") else prefix + "x",
            picklists={f["name"]: values for f in fields if (values := picklist_values(f)) is not None},
            fields=[str(f["name"]) for f in fields],
        )

    def query(self, vtql: str) -> list[dict[str, Any]]:
        """One VTQL query (at most 100 rows come back); the mandatory `;` is added when missing."""
        vtql = vtql.strip()
        if not vtql.endswith(";"):
            vtql += ";"
        result = self._call("/query", {"query": vtql})
        if not isinstance(result, list):
            raise VtigerError(f"VTiger answered /query with {type(result).__name__}, not a list: {vtql[:120]}")
        return [row for row in result if isinstance(row, dict)]

    def query_pages(self, vtql: str) -> Iterator[list[dict[str, Any]]]:
        """`vtql` (no LIMIT, no `;`) page by page with `LIMIT off,100`, while full pages come back."""
        base = vtql.strip().rstrip(";").strip()
        offset = 0
        previous_ids: list[Any] | None = None
        while True:
            page = self.query(f"{base} LIMIT {offset},{self.page_size};")
            ids = [row.get("id") for row in page]
            if page and ids == previous_ids:
                # A server that ignores the offset would otherwise be paged forever.
                raise VtigerError(f"VTiger returned the same page twice for {base[:80]}: LIMIT offset ignored")
            if page:
                yield page
            if len(page) < self.page_size:
                return
            previous_ids = ids
            offset += self.page_size

    def query_all(self, vtql: str) -> list[dict[str, Any]]:
        return [row for page in self.query_pages(vtql) for row in page]

    def count(self, module: str, where: str = "") -> int:
        rows = self.query(f"SELECT count(*) FROM {module}{' WHERE ' + where if where else ''};")
        try:
            return int(rows[0].get("count", 0))
        except (IndexError, TypeError, ValueError) as exc:
            raise VtigerError(f"VTiger answered count(*) on {module} with {rows!r}") from exc

    def sync_page(self, module: str, modified_time: int, sync_type: str = "application") -> SyncPage:
        """One `/sync` call: records of `module` modified after `modified_time` (unix seconds)."""
        params = {"modifiedTime": str(int(modified_time)), "elementType": module, "syncType": sync_type}
        result = self._call("/sync", params)
        if not isinstance(result, dict):
            raise VtigerError(f"VTiger answered /sync for {module} with something that is not an object")
        updated = result.get("updated") or []
        deleted = result.get("deleted") or []
        if not isinstance(updated, list) or not isinstance(deleted, list):
            raise VtigerError(f"VTiger's /sync for {module} has no updated/deleted lists", endpoint="/sync")
        try:
            last = int(float(result.get("lastModifiedTime", modified_time)))
        except (TypeError, ValueError) as exc:
            raise VtigerError(f"VTiger's /sync for {module} has a bad lastModifiedTime", endpoint="/sync") from exc
        return SyncPage(
            updated=[row for row in updated if isinstance(row, dict) and row.get("id")],
            deleted=[str(item.get("id") if isinstance(item, dict) else item) for item in deleted],
            more=bool(result.get("more")),
            last_modified_time=last,
        )

    def keyset_pages(self, module: str, since: int) -> Iterator[KeysetPage]:
        """Records modified at or after `since` (unix seconds), oldest first, for when `/sync` is refused.

        `WHERE modifiedtime >= 'W' ORDER BY modifiedtime,id LIMIT 0,100`, W moving to the last page's second (a
        page may end inside a second, so that second is read again). A full page inside one second (bulk edit or
        import) is offset-paged by id within that second and checked against count(*) for that second, then W
        moves past it.
        """
        watermark = since  # the next query's lower bound
        covered = since  # every record modified at or before this second has been handed out
        while True:
            start = format_unix(watermark)
            page = self.query(
                f"SELECT * FROM {module} WHERE modifiedtime >= '{start}' ORDER BY modifiedtime,id "
                f"LIMIT 0,{self.page_size};"
            )
            if len(page) < self.page_size:
                yield KeysetPage(page, max([covered, *(record_unix(r) for r in page)]))
                return
            first, last = record_unix(page[0]), record_unix(page[-1])
            if first < last:
                # Seconds before the last one are complete; the last may continue on the next page.
                covered = last - 1
                yield KeysetPage([r for r in page if record_unix(r) < last], covered)
                watermark = last
                continue
            covered = last
            yield KeysetPage(self._walk_second(module, last), covered)
            watermark = last + 1

    def _walk_second(self, module: str, second: int) -> list[dict[str, Any]]:
        """Every record modified in one crowded second. Offset paging drifts if records leave the second while
        it is read (they are edited, so they come back later anyway), which can skip one that stayed: a pass
        counts as complete only when count(*) for the second equals the ids it saw."""
        text = format_unix(second)
        for _attempt in range(SAME_SECOND_PASSES):
            seen = {
                r["id"]: r for r in self.query_all(f"SELECT * FROM {module} WHERE modifiedtime = '{text}' ORDER BY id")
            }
            if self.count(module, f"modifiedtime = '{text}'") == len(seen):
                return list(seen.values())
        raise VtigerError(
            f"{module} records modified at {text} UTC kept changing while the sync read them "
            f"({SAME_SECOND_PASSES} passes); the next run will try again"
        )

    def ids(self, module: str) -> Iterator[list[str]]:
        """Every visible id of `module`, page by page (the deletion backstop)."""
        for page in self.query_pages(f"SELECT id FROM {module} ORDER BY id"):
            yield [str(row["id"]) for row in page if row.get("id")]

    def existing_ids(self, module: str, candidates: list[str]) -> set[str]:
        """Which of these ids VTiger still shows (re-checks reconciliation candidates, 100 at a time)."""
        found: set[str] = set()
        for start in range(0, len(candidates), self.page_size):
            chunk = candidates[start : start + self.page_size]
            quoted = ",".join("'" + ws_id.replace("'", "") + "'" for ws_id in chunk)
            found |= {str(r.get("id")) for r in self.query(f"SELECT id FROM {module} WHERE id IN ({quoted});")}
        return found

    def users(self) -> list[dict[str, Any]]:
        """Every user, active or not (old records still name inactive people). Columns are the wanted ones
        `describe Users` knows (Cloud adds user_primary_group); no `SELECT *`, which would copy more than needed."""
        try:
            known = set(self.describe("Users").fields)
        except VtigerError:
            known = set()
        columns = [c for c in USER_COLUMNS if c in known] if known else list(USER_COLUMNS[:6])
        if "id" not in columns:
            columns.insert(0, "id")
        return self.query_all(f"SELECT {','.join(columns)} FROM Users")

    def groups(self) -> list[dict[str, Any]]:
        return self.query_all("SELECT id,groupname FROM Groups")

    def employee_users(self) -> dict[str, str]:
        """Employees ws id → user ws id (the old instance's qualified-by field held Employees ids, 68x…).
        Empty when the instance has no Employees module or the API user may not read it."""
        try:
            rows = self.query_all("SELECT id,user_id FROM Employees")
        except VtigerAuthError:
            raise
        except VtigerError:
            return {}
        return {str(r["id"]): str(r["user_id"]) for r in rows if r.get("id") and r.get("user_id")}

    # --- HTTP -------------------------------------------------------------------------------------------------------

    def _call(self, endpoint: str, params: dict[str, str] | None = None) -> Any:
        """GET an endpoint and return its `result`, or raise a VtigerError that says what went wrong."""
        try:
            response = self.http.get(self.base_url + endpoint, params=params)
        except HttpError as exc:
            if exc.status is not None and exc.response is not None and exc.status != 429:
                raise self._status_error(exc.response, endpoint, str(exc)) from None
            raise
        if response.status_code == 401:
            raise self._auth_error(401)
        if response.status_code >= 300:
            raise self._status_error(response, endpoint)
        body = self._json(response, endpoint)
        if not isinstance(body, dict) or "success" not in body:
            raise VtigerError(
                f"VTiger answered {endpoint} with JSON that is not a VTiger reply: check that VTIGER_URL "
                f"({self.shown_url}) ends with /restapi/v1/vtiger/default",
                endpoint=endpoint,
            )
        if not body.get("success"):
            code, message = _error_of(body)
            if code in AUTH_CODES:
                raise self._auth_error(response.status_code, code)
            raise VtigerError(
                f"VTiger refused {endpoint} ({code or 'no error code'}): "
                f"{self.http.scrub(message) or 'no message'}{_hint(code)}",
                code=code,
                status=response.status_code,
                endpoint=endpoint,
            )
        if "result" not in body:
            raise VtigerError(f"VTiger answered {endpoint} with success but no result", endpoint=endpoint)
        return body["result"]

    def _json(self, response: Response, endpoint: str) -> Any:
        if not response.content or not response.content.strip():
            raise VtigerError(
                f"VTiger answered {endpoint} (HTTP {response.status_code}) with an empty body; the next run will retry",
                status=response.status_code,
                endpoint=endpoint,
            )
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            start = self.http.scrub(" ".join(response.text.split())[:120])
            raise VtigerError(
                f"VTiger answered {endpoint} (HTTP {response.status_code}) with a body that is not JSON: check that "
                f"VTIGER_URL ends with /restapi/v1/vtiger/default; the reply began with {start!r}",
                status=response.status_code,
                endpoint=endpoint,
            ) from None

    def _status_error(self, response: Response, endpoint: str, fallback: str = "") -> VtigerError:
        """A non-2xx reply: the message is in a JSON error body, or only in the reason phrase, or nowhere."""
        status = response.status_code
        code, message = "", ""
        with contextlib.suppress(ValueError):
            code, message = _error_of(response.json())
        reason = self.http.scrub(response.reason or "")
        if code in AUTH_CODES or status == 401:
            return self._auth_error(status, code)
        if not code and ":" in reason and reason.split(":", 1)[0].isupper():
            code, message = (part.strip() for part in reason.split(":", 1))
        # A 5xx body may echo the request, and its Authorization header with it.
        detail = self.http.scrub(message or reason or " ".join(response.text.split())[:200]) or "no message"
        if fallback and not message:
            return VtigerError(fallback, code=code, status=status, endpoint=endpoint)
        return VtigerError(
            f"VTiger refused {endpoint} (HTTP {status}{' ' + code if code else ''}): {detail}{_hint(code)}",
            code=code,
            status=status,
            endpoint=endpoint,
        )

    def _auth_error(self, status: int, code: str = "") -> VtigerAuthError:
        what = f"{status}{', ' + code if code else ''}"
        return VtigerAuthError(
            f"VTiger rejected VTIGER_USERNAME/VTIGER_ACCESS_KEY ({what}): {KEY_HELP}", code=code, status=status
        )

    # --- flood control -------------------------------------------------------------------------------------------

    def _throttle(self, response: Response) -> None:
        """Sleep until the minute resets when the budget is nearly spent (429s are the retry loop's job)."""
        if response.status_code == 429:
            return
        remaining = _int_header(response, "X-FloodControl-Remaining")
        if remaining is None or remaining > FLOOD_LOW_WATER:
            return
        wait = self._flood_reset_wait(response)
        if wait:
            self.http.pause(wait)

    def _flood_reset_wait(self, response: Response) -> float | None:
        reset = _int_header(response, "X-FloodControl-Reset")
        if reset is None:
            return None
        wait = reset - self.clock()
        if wait <= 0 or wait > MAX_FLOOD_SLEEP:
            return None  # a reset in the past or far away (clock skew): fall back to backoff
        return wait + 0.5  # the reset second itself may still count against the old minute


# --- helpers -------------------------------------------------------------------------------------------------------


def picklist_values(field_info: dict[str, Any]) -> list[str] | None:
    """The values of a picklist field from describe: `[{label, value}]` on most builds, plain strings on some."""
    kind = field_info.get("type") or {}
    if not isinstance(kind, dict) or kind.get("name") not in ("picklist", "multipicklist"):
        return None
    values = []
    for item in kind.get("picklistValues") or []:
        value = item.get("value", item.get("label")) if isinstance(item, dict) else item
        if value is not None and str(value) != "":
            values.append(str(value))
    return values


def format_unix(seconds: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=int(seconds))).strftime(TIME_FORMAT)


def parse_unix(text: str) -> int:
    moment = datetime.strptime(text.strip(), TIME_FORMAT)
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def record_unix(record: dict[str, Any]) -> int:
    try:
        return parse_unix(str(record.get("modifiedtime", "")))
    except ValueError as exc:
        raise VtigerError(
            f"VTiger record {record.get('id')} has a bad modifiedtime {record.get('modifiedtime')!r}"
        ) from exc


def _error_of(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    if isinstance(error, str):
        return "", error
    return "", ""


def _hint(code: str) -> str:
    if code == "ACCESS_DENIED":
        return " (the API user may not see this; use an admin user for syncType=application)"
    if code == "QUERY_SYNTAX_ERROR":
        return " (a field name may differ on this instance)"
    return ""


def _int_header(response: Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(float(str(value).strip())) if value not in (None, "") else None
    except ValueError:
        return None

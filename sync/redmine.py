"""Redmine REST client for the sync: checks the key, reads issue statuses, pages issues with the keyset loop of
reference/redmine-api.md B.3, and lists every visible issue id for the deletion reconciliation.

Why it looks the way it does:
- A bad key is not an error at /issues.json (Redmine answers as anonymous with public data), so the key is
  checked at /users/current.json first, where 401 and 403 mean something.
- Offset paging over a changing list skips records (B.3), so issues are read with offset 0 and a moving
  `updated_on>=W` watermark, sorted by `updated_on,id`. Redmine's `>=T` means `updated_on > T-1s`; a whole page
  inside about two seconds (a bulk edit) is walked by id in the window `><W|W+1s`, after which W = W+2s.
- Every loop makes progress or stops with a SyncError: the old dashboard looped forever here.

Must not import Dash, Flask or the database layer.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from requests import Response  # `requests` is also a property name in the client class

from settings import RedmineSettings
from sync.engine import SyncError
from sync.http import HttpClient
from sync.redmine_mapping import format_time, parse_time

MAX_PAGE_SIZE = 100
SAME_SECOND_PASSES = 5  # walks of one bulk-edit window before giving up (each pass normally suffices)
KEY_HELP = "copy the key from My account → API access key"
_API_KEY = re.compile(r"[0-9a-f]{40}")  # Redmine's keys: 40 lowercase hex digits


class RedmineError(SyncError):
    """Redmine answered something the sync cannot use; the message says what and what to do."""


class RedmineAuthError(RedmineError):
    """The credentials were refused (401) or the REST API is off / the account is blocked (403)."""


@dataclass
class IssuePage:
    """Issues to store, and the watermark that is safe to store in the same transaction as them."""

    issues: list[dict[str, Any]]
    watermark: str


class RedmineClient:
    """One Redmine server, one set of credentials. Not thread-safe (one sync per source at a time anyway)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        username: str = "",
        password: str = "",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        project_id: str = "",
    ) -> None:
        if not api_key and not (username and password):
            raise RedmineAuthError("REDMINE_API_KEY is empty: set it (or REDMINE_USERNAME and REDMINE_PASSWORD)")
        self.base_url = base_url.rstrip("/")
        self.uses_key = bool(api_key)
        self.http = HttpClient(session=session or requests.Session(), timeout=timeout, sleep=sleep, name="Redmine")
        if api_key:
            self.http.session.headers["X-Redmine-API-Key"] = api_key
        else:
            self.http.session.auth = (username, password)
        self.http.session.headers.setdefault("Accept", "application/json")
        # Redmine clamps limit to 100; a smaller page is for tests that want many pages from few issues.
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.project_id = project_id  # optional: only this project (and its subprojects)

    @classmethod
    def from_settings(cls, settings: RedmineSettings, **kwargs: Any) -> RedmineClient:
        return cls(
            settings.url,
            api_key=settings.api_key,
            username="" if settings.api_key else settings.username,
            password="" if settings.api_key else settings.password,
            **kwargs,
        )

    @property
    def requests(self) -> int:
        """HTTP requests made so far (retries included)."""
        return self.http.requests

    # --- endpoints ----------------------------------------------------------------------------------------------

    def current_user(self) -> dict[str, Any]:
        """The account behind the credentials; the only reliable credential check Redmine offers (B.1)."""
        response = self._get("/users/current.json")
        if response.status_code == 401 and self._password_is_a_key():
            # The old dashboard's credentials.json paired redmine_username with "redmine_access_key", which is
            # often the API key rather than a password; Redmine only takes a key as the Basic *user* part.
            response = self._retry_with_password_as_key(response)
        if response.status_code == 401:
            raise RedmineAuthError(self._rejected_message())
        if response.status_code == 403:
            raise RedmineAuthError(
                "Redmine refused the API (403): enable it in Administration → Settings → API "
                "(Enable REST web service), or the account must change its password or is locked"
            )
        body = self._json(response, "/users/current.json")
        user = body.get("user") if isinstance(body, dict) else None
        if not isinstance(user, dict) or "id" not in user:
            raise RedmineError(
                f"{self.base_url}/users/current.json did not return a Redmine user: check that REDMINE_URL is the "
                "Redmine root (e.g. https://redmine.example.com)"
            )
        return user

    def statuses(self) -> list[dict[str, Any]]:
        body = self._get_json("/issue_statuses.json")
        statuses = body.get("issue_statuses")
        if not isinstance(statuses, list):
            raise RedmineError(f"{self.base_url}/issue_statuses.json has no issue_statuses list")
        return statuses

    def issue_pages(self, since: str = "") -> Iterator[IssuePage]:
        """Every issue updated at or after `since` (all issues when empty), page by page, by the B.3 keyset loop.

        Each page's watermark covers it and everything before it, so a caller that commits the issues and the
        watermark together can stop (or crash) between pages and resume without a gap. Pages are fetched lazily:
        the next request happens only when the caller asks for the next page.
        """
        watermark = parse_time(since, field="watermark") if since else None
        seen = _RecentIds()
        pages = 0
        budget: int | None = None
        while True:
            body = self._issue_list(_updated_since(watermark), sort="updated_on,id")
            issues = _issues_of(body, self.base_url)
            budget = budget if budget is not None else self._page_budget(body)
            pages += 1
            if pages > budget:
                raise RedmineError(
                    f"Redmine issue paging did not finish after {budget} pages (the watermark is at "
                    f"{_text(watermark)}): issues are being edited faster than the sync reads them; try again later"
                )
            stamps = [_updated_on(issue) for issue in issues]
            # `>=W` returns updated_on > W-1s, shown truncated: nothing may be shown earlier than W-1s.
            if watermark is not None and any(stamp < watermark - timedelta(seconds=1) for stamp in stamps):
                raise RedmineError(
                    "Redmine ignored the updated_on filter of /issues.json (it returned older issues): "
                    "a proxy may strip query parameters, or this is not a Redmine 3.0+ server"
                )
            if len(issues) < self.page_size:
                newest = max([*stamps, watermark] if watermark else stamps, default=None)
                yield IssuePage(seen.fresh(issues, stamps), _text(newest))
                return
            last = stamps[-1]
            if watermark is None or last > watermark:
                yield IssuePage(seen.fresh(issues, stamps), _text(last))
                watermark = last
                seen.forget_before(watermark - timedelta(seconds=1))
                continue
            # A whole page within the seconds around W (a bulk edit): walk that window by id, then step past it.
            for window_issues in self._walk_window(watermark):
                yield IssuePage(seen.fresh(window_issues, [_updated_on(i) for i in window_issues]), _text(watermark))
            watermark += timedelta(seconds=2)
            seen.forget_before(watermark - timedelta(seconds=1))
            yield IssuePage([], _text(watermark))

    def all_issue_ids(self) -> set[int]:
        """Every issue id the credentials can see, whatever its status: total/100 requests, paged by id (a keyset,
        so deletions during the walk cannot shift pages and make a live issue look deleted)."""
        ids: set[int] = set()
        next_id = 1
        while True:
            body = self._issue_list({"issue_id": f">={next_id}"}, sort="id")
            page = [_issue_id(issue) for issue in _issues_of(body, self.base_url)]
            if any(issue_id < next_id for issue_id in page) or page != sorted(page):
                raise RedmineError(
                    "Redmine ignored the issue_id filter of /issues.json, so deleted issues cannot be detected "
                    "safely: this needs Redmine 3.3 or later"
                )
            ids.update(page)
            if len(page) < self.page_size:
                return ids
            next_id = page[-1] + 1

    def issues_by_ids(self, issue_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The visible issues among `issue_ids` (Redmine silently drops the others), 100 per request."""
        wanted = sorted(set(issue_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), self.page_size):
            chunk = wanted[start : start + self.page_size]
            body = self._issue_list({"issue_id": ",".join(map(str, chunk))}, sort="id")
            found.extend(_issues_of(body, self.base_url))
        return found

    # --- paging helpers ------------------------------------------------------------------------------------------

    def _walk_window(self, watermark: datetime) -> Iterator[list[dict[str, Any]]]:
        """All issues in `><W|W+1s` (Redmine: W-1s < updated_on <= W+1s), by offset over a stable id order.

        A pass is complete when it collected as many distinct ids as total_count said and total_count did not
        change during the pass; an edit during the walk moves an issue out of the window (to a later second the
        main loop reads) and shifts offsets, so such a pass is repeated."""
        window = f"><{format_time(watermark)}|{format_time(watermark + timedelta(seconds=1))}"
        low, high = watermark - timedelta(seconds=1), watermark + timedelta(seconds=1)
        for _ in range(SAME_SECOND_PASSES):
            collected: set[int] = set()
            totals: set[int] = set()
            offset = 0
            while True:
                body = self._issue_list({"updated_on": window}, sort="id", offset=offset)
                issues = _issues_of(body, self.base_url)
                totals.add(_total_count(body))
                if any(not low <= _updated_on(issue) <= high for issue in issues):
                    raise RedmineError(
                        "Redmine ignored the updated_on range filter of /issues.json (it returned issues outside "
                        f"{window}); a proxy may strip query parameters"
                    )
                collected.update(_issue_id(issue) for issue in issues)
                yield issues
                offset += len(issues)
                if len(issues) < self.page_size or offset >= max(totals):
                    break
            if len(totals) == 1 and len(collected) == totals.pop():
                return
        raise RedmineError(
            f"issues updated around {format_time(watermark)} kept changing while the sync read them "
            f"({SAME_SECOND_PASSES} passes); the next run will try again"
        )

    def _page_budget(self, first_body: dict[str, Any]) -> int:
        """How many keyset pages one run may take: every issue twice (overlap seconds, edits during the run)
        plus slack. Beyond that something is wrong, and stopping beats looping forever."""
        return 2 * math.ceil(_total_count(first_body) / self.page_size) + 50

    def _issue_list(self, filters: dict[str, str], *, sort: str, offset: int = 0) -> dict[str, Any]:
        params = {"status_id": "*", "sort": sort, "limit": str(self.page_size), "offset": str(offset), **filters}
        if self.project_id:
            params["project_id"] = self.project_id
        return self._get_json("/issues.json", params)

    # --- HTTP -----------------------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str] | None = None) -> Response:
        return self.http.get(self.base_url + path, params=params)

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = self._get(path, params)
        if response.status_code >= 400:
            raise self._error(response, path)
        body = self._json(response, path)
        if not isinstance(body, dict):
            raise RedmineError(f"Redmine answered {path} with JSON that is not an object: {str(body)[:200]}")
        return body

    def _json(self, response: Response, path: str) -> Any:
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            kind = "an HTML page" if _is_html(response) else "a body that is not JSON"
            raise RedmineError(
                f"Redmine answered {path} ({response.status_code}) with {kind}: check that REDMINE_URL is the "
                f"Redmine root; the reply began with {self.http.scrub(response.text[:120])!r}"
            ) from exc

    def _error(self, response: Response, path: str) -> RedmineError:
        status = response.status_code
        if status == 401:
            return RedmineAuthError(self._rejected_message())
        if status == 403:
            return RedmineAuthError(
                f"Redmine refused {path} (403): the account behind the credentials may not read it; give it a role "
                "with 'View issues' in the projects to sync"
            )
        if status == 404 and _is_html(response):
            return RedmineError(
                f"Redmine has no {path} (404, an HTML page): check that REDMINE_URL ({self.base_url}) is the "
                "Redmine root, not a project or issue page"
            )
        if status == 404:
            return RedmineError(f"Redmine answered 404 for {path}: the project or record does not exist or is hidden")
        if status == 422:
            errors = self.http.scrub("; ".join(_errors_of(response)))
            return RedmineError(f"Redmine rejected the query {path} (422): {errors}")
        # The body may echo the request (a proxy's error page, a debug 500): its headers carry the key.
        return RedmineError(f"Redmine answered {path} with HTTP {status}: {self.http.scrub(response.text[:200])!r}")

    def _password_is_a_key(self) -> bool:
        auth = self.http.session.auth
        return not self.uses_key and isinstance(auth, tuple) and bool(_API_KEY.fullmatch(str(auth[1])))

    def _retry_with_password_as_key(self, refused: Response) -> Response:
        auth = self.http.session.auth
        assert isinstance(auth, tuple)
        self.http.session.auth = None
        self.http.session.headers["X-Redmine-API-Key"] = str(auth[1])
        response = self._get("/users/current.json")
        if response.status_code == 200:
            self.uses_key = True
            return response
        self.http.session.auth = auth
        del self.http.session.headers["X-Redmine-API-Key"]
        return refused

    def _rejected_message(self) -> str:
        if self.uses_key:
            return f"Redmine rejected REDMINE_API_KEY (401): {KEY_HELP}"
        return (
            f"Redmine rejected REDMINE_USERNAME/REDMINE_PASSWORD (401): fix them, or set REDMINE_API_KEY ({KEY_HELP})"
        )


# --- small helpers ----------------------------------------------------------------------------------------------


class _RecentIds:
    """Ids already handed out with their updated_on, kept only for the overlap seconds around the watermark, so
    re-read boundary rows are not passed on twice and memory does not grow with the number of issues."""

    def __init__(self) -> None:
        self.stamps: dict[int, datetime] = {}

    def fresh(self, issues: list[dict[str, Any]], stamps: list[datetime]) -> list[dict[str, Any]]:
        out = []
        for issue, stamp in zip(issues, stamps, strict=True):
            issue_id = _issue_id(issue)
            if self.stamps.get(issue_id) == stamp:
                continue
            self.stamps[issue_id] = stamp
            out.append(issue)
        return out

    def forget_before(self, moment: datetime) -> None:
        self.stamps = {issue_id: stamp for issue_id, stamp in self.stamps.items() if stamp >= moment}


def _updated_since(watermark: datetime | None) -> dict[str, str]:
    return {"updated_on": f">={format_time(watermark)}"} if watermark else {}


def _text(moment: datetime | None) -> str:
    return format_time(moment) if moment else ""


def _issues_of(body: dict[str, Any], base_url: str) -> list[dict[str, Any]]:
    issues = body.get("issues")
    if not isinstance(issues, list) or not all(isinstance(issue, dict) for issue in issues):
        raise RedmineError(f"{base_url}/issues.json did not return an issues list: {str(body)[:200]}")
    return issues


def _issue_id(issue: dict[str, Any]) -> int:
    value = issue.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RedmineError(f"Redmine sent an issue without an integer id: {str(issue)[:200]}")
    return value


def _updated_on(issue: dict[str, Any]) -> datetime:
    stamp = parse_time(issue.get("updated_on"), issue_id=issue.get("id"), field="updated_on")
    if stamp is None:
        raise RedmineError(f"Redmine issue {issue.get('id')} has no updated_on")
    return stamp.replace(microsecond=0)


def _total_count(body: dict[str, Any]) -> int:
    total = body.get("total_count")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise RedmineError(f"Redmine's /issues.json reply has no total_count: {str(body)[:200]}")
    return total


def _is_html(response: Response) -> bool:
    return "html" in response.headers.get("Content-Type", "") or response.text.lstrip().startswith("<")


def _errors_of(response: Response) -> list[str]:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    if isinstance(errors, list) and errors:
        return [str(error) for error in errors]
    return [response.text[:200] or "no details given"]

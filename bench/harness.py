"""Drive a page's date-change callback through the real Dash endpoint, the way the browser does.

`find_page_callback` reads `/_dash-dependencies` and picks, for a page, the server callback whose inputs include
the page's date control (`<page>-date.date`, or any input of that page whose id mentions "date"); its window and
group (or project) inputs are found the same way. `CallbackDriver.payload(view)` renders the page's layout for
the view (so every input and state gets the value a browser would send), sets the date, window and selector, and
returns the JSON body for `/_dash-update-component`. Posting it with the Flask test client runs the whole request:
the gate, Dash's dispatch, the callback, JSON serialisation and compression.

Nothing here knows a page's outputs: a page that is not built yet is simply not found.
Must not import sync/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

import dash

from bench.dataset import ANCHOR
from bench.references import View
from metrics.windows import WindowKind
from settings import Settings

PAGE_PATHS = {"cases": "/cases", "sales": "/sales", "redmine": "/redmine"}
DEFAULT_TIMEZONE = "America/New_York"  # BENCH_TIMEZONE: a zone with daylight saving, as most teams have
BROWSER_HEADERS = {"Accept-Encoding": "br, gzip, deflate", "Accept": "application/json"}


def bench_settings(database_url: str, tz_name: str, *, testing: bool = True) -> Settings:
    return Settings(
        database_url=database_url,
        testing=testing,
        embedded_sync=False,
        auth_disabled=True,
        timezone=tz_name,
        secret_key="bench-not-secret",
    )


def anchor_clock() -> datetime:
    """The dataset's "now": pages clamp dates to today, and today must be the day the data ends."""
    return ANCHOR.replace(tzinfo=UTC)


def build_app(database_url: str, tz_name: str, *, testing: bool = True) -> dash.Dash:
    """The app on the benchmark database, with sign-in and embedded sync off and the dataset's "today"."""
    from app import create_app
    from web.runtime import freeze_startup_objects

    dash_app = create_app(bench_settings(database_url, tz_name, testing=testing))
    dash_app.server.extensions["kpi"].clock = anchor_clock
    freeze_startup_objects()  # as each gunicorn worker does once the app is built (gunicorn.conf.py)
    return dash_app


def clear_app_caches(dash_app: dash.Dash) -> bool:
    """Empty the app's caches before a cold call, when it has any (`Runtime.clear_caches`). Returns whether there
    was something to clear."""
    return bool(dash_app.server.extensions["kpi"].clear_caches())


# --- discovery -----------------------------------------------------------------------------------------------------


def _id_text(component_id: Any) -> str:
    return component_id if isinstance(component_id, str) else json.dumps(component_id, sort_keys=True)


def _mentions(component_id: Any, page: str, word: str) -> bool:
    text = _id_text(component_id).lower()
    return text.startswith(page) and word in text


def split_output(output: str) -> list[dict[str, Any]] | dict[str, Any]:
    """Dash's "output" key as the renderer sends it in "outputs": a list for a multi-output callback
    ("..a.children...b.figure.."), else one {id, property}."""

    def one(part: str) -> dict[str, Any]:
        component_id, prop = part.rsplit(".", 1)
        return {"id": json.loads(component_id) if component_id.startswith("{") else component_id, "property": prop}

    if output.startswith("..") and output.endswith(".."):
        return [one(part) for part in output[2:-2].split("...")]
    return one(output)


@dataclass(frozen=True)
class PageCallback:
    page: str
    output: str
    inputs: list[dict[str, Any]]
    state: list[dict[str, Any]]
    date_input: tuple[Any, str]
    window_input: tuple[Any, str] | None
    selector_input: tuple[Any, str] | None

    @property
    def output_count(self) -> int:
        outputs = split_output(self.output)
        return len(outputs) if isinstance(outputs, list) else 1


def find_page_callback(dependencies: list[dict[str, Any]], page: str) -> PageCallback | None:
    """The page's date-change callback, or None when the page has none (yet)."""
    candidates = []
    for dependency in dependencies:
        if dependency.get("clientside_function"):
            continue
        inputs = dependency.get("inputs", [])
        pairs = [(item["id"], item["property"]) for item in inputs]
        date_input = next(((i, p) for i, p in pairs if _mentions(i, page, "date") and p == "date"), None)
        date_input = date_input or next(
            ((i, p) for i, p in pairs if _mentions(i, page, "-date") and p == "value"), None
        )
        if date_input is None:
            continue
        window = next(((i, p) for i, p in pairs if _mentions(i, page, "window")), None)
        selector = next(
            ((i, p) for i, p in pairs if any(_mentions(i, page, word) for word in ("selector", "group", "project"))),
            None,
        )
        candidates.append(
            PageCallback(page, dependency["output"], inputs, dependency.get("state", []), date_input, window, selector)
        )
    # The main callback renders the page: the one with the most outputs.
    return max(candidates, key=lambda found: found.output_count, default=None)


def dependencies_of(client: Any) -> list[dict[str, Any]]:
    response = client.get("/_dash-dependencies", headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise RuntimeError(f"/_dash-dependencies answered {response.status_code}")
    return response.get_json()


# --- payloads -----------------------------------------------------------------------------------------------------


def _components(root: Any) -> dict[str, Any]:
    """Every component of a layout tree by (textual) id."""
    found: dict[str, Any] = {}
    nodes: Iterator[Any] = iter([root, *(root._traverse() if hasattr(root, "_traverse") else [])])
    for node in nodes:
        component_id = getattr(node, "id", None)
        if component_id is not None:
            found[_id_text(component_id)] = node
    return found


class CallbackDriver:
    """Builds request bodies for one page's date-change callback on one app."""

    def __init__(self, dash_app: dash.Dash, callback: PageCallback) -> None:
        self.app = dash_app
        self.callback = callback
        self.path = PAGE_PATHS[callback.page]
        self._rendered: dict[str, Any] | None = None

    def _layout(self, view: View) -> dict[str, Any]:
        """The page's components, rendered once: the date, window and selector are set per view by `payload`, and
        nothing else a browser sends depends on them."""
        from layouts.pages import page_for

        if self._rendered is None:
            page = page_for(self.path)
            if page is None:
                raise RuntimeError(f"no page at {self.path}")
            query = {"date": view.day.isoformat(), "window": view.window}
            with self.app.server.test_request_context(self.path):
                self._rendered = _components(page.layout(query))
        return self._rendered

    def _value(self, components: dict[str, Any], component_id: Any, prop: str) -> Any:
        if prop == "pathname":
            return self.path
        component = components.get(_id_text(component_id))
        return getattr(component, prop, None) if component is not None else None

    def selector_choices(self, view: View) -> list[Any]:
        """The values the page's selector offers (to check the benchmark's group exists)."""
        if self.callback.selector_input is None:
            return []
        component = self._layout(view).get(_id_text(self.callback.selector_input[0]))
        options = getattr(component, "options", None) or []
        return [option.get("value") if isinstance(option, dict) else option for option in options]

    def payload(self, view: View) -> dict[str, Any]:
        components = self._layout(view)
        overrides = {self.callback.date_input: view.day.isoformat()}
        if self.callback.window_input:
            overrides[self.callback.window_input] = view.window
        if self.callback.selector_input:
            overrides[self.callback.selector_input] = view.group or ""

        def values(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            result = []
            for item in items:
                key = (item["id"], item["property"])
                matched = next((value for pair, value in overrides.items() if pair == key), None)
                value = matched if matched is not None else self._value(components, item["id"], item["property"])
                result.append({"id": item["id"], "property": item["property"], "value": value})
            return result

        date_id, date_prop = self.callback.date_input
        return {
            "output": self.callback.output,
            "outputs": split_output(self.callback.output),
            "inputs": values(self.callback.inputs),
            "changedPropIds": [f"{_id_text(date_id)}.{date_prop}"],
            "state": values(self.callback.state),
        }


@dataclass(frozen=True)
class CallResult:
    seconds: float
    status: int
    size: int  # bytes as sent (compressed when the app compresses)
    error: str = ""


def post_callback(client: Any, body: dict[str, Any]) -> CallResult:
    """One callback request through the Flask test client, timed from the request to the full response body."""
    started = time.perf_counter()
    response = client.post("/_dash-update-component", json=body, headers=BROWSER_HEADERS)
    data = response.get_data()
    seconds = time.perf_counter() - started
    error = ""
    if response.status_code not in (200, 204):
        error = f"HTTP {response.status_code}: {data[:300]!r}"
    return CallResult(seconds, response.status_code, len(data), error)


def views_for(page: str, window: str, group: str | None, count: int, *, cold: bool) -> list[View]:
    """`count` views: cold ones fall in `count` different windows (new dates every call), warm ones repeat the
    dataset's last day."""
    from bench.dataset import ANCHOR as anchor
    from metrics.windows import month_start

    today = anchor.date()
    base = View(page, today, cast(WindowKind, window), group)  # the bench config checked it against WINDOW_KINDS
    if not cold:
        return [base] * count
    days = []
    for step in range(count):
        if window == "day":
            days.append(today.fromordinal(today.toordinal() - step))
        elif window == "week":
            days.append(today.fromordinal(today.toordinal() - 7 * step))
        else:
            first = month_start(today, step)
            days.append(first.replace(day=min(today.day, 28)))
    return [replace(base, day=day) for day in days]

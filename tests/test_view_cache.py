"""The app's cache (web/cache.py) and the data version it is keyed on (models.queries.data_version): a repeated
view is served from the cache, and anything sync commits (a run starting or finishing, a page of rows written while
the run is still "running") makes the next view read the database again. On SQLite and PostgreSQL, through the real
page callbacks; the TV's slides and the page values survive the pickling a Redis cache does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from callbacks.cases import CALLBACKS as CASES_CALLBACKS
from callbacks.controls import Trigger
from callbacks.redmine import CALLBACKS as REDMINE_CALLBACKS
from callbacks.sales import render_sales
from models.queries import data_version
from models.schema import cases, redmine_issues, sync_runs
from settings import Settings
from sync.engine import write_state
from tests.cache_support import CountingCache, counted
from tests.seed_dashboards import case_row, demo_issues, seed_statuses, store_rows, write_rows
from view_models.page_state import PageState
from web.cache import cached

NOW = datetime(2026, 11, 20, 15, 0)
TODAY = date(2026, 11, 20)


def test_cached_builds_once_per_key_and_data_version(settings_for: Callable[..., Settings]) -> None:
    from flask import Flask

    from web.cache import init_cache
    from web.runtime import Runtime

    built: list[tuple[str, int]] = []

    def build(name: str, version: int) -> Callable[[], str | None]:
        def make() -> str | None:
            built.append((name, version))
            return None if name == "none" else name.upper()

        return make

    server = Flask(__name__)
    settings = settings_for()
    server.extensions["kpi"] = runtime = Runtime(settings=settings, engine=None)  # type: ignore[arg-type]
    runtime.cache = init_cache(server, settings, "test")
    with server.app_context():
        assert cached("t", ("a",), 1, build("a", 1)) == "A"
        assert cached("t", ("a",), 1, build("a", 1)) == "A"
        assert cached("t", ("a",), 2, build("a", 2)) == "A"  # a sync moved the version on: built again
        assert cached("t", ("b",), 2, build("b", 2)) == "B"
        assert cached("u", ("b",), 2, build("b", 2)) == "B"  # another namespace, another entry
        assert cached("t", ("none",), 2, build("none", 2)) is None
        assert cached("t", ("none",), 2, build("none", 2)) is None  # a None answer is an answer
        assert built == [("a", 1), ("a", 2), ("b", 2), ("b", 2), ("none", 2)]
        assert runtime.clear_caches()
        cached("t", ("a",), 2, build("a", 2))
    assert built[-1] == ("a", 2) and len(built) == 6
    cached("t", ("a",), 2, build("a", 2))  # outside an app (a script): no cache, simply built
    assert len(built) == 7


def start_run(engine: Engine, module: str = "Cases") -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(sync_runs).values(source="vtiger", module=module, started_at=NOW, status="running")
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def test_data_version_moves_with_every_sync_commit(engine: Engine) -> None:
    versions = [data_version(engine)]
    run_id = start_run(engine)
    versions.append(data_version(engine))  # a run started
    with engine.begin() as conn:  # a page of new rows, committed while the run is still running
        store_rows(conn, cases, [case_row(1)])
        write_state(conn, "vtiger", "Cases", "1")
    versions.append(data_version(engine))
    with engine.begin() as conn:  # a page that only changes a stored row (no new id)
        store_rows(conn, cases, [case_row(1, status="Resolved", resolved_at=NOW)])
        write_state(conn, "vtiger", "Cases", "2")
    versions.append(data_version(engine))
    with engine.begin() as conn:  # the run finishes
        conn.execute(
            update(sync_runs)
            .where(sync_runs.c.id == run_id)
            .values(status="success", finished_at=NOW + timedelta(minutes=1))
        )
    versions.append(data_version(engine))
    assert len(set(versions)) == len(versions), versions
    assert data_version(engine) == versions[-1]  # nothing new: the same version


@pytest.fixture
def page_app(engine: Engine, database_url: str, settings_for: Callable[..., Settings]) -> Iterator[Any]:
    from app import create_app, start_rollups

    dash_app = create_app(settings_for(database_url, auth_disabled=True, timezone="UTC"))
    start_rollups(dash_app.server.extensions["kpi"])  # as start-up does: the roll-ups exist before any page
    counted(dash_app)
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def render(dash_app: Any, page: str, state: PageState) -> dict[str, Any]:
    with dash_app.server.test_request_context(f"/{page}"):
        if page == "sales":
            return render_sales(state, Trigger("controls"))
        callbacks = CASES_CALLBACKS if page == "cases" else REDMINE_CALLBACKS
        return callbacks.render(state, Trigger("controls"))


def cache_of(dash_app: Any) -> CountingCache:
    return counted(dash_app)


def created_today(values: dict[str, Any]) -> str:
    """The day's Created card of a rendered /cases page (its window columns come second)."""

    def find(tree: Any) -> Any:
        if isinstance(tree, list):
            return next((found for item in tree if (found := find(item)) is not None), None)
        if isinstance(tree, dict) and "props" in tree:
            props = tree["props"]
            return props.get("children") if props.get("id") == "cases-day-created" else find(props.get("children"))
        return None

    return str(find(values["windows"]))


def table_version(values: dict[str, Any]) -> str:
    return values["table_query"]["version"]  # the table's view (view_models.tracker_view.table_query)


def test_repeated_view_is_served_from_the_cache_until_sync_commits(page_app: Any, engine: Engine) -> None:
    write_rows(engine, cases, [case_row(n, created_at=NOW - timedelta(hours=n)) for n in range(1, 4)])
    state = PageState(TODAY, "day", "", True, TODAY)
    first = render(page_app, "cases", state)
    assert created_today(first) == "3"
    cache = cache_of(page_app)
    misses = cache.misses["/cases-render"]
    assert misses == 1
    again = render(page_app, "cases", state)
    assert again == first and cache.misses["/cases-render"] == misses and cache.hits["/cases-render"] == 1

    start_run(engine)  # a sync run starts and commits one page (it is still running)
    with engine.begin() as conn:
        store_rows(conn, cases, [case_row(9, created_at=NOW - timedelta(minutes=5))])
        write_state(conn, "vtiger", "Cases", "9")
    fresh = render(page_app, "cases", state)
    assert created_today(fresh) == "4"
    assert table_version(fresh) != table_version(first)  # the table asks for its rows again
    assert cache.misses["/cases-render"] == misses + 1

    with engine.begin() as conn:  # the next page only modifies a stored case: no new id, same row count
        store_rows(conn, cases, [case_row(9, created_at=NOW - timedelta(minutes=5), title="Renamed")])
        write_state(conn, "vtiger", "Cases", "10")
    render(page_app, "cases", state)
    assert cache.misses["/cases-render"] == misses + 2


def test_views_differ_by_parameters_and_today(page_app: Any, engine: Engine) -> None:
    seed_statuses(engine)
    write_rows(engine, redmine_issues, demo_issues(NOW, count=40, days=20))
    day = PageState(TODAY, "day", "", True, TODAY)
    week = PageState(TODAY, "week", "", True, TODAY)
    tomorrow = PageState(TODAY, "day", "", True, TODAY + timedelta(days=1))
    shown = [render(page_app, "redmine", state) for state in (day, week, tomorrow, day)]
    assert shown[0] == shown[3]
    assert shown[0] != shown[1] and shown[0] != shown[2]
    assert (cache_of(page_app).misses["/redmine-render"], cache_of(page_app).hits["/redmine-render"]) == (3, 1)


def test_sales_page_uses_the_cache_and_clear_empties_it(page_app: Any) -> None:
    state = PageState(TODAY, "month", "", True, TODAY)
    cache = cache_of(page_app)
    first = render(page_app, "sales", state)
    assert render(page_app, "sales", state) == first
    assert (cache.misses["sales-render"], cache.hits["sales-render"]) == (1, 1)
    assert page_app.server.extensions["kpi"].clear_caches()
    assert render(page_app, "sales", state) == first
    assert cache.misses["sales-render"] == 2


def test_what_the_cache_holds_survives_pickling(page_app: Any, engine: Engine) -> None:
    """A Redis cache pickles: the TV's slides (Dash component trees), the sales view (a dataclass of frames) and
    the pages' values must come back equal."""
    import json
    import pickle

    from plotly.utils import PlotlyJSONEncoder

    from callbacks.tv import build_panel, sales_today
    from view_models.tv_state import Slide

    def as_json(tree: Any) -> str:
        return json.dumps(tree, cls=PlotlyJSONEncoder, sort_keys=True)  # the whole tree, as Dash sends it

    write_rows(engine, cases, [case_row(n, created_at=NOW - timedelta(hours=n)) for n in range(1, 4)])
    settings = page_app.server.extensions["kpi"].settings
    values = render(page_app, "cases", PageState(TODAY, "day", "", True, TODAY))
    assert pickle.loads(pickle.dumps(values)) == values
    for page in ("cases", "redmine", "sales", "support"):
        panel = build_panel(engine, settings, Slide(page, ""), TODAY, NOW)
        assert as_json(pickle.loads(pickle.dumps(panel))) == as_json(panel), page
    view = sales_today(engine, settings, "", TODAY, NOW, data_version(engine))
    again = pickle.loads(pickle.dumps(view))
    assert again.totals() == view.totals() and again.leaderboard.equals(view.leaderboard)

"""The view cache (view_models/cache.py) and the data version it is keyed on (models.queries.data_version): a
repeated view is served from the cache, and anything sync commits (a run starting or finishing, a page of rows
written while the run is still "running") makes the next view read the database again. On SQLite and
PostgreSQL, through the real page callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update
from view_models.cache import CACHES, ViewCache, cached

from callbacks.cases import CALLBACKS as CASES_CALLBACKS
from callbacks.controls import Trigger
from callbacks.redmine import CALLBACKS as REDMINE_CALLBACKS
from callbacks.sales import render_sales
from models.queries import data_version
from models.schema import cases, redmine_issues, sync_runs
from settings import Settings
from sync.engine import upsert_rows, write_state
from tests.seed_dashboards import case_row, demo_issues, seed_statuses, write_rows
from view_models.page_state import PageState

NOW = datetime(2026, 11, 20, 15, 0)
TODAY = date(2026, 11, 20)


def test_lru_keeps_the_newest_entries_and_counts_hits() -> None:
    cache = ViewCache(max_entries=2)
    built: list[str] = []

    def build(name: str) -> Callable[[], str]:
        def make() -> str:
            built.append(name)
            return name.upper()

        return make

    assert cache.get_or_build("a", build("a")) == "A"
    assert cache.get_or_build("a", build("a")) == "A"
    cache.get_or_build("b", build("b"))
    cache.get_or_build("a", build("a"))  # "a" is now the most recent: "b" goes first
    cache.get_or_build("c", build("c"))
    assert len(cache) == 2
    cache.get_or_build("b", build("b"))
    assert built == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses) == (2, 4)
    cache.clear()
    assert len(cache) == 0


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
        upsert_rows(conn, cases, [case_row(1)])
        write_state(conn, "vtiger", "Cases", "1")
    versions.append(data_version(engine))
    with engine.begin() as conn:  # a page that only changes a stored row (no new id)
        upsert_rows(conn, cases, [case_row(1, status="Resolved", resolved_at=NOW)])
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
    from app import create_app

    dash_app = create_app(settings_for(database_url, auth_disabled=True, timezone="UTC"))
    CACHES.clear()
    yield dash_app
    dash_app.server.extensions["kpi"].engine.dispose()


def render(dash_app: Any, page: str, state: PageState) -> dict[str, Any]:
    with dash_app.server.test_request_context(f"/{page}"):
        if page == "sales":
            return render_sales(state, Trigger("controls"))
        callbacks = CASES_CALLBACKS if page == "cases" else REDMINE_CALLBACKS
        return callbacks.render(state, Trigger("controls"))


def cache_of(dash_app: Any) -> ViewCache:
    return CACHES.for_engine(dash_app.server.extensions["kpi"].engine)


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
    misses = cache.misses
    again = render(page_app, "cases", state)
    assert again is first and cache.misses == misses and cache.hits >= 1

    start_run(engine)  # a sync run starts and commits one page (it is still running)
    with engine.begin() as conn:
        upsert_rows(conn, cases, [case_row(9, created_at=NOW - timedelta(minutes=5))])
        write_state(conn, "vtiger", "Cases", "9")
    fresh = render(page_app, "cases", state)
    assert created_today(fresh) == "4"
    assert table_version(fresh) != table_version(first)  # the table asks for its rows again
    assert cache.misses == misses + 1

    with engine.begin() as conn:  # the next page only modifies a stored case: no new id, same row count
        upsert_rows(conn, cases, [case_row(9, created_at=NOW - timedelta(minutes=5), title="Renamed")])
        write_state(conn, "vtiger", "Cases", "10")
    render(page_app, "cases", state)
    assert cache.misses == misses + 2


def test_views_differ_by_parameters_and_today(page_app: Any, engine: Engine) -> None:
    seed_statuses(engine)
    write_rows(engine, redmine_issues, demo_issues(NOW, count=40, days=20))
    day = PageState(TODAY, "day", "", True, TODAY)
    week = PageState(TODAY, "week", "", True, TODAY)
    tomorrow = PageState(TODAY, "day", "", True, TODAY + timedelta(days=1))
    shown = [render(page_app, "redmine", state) for state in (day, week, tomorrow, day)]
    assert shown[0] is shown[3]
    assert shown[0] is not shown[1] and shown[0] is not shown[2]
    assert cache_of(page_app).misses == 3


def test_sales_page_uses_the_cache_and_clear_empties_it(page_app: Any) -> None:
    state = PageState(TODAY, "month", "", True, TODAY)
    first = render(page_app, "sales", state)
    assert render(page_app, "sales", state) is first
    assert page_app.server.extensions["kpi"].view_cache is CACHES
    CACHES.clear()
    assert len(cache_of(page_app)) == 0
    assert render(page_app, "sales", state) is not first


def test_cached_reads_the_version_once_per_call(engine: Engine) -> None:
    calls: list[int] = []

    def build() -> int:
        calls.append(1)
        return len(calls)

    for _ in range(3):
        cached(engine, ("test", 1), build)
    assert calls == [1]

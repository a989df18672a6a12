"""The /sales tables send the browser only the most recent rows of the window, with a caption saying so, while the
cards and the CSV exports keep counting every row (issue 7, fast path)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert

import callbacks.sales
from bench.harness import CallbackDriver, dependencies_of, find_page_callback, post_callback
from bench.references import View
from models.schema import deal_stage_changes, deals, phone_calls, vtiger_groups
from views.sales import build_sales_view, calls_rows, stage_change_rows

TZ = "America/Chicago"
DAY = date(2024, 6, 10)


def _rows(engine: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert(table).values(**row))


def _find(tree: Any, key: str, value: str) -> Any:
    """The first component (as Dash serialises it) whose prop `key` is `value`."""
    if isinstance(tree, list):
        return next((found for item in tree if (found := _find(item, key, value)) is not None), None)
    if isinstance(tree, dict) and "props" in tree:
        if tree["props"].get(key) == value:
            return tree
        return _find(tree["props"].get("children"), key, value)
    return None


@pytest.fixture
def sales_app(settings_for, sqlite_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from app import create_app

    monkeypatch.setattr(callbacks.sales, "TABLE_ROW_LIMIT", 3)
    app = create_app(settings_for(sqlite_url, timezone=TZ, auth_disabled=True))
    engine = app.server.extensions["kpi"].engine
    _rows(engine, vtiger_groups, [{"source_id": "20x1", "name": "Sales"}])
    _rows(
        engine,
        phone_calls,
        [
            {
                "source_id": f"43x{n}",
                "started_at": datetime(2024, 6, 10, 14, n),
                "assignee_name": "Ann",
                "group_name": "Sales",
                "status": "Held",
                "raw": {},
            }
            for n in range(1, 6)
        ],
    )
    _rows(engine, deals, [{"source_id": "5x1", "deal_no": "POT1", "name": "Deal", "raw": {}, "stage": "Pilot"}])
    _rows(
        engine,
        deal_stage_changes,
        [
            {
                "deal_source_id": "5x1",
                "deal_no": "POT1",
                "stage": "Demo Scheduled",
                "origin": "field",
                "changed_at": datetime(2024, 6, 10, 15),
                "group_name": "Sales",
                "assignee_name": "Ann",
            }
        ],
    )
    yield app
    engine.dispose()


def test_the_calls_table_shows_the_most_recent_rows_and_says_so(sales_app) -> None:  # type: ignore[no-untyped-def]
    client = sales_app.server.test_client()
    callback = find_page_callback(dependencies_of(client), "sales")
    assert callback is not None
    body = CallbackDriver(sales_app, callback).payload(View("sales", DAY, "day", None))
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    values = response.get_json()["response"]

    calls = values["sales-calls-table"]["rowData"]
    assert sorted(row["call_id"] for row in calls) == ["43x3", "43x4", "43x5"]  # the 3 most recent of 5
    assert values["sales-calls-caption"]["children"].endswith("· the 3 most recent shown (Export CSV has all)")
    assert values["sales-calls-caption"]["children"].startswith("5 calls · ")
    changes_caption = values["sales-changes-caption"]["children"]
    assert changes_caption.startswith("1 stage changes · ") and "most recent" not in changes_caption
    assert len(values["sales-changes-table"]["rowData"]) == 1
    # The card still counts every call, and its export has them all.
    assert _find(values["sales-windows"]["children"], "id", "sales-day-calls")["props"]["children"] == "5"
    export = client.get("/export/sales.csv?date=2024-06-10&window=day&kpi=calls")
    assert export.headers["X-Row-Count"] == "5"
    assert post_callback(client, body).status == 200  # the warm (cached) answer is the same shape


def test_row_builders_format_only_the_most_recent_rows(sales_app) -> None:  # type: ignore[no-untyped-def]
    runtime = sales_app.server.extensions["kpi"]
    view = build_sales_view(runtime.engine, runtime.settings, DAY, today=DAY)
    assert len(view.calls) == 5
    assert list(calls_rows(view)["call_id"]) == ["43x1", "43x2", "43x3", "43x4", "43x5"]  # the export: all
    assert list(calls_rows(view, 2)["call_id"]) == ["43x4", "43x5"]
    assert calls_rows(view, 0).empty
    assert list(stage_change_rows(view, 10)["deal_id"]) == ["5x1"]

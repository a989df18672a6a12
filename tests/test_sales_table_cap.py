"""The /sales page's callback sends no table rows (a date click stays fast); the tables ask for their rows a block
at a time, over every row of the window, with the row count beside them, while the cards and the CSV exports
count every row (issue 7's fast path; issue 12 item 7: sort and filter over all rows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from bench.harness import CallbackDriver, dependencies_of, find_page_callback, post_callback
from bench.references import View
from models.schema import deal_stage_changes, deals, phone_calls, vtiger_groups
from tests.sales_seed import derive_app
from tests.test_table_rows import rows_response
from view_models.sales import build_sales_view, calls_rows, stage_change_rows

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
def sales_app(settings_for, sqlite_url: str):
    from app import create_app

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
    derive_app(app)
    yield app
    engine.dispose()


def test_the_page_sends_no_rows_and_the_tables_ask_for_blocks(sales_app) -> None:
    client = sales_app.server.test_client()
    callback = find_page_callback(dependencies_of(client), "sales")
    assert callback is not None
    body = CallbackDriver(sales_app, callback).payload(View("sales", DAY, "day", None))
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    values = response.get_json()["response"]

    query = values["sales-calls-table-query"]["data"]  # what the calls table's rows are; no rows themselves
    assert (query["date"], query["window"], query["selector"]) == ("2024-06-10", "day", "")
    assert values["sales-changes-table-query"]["data"] == query
    assert values["sales-calls-caption"]["children"].startswith(" · calls · ")
    # The card counts every call, and its export has them all.
    assert _find(values["sales-windows"]["children"], "id", "sales-day-calls")["props"]["children"] == "5"
    export = client.get("/export/sales.csv?date=2024-06-10&window=day&kpi=calls")
    assert export.headers["X-Row-Count"] == "5"

    calls = rows_response(client, "sales-calls-table", query, {"startRow": 0, "endRow": 3})
    assert [row["call_id"] for row in calls["rows"]["rowData"]] == ["43x5", "43x4", "43x3"]  # newest first
    assert (calls["rows"]["rowCount"], calls["count"]) == (5, "5 rows")
    rest = rows_response(client, "sales-calls-table", query, {"startRow": 3, "endRow": 6})
    assert [row["call_id"] for row in rest["rows"]["rowData"]] == ["43x2", "43x1"]
    changes = rows_response(client, "sales-changes-table", query, {"startRow": 0, "endRow": 100})
    assert [row["deal_id"] for row in changes["rows"]["rowData"]] == ["5x1"]
    assert changes["count"] == "1 row"
    assert post_callback(client, body).status == 200  # the warm (cached) answer is the same shape


def test_row_builders_format_only_the_most_recent_rows(sales_app) -> None:
    runtime = sales_app.server.extensions["kpi"]
    view = build_sales_view(runtime.engine, runtime.settings, DAY, today=DAY)
    assert len(view.calls) == 5
    assert list(calls_rows(view)["call_id"]) == ["43x1", "43x2", "43x3", "43x4", "43x5"]  # the export: all
    assert list(calls_rows(view, 2)["call_id"]) == ["43x4", "43x5"]
    assert calls_rows(view, 0).empty
    assert list(stage_change_rows(view, 10)["deal_id"]) == ["5x1"]

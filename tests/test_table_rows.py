"""The pages' tables read a block at a time of ALL the rows behind a figure, sorted and filtered on the server
(issue 12 item 7), and show no missing-value text (item 3).

Every block the grid can ask for is checked, on SQLite and PostgreSQL, against a plain Python sort and filter of
every row the CSV export lists for the same figure; and the grid's rows and every CSV export are checked for
"Na", "NaT", "nan", "None" and "NaN" over rows with every optional field missing."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from metrics.windows import WindowKind
from models.recent_rows import TableRequest
from models.schema import cases, redmine_issues
from settings import Settings
from tests.sales_seed import derive, derive_app
from tests.seed_dashboards import write_rows
from tests.table_seed import seed_sales, seed_tables, table_cases, table_issues
from view_models import cases as case_views
from view_models import redmine as issue_views
from view_models import sales as sales_views
from view_models.tracker_view import local_text

TZ = "Europe/Berlin"
DAY = date(2026, 11, 18)
MISSING = {"Na", "NaT", "nan", "None", "NaN", "<NA>", "null", "undefined"}


# --- a plain Python sort and filter, as the grid means them ---------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _passes(value: Any, kind: str, spec: dict[str, Any]) -> bool:
    if "conditions" in spec:
        results = [_passes(value, kind, part) for part in spec["conditions"]]
        return any(results) if spec.get("operator") == "OR" else all(results)
    test = spec["type"]
    if test == "blank":
        return _empty(value)
    if test == "notBlank":
        return not _empty(value)
    if kind == "text":
        text, wanted = ("" if _empty(value) else str(value)).lower(), str(spec.get("filter", "")).lower()
        return {
            "contains": wanted in text,
            "notContains": wanted not in text,
            "equals": text == wanted,
            "notEqual": text != wanted,
            "startsWith": text.startswith(wanted),
            "endsWith": text.endswith(wanted),
        }[test]
    if _empty(value):
        return False
    if kind == "number":
        low, high = float(spec["filter"]), float(spec.get("filterTo", spec["filter"]))
        return {
            "equals": value == low,
            "notEqual": value != low,
            "lessThan": value < low,
            "lessThanOrEqual": value <= low,
            "greaterThan": value > low,
            "greaterThanOrEqual": value >= low,
            "inRange": low <= value <= high,
        }[test]
    day, first = str(value)[:10], spec["dateFrom"][:10]  # local "YYYY-MM-DD HH:MM" text
    last = (spec.get("dateTo") or spec["dateFrom"])[:10]
    return {
        "equals": day == first,
        "notEqual": day != first,
        "lessThan": day < first,
        "greaterThan": day > first,
        "inRange": first <= day <= last,
    }[test]


def expected_ids(
    rows: list[dict[str, Any]], kinds: dict[str, str], sort: list[dict[str, str]], filters: dict[str, Any]
) -> list[Any]:
    """`rows` (in the table's default order) filtered, then sorted by `sort` with empty values last in either
    direction (ties keep the default order): their ids."""
    kept = [row for row in rows if all(_passes(row[name], kinds[name], spec) for name, spec in filters.items())]
    for entry in reversed(sort):
        name, descending = entry["colId"], entry["sort"] == "desc"
        present = [row for row in kept if not _empty(row[name])]
        absent = [row for row in kept if _empty(row[name])]

        def key(row: dict[str, Any], name: str = name) -> Any:
            return str(row[name]).lower() if kinds[name] == "text" else row[name]

        kept = sorted(present, key=key, reverse=descending) + absent  # reverse=True keeps ties in order
    return [row["_id"] for row in kept]


def read_all(
    read: Callable[[TableRequest], Any], sort: list[Any], filters: dict[str, Any], block: int
) -> tuple[list[Any], int, int]:
    """Every block of one sort and filter, read as the grid reads them: ids in order, matching and total."""
    ids: list[Any] = []
    offset = 0
    while True:
        request = TableRequest(offset, block, json.dumps(sort, sort_keys=True), json.dumps(filters, sort_keys=True))
        result = read(request)
        ids += result.ids
        offset += block
        if offset >= result.matching:
            return ids, result.matching, result.total


# --- the requests every table is checked with ---------------------------------------------------------------------


def text_filters(name: str, *, word: str) -> list[dict[str, Any]]:
    return [
        {name: {"filterType": "text", "type": "contains", "filter": word}},
        {name: {"filterType": "text", "type": "notContains", "filter": word}},
        {name: {"filterType": "text", "type": "equals", "filter": word.upper()}},
        {name: {"filterType": "text", "type": "startsWith", "filter": word[:2]}},
        {name: {"filterType": "text", "type": "blank"}},
        {name: {"filterType": "text", "type": "notBlank"}},
    ]


def date_filters(name: str) -> list[dict[str, Any]]:
    return [
        {name: {"filterType": "date", "type": "equals", "dateFrom": "2026-11-10 00:00:00"}},
        {name: {"filterType": "date", "type": "lessThan", "dateFrom": "2026-11-15 00:00:00"}},
        {name: {"filterType": "date", "type": "greaterThan", "dateFrom": "2026-11-15 00:00:00"}},
        {
            name: {
                "filterType": "date",
                "type": "inRange",
                "dateFrom": "2026-11-05 00:00:00",
                "dateTo": "2026-11-12 00:00:00",
            }
        },
        {name: {"filterType": "date", "type": "blank"}},
    ]


def number_filters(name: str, low: float, high: float) -> list[dict[str, Any]]:
    return [
        {name: {"filterType": "number", "type": kind, "filter": low}}
        for kind in ("equals", "notEqual", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual")
    ] + [
        {name: {"filterType": "number", "type": "inRange", "filter": low, "filterTo": high}},
        {name: {"filterType": "number", "type": "blank"}},
        {name: {"filterType": "number", "type": "notBlank"}},
    ]


def sorts(*names: str) -> list[list[dict[str, str]]]:
    return [[], *([{"colId": name, "sort": way}] for name in names for way in ("asc", "desc"))]


def check_table(
    rows: list[dict[str, Any]],
    kinds: dict[str, str],
    read: Callable[[TableRequest], Any],
    sort_by: list[list[dict[str, str]]],
    filters: list[dict[str, Any]],
) -> int:
    """Every sort with no filter, every filter with no sort and with the first sort, read in blocks of 40."""
    checked = 0
    combos: list[tuple[list[dict[str, str]], dict[str, Any]]] = [(sort, {}) for sort in sort_by] + [
        (sort, wanted) for wanted in filters for sort in sort_by[:2]
    ]
    for sort, wanted in combos:
        ids, matching, total = read_all(read, sort, wanted, 40)
        expected = expected_ids(rows, kinds, sort, wanted)
        assert ids == expected, (sort, wanted)
        assert (matching, total) == (len(expected), len(rows)), (sort, wanted)
        checked += 1
    return checked


class Block:
    def __init__(self, rows: pd.DataFrame, key: str, matching: int, total: int) -> None:
        self.ids, self.matching, self.total = list(rows[key]), matching, total


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    plain = frame.astype(object).where(frame.notna(), None).to_dict("records")
    records = [{str(name): value for name, value in record.items()} for record in plain]
    for record in records:
        record["_id"] = record[key]
    return records


@pytest.fixture
def table_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    return settings_for(database_url, timezone=TZ)


CASE_KINDS = {
    "case_no": "text", "title": "text", "status": "text", "priority": "text", "group": "text", "assignee": "text",
    "modified_by": "text", "created": "date", "modified": "date", "resolved": "date", "time_spent_hours": "number",
}  # fmt: skip
CASE_FIELDS = {"case": "case_no"}  # the grid's field -> the described row's column


def test_case_table_blocks_sort_and_filter_every_row(engine: Engine, table_settings: Settings) -> None:
    write_rows(engine, cases, table_cases())
    checked = 0
    views: list[tuple[str, WindowKind]] = [
        ("worked", "month"),
        ("created", "month"),
        ("resolved", "month"),
        ("open", "week"),
    ]
    for kpi, window in views:
        view = case_views.build_cases_view(engine, table_settings, DAY, window=window, today=DAY)
        every = case_views.case_rows(engine, table_settings, DAY, window, kpi)  # what the CSV lists
        assert len(every) > 40 or kpi == "resolved"
        rows = _records(every, "id")

        def read(request: TableRequest, kpi: str = kpi, view: Any = view) -> Block:
            block = case_views.window_table(engine, table_settings, view, kpi, grid_request(request, CASE_FIELDS))
            return Block(block.rows, "id", block.matching, block.total)

        checked += check_table(
            rows,
            CASE_KINDS,
            read,
            [
                *sorts("title", "assignee", "resolved", "time_spent_hours", "created", "case_no"),
                [{"colId": "status", "sort": "asc"}, {"colId": "assignee", "sort": "desc"}],
            ],
            text_filters("assignee", word="ann")
            + text_filters("title", word="printer")
            + [{"title": {"filterType": "text", "type": "contains", "filter": "50%"}}]  # LIKE's % is a character
            + [
                {
                    "assignee": {
                        "filterType": "text",
                        "operator": "OR",
                        "conditions": [
                            {"type": "equals", "filter": "ben brook"},
                            {"type": "equals", "filter": "eve earl"},
                        ],
                    }
                }
            ]
            + date_filters("resolved")
            + date_filters("created")
            + number_filters("time_spent_hours", 1.0, 4.0)
            + [{**text_filters("status", word="open")[0], **number_filters("time_spent_hours", 1.0, 4.0)[4]}],
        )
    assert checked > 300


def grid_request(request: TableRequest, fields: dict[str, str]) -> TableRequest:
    """The request with the described rows' column names turned back into the grid's field names."""
    back = {column: field for field, column in fields.items()}
    sort = [{**entry, "colId": back.get(entry["colId"], entry["colId"])} for entry in request.sort_model]
    filters = {back.get(name, name): spec for name, spec in request.filter_model.items()}
    return replace(request, sort=json.dumps(sort, sort_keys=True), filters=json.dumps(filters, sort_keys=True))


ISSUE_KINDS = {
    "issue_number": "number", "subject": "text", "project": "text", "status": "text", "state": "text",
    "assignee": "text", "author": "text", "created": "date", "updated": "date", "closed": "date",
}  # fmt: skip


def test_issue_table_blocks_sort_and_filter_every_row(engine: Engine, table_settings: Settings) -> None:
    from tests.seed_dashboards import seed_statuses

    seed_statuses(engine)
    write_rows(engine, redmine_issues, table_issues())
    checked = 0
    for kpi in ("activity", "resolved", "open"):
        view = issue_views.build_redmine_view(engine, table_settings, DAY, window="month", today=DAY)
        every = issue_views.issue_rows(engine, table_settings, DAY, "month", kpi)
        rows = _records(every.assign(issue_number=every["issue_id"].astype(int)), "id")

        def read(request: TableRequest, kpi: str = kpi, view: Any = view) -> Block:
            wanted = grid_request(request, {"issue": "issue_number"})
            block = issue_views.window_table(engine, table_settings, view, kpi, wanted)
            return Block(block.rows, "id", block.matching, block.total)

        checked += check_table(
            rows,
            ISSUE_KINDS,
            read,
            sorts("issue_number", "subject", "state", "closed", "assignee"),
            text_filters("state", word="rejected")
            + text_filters("subject", word="crash")
            + date_filters("closed")
            + number_filters("issue_number", 60, 120),
        )
    assert checked > 150


CALL_KINDS = {"started_at": "date", "person": "text", "status": "text", "direction": "text",
              "duration_seconds": "number", "customer_number": "text", "points": "number"}  # fmt: skip
CHANGE_KINDS = {"changed_at": "date", "deal_no": "text", "stage": "text", "credited_to": "text", "points": "number"}


def test_sales_table_blocks_sort_and_filter_every_row(engine: Engine, table_settings: Settings) -> None:
    seed_sales(engine)
    derive(engine, table_settings)
    settings = replace(table_settings, kpi=replace(table_settings.kpi, sales=replace(
        table_settings.kpi.sales, call_statuses=("Held",))))  # fmt: skip
    view = sales_views.build_sales_view(engine, settings, DAY, "", "month")
    calls = _records(sales_views.calls_rows(view).iloc[::-1], "call_id")  # the export, newest first
    changes = _records(sales_views.stage_change_rows(view).iloc[::-1], "deal_id")
    assert len(calls) > 100 and len(changes) > 30

    def read_calls(request: TableRequest) -> Block:
        block = sales_views.call_table(engine, settings, DAY, "month", "", request)
        return Block(block.rows, "call_id", block.matching, block.total)

    def read_changes(request: TableRequest) -> Block:
        block = sales_views.change_table(engine, settings, DAY, "month", "", grid_request(request, {"deal": "deal_no"}))
        return Block(block.rows, "deal_id", block.matching, block.total)

    # Calls started at distinct minutes: the default order (newest first) has no ties to break.
    checked = check_table(
        calls,
        CALL_KINDS,
        read_calls,
        sorts("person", "points", "duration_seconds", "status"),
        text_filters("person", word="cara")
        + number_filters("points", 1, 1)
        + number_filters("duration_seconds", 100, 400)
        + date_filters("started_at"),
    )
    checked += check_table(
        changes,
        CHANGE_KINDS,
        read_changes,
        sorts("credited_to", "points", "deal_no", "changed_at"),
        text_filters("credited_to", word="dev") + number_filters("points", 0, 5) + date_filters("changed_at"),
    )
    assert checked > 100


def test_a_request_the_table_cannot_answer_is_refused(engine: Engine, table_settings: Settings) -> None:
    from models.recent_rows import GridRequestError

    view = case_views.build_cases_view(engine, table_settings, DAY, window="month", today=DAY)
    for sort, filters in (
        ([{"colId": "in_window", "sort": "asc"}], {}),  # worked out per row: not sortable on the server
        ([], {"raw": {"filterType": "text", "type": "contains", "filter": "x"}}),
        ([], {"title": {"filterType": "text", "type": "regex", "filter": "x"}}),
        ([], {"time_spent_hours": {"filterType": "number", "type": "equals", "filter": "one"}}),
    ):
        request = TableRequest(0, 10, json.dumps(sort), json.dumps(filters))
        with pytest.raises(GridRequestError):
            case_views.window_table(engine, table_settings, view, "worked", request)
    with pytest.raises(GridRequestError):
        TableRequest.from_grid({"startRow": 0, "endRow": 100_000})


# --- no missing-value text ----------------------------------------------------------------------------------------


def test_local_text_leaves_missing_times_empty() -> None:
    stamps = pd.Series([pd.Timestamp("2026-11-20 14:05"), pd.NaT, None])
    assert list(local_text(stamps, TZ)) == ["2026-11-20 15:05", "", ""]  # the old code gave "Na " for both


def _missing_text(values: list[Any]) -> list[Any]:
    return [value for value in values if isinstance(value, str) and value.strip() in MISSING]


@pytest.fixture
def seeded_client(settings_for: Callable[..., Settings], sqlite_url: str):
    from app import create_app

    app = create_app(settings_for(sqlite_url, timezone=TZ, auth_disabled=True))
    seed_tables(app.server.extensions["kpi"].engine)
    derive_app(app)
    yield app.server.test_client()
    app.server.extensions["kpi"].engine.dispose()


def rows_response(client: Any, table_id: str, query: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """What the rows callback answers the grid `table_id` (as the browser asks: getRowsRequest + its view)."""
    body = {
        "output": f"..{table_id}.getRowsResponse...{table_id}-count.children..",
        "outputs": [
            {"id": table_id, "property": "getRowsResponse"},
            {"id": f"{table_id}-count", "property": "children"},
        ],
        "inputs": [{"id": table_id, "property": "getRowsRequest", "value": request}],
        "state": [{"id": f"{table_id}-query", "property": "data", "value": query}],
        "changedPropIds": [f"{table_id}.getRowsRequest"],
    }
    response = client.post("/_dash-update-component", json=body, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    answer = response.get_json()["response"]
    return {"rows": answer[table_id]["getRowsResponse"], "count": answer[f"{table_id}-count"]["children"]}


def query(kpi: str, window: str = "month") -> dict[str, Any]:
    return {
        "date": DAY.isoformat(),
        "window": window,
        "selector": "",
        "today": DAY.isoformat(),
        "kpi": kpi,
        "version": "v",
    }


TABLES = [
    ("cases-table", kpi) for kpi in ("worked", "created", "resolved", "open")
] + [("redmine-table", kpi) for kpi in ("activity", "created", "updated", "resolved", "open")] + [
    ("sales-changes-table", "rows"), ("sales-calls-table", "rows")
]  # fmt: skip


def test_table_rows_and_exports_show_no_missing_value_text(seeded_client: Any) -> None:
    """Rows with every optional field missing: empty cells, never "Na", "NaT", "nan", "None" or "NaN"."""
    checked = 0
    for table_id, kpi in TABLES:
        request = {"startRow": 0, "endRow": 200, "sortModel": [], "filterModel": {}}
        answer = rows_response(seeded_client, table_id, query(kpi, "month" if kpi != "open" else "day"), request)
        rows = answer["rows"]["rowData"]
        assert rows, (table_id, kpi)
        assert answer["count"] == f"{answer['rows']['rowCount']:,} rows"
        cells = [value for row in rows for value in row.values()]
        assert _missing_text(cells) == [], (table_id, kpi)
        assert any(value in ("", None) for value in cells)  # the rows with missing fields are there
        checked += len(rows)
    for name, kpis in (("cases", ("created", "resolved", "worked", "open")),
                       ("redmine", ("created", "updated", "resolved", "open", "activity")),
                       ("sales", sales_views.EXPORT_KINDS)):  # fmt: skip
        for kpi in kpis:
            response = seeded_client.get(f"/export/{name}.csv?date={DAY}&window=month&kpi={kpi}")
            assert response.status_code == 200, (name, kpi)
            lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
            assert len(lines) > 1, (name, kpi)
            assert _missing_text([cell for line in lines[1:] for cell in line]) == [], (name, kpi)
            checked += len(lines)
    assert checked > 1000

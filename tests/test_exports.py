"""web/exports.py: /export/cases.csv and /export/redmine.csv give one row per record behind a figure, so every card's
number equals its export's row count; bad parameters are a one-line 400."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from app import create_app
from models.db import make_engine
from models.schema import cases, redmine_issues
from settings import RedmineSettings, VtigerSettings
from tests.seed_dashboards import GROUPS, PROJECTS, case_row, demo_cases, demo_issues, seed_statuses, write_rows
from view_models.cases import build_cases_view
from view_models.redmine import build_redmine_view

NOW = datetime(2026, 11, 20, 15, 0)  # naive UTC; Friday 20 November in Berlin
TZ = "Europe/Berlin"


def make_app(settings_for, database_url: str, **overrides):
    settings = settings_for(database_url, auth_disabled=True, timezone=TZ, **overrides)
    dash_app = create_app(settings)
    dash_app.server.extensions["kpi"].clock = lambda: NOW
    return dash_app


def rows_of(response) -> tuple[list[str], list[list[str]]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return lines[0], lines[1:]


@pytest.fixture
def seeded_url(database_url: str) -> str:
    engine = make_engine(database_url)
    write_rows(engine, cases, demo_cases(NOW, count=400, days=120))
    seed_statuses(engine)
    write_rows(engine, redmine_issues, demo_issues(NOW, count=250, days=120))
    engine.dispose()
    return database_url


def test_case_cards_equal_their_export_row_counts(settings_for, seeded_url) -> None:
    dash_app = make_app(settings_for, seeded_url)
    runtime = dash_app.server.extensions["kpi"]
    client = dash_app.server.test_client()
    checked = 0
    for day in (date(2026, 11, 20), date(2026, 11, 2), date(2026, 10, 31)):
        for group in ("", GROUPS[0]):
            view = build_cases_view(runtime.engine, runtime.settings, day, group=group, today=day, charts=False)
            for kind, block in view.windows.items():
                expected = {
                    "created": block.figures.created,
                    "resolved": block.figures.resolved,
                    "worked": block.figures.worked,
                    "open": view.open_total,
                }
                for kpi, number in expected.items():
                    query = {"date": day.isoformat(), "window": kind, "kpi": kpi}
                    if group:
                        query["group"] = group
                    _, body = rows_of(client.get("/export/cases.csv", query_string=query))
                    assert len(body) == number, (day, group, kind, kpi)
                    checked += number
    assert checked > 500  # the demo data really exercised the figures
    runtime.engine.dispose()


def test_redmine_cards_equal_their_export_row_counts(settings_for, seeded_url) -> None:
    dash_app = make_app(settings_for, seeded_url)
    runtime = dash_app.server.extensions["kpi"]
    client = dash_app.server.test_client()
    checked = 0
    for day in (date(2026, 11, 20), date(2026, 11, 1)):
        for project in ("", PROJECTS[1]):
            view = build_redmine_view(runtime.engine, runtime.settings, day, project=project, today=day, charts=False)
            for kind, block in view.windows.items():
                expected = {
                    "created": block.figures.created,
                    "updated": block.figures.updated,
                    "resolved": block.figures.resolved,
                    "open": view.totals.open,
                }
                for kpi, number in expected.items():
                    query = {"date": day.isoformat(), "window": kind, "kpi": kpi}
                    if project:
                        query["project"] = project
                    _, body = rows_of(client.get("/export/redmine.csv", query_string=query))
                    assert len(body) == number, (day, project, kind, kpi)
                    checked += number
    assert checked > 300
    runtime.engine.dispose()


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/export/cases.csv", "date=2026-13-45&kpi=created", "date='2026-13-45' is not a date"),
        ("/export/cases.csv", "date=20261120&kpi=created", "use YYYY-MM-DD"),
        ("/export/cases.csv", "window=year&kpi=created", "window='year' is not a window"),
        ("/export/cases.csv", "kpi=deleted", "kpi='deleted' is not known"),
        ("/export/cases.csv", "", "kpi is missing: use one of created, resolved, worked, open"),
        ("/export/cases.csv", "kpi=open&group=Nope", "group='Nope' is not known"),
        ("/export/redmine.csv", "kpi=worked", "use one of created, updated, resolved, open"),
        ("/export/redmine.csv", "kpi=open&project=Nope", "project='Nope' is not known"),
    ],
)
def test_bad_parameters_are_a_one_line_400(client, path: str, query: str, message: str) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert message in text
    assert text.count("\n") == 1


def test_unknown_export_is_a_404(client) -> None:
    response = client.get("/export/nothing.csv?kpi=created")
    assert response.status_code == 404
    assert "use one of cases, redmine" in response.get_data(as_text=True)


def test_empty_database_gives_a_header_line(client) -> None:
    header, body = rows_of(client.get("/export/cases.csv?kpi=worked"))
    assert body == []
    assert header[:3] == ["case_no", "link", "title"]
    assert "created (UTC)" in header
    header, body = rows_of(client.get("/export/redmine.csv?kpi=activity&window=month"))
    assert body == [] and header[:2] == ["issue_id", "link"]


def test_rows_carry_links_local_times_and_why(settings_for, sqlite_url) -> None:
    vtiger = VtigerSettings(
        url="https://x.od1.vtiger.com",
        username="u",
        access_key="k",
        record_url="https://x.od1.vtiger.com/index.php?module={module}&view=Detail&record=",
    )
    dash_app = make_app(
        settings_for,
        sqlite_url,
        vtiger=vtiger,
        redmine=RedmineSettings(url="https://redmine.example", api_key="k"),
    )
    engine = dash_app.server.extensions["kpi"].engine
    write_rows(
        engine,
        cases,
        [
            case_row(7, title='=HYPERLINK("x")', created_at=datetime(2026, 11, 19, 23, 30)),
            case_row(8, status="Resolved", resolved_at=datetime(2026, 11, 20, 9), created_at=datetime(2026, 11, 1)),
        ],
    )
    client = dash_app.server.test_client()
    response = client.get("/export/cases.csv?date=2026-11-20&window=day&kpi=worked")
    header, body = rows_of(response)
    records = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert set(records) == {"CC7", "CC8"}
    assert records["CC7"]["link"] == "https://x.od1.vtiger.com/index.php?module=Cases&view=Detail&record=7"
    assert records["CC7"]["created (Europe/Berlin)"] == "2026-11-20 00:30"
    assert records["CC7"]["title"] == '\'=HYPERLINK("x")'  # not run as a formula by a spreadsheet
    assert records["CC7"]["in_window"] == "Created"
    assert records["CC8"]["in_window"] == "Resolved"
    assert "cases-2026-11-20-day-worked.csv" in response.headers["Content-Disposition"]
    engine.dispose()


def test_no_date_means_today_in_the_time_zone(settings_for, sqlite_url) -> None:
    dash_app = make_app(settings_for, sqlite_url)
    engine = dash_app.server.extensions["kpi"].engine
    write_rows(engine, cases, [case_row(1, created_at=datetime(2026, 11, 20, 10)), case_row(2)])
    _, body = rows_of(dash_app.server.test_client().get("/export/cases.csv?kpi=created"))
    assert [row[0] for row in body] == ["CC1"]
    engine.dispose()

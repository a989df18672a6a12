"""The roll-ups (models/rollups.py): pages read from them show exactly what pages reading the rows show, and sync's
row-by-row tracking leaves them exactly as a recount from the tables would."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, select

from layouts import tracker_page
from layouts.cases import PAGE as CASES_PAGE
from metrics.cases import CASE_KPIS
from models import rollups
from models.recent_rows import TableRequest
from models.schema import cases, redmine_issues, rollup_counts, rollup_state
from settings import CaseRules, KpiRules, Settings
from tests.kpi_reference import plain_cases, plain_issues, plain_open_cases
from tests.seed_dashboards import delete_rows, store_rows
from view_models.cases import build_cases_view, case_rows, window_table
from view_models.page_state import parse_page_query
from view_models.redmine import build_redmine_view, issue_rows
from view_models.redmine import window_table as redmine_window_table

TZ = "America/New_York"  # daylight saving ends on 2026-11-01: a 25-hour day inside the data
START = datetime(2026, 8, 20)
GROUPS = ["Support", "Billing", "", " Support "]
PEOPLE = ["Ann", "Bob", "", "Cy"]
CASE_STATUSES = ["Open", "In Progress", "Resolved", "Closed", "Wait For Response"]
REDMINE_STATUSES = [("New", False), ("In Progress", False), ("Resolved", True), ("Rejected", True)]
KPIS = ("activity", "created", "updated", "resolved", "open")
DAYS = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 10, 31), date(2026, 9, 30), date(2026, 11, 20)]


def moment(rng: random.Random, after: datetime | None = None) -> datetime:
    base = after or START
    return base + timedelta(seconds=rng.randrange(0, 95 * 86400))


def random_case(rng: random.Random, number: int) -> dict[str, Any]:
    created = moment(rng)
    updated = moment(rng, created)
    status = rng.choice(CASE_STATUSES)
    resolved = moment(rng, created) if status in ("Resolved", "Closed") or rng.random() < 0.1 else None
    return {
        "source_id": f"39x{number}",
        "case_no": f"CC{number}",
        "title": f"case {number}",
        "status": status,
        "group_name": rng.choice(GROUPS),
        "assignee_name": rng.choice(PEOPLE),
        "created_at": created if rng.random() > 0.02 else None,
        "updated_at": updated,
        "resolved_at": resolved,
        "raw": {},
    }


def random_issue(rng: random.Random, number: int) -> dict[str, Any]:
    created = moment(rng)
    status, closed = rng.choice(REDMINE_STATUSES)
    closed_at = moment(rng, created) if closed or rng.random() < 0.2 else None  # Redmine keeps closed_on on reopen
    return {
        "source_id": str(number),
        "subject": f"issue {number}",
        "project_name": rng.choice(["Platform", "Firmware", ""]),
        "status_name": status,
        "is_closed": closed,
        "assignee_name": rng.choice(PEOPLE),
        "created_at": created,
        "updated_at": moment(rng, created),
        "closed_at": closed_at,
        "raw": {},
    }


def write(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        store_rows(conn, table, rows)


def stored_counts(engine: Engine, source: str) -> dict[tuple[Any, ...], int]:
    columns = [rollup_counts.c[name] for name in rollups.KEY]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns, rollup_counts.c.count).where(rollup_counts.c.source == source)).all()
    return {tuple(row[:-1]): int(row[-1]) for row in rows if row[-1] != 0}


def without_rollups(engine: Engine, source: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(rollup_state).where(rollup_state.c.source == source))


def comparable(view: Any) -> dict[str, Any]:
    """Everything a page shows from a view (not the rows it may carry)."""
    fields = {name: value for name, value in vars(view).items() if name != "frame"}
    fields["cumulative"] = {name: frame.to_json() for name, frame in view.cumulative.items()}  # NaN-safe
    fields["history"] = view.history.to_json()
    return fields


@pytest.fixture
def page_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    rules = KpiRules(cases=CaseRules(resolved_statuses=("Resolved", "Closed"), closed_statuses=("Closed",)))
    return settings_for(database_url, timezone=TZ, kpi=rules)


def stored_rows(engine: Engine, table: Any, selector: str, group: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(select(table)).mappings()]
    return [row for row in rows if not group or row[selector] == group]


def test_case_pages_from_rollups_show_what_the_plain_definitions_give(engine: Engine, page_settings: Settings) -> None:
    rng = random.Random(11)
    write(engine, cases, [random_case(rng, n) for n in range(400)])
    with engine.begin() as conn:
        delete_rows(conn, cases, ["39x1", "39x2"], datetime(2026, 11, 20))
    rules = page_settings.kpi.cases
    checked = 0
    for day in DAYS:
        for group in ("", "Support", "Billing"):
            rows = stored_rows(engine, cases, "group_name", group)
            for window in ("day", "week", "month"):
                view = build_cases_view(engine, page_settings, day, group=group, window=window, today=DAYS[-1])
                assert rollups.ready(engine, "cases", TZ)  # built on the first read, then kept by the store step
                for column in view.windows.values():
                    for shown, span in ((column.figures, column.window), (column.previous_figures, column.previous)):
                        created, resolved, worked, _ = plain_cases(rows, span, rules)
                        assert (shown.created, shown.resolved, shown.worked) == (created, resolved, worked), span
                    assert column.leaderboard == plain_cases(rows, column.window, rules)[3]
                assert view.open_by_assignee == plain_open_cases(rows, rules, "assignee_name")
                assert view.open_by_status == plain_open_cases(rows, rules, "status")
                for kpi in CASE_KPIS:
                    table = window_table(engine, page_settings, view, kpi, TableRequest(limit=25))
                    figures = view.selected_window.figures
                    assert table.total == (view.open_total if kpi == "open" else getattr(figures, kpi))
                    every_row = case_rows(engine, page_settings, day, window, kpi, group)  # what the CSV has
                    assert len(every_row) == table.total
                    assert list(table.rows["id"]) == list(every_row["id"][:25])  # the newest 25 of them, in order
                checked += 1
    assert checked == len(DAYS) * 9


def test_redmine_pages_from_rollups_show_what_the_plain_definitions_give(
    engine: Engine, page_settings: Settings
) -> None:
    rng = random.Random(12)
    write(engine, redmine_issues, [random_issue(rng, n) for n in range(300)])
    for day in DAYS:
        for project in ("", "Platform"):
            rows = stored_rows(engine, redmine_issues, "project_name", project)
            for window in ("day", "month"):
                view = build_redmine_view(engine, page_settings, day, project=project, window=window)
                for column in view.windows.values():
                    created, updated, closed, board = plain_issues(rows, column.window)
                    shown = column.figures
                    assert (shown.created, shown.updated, shown.resolved) == (created, updated, closed)
                    assert column.leaderboard == board
                for kpi in KPIS:
                    table = redmine_window_table(engine, page_settings, view, kpi, TableRequest(limit=10))
                    every_row = issue_rows(engine, page_settings, day, window, kpi, project)
                    assert table.total == len(every_row)
                    assert list(table.rows["id"]) == list(every_row["id"][:10])


def test_a_page_on_rollups_of_another_time_zone_says_they_are_being_recomputed(
    engine: Engine, page_settings: Settings
) -> None:
    write(engine, cases, [random_case(random.Random(18), n) for n in range(30)])
    rollups.rebuild(engine, "cases", "UTC")
    with engine.begin() as conn:  # another process is rebuilding them: this read must not start a second one
        conn.execute(rollup_state.update().values(rebuilding_since=datetime.now(UTC).replace(tzinfo=None)))
    view = build_cases_view(engine, page_settings, DAYS[0])
    assert view.recomputing
    state = parse_page_query({}, DAYS[0], [])
    assert tracker_page.subtitle(CASES_PAGE, view, state).endswith(tracker_page.RECOMPUTING)  # what people read
    assert [found.source for found in rollups.rebuilding(engine)] == ["cases"]
    assert not rollups.ready(engine, "cases", TZ)
    rollups.rebuild(engine, "cases", TZ)  # what the background rebuild does
    assert not build_cases_view(engine, page_settings, DAYS[0]).recomputing and not rollups.rebuilding(engine)


def test_sync_tracking_leaves_what_a_recount_gives(engine: Engine) -> None:
    rng = random.Random(13)
    rows = [random_case(rng, n) for n in range(300)]
    write(engine, cases, rows[:150])
    rollups.rebuild(engine, "cases", TZ)
    write(engine, cases, rows[150:])  # new rows, tracked
    changed = []
    for row in rng.sample(rows, 120):  # edits: status, group, person, reopen, later modification
        edited = dict(row)
        edited["status"] = rng.choice(CASE_STATUSES)
        edited["group_name"] = rng.choice(GROUPS)
        edited["assignee_name"] = rng.choice(PEOPLE)
        edited["resolved_at"] = None if rng.random() < 0.3 else moment(rng)
        edited["updated_at"] = moment(rng, row["updated_at"])
        changed.append(edited)
    write(engine, cases, changed)
    with engine.begin() as conn:
        delete_rows(conn, cases, [row["source_id"] for row in rows[:20]], datetime(2026, 11, 21))
    tracked = stored_counts(engine, "cases")
    rollups.rebuild(engine, "cases", TZ)
    assert tracked == stored_counts(engine, "cases")
    assert len(tracked) > 500


def test_redmine_tracking_leaves_what_a_recount_gives(engine: Engine) -> None:
    rng = random.Random(14)
    issues = [random_issue(rng, n) for n in range(200)]
    rollups.rebuild(engine, "redmine", TZ)  # kept from the empty table on
    write(engine, redmine_issues, issues)
    reopened = [dict(issue, is_closed=False, status_name="New", updated_at=moment(rng)) for issue in issues[:50]]
    write(engine, redmine_issues, reopened)
    tracked = stored_counts(engine, "redmine")
    rollups.rebuild(engine, "redmine", TZ)
    assert tracked == stored_counts(engine, "redmine")


def test_rows_written_while_rollups_are_not_kept_are_counted_by_the_next_ensure(engine: Engine) -> None:
    rng = random.Random(15)
    rows = [random_case(rng, n) for n in range(50)]
    write(engine, cases, rows)
    assert not rollups.ready(engine, "cases", TZ)
    assert stored_counts(engine, "cases") == {}  # nothing tracked without a state row
    assert rollups.ensure(engine, TZ, ["cases"]) == ["cases"]
    assert rollups.ensure(engine, TZ, ["cases"]) == []
    created = sum(
        n
        for (kind, kpi, _, selector, _, _), n in stored_counts(engine, "cases").items()
        if kind == "month" and kpi == "created" and selector == rollups.ALL
    )
    assert created == sum(1 for row in rows if row["created_at"])


def test_another_time_zone_is_not_used_until_rebuilt(engine: Engine) -> None:
    write(engine, cases, [random_case(random.Random(16), n) for n in range(20)])
    rollups.rebuild(engine, "cases", "UTC")
    assert not rollups.ready(engine, "cases", TZ)
    assert rollups.ensure(engine, TZ, ["cases"]) == ["cases"]
    assert rollups.ready(engine, "cases", TZ)


def test_a_case_counts_once_per_window_however_many_of_its_times_fall_there() -> None:
    frame = pd.DataFrame(
        {
            "group_name": ["Support"],
            "assignee_name": ["Ann"],
            "status": ["Resolved"],
            "deleted_at": [None],
            "created_at": [pd.Timestamp("2026-11-02 14:00")],
            "updated_at": [pd.Timestamp("2026-11-03 14:00")],
            "resolved_at": [pd.Timestamp("2026-11-03 15:00")],
        }
    )
    counts = rollups.contributions(frame, rollups.CASES, TZ)
    worked = counts[(counts["kpi"] == "worked") & (counts["selector"] == "Support")].set_index(["kind", "start"])[
        "count"
    ]
    assert worked[("week", date(2026, 11, 2))] == 1
    assert worked[("month", date(2026, 11, 1))] == 1
    assert worked[("day", date(2026, 11, 2))] == 1 and worked[("day", date(2026, 11, 3))] == 1


def test_local_days_follow_the_time_zone_across_daylight_saving() -> None:
    frame = pd.DataFrame(
        {
            "group_name": [""],
            "assignee_name": [""],
            "status": ["Open"],
            "deleted_at": [None],
            # 04:30 UTC on 1 Nov is 00:30 EDT; 04:30 UTC on 2 Nov is 23:30 EST on 1 Nov
            "created_at": [pd.Timestamp("2026-11-02 04:30")],
            "updated_at": [None],
            "resolved_at": [None],
        }
    )
    counts = rollups.contributions(frame, rollups.CASES, TZ)
    days = counts[(counts["kpi"] == "created") & (counts["kind"] == "day") & (counts["selector"] == rollups.ALL)]
    assert list(days["start"]) == [date(2026, 11, 1)]


def test_a_recount_in_small_chunks_gives_what_one_chunk_gives(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)
    write(engine, cases, [random_case(rng, n) for n in range(60)])
    rollups.rebuild(engine, "cases", TZ)
    whole = stored_counts(engine, "cases")
    monkeypatch.setattr(rollups, "REBUILD_CHUNK", 7)
    rollups.rebuild(engine, "cases", TZ)
    assert stored_counts(engine, "cases") == whole
    assert len(whole) > 100

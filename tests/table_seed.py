"""Rows for the table tests (tests/test_table_rows.py, tests/test_tables_browser.py): more rows in one month than a
table block holds, names in mixed case, and rows with every optional field missing (NULL in every nullable column,
"" in every text column), so sorting, filtering and missing-value text can be checked against hand-made data."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from models.schema import deal_stage_changes, deals, phone_calls, vtiger_groups
from tests.seed_dashboards import case_row, issue_row, seed_statuses, write_rows

MONTH_START = datetime(2026, 11, 1, 6, 0)  # naive UTC, 07:00 in Berlin
PEOPLE = ["ann Archer", "Ben Brook", "cara Cole", "Dev Dunn", "Eve Earl", ""]
STATUSES = ["Open", "In Progress", "Waiting", "Resolved", "Closed"]


def _moment(rng: random.Random) -> datetime:
    return MONTH_START + timedelta(minutes=rng.randint(0, 28 * 24 * 60))


def table_cases(count: int = 160, seed: int = 3) -> list[dict[str, Any]]:
    """Cases of November 2026; every seventh has every optional field missing."""
    rng = random.Random(seed)
    rows = []
    for number in range(1, count + 1):
        created = _moment(rng)
        updated = created + timedelta(minutes=rng.randint(0, 3000))
        status = rng.choice(STATUSES)
        resolved = updated if status in ("Resolved", "Closed") else None
        row = case_row(
            number,
            created_at=created,
            updated_at=updated,
            resolved_at=resolved,
            status=status,
            title=rng.choice(["Printer", "printer jam", "VPN", "Laptop", "Case 50% done", "Zebra"]) + f" {number}",
            assignee_name=rng.choice(PEOPLE),
            modified_by_name=rng.choice(PEOPLE),
            group_name=rng.choice(["Support", "Billing"]),
            time_spent_hours=rng.choice([None, 0.5, 1.0, 2.5, 4.0, 7.25]),
        )
        if number % 7 == 0:  # every optional field missing
            row.update(
                updated_at=None,
                resolved_at=None,
                time_spent_hours=None,
                title="",
                priority="",
                assignee_name="",
                assignee_id="",
                group_name="",
                group_id="",
                modified_by_name="",
                case_no="",
            )
        rows.append(row)
    return rows


def table_issues(count: int = 140, seed: int = 5) -> list[dict[str, Any]]:
    """Redmine issues of November 2026; every seventh has every optional field missing."""
    rng = random.Random(seed)
    closed_names = {"Resolved": 3, "Done": 5, "Rejected": 6}
    rows = []
    for number in range(1, count + 1):
        created = _moment(rng)
        updated = created + timedelta(minutes=rng.randint(0, 3000))
        status = rng.choice(["New", "In Progress", "Resolved", "Done", "Rejected"])
        closed = status in closed_names
        row = issue_row(
            number * 3,
            created_at=created,
            updated_at=updated,
            closed_at=updated if closed else None,
            status_name=status,
            status_id=closed_names.get(status, 1),
            is_closed=closed,
            subject=rng.choice(["Crash", "crash on boot", "Docs", "Build"]) + f" {number}",
            assignee_name=rng.choice(PEOPLE),
            author_name=rng.choice(PEOPLE[:-1]),
            project_name=rng.choice(["Firmware", "Platform"]),
        )
        if number % 7 == 0:
            row.update(
                updated_at=None,
                closed_at=None,
                project_id=None,
                status_id=None,
                assignee_id=None,
                subject="",
                project_name="",
                tracker_name="",
                assignee_name="",
                author_name="",
                priority_name="",
            )
        rows.append(row)
    return rows


def seed_sales(engine: Engine, calls: int = 150, seed: int = 9) -> None:
    """Calls and stage changes of November 2026 in group Sales; every seventh call has every optional field
    missing."""
    rng = random.Random(seed)
    call_rows = []
    minutes = rng.sample(range(28 * 24 * 60), calls)  # distinct: the table's default order has no ties
    for number in range(1, calls + 1):
        row = {
            "source_id": f"43x{number}",
            "started_at": MONTH_START + timedelta(minutes=minutes[number - 1]),
            "assignee_name": rng.choice(PEOPLE),
            "group_name": "Sales",
            "status": rng.choice(["Held", "Planned", "Not Held"]),
            "direction": rng.choice(["inbound", "outbound"]),
            "duration_seconds": rng.randint(5, 900),
            "customer_number": f"+1555{number:04d}",
            "recording_url": "",
            "raw": {},
        }
        if number % 7 == 0:
            row.update(duration_seconds=None, ended_at=None, assignee_name="", customer_number="", direction="")
        call_rows.append(row)
    deal_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for number in range(1, 41):
        deal_rows.append(
            {
                "source_id": f"5x{number}",
                "deal_no": f"POT{number}",
                "name": f"Deal {number}",
                "stage": "Demo Given",
                "assignee_name": rng.choice(PEOPLE[:-1]),
                "group_name": "Sales",
                "raw": {},
                "amount": None if number % 7 == 0 else float(number * 100),
            }
        )
        changes.append(
            {
                "deal_source_id": f"5x{number}",
                "deal_no": f"POT{number}",
                "stage": rng.choice(["Demo Given", "Won"]),
                "changed_at": _moment(rng),
                "origin": "field",
                "assignee_name": rng.choice(PEOPLE),
                "group_name": "Sales",
                "qualified_by_name": "",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(vtiger_groups), [{"source_id": "20x1", "name": "Sales", "raw": {}}])
        conn.execute(insert(phone_calls), call_rows)
        conn.execute(insert(deals), deal_rows)
        conn.execute(insert(deal_stage_changes), changes)


def seed_tables(engine: Engine) -> None:
    from models.schema import cases, redmine_issues

    write_rows(engine, cases, table_cases())
    seed_statuses(engine)
    write_rows(engine, redmine_issues, table_issues())
    seed_sales(engine)

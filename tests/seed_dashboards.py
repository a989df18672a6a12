"""Deterministic, demo-like case and Redmine issue rows for the dashboard tests (and screenshots), written with
sync.engine.upsert_rows exactly as sync would write them. Not a fixture module: call the functions.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from models import rollups, sales_rollups, support_rollups
from models.schema import cases, redmine_issues, redmine_statuses
from sync.engine import mark_deleted, upsert_rows

GROUPS = ("Support", "Onboarding", "Hardware")
PEOPLE = ("Ann Lee", "Bob Stone", "Cara Diaz", "Dan Wu", "Eve Moss", "Finn Hale", "")
OPEN_STATUSES = ("Open", "In Progress", "Wait For Response")
PROJECTS = ("Firmware", "Portal", "Mobile app")
REDMINE_STATUSES = (
    (1, "New", False),
    (2, "In Progress", False),
    (3, "Resolved", True),
    (5, "Done", True),
    (6, "Rejected", True),
    (7, "Duplicate", True),
)


def case_row(number: int, **values: Any) -> dict[str, Any]:
    """One cases row with sensible defaults; timestamps naive UTC."""
    created = values.pop("created_at", datetime(2026, 11, 2, 10))
    row = {
        "source_id": f"39x{number}",
        "case_no": f"CC{number}",
        "title": f"Case {number}",
        "status": "Open",
        "priority": "Normal",
        "assignee_id": "19x1",
        "assignee_name": "Ann Lee",
        "group_id": "20x1",
        "group_name": "Support",
        "modified_by_name": "Ann Lee",
        "created_at": created,
        "updated_at": created,
        "resolved_at": None,
        "deleted_at": None,
        "time_spent_hours": 1.5,
        "raw": {},
    }
    row.update(values)
    return row


def issue_row(number: int, **values: Any) -> dict[str, Any]:
    created = values.pop("created_at", datetime(2026, 11, 2, 10))
    row = {
        "source_id": str(number),
        "subject": f"Issue {number}",
        "project_id": 1,
        "project_name": "Firmware",
        "tracker_name": "Bug",
        "status_id": 1,
        "status_name": "New",
        "is_closed": False,
        "priority_name": "Normal",
        "author_name": "Ann Lee",
        "assignee_id": 1,
        "assignee_name": "Ann Lee",
        "created_at": created,
        "updated_at": created,
        "closed_at": None,
        "deleted_at": None,
        "raw": {},
    }
    row.update(values)
    return row


def demo_cases(now: datetime, count: int = 600, days: int = 150, seed: int = 7) -> list[dict[str, Any]]:
    """About `count` cases created over the last `days` days before `now`, most of them resolved."""
    rng = random.Random(seed)
    rows = []
    for number in range(1, count + 1):
        created = now - timedelta(minutes=rng.randint(5, days * 24 * 60))
        person = rng.choice(PEOPLE)
        values: dict[str, Any] = {
            "created_at": created,
            "updated_at": min(now, created + timedelta(hours=rng.randint(0, 72))),
            "group_name": rng.choice(GROUPS),
            "assignee_name": person,
            "modified_by_name": person or "Ann Lee",
            "priority": rng.choice(("Low", "Normal", "High", "Urgent")),
            "title": rng.choice(("Printer offline", "Login fails", "Invoice wrong", "Sensor drift", "New user"))
            + f" #{number}",
            "time_spent_hours": round(rng.uniform(0.2, 20), 2),
        }
        if rng.random() < 0.8:
            resolved = created + timedelta(hours=rng.randint(1, 240))
            if resolved < now:
                values["status"] = rng.choice(("Resolved", "Closed"))
                values["resolved_at"] = resolved
                values["updated_at"] = max(values["updated_at"], resolved)
        if "resolved_at" not in values:
            values["status"] = rng.choice(OPEN_STATUSES)
        rows.append(case_row(number, **values))
    return rows


def demo_issues(now: datetime, count: int = 300, days: int = 150, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for number in range(1, count + 1):
        created = now - timedelta(minutes=rng.randint(5, days * 24 * 60))
        status_id, status, closed = rng.choice(REDMINE_STATUSES)
        values: dict[str, Any] = {
            "created_at": created,
            "updated_at": min(now, created + timedelta(hours=rng.randint(0, 96))),
            "project_name": rng.choice(PROJECTS),
            "assignee_name": rng.choice(PEOPLE),
            "status_id": status_id,
            "status_name": status,
            "is_closed": closed,
            "subject": rng.choice(("Crash on start", "Slow sync", "Typo", "Add export", "Battery drain"))
            + f" #{number}",
        }
        if closed:
            closed_at = min(now, created + timedelta(hours=rng.randint(1, 300)))
            values["closed_at"] = closed_at
            values["updated_at"] = max(values["updated_at"], closed_at)
        rows.append(issue_row(number, **values))
    return rows


def write_rows(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        store_rows(conn, table, rows)


def store_rows(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """What sync's store step does: the rows, then their roll-ups' upkeep (models.rollups.upkeep)."""
    result = upsert_rows(conn, table, rows)
    rollups.upkeep(conn, table, result.replaced, result.written)
    support_rollups.track(conn, table, result.replaced, result.written)
    sales_rollups.track(conn, table, result.replaced, result.written)


def delete_rows(conn: Connection, table: Any, source_ids: list[str], when: datetime) -> None:
    """What sync does with records gone from the source: deleted_at, then the roll-ups' upkeep."""
    result = mark_deleted(conn, table, source_ids, when)
    rollups.upkeep(conn, table, result.replaced, result.written)
    support_rollups.track(conn, table, result.replaced, result.written)
    sales_rollups.track(conn, table, result.replaced, result.written)


def seed_statuses(engine: Engine) -> None:
    rows = [{"id": sid, "name": name, "is_closed": closed} for sid, name, closed in REDMINE_STATUSES]
    with engine.begin() as conn:
        upsert_rows(conn, redmine_statuses, rows, key="id")


def seed_all(engine: Engine, now: datetime) -> None:
    write_rows(engine, cases, demo_cases(now))
    seed_statuses(engine)
    write_rows(engine, redmine_issues, demo_issues(now))

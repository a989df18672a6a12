"""Test data for the TV, status, freshness and mobile tests: a small team with today's cases, calls, stage
changes and Redmine issues, and sync_runs rows saying when the sources last synced (fresh, stale or failed).

Rows go straight into the tables (as sync would leave them), so these tests do not depend on sync/.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from models.db import utcnow
from models.schema import (
    cases,
    deal_stage_changes,
    deals,
    phone_calls,
    redmine_issues,
    sync_runs,
    vtiger_groups,
    vtiger_users,
)

PEOPLE = {
    "Support": ["Ana Abbott", "Ben Brandt", "Carla Castillo", "Dmitri Dubois"],
    "Sales": ["Elif Eriksen", "Farid Fischer", "Grace Garcia"],
}
MODULES = {"vtiger": ("Cases", "Potentials", "PhoneCalls"), "redmine": ("issues",)}


def seed_team(engine: Engine, now: datetime | None = None) -> None:
    """Groups, users, and a working day's records up to `now` (naive UTC; default: the clock)."""
    now = now or utcnow()
    # Records land in the hour before `now`, so they are "today" whatever the time of day.
    start = now - timedelta(minutes=50)
    with engine.begin() as conn:
        conn.execute(insert(vtiger_groups), [{"source_id": f"20x{n}", "name": name} for n, name in enumerate(PEOPLE)])
        users = []
        for group_index, names in enumerate(PEOPLE.values()):
            for name in names:
                first, last = name.split(" ")
                users.append(
                    {
                        "source_id": f"19x{len(users) + 1}",
                        "user_name": first.lower(),
                        "first_name": first,
                        "last_name": last,
                        "full_name": name,
                        "status": "Active",
                        "primary_group_id": f"20x{group_index}",
                    }
                )
        conn.execute(insert(vtiger_users), users)

        case_rows = []
        for n in range(18):
            person = PEOPLE["Support"][n % 4]
            resolved = n % 3 == 0
            case_rows.append(
                {
                    "source_id": f"39x{n + 1}",
                    "case_no": f"CC{n + 1:04d}",
                    "title": f"Case {n + 1}",
                    "status": "Resolved" if resolved else "Open",
                    "assignee_name": person,
                    "group_name": "Support",
                    "created_at": start + timedelta(minutes=2 * n),
                    "updated_at": start + timedelta(minutes=2 * n + 1),
                    "resolved_at": start + timedelta(minutes=2 * n + 1) if resolved else None,
                    "first_seen_at": start,
                    "raw": {},
                }
            )
        conn.execute(insert(cases), case_rows)

        call_rows = [
            {
                "source_id": f"43x{n + 1}",
                "status": "Completed",
                "direction": "outbound",
                "started_at": start + timedelta(minutes=n),
                "assignee_name": PEOPLE["Sales"][n % 3],
                "group_name": "Sales",
                "raw": {},
            }
            for n in range(25)
        ]
        conn.execute(insert(phone_calls), call_rows)

        conn.execute(
            insert(deals),
            [
                {
                    "source_id": f"5x{n + 1}",
                    "deal_no": f"POT{n + 1}",
                    "name": f"Deal {n + 1}",
                    "stage": "Demo Scheduled",
                    "amount": 1000.0 * (n + 1),
                    "assignee_name": PEOPLE["Sales"][n % 3],
                    "group_name": "Sales",
                    "qualified_by_name": PEOPLE["Sales"][(n + 1) % 3],
                    "raw": {},
                }
                for n in range(6)
            ],
        )
        conn.execute(
            insert(deal_stage_changes),
            [
                {
                    "deal_source_id": f"5x{n + 1}",
                    "deal_no": f"POT{n + 1}",
                    "stage": "Demo Scheduled",
                    "previous_stage": "Prospecting",
                    "changed_at": start + timedelta(minutes=3 * n),
                    "origin": "observed",
                    "assignee_name": PEOPLE["Sales"][n % 3],
                    "group_name": "Sales",
                    "qualified_by_name": PEOPLE["Sales"][(n + 1) % 3],
                }
                for n in range(6)
            ],
        )

        conn.execute(
            insert(redmine_issues),
            [
                {
                    "source_id": str(100 + n),
                    "subject": f"Issue {n}",
                    "project_name": "Platform" if n % 2 else "Mobile",
                    "status_name": "Closed" if n % 4 == 0 else "New",
                    "is_closed": n % 4 == 0,
                    "assignee_name": PEOPLE["Support"][n % 4],
                    "created_at": start + timedelta(minutes=n),
                    "updated_at": start + timedelta(minutes=n + 1),
                    "closed_at": start + timedelta(minutes=n + 1) if n % 4 == 0 else None,
                    "raw": {},
                }
                for n in range(12)
            ],
        )


def record_runs(
    engine: Engine,
    finished_at: datetime,
    *,
    status: str = "success",
    error: str = "",
    sources: tuple[str, ...] = ("vtiger", "redmine"),
    trigger: str = "test",
) -> None:
    """One finished sync_runs row per module of `sources`, finished at `finished_at` (naive UTC)."""
    rows = [
        {
            "source": source,
            "module": module,
            "trigger": trigger,
            "job_id": "",
            "started_at": finished_at - timedelta(seconds=4),
            "finished_at": finished_at,
            "status": status,
            "rows_inserted": 3,
            "rows_updated": 2,
            "rows_deleted": 1,
            "requests": 5,
            "error": error,
        }
        for source in sources
        for module in MODULES[source]
    ]
    with engine.begin() as conn:
        conn.execute(insert(sync_runs), rows)

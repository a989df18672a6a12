"""Test data for the TV, status, freshness and mobile tests: a small team with today's cases, calls, stage
changes and Redmine issues, and sync_runs rows saying when the sources last synced (fresh, stale or failed).

Rows go straight into the tables (as sync would leave them), so these tests do not depend on sync/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
        users: list[dict[str, Any]] = []
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

        case_rows: list[dict[str, Any]] = []
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


# --- a crowded day: long names, three-digit percentages, more rows than a board can show -------------------------

LONG_NAMES = [
    "Maximilian Alexander Oberhausen-Wittgenstein",
    "Anastasia Konstantinovna Vasilyeva-Romanova",
    "Bartholomew Fitzgerald-Montgomery",
    "Guadalupe Esperanza Villanueva-Castellanos",
    "Oluwaseun Adebayo-Okonkwo",
    "Siddharth Venkataraman Subramaniam",
    "Wilhelmina Theodora Van der Westhuizen",
    "Jean-Christophe Delacroix-Beaumont",
    "Xiomara Benedetta Santangelo",
    "Nguyen Thi Phuong Thao",
    "Kristoffer Hallvard Johannessen",
    "Aleksandra Przybyszewska",
    "Ifeoma Chukwuemeka",
]
CROWDED_GROUPS = ["Support", "Sales", "Customer Success & Onboarding (EMEA)", "Technical Escalations (Tier 3)"]
# Today (14 created, 22 resolved: kill rate 157 %) and yesterday (22 created, 12 resolved: 54 %), hand-counted.
RESOLVED_TODAY = [4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]  # per person of LONG_NAMES: 13 rows, 22 cases
CREATED_TODAY = 14
RESOLVED_YESTERDAY = 12
OLD_OPEN = 1200  # open for weeks: "Open now" is 1,200 + what is still open of the last two days
CALLS_TODAY = [120, 97, 80, 66, 51, 40, 33, 25, 18, 12, 7, 3]  # per sales person: 552 calls
CALLS_YESTERDAY = [60, 50, 40, 35, 30, 25, 20, 15, 10, 8, 5, 2]  # 300 calls
DEMOS_TODAY = 8  # Demo Scheduled, 5 points each to the qualifier
REDMINE_STATUSES = [
    "New",
    "In Progress",
    "Waiting for customer feedback (external)",
    "Ready for deployment to production",
    "Needs information from the reporter",
    "On hold until the next release",
    "Reopened",
    "Feedback",
    "Testing in the staging environment",
]
ISSUES_CREATED_TODAY, ISSUES_CLOSED_TODAY = 7, 11  # 157 %
ISSUES_CREATED_YESTERDAY, ISSUES_CLOSED_YESTERDAY = 11, 7  # 63 %


def seed_crowded(engine: Engine, now: datetime, *, today: bool = True) -> None:
    """A busy team at `now` (naive UTC, at least 11 hours after local midnight): the figures above; with
    `today=False` only yesterday's records (and the long-open cases): a quiet morning."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = midnight - timedelta(days=1)
    sales_people = LONG_NAMES[:12]
    with engine.begin() as conn:
        conn.execute(
            insert(vtiger_groups), [{"source_id": f"20x{n}", "name": name} for n, name in enumerate(CROWDED_GROUPS)]
        )
        users = [_user(f"19x{n + 1}", f"user{n + 1}", name, "20x0") for n, name in enumerate(LONG_NAMES)]
        users += [_user(f"19x{100 + n}", f"seller{n + 1}", name, "20x1") for n, name in enumerate(sales_people)]
        conn.execute(insert(vtiger_users), users)
        conn.execute(insert(cases), _crowded_cases(now, midnight, yesterday, today))
        conn.execute(insert(phone_calls), _crowded_calls(midnight, yesterday, sales_people, today))
        if today:
            _crowded_demos(conn, midnight, sales_people)
        conn.execute(insert(redmine_issues), _crowded_issues(midnight, yesterday, today))


def _user(source_id: str, user_name: str, name: str, group_id: str) -> dict:
    first, last = name.split(" ", 1)
    return {"source_id": source_id, "user_name": user_name, "first_name": first, "last_name": last,
            "full_name": name, "status": "Active", "primary_group_id": group_id}  # fmt: skip


def _case(n: int, person: str, group: str, created: datetime, resolved: datetime | None, priority: str) -> dict:
    return {
        "source_id": f"39x{n}",
        "case_no": f"CC{n:05d}",
        "title": f"Case {n}",
        "priority": priority,  # [cases.sla]'s defaults: the old open cases are breached, today's Urgent at risk
        "status": "Resolved" if resolved else "Open",
        "assignee_name": person,
        "group_name": group,
        "created_at": created,
        "updated_at": resolved or created,
        "resolved_at": resolved,
        "first_seen_at": created,
        "raw": {},
    }


def _crowded_cases(now: datetime, midnight: datetime, yesterday: datetime, today: bool) -> list[dict]:
    """(person, group, created, resolved) of each case, then numbered."""
    weeks_ago, two_days_ago = midnight - timedelta(days=40), yesterday - timedelta(days=1)
    specs: list[tuple[str, str, datetime, datetime | None]] = [
        (LONG_NAMES[n % 13], CROWDED_GROUPS[n % len(CROWDED_GROUPS)], weeks_ago, None) for n in range(OLD_OPEN)
    ]
    specs += [
        (LONG_NAMES[n % 13], "Support", two_days_ago + timedelta(hours=9), yesterday + timedelta(hours=10, minutes=n))
        for n in range(RESOLVED_YESTERDAY)
    ]
    # Yesterday's 22 new cases are the ones resolved today (or still open on a quiet morning).
    resolvers = [LONG_NAMES[person] for person, count in enumerate(RESOLVED_TODAY) for _ in range(count)]
    specs += [
        (person, "Support", yesterday + timedelta(hours=9, minutes=n),
         midnight + timedelta(hours=8, minutes=5 * n) if today else None)
        for n, person in enumerate(resolvers)
    ]  # fmt: skip
    if today:
        specs += [
            (LONG_NAMES[n % 13], "Support", midnight + timedelta(hours=8, minutes=10 * n), None)
            for n in range(CREATED_TODAY)
        ]
    assert all(created < now for _, _, created, _ in specs)
    priorities = ["High"] * OLD_OPEN + ["Medium"] * (len(specs) - OLD_OPEN)
    if today:
        priorities[-CREATED_TODAY:] = ["Urgent"] * CREATED_TODAY
    return [_case(n + 1, *spec, priority) for n, (spec, priority) in enumerate(zip(specs, priorities, strict=True))]


def _crowded_calls(midnight: datetime, yesterday: datetime, people: list[str], today: bool) -> list[dict]:
    days = [(yesterday, CALLS_YESTERDAY)] + ([(midnight, CALLS_TODAY)] if today else [])
    rows: list[dict[str, Any]] = []
    for day, counts in days:
        for person, count in zip(people, counts, strict=True):
            for n in range(count):
                rows.append(
                    {
                        "source_id": f"43x{len(rows) + 1}",
                        "status": "Completed",
                        "direction": "outbound",
                        "started_at": day + timedelta(hours=8, seconds=20 * n),
                        "assignee_name": person,
                        "group_name": "Sales",
                        "raw": {},
                    }
                )
    return rows


def _crowded_demos(conn, midnight: datetime, people: list[str]) -> None:
    for n in range(DEMOS_TODAY):
        common = {"assignee_name": people[n % 4], "group_name": "Sales", "qualified_by_name": people[n % 2]}
        conn.execute(
            insert(deals).values(
                source_id=f"5x{n + 1}",
                deal_no=f"POT{n + 1}",
                name=f"Deal {n + 1}",
                stage="Demo Scheduled",
                amount=1000.0,
                raw={},
                **common,
            )
        )
        conn.execute(
            insert(deal_stage_changes).values(
                deal_source_id=f"5x{n + 1}",
                deal_no=f"POT{n + 1}",
                stage="Demo Scheduled",
                previous_stage="Prospecting",
                origin="observed",
                changed_at=midnight + timedelta(hours=9, minutes=n),
                **common,
            )
        )


def _issue(n: int, status: str, person: str, created: datetime, closed: datetime | None) -> dict:
    return {
        "source_id": str(1000 + n),
        "subject": f"Issue {n}",
        "project_name": "Platform" if n % 2 else "Mobile",
        "status_name": "Closed" if closed else status,
        "is_closed": closed is not None,
        "assignee_name": person,
        "created_at": created,
        "updated_at": closed or created,
        "closed_at": closed,
        "raw": {},
    }


def _crowded_issues(midnight: datetime, yesterday: datetime, today: bool) -> list[dict]:
    """(status while open, person, created, closed) of each issue, then numbered."""
    weeks_ago = midnight - timedelta(days=30)
    # Open for weeks, in every status (9 rows of "Open by status"), then yesterday's and today's.
    specs: list[tuple[str, str, datetime, datetime | None]] = [
        (status, LONG_NAMES[n], weeks_ago, None)
        for n, status in enumerate(REDMINE_STATUSES)
        for _ in range(len(REDMINE_STATUSES) - n)
    ]
    specs += [
        ("New", LONG_NAMES[n], weeks_ago, yesterday + timedelta(hours=10, minutes=n))
        for n in range(ISSUES_CLOSED_YESTERDAY)
    ]
    specs += [
        ("New", LONG_NAMES[n % 9], yesterday + timedelta(hours=9, minutes=n),
         midnight + timedelta(hours=8, minutes=n) if today and n < ISSUES_CLOSED_TODAY else None)
        for n in range(ISSUES_CREATED_YESTERDAY)
    ]  # fmt: skip
    if today:
        specs += [
            ("New", LONG_NAMES[n], midnight + timedelta(hours=9, minutes=n), None) for n in range(ISSUES_CREATED_TODAY)
        ]
    return [_issue(n, *spec) for n, spec in enumerate(specs)]

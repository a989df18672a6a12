"""A small, hand-countable week of cases, Redmine issues and sales for the digest tests (Europe/Berlin, the digest
of Wednesday 2 December 2026 sent on Thursday 3 December at 07:30). Not a fixture module: call the functions.

Cases (UTC; Berlin is UTC+1):
  c1 Wed 09:00 Support open, Urgent (4 h: past due by Thursday)
  c2 Wed 10:00 Support resolved Wed 15:00 (5 h), High         c3 Tue 10:00 Support resolved Wed 11:00 (25 h), Urgent
  c4 Mon 08:00 Hardware open     c5 Tue 23:30 (Wed 00:30 in Berlin) Support open
  c6 Sun 29 Nov 22:30 (23:30 in Berlin, the previous week) Hardware open
Redmine: i1 Wed 12:00 open, i2 Mon 09:00 closed Wed 13:00, i3 Tue 09:00 open.
Sales: Ann 3 calls and a Demo Given on Wed, Bob 1 call on Wed, Quinn qualified a Demo Scheduled on Wed, Cara
2 calls on Mon; daily goal 8 points.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert

from models.sales_rollups import rebuild
from models.schema import cases, deal_stage_changes, deals, phone_calls, redmine_issues
from settings import DEFAULT_STAGES, KpiRules, SalesRules, Settings
from tests.seed_dashboards import case_row, issue_row, seed_statuses, write_rows

TZ = "Europe/Berlin"
DAY = date(2026, 12, 2)  # Wednesday
SENT_AT = datetime(2026, 12, 3, 6, 30)  # Thursday 07:30 in Berlin, naive UTC
RULES = replace(KpiRules(), sales=SalesRules(stages=DEFAULT_STAGES, daily_goal=8))


def digest_settings(base: Settings) -> Settings:
    return replace(base, timezone=TZ, kpi=RULES, public_url="https://kpi.example.com")


def seed_digest_week(engine: Engine) -> None:
    write_rows(
        engine,
        cases,
        [
            case_row(1, created_at=datetime(2026, 12, 2, 9), priority="Urgent"),
            case_row(
                2,
                created_at=datetime(2026, 12, 2, 10),
                status="Resolved",
                resolved_at=datetime(2026, 12, 2, 15),
                priority="High",
            ),
            case_row(
                3,
                created_at=datetime(2026, 12, 1, 10),
                status="Closed",
                resolved_at=datetime(2026, 12, 2, 11),
                priority="Urgent",
            ),
            case_row(4, created_at=datetime(2026, 11, 30, 8), group_name="Hardware"),
            case_row(5, created_at=datetime(2026, 12, 1, 23, 30)),
            case_row(6, created_at=datetime(2026, 11, 29, 22, 30), group_name="Hardware"),
        ],
    )
    seed_statuses(engine)
    write_rows(
        engine,
        redmine_issues,
        [
            issue_row(1, created_at=datetime(2026, 12, 2, 12)),
            issue_row(
                2,
                created_at=datetime(2026, 11, 30, 9),
                status_id=5,
                status_name="Done",
                is_closed=True,
                closed_at=datetime(2026, 12, 2, 13),
                updated_at=datetime(2026, 12, 2, 13),
            ),
            issue_row(3, created_at=datetime(2026, 12, 1, 9)),
        ],
    )
    _add(engine, deals, {"source_id": "5x1", "deal_no": "POT1", "name": "Deal 1", "raw": {}, "stage": "Demo Given",
                         "group_name": "Sales", "assignee_name": "Ann", "qualified_by_name": "Quinn"})  # fmt: skip
    _add(
        engine,
        deal_stage_changes,
        _change("Demo Scheduled", "2026-12-02 09:00"),
        _change("Demo Given", "2026-12-02 14:00"),
    )
    _add(
        engine,
        phone_calls,
        *(_call(f"43x{n}", f"2026-12-02 {8 + n:02d}:00", "Ann") for n in range(1, 4)),
        _call("43x4", "2026-12-02 12:30", "Bob"),
        _call("43x5", "2026-11-30 10:00", "Cara"),
        _call("43x6", "2026-11-30 11:00", "Cara"),
    )
    rebuild(engine, RULES.sales, TZ)  # what sync keeps as it stores stage changes (the seed bypasses sync)


def _add(engine: Engine, table: Any, *rows: dict[str, Any]) -> None:
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert(table).values(**row))


def _change(stage: str, changed_at: str) -> dict[str, Any]:
    return {"deal_source_id": "5x1", "deal_no": "POT1", "stage": stage, "origin": "field",
            "changed_at": datetime.fromisoformat(changed_at), "group_name": "Sales", "assignee_name": "Ann",
            "qualified_by_name": "Quinn"}  # fmt: skip


def _call(source_id: str, started_at: str, assignee: str) -> dict[str, Any]:
    return {"source_id": source_id, "started_at": datetime.fromisoformat(started_at), "assignee_name": assignee,
            "group_name": "Sales", "status": "Held", "raw": {}}  # fmt: skip

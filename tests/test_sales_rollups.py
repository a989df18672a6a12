"""models/sales_rollups.py against the plain reference (metrics.sales.score_passages over every change and its
deal's history), on SQLite and PostgreSQL, over generated deals with repeats, second records of one passage,
moved-back and reopened deals, deleted changes and deals, a stage credited to another deal field, and the
daylight-saving days of America/Chicago: what sync keeps as it stores (keep) and what a rebuild derives give the
reference's leaderboards, demos, deals per stage, totals and stage-change rows, for every window and group, also
for the compared span of a running window. A rules change is detected by the fingerprint."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select, update

from metrics.sales import PIPELINE_COLUMNS, empty_frame
from metrics.windows import compare_with, window_for
from models import sales_rollups
from models.sales import CALL_COLUMNS, read_stage_history, read_window_stage_changes
from models.schema import deal_stage_changes, deals, sales_day_counts, sales_window_counts, vtiger_users
from settings import KpiRules, SalesRules, Settings, StageRule
from view_models.sales import build_sales_page, build_sales_views, credit_fields, sales_view, stage_change_rows

TZ = "America/Chicago"
STAGES = ["Prospecting", "Demo Scheduled", "Demo Given", "Quote Sent", "Pilot", "Closed Won", "Recycled"]
PEOPLE = ["Ann", " Bob ", "Cy", ""]
GROUPS = ["Sales", "Support"]
DAYS = [date(2024, 3, 10), date(2024, 3, 11), date(2024, 11, 3), date(2024, 3, 1), date(2024, 10, 30)]
RULES = replace(
    SalesRules(),
    stages=(
        StageRule("Demo Scheduled", 5, "cf_potentials_qualifiedby"),
        StageRule("Demo Given", 3, "assignee"),
        StageRule("Quote Sent", 2, "assignee", once_per_deal=False),
        StageRule("Pilot", 4, "cf_potentials_champion"),  # another deal field naming a user
    ),
)


def generated_changes(seed: int, deal_count: int = 40) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deals and their stage changes around the DST days: moves forward, back (a repeat), the same stage recorded
    twice (custom field and observed), and changes a few minutes either side of local midnight."""
    rng = random.Random(seed)
    deal_rows, changes = [], []
    for number in range(deal_count):
        deal_id = f"5x{number}"
        group = rng.choice(GROUPS)
        champion = rng.choice(["19x1", "19x2", "", "nobody-known"])
        raw = {"cf_potentials_champion": champion}
        deal_rows.append({"source_id": deal_id, "deal_no": f"POT{number}", "name": f"Deal {number}", "raw": raw,
                          "stage": "Prospecting", "group_name": group})  # fmt: skip
        moment = datetime.combine(rng.choice(DAYS), datetime.min.time()) + timedelta(minutes=rng.randrange(-90, 1500))
        seen: set[tuple[str, datetime]] = set()
        stage = "Prospecting"
        for _ in range(rng.randrange(1, 9)):
            roll = rng.random()
            if roll < 0.2:
                pass  # the same stage recorded again: a second record of the passage
            elif roll < 0.45:
                stage = rng.choice(STAGES[:4])  # back to an earlier stage: a repeat
            else:
                stage = rng.choice(STAGES)
            moment += timedelta(minutes=rng.choice([1, 7, 60, 300, 1440, 2000, 20000]))
            if (stage, moment) in seen:
                continue
            seen.add((stage, moment))
            changes.append({
                "deal_source_id": deal_id, "deal_no": f"POT{number}", "stage": stage, "changed_at": moment,
                "origin": rng.choice(["field", "observed"]), "group_name": group,
                "assignee_name": rng.choice(PEOPLE), "qualified_by_name": rng.choice(PEOPLE),
            })  # fmt: skip
    return deal_rows, changes


def seed(engine: Engine, seed_number: int) -> None:
    deal_rows, changes = generated_changes(seed_number)
    with engine.begin() as conn:
        conn.execute(
            insert(vtiger_users),
            [{"source_id": "19x1", "user_name": "dee", "first_name": "", "last_name": "", "full_name": "Dee Champion",
              "status": "Active", "raw": {}},
             {"source_id": "19x2", "user_name": "eve", "first_name": "Eve", "last_name": "E", "full_name": "",
              "status": "Active", "raw": {}}],
        )  # fmt: skip
        conn.execute(insert(deals), deal_rows)
        conn.execute(insert(deal_stage_changes), changes)


def reference(engine: Engine, settings: Settings, window: Any, groups: tuple[str, ...]) -> Any:
    """What the plain pandas scoring gives for `window`: every change of the window, every earlier one of its deals."""
    rules = settings.kpi.sales
    with engine.connect() as conn:
        changes = read_window_stage_changes(conn, window.start, window.end, credit_fields(rules))
        history = read_stage_history(conn, changes["deal_source_id"])
    return sales_view(
        window=window, rules=rules, today=window.first_day, calls=empty_frame(CALL_COLUMNS), changes=changes,
        history=history, roster=empty_frame(["person", "group_name"]), pipeline=empty_frame(PIPELINE_COLUMNS),
        groups=groups,
    )  # fmt: skip


def assert_same_figures(engine: Engine, settings: Settings) -> None:
    for day in DAYS:
        for group in ("", *GROUPS):
            groups = (group,) if group else ()
            page = build_sales_page(engine, settings, day, group, "day", 0, today=day)
            rows = build_sales_views(engine, settings, day, group, today=day)
            for kind in ("day", "week", "month"):
                window = window_for(day, kind, TZ)
                plain = reference(engine, settings, window, groups)
                for view in (page[kind], rows[kind]):
                    assert view.leaderboard.equals(plain.leaderboard), (day, group, kind)
                    assert view.demos_per_qualifier().equals(plain.demos_per_qualifier()), (day, group, kind)
                    assert view.deals_per_stage().equals(plain.deals_per_stage()), (day, group, kind)
                    assert view.totals() == plain.totals(), (day, group, kind)
                columns = [name for name in stage_change_rows(plain).columns if name != "link"]
                assert _values(stage_change_rows(rows[kind])[columns]) == _values(stage_change_rows(plain)[columns])


def _values(frame: pd.DataFrame) -> list[dict[Any, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _settings(settings_for: Any, database_url: str, rules: SalesRules = RULES) -> Settings:
    return settings_for(database_url, timezone=TZ, kpi=KpiRules(sales=rules))


@pytest.mark.parametrize("seed_number", [1, 2])
def test_rebuilt_rollups_give_the_reference_figures(engine: Engine, settings_for, database_url: str, seed_number):
    settings = _settings(settings_for, database_url)
    seed(engine, seed_number)
    assert sales_rollups.ensure(engine, RULES, TZ)
    assert sales_rollups.ensure(engine, RULES, TZ) is None  # the fingerprint matches: nothing to do
    assert_same_figures(engine, settings)


def test_what_sync_keeps_as_it_stores_equals_a_rebuild(engine: Engine, settings_for, database_url: str) -> None:
    settings = _settings(settings_for, database_url)
    seed(engine, 3)
    sales_rollups.rebuild(engine, RULES, TZ)
    with engine.begin() as conn:
        change = deal_stage_changes.c
        ids = conn.execute(select(change.id, change.deal_source_id).order_by(change.id)).all()
        gone = [row.id for row in ids[::5]]  # changes deleted at the source
        conn.execute(update(deal_stage_changes).where(change.id.in_(gone)).values(deleted_at=datetime(2025, 1, 1)))
        conn.execute(update(deals).where(deals.c.source_id == "5x2").values(deleted_at=datetime(2025, 1, 1)))
        reopened = {
            "deal_source_id": "5x4",
            "deal_no": "POT4",
            "stage": "Demo Scheduled",
            "origin": "observed",
            "changed_at": datetime(2024, 11, 3, 6, 30),
            "group_name": "Sales",
            "qualified_by_name": "Cy",
        }
        conn.execute(insert(deal_stage_changes).values(**reopened))  # fmt: skip
        conn.execute(update(deals).where(deals.c.source_id == "5x6").values(raw={"cf_potentials_champion": "19x1"}))
        touched = {row.deal_source_id for row in ids[::5]} | {"5x2", "5x4", "5x6"}
        sales_rollups.keep(conn, touched, RULES, TZ)
    assert_same_figures(engine, settings)
    kept = _day_counts(engine), _window_counts(engine)
    sales_rollups.rebuild(engine, RULES, TZ)
    assert (_day_counts(engine), _window_counts(engine)) == kept


def test_the_compared_span_of_a_running_window_cuts_its_last_day(engine: Engine, settings_for, database_url: str):
    settings = _settings(settings_for, database_url)
    seed(engine, 4)
    sales_rollups.rebuild(engine, RULES, TZ)
    for now in (datetime(2024, 3, 11, 17, 42), datetime(2024, 11, 4, 3, 15), datetime(2024, 11, 30, 23, 59)):
        day = (now - timedelta(hours=6)).date()
        page = build_sales_page(engine, settings, day, "", "day", 0, today=day, now=now)
        for kind, view in page.items():
            span = compare_with(window_for(day, kind, TZ), now).span
            assert view.previous == reference(engine, settings, span, ()).totals(), (now, kind)


def test_a_rules_change_is_seen_by_its_fingerprint_and_rederives(engine: Engine, settings_for, database_url: str):
    seed(engine, 5)
    sales_rollups.rebuild(engine, RULES, TZ)
    for changed in (
        replace(RULES, stages=(*RULES.stages[:2], replace(RULES.stages[2], once_per_deal=True), RULES.stages[3])),
        replace(RULES, stages=(replace(RULES.stages[0], points=6), *RULES.stages[1:])),
        replace(RULES, stages=(replace(RULES.stages[0], credit="assignee"), *RULES.stages[1:])),
    ):
        assert not sales_rollups.ready(engine, changed, TZ)
        assert sales_rollups.ensure(engine, changed, TZ)
        assert_same_figures(engine, _settings(settings_for, database_url, changed))
    assert not sales_rollups.ready(engine, changed, "Europe/Berlin")


def _day_counts(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(sales_day_counts)).all()
    return sorted(tuple(row) for row in rows)


def _window_counts(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(sales_window_counts).where(sales_window_counts.c.passages != 0)).all()
    return sorted(tuple(row) for row in rows)

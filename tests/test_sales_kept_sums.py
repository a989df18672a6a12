"""The sums sync keeps for /sales besides the passages: the open pipeline per owner, group and stage
(models.sales_rollups.track, next to the roll-up upkeep in the store step) and the calls counted per day, week and
month (models.rollups, source "calls"), each against a plain count of the rows, on SQLite and PostgreSQL; and the
whole windows a span is read from (metrics.windows.covering), by hand."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from metrics.windows import compare_with, covering, span_parts, window_for
from models import rollups, sales_rollups
from models.sales import read_call_counts
from models.schema import deals, phone_calls
from settings import SalesRules
from tests.seed_dashboards import delete_rows, store_rows

TZ = "America/Chicago"
PEOPLE = ["Ann", " Bob ", "Cy", ""]
GROUPS = ["Sales", "Support"]
STAGES = ["Prospecting", "Demo Scheduled", "Quote Sent", "Closed Won", "Closed Lost"]


# --- covering: whole windows, by hand -------------------------------------------------------------------------


def test_a_span_is_read_as_its_whole_months_then_weeks_then_days() -> None:
    # 1 October 2026 is a Thursday: four days, two whole weeks (5 and 12 October), then the 19th and 20th.
    assert covering(date(2026, 10, 1), date(2026, 10, 20)) == [
        ("day", date(2026, 10, 1)), ("day", date(2026, 10, 2)), ("day", date(2026, 10, 3)),
        ("day", date(2026, 10, 4)), ("week", date(2026, 10, 5)), ("week", date(2026, 10, 12)),
        ("day", date(2026, 10, 19)), ("day", date(2026, 10, 20)),
    ]  # fmt: skip
    assert covering(date(2026, 9, 1), date(2026, 10, 31)) == [("month", date(2026, 9, 1)), ("month", date(2026, 10, 1))]
    assert covering(date(2026, 10, 5), date(2026, 10, 4)) == []
    # February 2024 (a leap year) whole, then March's first days
    assert covering(date(2024, 2, 1), date(2024, 3, 2)) == [
        ("month", date(2024, 2, 1)), ("day", date(2024, 3, 1)), ("day", date(2024, 3, 2)),
    ]  # fmt: skip


def test_a_running_spans_last_part_day_is_left_to_the_rows() -> None:
    # 10 March 2024, Chicago: clocks go forward at 02:00; now is 17:42 local (22:42 UTC) on Monday 11 March.
    now = datetime(2024, 3, 11, 22, 42)
    span = compare_with(window_for(date(2024, 3, 11), "month", TZ), now).span  # 1 February .. 11 February 17:42
    parts = span_parts(span)
    # Thursday 1 to Saturday 10 February are whole days; the week of the 5th ends on the part-day, the 11th.
    assert parts.windows == [("day", date(2024, 2, d)) for d in range(1, 11)]
    assert parts.part_day == (datetime(2024, 2, 11, 6, 0), datetime(2024, 2, 11, 23, 42))  # CST, UTC-6
    whole = span_parts(window_for(date(2024, 3, 11), "month", TZ))
    assert whole.windows == [("month", date(2024, 3, 1))] and whole.part_day is None


# --- the open pipeline ----------------------------------------------------------------------------------------------


def _deal(rng: random.Random, number: int) -> dict[str, Any]:
    return {
        "source_id": f"5x{number}", "deal_no": f"POT{number}", "name": f"Deal {number}", "raw": {},
        "stage": rng.choice(STAGES), "group_name": rng.choice(GROUPS), "assignee_name": rng.choice(PEOPLE),
        "amount": rng.choice([None, 0.0, 1200.5, 99.99, 15000.0]),
    }  # fmt: skip


def _plain_pipeline(engine: Engine, rules: SalesRules) -> list[tuple[Any, ...]]:
    """The pipeline the old page counted: every live deal not in a closed stage, grouped."""
    d = deals.c
    closed = (*rules.closed_stages, *rules.excluded_stages)
    query = (
        select(d.assignee_name, d.group_name, d.stage, func.coalesce(func.sum(d.amount), 0.0), func.count())
        .where(d.deleted_at.is_(None), d.stage.not_in(closed))
        .group_by(d.assignee_name, d.group_name, d.stage)
    )
    with engine.connect() as conn:
        return sorted((a, g, s, round(float(amount), 2), int(n)) for a, g, s, amount, n in conn.execute(query))


def _kept_pipeline(engine: Engine, rules: SalesRules) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        frame = sales_rollups.read_open_pipeline(conn, rules)
    return sorted(tuple(row) for row in frame.itertuples(index=False, name=None))


def test_the_store_step_keeps_the_open_pipeline_as_a_plain_sum_gives_it(engine: Engine) -> None:
    rng = random.Random(7)
    rules = SalesRules()
    with engine.begin() as conn:
        store_rows(conn, deals, [_deal(rng, n) for n in range(60)])
    assert _kept_pipeline(engine, rules) == _plain_pipeline(engine, rules) != []
    with engine.begin() as conn:  # moved on, re-assigned, re-valued; some deleted; one stored twice unchanged
        store_rows(conn, deals, [{**_deal(rng, n), "name": f"Deal {n}"} for n in range(0, 60, 3)])
        store_rows(conn, deals, [_deal(rng, n) for n in range(60, 70)])
        delete_rows(conn, deals, [f"5x{n}" for n in range(1, 60, 7)], datetime(2026, 11, 2))
    with engine.begin() as conn:
        store_rows(conn, deals, [{**_deal(rng, 1), "source_id": "5x1"}])  # undeleted by a new version
    kept = _kept_pipeline(engine, rules)
    assert kept == _plain_pipeline(engine, rules)
    with engine.begin() as conn:
        sales_rollups.rebuild_pipeline(conn)
    assert _kept_pipeline(engine, rules) == kept


# --- calls per window, from the calls' roll-ups -------------------------------------------------------------------


def _calls(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Calls around the spring-forward night of 2024 in Chicago, some at the edges of local days."""
    first = datetime(2024, 1, 29, 6)
    rows = []
    for number in range(count):
        started = first + timedelta(minutes=rng.randrange(0, 60 * 24 * 48))
        if number % 9 == 0:
            started = started.replace(hour=5, minute=59)  # 23:59 local the day before (CST), or 00:59 (CDT)
        rows.append(
            {"source_id": f"43x{number}", "started_at": started, "assignee_name": rng.choice(PEOPLE),
             "group_name": rng.choice(GROUPS), "status": rng.choice(["Held", "Planned", "Not Held"]), "raw": {}}
        )  # fmt: skip
    return rows


def _plain_call_counts(engine: Engine, start: datetime, end: datetime, groups: tuple[str, ...]) -> dict:
    c = phone_calls.c
    scope = [c.deleted_at.is_(None), c.started_at >= start, c.started_at < end]
    if groups:
        scope.append(c.group_name.in_(groups))
    query = select(c.assignee_name, c.status, func.count()).where(*scope).group_by(c.assignee_name, c.status)
    with engine.connect() as conn:
        return {(name, status): int(n) for name, status, n in conn.execute(query)}


@pytest.mark.parametrize("groups", [(), ("Sales",), ("Sales", "Support")])
def test_call_counts_come_from_the_rollups_as_the_rows_count_them(engine: Engine, groups: tuple[str, ...]) -> None:
    rng = random.Random(11)
    rollups.build_missing(engine, "calls", TZ)
    with engine.begin() as conn:
        store_rows(conn, phone_calls, _calls(rng, 400))
        delete_rows(conn, phone_calls, [f"43x{n}" for n in range(0, 400, 13)], datetime(2024, 3, 20))
    moments = [datetime(2024, 3, 11, 22, 42), datetime(2024, 3, 10, 8, 1), datetime(2024, 2, 29, 5, 59), None]
    for now in moments:
        day = (now or datetime(2024, 3, 5)) - timedelta(hours=6)
        for kind in ("day", "week", "month"):
            window = window_for(day.date(), kind, TZ)
            for span in (window, compare_with(window, now).span):
                with engine.connect() as conn:
                    found = read_call_counts(conn, span, groups)
                kept = {(row.assignee_name, row.status): row.calls for row in found.itertuples()}
                assert kept == _plain_call_counts(engine, span.start, span.end, groups), (now, kind, span)

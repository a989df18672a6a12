"""The /support window figures from the roll-ups sync keeps (models/support_rollups.py) against the plain row-by-row
figures (view_models.support.window_figures_from_rows), on PostgreSQL and SQLite: counts exactly, the median and
90th percentile within the stated bin error; the upkeep through sync's store step against a fresh recount; a
changed TIMEZONE, calendar or SLA target re-derives them (never a page click)."""

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, select

from metrics.windows import compare_with, window_for
from models import support_rollups
from models.schema import cases
from models.schema import support_rollups as support_rollups_table
from settings import CalendarRules, CaseRules, KpiRules, SlaRules
from tests.seed_dashboards import case_row, delete_rows, store_rows, write_rows
from tests.test_support import MONDAY, NOW, seed_support_rows
from view_models import support
from view_models.support import build_support_view, window_figures_from_rows

BERLIN = "Europe/Berlin"
RELATIVE = support_rollups.BIN_RATIO**0.5 - 1  # the stated bound: 1.98 % of the figure ...
ABSOLUTE = support_rollups.FLOOR_HOURS / 2  # ... plus at most 30 seconds (below a minute)


def at(text: str) -> datetime:
    local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BERLIN))
    return local.astimezone(UTC).replace(tzinfo=None)


def close(found: float | None, exact: float | None) -> bool:
    if found is None or exact is None:
        return found is None and exact is None
    return abs(found - exact) <= RELATIVE * abs(exact) + ABSOLUTE + 1e-9


def assert_same_figures(rolled: Any, plain: Any) -> None:
    """Counts exactly, percentiles within the stated error."""
    for name in ("resolution", "previous_resolution"):
        one, other = getattr(rolled, name), getattr(plain, name)
        assert one.count == other.count, name
        for part in ("median_hours", "p90_hours", "median_business_hours", "p90_business_hours"):
            assert close(getattr(one, part), getattr(other, part)), (name, part, one, other)
    for name in ("resolution_by_person", "resolution_by_group"):
        one = {item.name: item.figures for item in getattr(rolled, name)}
        other = {item.name: item.figures for item in getattr(plain, name)}
        assert {key: value.count for key, value in one.items()} == {key: value.count for key, value in other.items()}
        for key, figures in one.items():
            assert close(figures.median_business_hours, other[key].median_business_hours), (name, key)
            assert close(figures.p90_hours, other[key].p90_hours), (name, key)
    assert rolled.resolved_within == plain.resolved_within
    assert (rolled.sla.met, rolled.sla.breached) == (plain.sla.met, plain.sla.breached)
    previous = (rolled.previous_sla, plain.previous_sla)
    assert (previous[0].met, previous[0].breached) == (previous[1].met, previous[1].breached)
    assert dict(rolled.resolved_per_person) == dict(plain.resolved_per_person)


def rolled_and_plain(engine: Engine, settings: Any, day: date, kind: str, now: datetime, group: str = "") -> tuple:
    selected = window_for(day, kind, settings.timezone)  # type: ignore[arg-type]
    comparison = compare_with(selected, now)
    open_now = support.open_cases_with_due_times(engine, settings, group)
    rolled = support._window_figures_from_rollups(engine, settings, selected, comparison, group, open_now, now)
    plain = window_figures_from_rows(engine, settings, selected, comparison, group, now)
    return rolled, plain


def test_bins_hold_their_values_within_the_stated_error() -> None:
    values = np.array([0.0, 1e-4, 1 / 60, 0.5, 1.0, 7.99, 8.0, 65.0, 97.0, 26_280.0])
    middles = support_rollups.bin_middle(support_rollups.bin_of(values))
    assert middles[0] == 0  # exactly zero stays zero (weekend to weekend: 0 business hours)
    assert np.all(np.abs(middles - values) <= RELATIVE * values + ABSOLUTE + 1e-12)
    # The median of 1, 4 and 17 (a histogram) is 4 within the bound; the 90th percentile 14.4.
    bins, counts = np.unique(support_rollups.bin_of(np.array([1.0, 4.0, 17.0])), return_counts=True)
    assert close(support_rollups.quantile(bins, counts, 0.5), 4.0)
    assert close(support_rollups.quantile(bins, counts, 0.9), 14.4)
    assert not close(support_rollups.quantile(bins, counts, 0.9), 14.4 * 1.05)  # the check can fail


def test_hand_computed_edges_from_the_rollups(engine: Engine, settings_for: Any) -> None:
    """The hand-computed cases of test_support (Friday 16:30 -> Monday 09:30 is 1 business hour, reopened and
    resolved again, deleted, the window's first instant) read from the roll-ups."""
    seed_support_rows(engine)
    settings = settings_for(timezone=BERLIN)
    support_rollups.rebuild(engine, support_rollups.SupportRules.of(settings))
    view = build_support_view(engine, settings, MONDAY, window="day", now=NOW)
    assert view.resolution.count == 4
    assert close(view.resolution.median_business_hours, 2.5)
    assert close(view.resolution.p90_business_hours, 4 + 0.7 * 13)
    assert close(view.resolution.median_hours, 34.5)
    assert view.resolved_within == {
        "1 h": 2, "4 h": 1, "1 business day": 0, "3 business days": 1, "7 business days": 0, "more": 0,
    }  # fmt: skip
    assert view.previous_resolution.count == 1 and view.previous_resolution.median_business_hours == 0
    assert close(view.previous_resolution.median_hours, 26)
    assert (view.sla.met, view.sla.breached) == (2, 2)
    people = {item.name: item.figures for item in view.resolution_by_person}
    assert people["Ann Lee"].count == 2 and close(people["Bob Roy"].median_business_hours, 2)
    assert dict(view.reopen_rate_by_person) == {"Ann Lee": 50.0, "Bob Roy": 0.0}
    for kind in ("day", "week", "month"):
        assert_same_figures(*rolled_and_plain(engine, settings, MONDAY, kind, NOW))


def assert_same_trend(engine: Engine, settings: Any, day: date, kind: str, now: datetime, group: str) -> None:
    """The backlog's median age per day from the roll-ups (cases resolved since) and the open rows, against every
    case open on those days read from the rows: the same days, medians within the stated error (in hours)."""
    selected = window_for(day, kind, settings.timezone)  # type: ignore[arg-type]
    open_now = support.open_cases_with_due_times(engine, settings, group)
    kept = support._median_age_trend(engine, settings, selected, now, group, open_now, kept=True)
    plain = support._median_age_trend(engine, settings, selected, now, group, open_now)
    assert [one for one, _ in kept] == [one for one, _ in plain] != []
    for (one, found), (_, exact) in zip(kept, plain, strict=True):
        assert close(None if found is None else found * 24, None if exact is None else exact * 24), (one, group)


def generated_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """Cases around the October daylight-saving night and German holidays (3 Oct, 1 Nov is not national), in
    three groups and five people (one unassigned), some deleted, some with a VTiger due time."""
    rng = random.Random(seed)
    rows = []
    people = ["Ann Lee", "Bob Roy", "Cy Dee", " Dee Eve ", ""]
    for number in range(1, count + 1):
        created = at("2026-09-20 00:00") + timedelta(minutes=rng.randrange(0, 60 * 24 * 50))
        done = created + timedelta(minutes=rng.choice([0, rng.randrange(1, 90), rng.randrange(10, 60 * 24 * 12)]))
        values: dict[str, Any] = {
            "created_at": created,
            "priority": rng.choice(["Urgent", "High", "Medium", "Low", "Normal"]),
            "assignee_name": rng.choice(people),
            "group_name": rng.choice(["Support", "Billing", ""]),
            "source_due_at": None,  # every row has every column, as sync writes them
        }
        if rng.random() < 0.7:
            values.update(resolved_at=done, status=rng.choice(["Resolved", "Closed"]))
            if rng.random() < 0.05:  # reopened: resolved once, open again (resolved_at stays)
                values["status"] = "Open"
        if rng.random() < 0.05:
            values["deleted_at"] = at("2026-11-01 12:00")
        if rng.random() < 0.1:
            values["source_due_at"] = created + timedelta(hours=rng.randrange(1, 100))
        rows.append(case_row(number, **values))
    return rows


RULES = KpiRules(calendar=CalendarRules(holidays_country="DE"))


@pytest.mark.parametrize(
    ("day", "kind", "now"),
    [
        (date(2026, 10, 25), "day", at("2026-11-10 12:00")),  # the 25-hour day (a Sunday), finished
        (date(2026, 10, 26), "day", at("2026-10-26 11:45")),  # the Monday after, running: yesterday by 11:45
        (date(2026, 10, 26), "week", at("2026-10-28 15:17")),  # a running week: the compared span's part-day
        (date(2026, 10, 1), "month", at("2026-10-24 09:03")),  # a running month over 3 October
        (date(2026, 10, 1), "month", at("2026-11-10 12:00")),  # a finished month against September
        (date(2026, 11, 2), "day", at("2026-11-02 00:00")),  # now at the window's first instant
    ],
)
def test_rollup_figures_match_the_rows(engine: Engine, settings_for: Any, day: date, kind: str, now: datetime) -> None:
    rows = generated_rows(600, seed=day.toordinal())
    write_rows(engine, cases, rows)
    settings = settings_for(timezone=BERLIN, kpi=RULES)
    support_rollups.rebuild(engine, support_rollups.SupportRules.of(settings))
    for group in ("", "Support", "No such group"):
        rolled, plain = rolled_and_plain(engine, settings, day, kind, now, group)
        assert_same_figures(rolled, plain)
    assert plain.resolution.count == 0  # "No such group"
    for group in ("", "Support"):
        assert_same_trend(engine, settings, day, kind, now, group)
    rolled, plain = rolled_and_plain(engine, settings, day, kind, now)
    assert plain.resolution.count >= 5
    assert plain.sla.met + plain.sla.breached > 0 or day.weekday() == 6  # nothing is due on a Sunday


def stored(engine: Engine) -> dict[tuple, tuple]:
    with engine.connect() as conn:
        found = conn.execute(select(support_rollups_table)).mappings().all()
    return {
        tuple(str(row[name]) for name in support_rollups.KEY): (
            row["count"],
            tuple(zip(*support_rollups.unpack(dict(row)), strict=True)),
        )
        for row in found
    }


def test_upkeep_through_the_store_step_equals_a_recount(engine: Engine, settings_for: Any) -> None:
    """Sync's store step (the rows, then the upkeep, as tests/seed_dashboards.py does) keeps the roll-ups equal
    to a fresh recount: new
    cases, a case reopened (its resolution undone) and resolved again later, one moved to another group and
    person, one deleted."""
    settings = settings_for(timezone=BERLIN, kpi=RULES)
    rules = support_rollups.SupportRules.of(settings)
    rows = generated_rows(200, seed=5)
    with engine.begin() as conn:
        store_rows(conn, cases, rows[:100])
    support_rollups.rebuild(engine, rules)
    first = rows[0] if rows[0]["resolved_at"] else next(row for row in rows[:100] if row["resolved_at"])
    reopened = {**first, "status": "Open", "resolved_at": None}
    again = {**first, "status": "Resolved", "resolved_at": first["resolved_at"] + timedelta(days=3)}
    moved = {**rows[1], "group_name": "Billing", "assignee_name": "Cy Dee"}
    with engine.begin() as conn:
        store_rows(conn, cases, rows[100:])  # new
        store_rows(conn, cases, [reopened])
        store_rows(conn, cases, [moved])
    with engine.begin() as conn:
        store_rows(conn, cases, [again])
        delete_rows(conn, cases, [rows[2]["source_id"], rows[150]["source_id"]], at("2026-11-05 10:00"))
    kept = stored(engine)
    assert kept  # the upkeep wrote something
    support_rollups.rebuild(engine, rules)
    assert kept == stored(engine)


def test_a_changed_rule_is_rederived_by_ensure_not_by_a_click(engine: Engine, settings_for: Any) -> None:
    write_rows(engine, cases, generated_rows(120, seed=9))
    settings = settings_for(timezone=BERLIN, kpi=RULES)
    assert support_rollups.ensure(engine, support_rollups.SupportRules.of(settings)) is True
    assert support_rollups.ensure(engine, support_rollups.SupportRules.of(settings)) is False
    changed = [
        settings_for(timezone="America/New_York", kpi=RULES),
        settings_for(timezone=BERLIN, kpi=KpiRules(calendar=CalendarRules(hours="08:00-16:00", holidays_country="DE"))),
        settings_for(
            timezone=BERLIN,
            kpi=KpiRules(calendar=RULES.calendar, cases=CaseRules(sla=SlaRules(resolve_hours=(("Urgent", 2.0),)))),
        ),
        settings_for(
            timezone=BERLIN, kpi=KpiRules(calendar=RULES.calendar, cases=CaseRules(resolved_statuses=("Closed",)))
        ),
    ]
    for other in changed:
        with engine.connect() as conn:
            assert not support_rollups.ready(conn, support_rollups.SupportRules.of(other))
        # The page reads the rows meanwhile, and its figures are those of the changed rules.
        view = build_support_view(engine, other, date(2026, 10, 1), window="month", now=at("2026-11-10 12:00"))
        plain = window_figures_from_rows(engine, other, view.window, view.comparison, "", view.now)
        assert view.resolution == plain.resolution
        with engine.connect() as conn:
            assert not support_rollups.ready(conn, support_rollups.SupportRules.of(other))  # the click built nothing
    assert support_rollups.ensure(engine, support_rollups.SupportRules.of(changed[0])) is True
    with engine.connect() as conn:
        assert support_rollups.ready(conn, support_rollups.SupportRules.of(changed[0]))


def test_db_upgrade_rederives_rollups_kept_with_other_rules(settings_for: Any, tmp_path: Any) -> None:
    from models.db import make_engine, upgrade_database
    from tests.test_cli import runner_for

    url = f"sqlite:///{tmp_path / 'kept.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    write_rows(engine, cases, generated_rows(50, seed=3))
    support_rollups.rebuild(engine, support_rollups.SupportRules.of(settings_for(url, timezone=BERLIN)))
    moved = settings_for(url, timezone="America/New_York")

    upgraded = runner_for(moved).invoke(args=["db", "upgrade"])
    again = runner_for(moved).invoke(args=["db", "upgrade"])

    assert upgraded.exit_code == 0, upgraded.stderr
    assert "re-derived the help-desk roll-ups" in upgraded.stdout
    assert "re-derived" not in again.stdout
    with engine.connect() as conn:
        assert support_rollups.ready(conn, support_rollups.SupportRules.of(moved))
    engine.dispose()

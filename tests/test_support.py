"""views/support.py on PostgreSQL and SQLite against hand-computed figures: the Friday 16:30 -> Monday 09:30 case,
a case reopened and resolved again, a deleted case, the window's first instant, the compared span of the previous
window, SLA by due time, at-risk and breached lists, backlog age, Redmine's time to close and overdue issues."""

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from metrics.windows import WindowKind
from models.schema import case_status_changes, cases, redmine_issues
from settings import RedmineSettings, VtigerSettings
from tests.seed_dashboards import case_row, issue_row, write_rows
from view_models.support import build_redmine_support, build_support_view

BERLIN = "Europe/Berlin"
MONDAY = date(2026, 12, 7)
RECORD_URL = "https://acme.od1.vtiger.com/index.php?module={module}&view=Detail&record="


def at(text: str) -> datetime:
    """Naive UTC of a Berlin wall-clock time (CET, UTC+1, all December)."""
    local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BERLIN))
    return local.astimezone(UTC).replace(tzinfo=None)


NOW = at("2026-12-07 15:00")


def resolved(number: int, created: str, done: str, **values: Any) -> dict[str, Any]:
    return case_row(number, created_at=at(created), resolved_at=at(done), status="Resolved", **values)


def opened(number: int, created: str, **values: Any) -> dict[str, Any]:
    return case_row(number, created_at=at(created), **values)


def change(number: int, when: str, from_status: str, to_status: str, **values: Any) -> dict[str, Any]:
    row = {
        "case_source_id": f"39x{number}", "from_status": from_status, "to_status": to_status,
        "changed_at": at(when), "origin": "observed", "assignee_name": "Ann Lee", "group_name": "Support",
        "deleted_at": None,
    }  # fmt: skip
    row.update(values)
    return row


@pytest.fixture
def seeded(engine: Engine, settings_for: Any) -> Any:
    seed_support_rows(engine)
    vtiger = VtigerSettings("https://acme.od1.vtiger.com", "api", "key", record_url=RECORD_URL)
    return settings_for(timezone=BERLIN, vtiger=vtiger, redmine=RedmineSettings("https://redmine.example", "k"))


def seed_support_rows(engine: Engine) -> None:
    """The hand-computed cases and status changes (also the browser test's)."""
    write_rows(
        engine,
        cases,
        [
            resolved(1, "2026-12-04 16:30", "2026-12-07 09:30", priority="Urgent"),  # 1 bh, 65 h; due Mon 12:30
            resolved(2, "2026-12-07 09:00", "2026-12-07 13:00", priority="High", assignee_name="Bob Roy"),  # due 17:00
            resolved(3, "2026-12-03 10:00", "2026-12-07 11:00", priority="Low"),  # reopened Mon 10:00; 17 bh, 97 h
            resolved(4, "2026-12-07 08:00", "2026-12-07 10:00", deleted_at=NOW),  # deleted: nowhere
            opened(5, "2026-12-07 08:00", priority="Urgent"),  # due Mon 13:00: breached
            opened(6, "2026-12-04 12:00", priority="Medium"),  # due Wed 12:00
            opened(7, "2026-12-04 13:00", priority="High"),  # due Mon 13:00: breached
            opened(10, "2026-12-07 14:00", priority="Urgent"),  # due Tue 10:00: at risk
            opened(11, "2026-10-01 12:00"),  # the oldest; "Normal" has no target
            resolved(8, "2026-12-05 10:00", "2026-12-06 12:00"),  # previous window, within its compared span
            resolved(9, "2026-12-05 10:00", "2026-12-06 16:00"),  # previous window, after 15:00: not compared
            resolved(13, "2026-12-06 22:00", "2026-12-07 00:00", assignee_name="Bob Roy"),  # the window's first instant
        ],
    )
    write_rows_changes(
        engine,
        [
            change(3, "2026-12-04 10:00", "Open", "Resolved"),
            change(3, "2026-12-07 10:00", "Resolved", "Open"),
            change(3, "2026-12-07 11:00", "Open", "Resolved"),
            change(4, "2026-12-07 09:00", "Resolved", "Open", deleted_at=NOW),
        ],
    )


def write_rows_changes(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(case_status_changes.insert(), rows)


def test_resolution_time_in_calendar_and_business_hours(engine: Engine, seeded: Any) -> None:
    view = build_support_view(engine, seeded, MONDAY, window="day", now=NOW)
    # Cases 1, 2, 3 and 13: business hours 1, 4, 17, 0; calendar hours 65, 4, 97, 2.
    assert view.resolution.count == 4
    assert view.resolution.median_business_hours == pytest.approx(2.5)
    assert view.resolution.p90_business_hours == pytest.approx(4 + 0.7 * 13)
    assert view.resolution.median_hours == pytest.approx(34.5)
    assert view.resolution.p90_hours == pytest.approx(65 + 0.7 * 32)
    assert view.resolved_within == {
        "1 h": 2, "4 h": 1, "1 business day": 0, "3 business days": 1, "7 business days": 0, "more": 0,
    }  # fmt: skip
    # Sunday until 15:00 (the same elapsed span): case 8 only, 26 calendar hours on a weekend.
    assert view.comparison.label == "yesterday by\u00a015:00"
    assert view.previous_resolution.count == 1
    assert view.previous_resolution.median_hours == pytest.approx(26)
    assert view.previous_resolution.median_business_hours == 0
    people = {item.name: item.figures for item in view.resolution_by_person}
    assert people["Ann Lee"].count == 2 and people["Bob Roy"].median_business_hours == pytest.approx(2)


def test_sla_by_due_time_and_the_lists_of_now(engine: Engine, seeded: Any) -> None:
    view = build_support_view(engine, seeded, MONDAY, window="day", now=NOW)
    # Due on Monday: 1 (met at 09:30, due 12:30), 2 (met, due 17:00), 5 and 7 (open past 13:00).
    assert (view.sla.met, view.sla.breached, view.sla.met_pct) == (2, 2, 50.0)
    assert [case.case_no for case in view.breached_now] == ["CC5", "CC7"]
    assert view.breached_now[0].due_at == at("2026-12-07 13:00")
    assert [case.case_no for case in view.at_risk] == ["CC10"]
    assert view.at_risk[0].due_at == at("2026-12-08 10:00")
    assert view.at_risk[0].url == RECORD_URL.replace("{module}", "Cases") + "10"


def test_backlog_age(engine: Engine, seeded: Any) -> None:
    view = build_support_view(engine, seeded, MONDAY, window="week", now=NOW)
    assert view.backlog.open == 5
    assert view.backlog.buckets == {"<1d": 2, "1-3d": 0, "3-7d": 2, "7-30d": 0, ">30d": 1}
    assert view.backlog.oldest is not None and view.backlog.oldest.case_no == "CC11"
    assert view.backlog.median_age_days == pytest.approx(74 / 24)  # case 7: Fri 13:00 -> Mon 15:00
    assert dict(view.backlog_by_person)["Ann Lee"][">30d"] == 1
    trend = dict(view.median_age_trend)
    assert list(trend) == [MONDAY]  # the week so far
    assert trend[MONDAY] == pytest.approx(74 / 24)


def test_reopened_and_resolved_again_counts_once_each(engine: Engine, seeded: Any) -> None:
    view = build_support_view(engine, seeded, MONDAY, window="day", now=NOW)
    assert view.reopened == 1  # case 3; case 4's reopen went with the deleted case
    assert view.previous_reopened == 0
    assert dict(view.reopen_rate_by_person) == {"Ann Lee": 50.0, "Bob Roy": 0.0}  # 1 of 2 resolved, 0 of 2


def test_group_selector_and_empty_windows(engine: Engine, seeded: Any) -> None:
    view = build_support_view(engine, seeded, MONDAY, group="Nobody", window="month", now=NOW)
    assert view.resolution.count == 0 and view.resolution.median_hours is None
    assert view.sla.met_pct is None and view.backlog.oldest is None and view.at_risk == []


def test_redmine_time_to_close_and_overdue(engine: Engine, seeded: Any) -> None:
    write_rows(
        engine,
        redmine_issues,
        [
            issue_row(
                1, created_at=at("2026-12-04 16:30"), closed_at=at("2026-12-07 09:30"), is_closed=True, due_date=None
            ),
            issue_row(2, created_at=at("2026-11-02 10:00"), due_date=date(2026, 12, 6)),  # overdue
            issue_row(3, created_at=at("2026-11-02 10:00"), due_date=MONDAY),  # due today: not yet overdue
            issue_row(4, created_at=at("2026-11-02 10:00"), due_date=date(2026, 12, 1), is_closed=True),
        ],
    )
    view = build_redmine_support(engine, seeded, MONDAY, window="day", now=NOW)
    assert view.close_time.count == 1 and view.close_time.median_business_hours == pytest.approx(1)
    assert view.close_time.median_hours == pytest.approx(65)
    assert [issue.issue_id for issue in view.overdue] == ["2"]
    assert view.overdue[0].url == "https://redmine.example/issues/2"
    assert view.backlog.open == 2 and view.backlog.buckets[">30d"] == 2


# --- exports ----------------------------------------------------------------------------------------------------------


def test_resolved_export_gains_durations_and_sla(engine: Engine, seeded: Any) -> None:
    from view_models.support import case_export_rows

    rows = case_export_rows(engine, seeded, MONDAY, "day", "resolved").set_index("case_no")
    assert list(rows.columns[-3:]) == ["resolution_hours", "business_hours", "sla"]
    assert list(rows.loc["CC1", ["resolution_hours", "business_hours", "sla"]]) == [65.0, 1.0, "met"]
    assert list(rows.loc["CC3", ["resolution_hours", "business_hours", "sla"]]) == [97.0, 17.0, "met"]  # due 16 Dec
    assert rows.loc["CC13", "sla"] == ""  # "Normal" has no target
    assert len(rows) == build_support_view(engine, seeded, MONDAY, now=NOW).resolution.count


def test_support_export_kinds_match_the_figures(engine: Engine, seeded: Any) -> None:
    from view_models.support import support_case_rows

    view = build_support_view(engine, seeded, MONDAY, window="day", now=NOW)

    def rows(kpi: str) -> Any:
        return support_case_rows(engine, seeded, MONDAY, "day", kpi, now=NOW)

    assert rows("breached")["case_no"].tolist() == ["CC5", "CC7"] and view.sla.breached == 2
    assert rows("breached")["due"].tolist() == ["2026-12-07 13:00", "2026-12-07 13:00"]
    assert rows("at_risk")["case_no"].tolist() == ["CC10"]
    assert rows("breached_now")["link"].tolist()[0] == RECORD_URL.replace("{module}", "Cases") + "5"
    reopened = rows("reopened")
    assert reopened[["case_id", "reopened_at", "from_status", "to_status"]].values.tolist() == [
        ["39x3", "2026-12-07 10:00", "Resolved", "Open"]
    ]
    backlog = rows("backlog")
    assert backlog["case_no"].tolist()[0] == "CC11" and len(backlog) == view.backlog.open
    assert backlog.set_index("case_no").loc["CC7", "age_days"] == pytest.approx(round(74 / 24, 2))


def test_export_urls_answer_with_the_new_columns(engine: Engine, seeded: Any, database_url: str) -> None:
    from dataclasses import replace

    from app import create_app

    app = create_app(replace(seeded, database_url=database_url, auth_disabled=True))
    app.server.extensions["kpi"].clock = lambda: NOW  # 7 December is still to come
    client = app.server.test_client()
    header = client.get("/export/cases.csv?kpi=resolved&date=2026-12-07").data.decode().splitlines()[0]
    assert header.endswith("resolution_hours,business_hours,sla")
    for kpi in ("breached", "breached_now", "at_risk", "reopened", "backlog"):
        answer = client.get(f"/export/cases.csv?kpi={kpi}&date=2026-12-07")
        assert answer.status_code == 200, kpi
    assert "age_days" in client.get("/export/cases.csv?kpi=backlog").data.decode().splitlines()[0]
    for kpi in ("overdue", "backlog", "closed"):
        assert client.get(f"/export/redmine.csv?kpi={kpi}&date=2026-12-07").status_code == 200, kpi
    closed = client.get("/export/redmine.csv?kpi=closed&date=2026-12-07").data.decode().splitlines()[0]
    assert closed.endswith("close_hours,business_hours")


def test_tv_support_slide_lists_breached_and_at_risk(engine: Engine, seeded: Any) -> None:
    """pages=support: an optional slide (not in the default rotation) with the lists' counts and boards."""
    from layouts import tv
    from layouts.components import json_ready
    from view_models import tv_state

    config = tv_state.parse_tv_query({"pages": "support,cases"}, tz_name=BERLIN, testing=True, real_now=NOW)
    assert [slide.page for slide in config.slides] == ["support", "cases"]
    assert "support" not in [
        slide.page for slide in tv_state.parse_tv_query({}, tz_name=BERLIN, testing=True, real_now=NOW).slides
    ]
    assert tv_state.TvConfig.from_store(config.to_store(BERLIN)).slides == config.slides
    panel = json_ready(tv.support_panel(build_support_view(engine, seeded, MONDAY, now=NOW)))
    text = str(panel)
    assert "CC5 · Ann Lee · Case 5" in text and "CC10 · Ann Lee · Case 10" in text
    assert "'tv-support-breached'" in text
    from callbacks.tv import build_panel

    built = str(json_ready(build_panel(engine, seeded, tv_state.Slide("support", ""), MONDAY, NOW)))
    assert built == text  # the TV callback builds the same slide


# --- the vector path against a plain one ------------------------------------------------------------------------------


def test_figures_match_a_plain_row_by_row_computation(engine: Engine, settings_for: Any) -> None:
    """Random cases across the October daylight-saving night and German holidays: resolution hours, SLA by due
    time (the bounded due-time read included) and backlog, against the day-by-day calendar over every case."""
    import random
    from datetime import timedelta

    import numpy as np

    from settings import CalendarRules, KpiRules

    rules = KpiRules(calendar=CalendarRules(holidays_country="DE"))
    settings = settings_for(timezone=BERLIN, kpi=rules)
    calendar = settings.business_calendar
    rng = random.Random(11)
    now = at("2026-11-04 15:00")
    rows = []
    for number in range(1, 301):
        created = at("2026-09-01 00:00") + timedelta(minutes=rng.randrange(0, 60 * 24 * 64))
        priority = rng.choice(["Urgent", "High", "Medium", "Low", "Normal"])
        done = created + timedelta(minutes=rng.randrange(10, 60 * 24 * 12))
        if done < now and rng.random() < 0.8:
            rows.append(case_row(number, created_at=created, resolved_at=done, status="Resolved", priority=priority))
        else:
            rows.append(case_row(number, created_at=created, priority=priority))
    write_rows(engine, cases, rows)

    targets = dict(settings.kpi.cases.sla.resolve_hours)
    windows: list[tuple[date, WindowKind]] = [
        (date(2026, 10, 26), "day"),
        (date(2026, 10, 26), "week"),
        (date(2026, 10, 1), "month"),
    ]
    for day, window in windows:
        view = build_support_view(engine, settings, day, window=window, now=now)
        start, end = view.window.start, view.window.end
        resolved = [r for r in rows if r["resolved_at"] is not None and start <= r["resolved_at"] < end]
        business = [calendar.business_hours_between(r["created_at"], r["resolved_at"]) for r in resolved]
        hours = [(r["resolved_at"] - r["created_at"]).total_seconds() / 3600 for r in resolved]
        assert view.resolution.count == len(resolved)
        assert view.resolution.median_business_hours == pytest.approx(float(np.quantile(business, 0.5)))
        assert view.resolution.p90_hours == pytest.approx(float(np.quantile(hours, 0.9)))
        met = breached = 0
        for r in rows:
            if r["priority"] not in targets:
                continue
            due = calendar.add_business_hours(r["created_at"], targets[r["priority"]])
            if not start <= due < end:
                continue
            if r["resolved_at"] is not None:
                met += r["resolved_at"] <= due
                breached += r["resolved_at"] > due
            elif due < now:
                breached += 1
        assert (view.sla.met, view.sla.breached) == (met, breached), (day, window)
        assert met + breached > 0
    open_rows = [r for r in rows if r["resolved_at"] is None]
    assert view.backlog.open == len(open_rows)
    ages = [(now - r["created_at"]).total_seconds() / 86400 for r in open_rows]
    assert view.backlog.median_age_days == pytest.approx(float(np.median(ages)))

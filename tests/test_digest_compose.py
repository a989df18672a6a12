"""digest/compose.py on SQLite and PostgreSQL: the digest's figures for a hand-counted week (tests/digest_seed.py)
equal the hand-computed values and what the pages' view builders give for the same date, with the page links;
the recipient's groups and pages; the support figures through the adapter ("—" without a support view, the view's
figures when there is one)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import Engine

from digest.compose import Digest, compose_digest, digest_day
from digest.render import render_html, render_text
from metrics.windows import comparison_moment
from models.schema import redmine_issues
from settings import DigestAudience, Settings
from tests.digest_seed import DAY, SENT_AT, TZ, digest_settings, seed_digest_week
from tests.seed_dashboards import issue_row, write_rows
from view_models.cases import build_cases_view
from view_models.redmine import build_redmine_view
from view_models.sales import build_sales_views


@pytest.fixture
def digest_env(engine: Engine, settings_for) -> tuple[Engine, Settings]:
    seed_digest_week(engine)
    return engine, digest_settings(settings_for(str(engine.url)))


def figures(period) -> dict[str, tuple]:
    return {figure.label: (figure.value, figure.previous) for figure in period.figures}


def test_the_digest_is_about_yesterday_in_the_time_zone(settings_for) -> None:
    settings = settings_for(timezone=TZ)
    assert digest_day(settings, SENT_AT) == DAY
    assert digest_day(settings, datetime(2026, 12, 2, 23, 30)) == DAY  # 00:30 on Thursday in Berlin


def test_cases_figures_are_the_hand_counted_ones(digest_env) -> None:
    engine, settings = digest_env
    digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)

    (section,) = digest.cases
    day, week = section.periods
    # Wednesday in Berlin: c1, c2 and c5 (00:30 local) created; c2 and c3 resolved; Tuesday: c3 created.
    assert figures(day)["Created"] == (3, 1)
    assert figures(day)["Resolved"] == (2, 0)
    assert figures(day)["Kill rate"][0] == pytest.approx(200 / 3)
    # The week from Monday 30 Nov: c1-c5; the previous week until Thursday 07:30 had nothing (c6 is Sunday's).
    assert figures(week)["Created"] == (5, 0)
    assert figures(week)["Resolved"] == (2, 0)
    assert section.backlog == 4  # c1, c4, c5, c6
    assert section.link == "https://kpi.example.com/cases?date=2026-12-02"


def test_redmine_and_sales_figures_are_the_hand_counted_ones(digest_env) -> None:
    engine, settings = digest_env
    digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)

    (redmine,) = digest.redmine
    assert redmine.project == ""
    assert figures(redmine.periods[0]) == {"Created": (1, 1), "Closed": (1, 0)}
    assert figures(redmine.periods[1]) == {"Created": (3, 0), "Closed": (1, 0)}
    assert redmine.open_now == 2
    assert redmine.link == "https://kpi.example.com/redmine?date=2026-12-02"

    (sales,) = digest.sales
    day, week = sales.periods
    # Ann 3 calls + Demo Given 5, Quinn Demo Scheduled 5, Bob 1 call; the goal 8 each.
    assert (day.team_points, day.goal_each, day.people) == (14, 8, 3)
    assert day.team_goal == 24
    assert day.top == [("Ann", 8), ("Quinn", 5), ("Bob", 1)]
    assert day.reached == ["Ann"]
    # The week adds Cara's 2 Monday calls; its goal is 8 x 5 business days.
    assert (week.team_points, week.goal_each) == (16, 40)
    assert week.top == [("Ann", 8), ("Quinn", 5), ("Cara", 2), ("Bob", 1)]
    assert week.reached == []


def test_every_figure_equals_the_pages_view_for_the_same_date(digest_env) -> None:
    engine, settings = digest_env
    digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)
    today, moment = SENT_AT.date(), comparison_moment(DAY, TZ, SENT_AT)

    cases_view = build_cases_view(engine, settings, DAY, window="week", today=today, now=moment)
    for period in digest.cases[0].periods:
        column = cases_view.windows[period.kind]
        assert figures(period)["Created"] == (column.figures.created, column.previous_figures.created)
        assert figures(period)["Resolved"] == (column.figures.resolved, column.previous_figures.resolved)
        assert figures(period)["Kill rate"] == (column.figures.kill_rate, column.previous_figures.kill_rate)
        assert period.compared_with == column.comparison.label
    assert digest.cases[0].backlog == cases_view.open_total

    redmine_view = build_redmine_view(engine, settings, DAY, today=today, now=moment)
    for period in digest.redmine[0].periods:
        issues = redmine_view.windows[period.kind]
        assert figures(period)["Closed"] == (issues.figures.resolved, issues.previous_figures.resolved)
    assert digest.redmine[0].open_now == redmine_view.totals.open

    sales_views = build_sales_views(engine, settings, DAY, "", ("day", "week"), today=today, now=moment)
    for sales_period in digest.sales[0].periods:
        view = sales_views[sales_period.kind]
        assert view.previous is not None
        assert sales_period.team_points == view.totals().points
        assert sales_period.previous_points == view.previous.points
        assert sales_period.goal_each == view.goal.total


def test_a_recipient_gets_their_groups_and_pages(digest_env) -> None:
    engine, settings = digest_env
    audience = DigestAudience(groups=("Hardware", "Nowhere"), pages=("cases",))
    digest = compose_digest(engine, settings, DAY, audience, SENT_AT)

    assert [section.group for section in digest.cases] == ["Hardware"]  # a group the page lacks is left out
    assert digest.cases[0].backlog == 2  # c4, c6
    assert digest.cases[0].link == "https://kpi.example.com/cases?date=2026-12-02&group=Hardware"
    assert digest.sales == [] and digest.redmine == []
    # None of the recipient's groups is a sales group: the sales page shows the whole team.
    sales_only = compose_digest(engine, settings, DAY, DigestAudience(groups=("Hardware",), pages=("sales",)), SENT_AT)
    assert [section.group for section in sales_only.sales] == [""]


def test_a_recipient_gets_their_redmine_projects_as_the_redmine_page_shows_them(digest_env) -> None:
    engine, settings = digest_env
    # Beside the seed's Firmware issues (i1 Wed open, i2 Mon closed Wed, i3 Tue open), three of Portal's (UTC):
    # p1 Wed 08:00 open, p2 Tue 08:00 closed Wed 16:00, p3 Wed 10:00 open, and one of Intranet nobody asks for.
    portal = {"project_id": 2, "project_name": "Portal"}
    write_rows(
        engine,
        redmine_issues,
        [
            issue_row(11, created_at=datetime(2026, 12, 2, 8), **portal),
            issue_row(12, created_at=datetime(2026, 12, 1, 8), status_id=5, status_name="Done", is_closed=True,
                      closed_at=datetime(2026, 12, 2, 16), updated_at=datetime(2026, 12, 2, 16), **portal),
            issue_row(13, created_at=datetime(2026, 12, 2, 10), **portal),
            issue_row(14, created_at=datetime(2026, 12, 2, 9), project_id=3, project_name="Intranet"),
        ],
    )  # fmt: skip
    audience = DigestAudience(pages=("redmine",), projects=("Portal", "Nowhere", "Firmware"))
    digest = compose_digest(engine, settings, DAY, audience, SENT_AT)

    # Projects the page lacks are left out; the rest in the recipient's order, each with its own page link.
    assert [section.project for section in digest.redmine] == ["Portal", "Firmware"]
    portal_section, firmware = digest.redmine
    assert figures(portal_section.periods[0]) == {"Created": (2, 1), "Closed": (1, 0)}  # Wed against Tue
    assert portal_section.open_now == 2
    assert portal_section.link == "https://kpi.example.com/redmine?date=2026-12-02&project=Portal"
    assert figures(firmware.periods[0]) == {"Created": (1, 1), "Closed": (1, 0)}
    assert firmware.open_now == 2

    today, moment = SENT_AT.date(), comparison_moment(DAY, TZ, SENT_AT)
    for section in digest.redmine:
        page = build_redmine_view(engine, settings, DAY, project=section.project, today=today, now=moment)
        for period in section.periods:
            column = page.windows[period.kind]
            assert figures(period) == {
                "Created": (column.figures.created, column.previous_figures.created),
                "Closed": (column.figures.resolved, column.previous_figures.resolved),
            }
            assert period.compared_with == column.comparison.label
        assert section.open_now == page.totals.open

    text, html = render_text(digest), render_html(digest)
    assert "REDMINE · Portal" in text and "REDMINE · Firmware" in text and "Intranet" not in text
    assert (
        "Redmine · Portal" in html
        and 'href="https://kpi.example.com/redmine?date=2026-12-02&amp;project=Portal"' in html
    )
    # No project the page knows: all projects together, as before.
    everyone = compose_digest(engine, settings, DAY, DigestAudience(pages=("redmine",), projects=("Nowhere",)), SENT_AT)
    assert [(section.project, section.open_now) for section in everyone.redmine] == [("", 5)]


def test_without_a_support_view_its_figures_show_as_a_dash(digest_env, monkeypatch) -> None:
    engine, settings = digest_env
    monkeypatch.setattr("digest.support_figures.SUPPORT_VIEW_MODULES", ("no_such_module.support",))
    digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)

    assert figures(digest.cases[0].periods[0])["SLA met"] == (None, None)
    assert digest.cases[0].support_link == ""
    text, html = render_text(digest), render_html(digest)
    assert "None" not in text and "None" not in html
    assert "SLA met" in text and "—" in text


@dataclass
class _Resolution:
    median_hours: float | None


@dataclass
class _Sla:
    met_pct: float | None


@dataclass
class _Case:
    case_id: int
    case_no: str
    title: str
    group: str
    assignee: str
    priority: str
    created_at: datetime
    due_at: datetime
    url: str


def test_the_support_view_figures_flow_into_the_digest(digest_env, monkeypatch) -> None:
    engine, settings = digest_env
    calls = []

    def build_support_view(engine, settings, day, group="", window="day", today=None):
        calls.append((day, group, window, today))
        late = _Case(9, "CC9", "Printer <on fire>", "Support", "Ann", "High", SENT_AT, SENT_AT, "https://crm/9")
        return types.SimpleNamespace(
            resolution=_Resolution(5.0 if window == "day" else 7.5),
            previous_resolution=_Resolution(6.0),
            sla=_Sla(90.0),
            previous_sla=_Sla(None),
            at_risk=[],
            breached_now=[late],
        )

    module = types.ModuleType("view_models.support")
    module.build_support_view = build_support_view  # type: ignore[attr-defined]  # a stand-in module built here
    monkeypatch.setitem(sys.modules, "view_models.support", module)
    monkeypatch.setattr("digest.support_figures.SUPPORT_VIEW_MODULES", ("view_models.support",))
    digest: Digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)

    day, week = digest.cases[0].periods
    assert figures(day)["Resolution time (median)"] == (5.0, 6.0)
    assert figures(week)["Resolution time (median)"] == (7.5, 6.0)
    assert figures(day)["SLA met"] == (90.0, None)
    assert calls == [(DAY, "", "day", SENT_AT.date()), (DAY, "", "week", SENT_AT.date())]
    assert [case.case_no for case in digest.at_risk] == ["CC9"] and digest.at_risk[0].breached
    html = render_html(digest)
    assert "Printer &lt;on fire&gt;" in html and "<on fire>" not in html
    assert "5.0 h" in render_text(digest)


def test_the_support_figures_are_the_support_views(digest_env) -> None:
    from view_models.support import build_support_view

    engine, settings = digest_env
    digest = compose_digest(engine, settings, DAY, DigestAudience(), SENT_AT)
    day, week = digest.cases[0].periods

    # Resolved on Wednesday: c2 after 5 h and c3 after 25 h, median 15 h; nothing on Tuesday.
    assert figures(day)["Resolution time (median)"] == (15.0, None)
    # Due on Wednesday: c1 (Urgent, 4 business hours from 10:00 Berlin: 14:00), still open, breached. Due on
    # Tuesday: c3 (15:00 Berlin), resolved on Wednesday, breached. The week adds c2 (High, due Thursday 11:00
    # Berlin), resolved on Wednesday: 1 of 3 met.
    assert figures(day)["SLA met"] == (0.0, 0.0)
    assert figures(week)["SLA met"][0] == pytest.approx(100 / 3)
    assert [(case.case_no, case.breached) for case in digest.at_risk] == [("CC1", True)]
    for period in (day, week):
        view = build_support_view(engine, settings, DAY, window=period.kind, today=SENT_AT.date(), now=SENT_AT)
        assert figures(period)["Resolution time (median)"] == (
            view.resolution.median_hours,
            view.previous_resolution.median_hours,
        )
        assert figures(period)["SLA met"] == (view.sla.met_pct, view.previous_sla.met_pct)
    assert "CC1" in render_text(digest) and "Breached" in render_html(digest)
    assert digest.cases[0].support_link == "https://kpi.example.com/support?date=2026-12-02"
    assert 'href="https://kpi.example.com/support?date=2026-12-02"' in render_html(digest)

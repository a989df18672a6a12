"""What the morning digest says, as plain data: `compose_digest(engine, settings, day, audience, now) -> Digest`.

Every figure comes from the view builders the pages use (view_models.cases, .sales, .redmine and the support
view through digest/support_figures.py), called as the pages call them for the same date, so the digest says
what a page showed for that day: yesterday (the day window of `day`) and the week so far (its week window), each
with the window it is compared with. Nothing is recomputed here; this module only picks and names figures.

Must not import Dash or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import Engine

from digest.support_figures import AtRiskCase, support_figures
from metrics.windows import WindowKind, comparison_moment, today_in
from settings import DigestAudience, Settings
from view_models import cases as cases_views
from view_models import redmine as redmine_views
from view_models import sales as sales_views
from view_models.sales import SalesView

PERIODS: tuple[WindowKind, ...] = ("day", "week")
TOP_PEOPLE = 5


@dataclass(frozen=True)
class Figure:
    """One figure of a period against the compared window. `kind`: count, percent (a kill rate, SLA met %),
    hours; `better`: which way is good ("up", "down")."""

    label: str
    value: float | int | None
    previous: float | int | None
    kind: str = "count"
    better: str = "up"


@dataclass(frozen=True)
class Period:
    kind: WindowKind
    title: str  # "Yesterday · Wed 2 Dec", "Week so far · 30 Nov–2 Dec"
    compared_with: str  # the page's words for the compared window: "Tue 1 Dec", "last week by Thu 07:30"
    figures: list[Figure]


@dataclass(frozen=True)
class CasesSection:
    group: str  # "" = all groups
    periods: list[Period]
    backlog: int  # open now
    at_risk: list[AtRiskCase]
    support_known: bool  # False: no support view, its figures are "—"
    link: str
    support_link: str = ""  # the /support page of the day and group ("" without a support view)


@dataclass(frozen=True)
class SalesPeriod:
    kind: WindowKind
    title: str
    compared_with: str
    team_points: float
    previous_points: float | None
    goal_each: float  # the goal per person of the window (the page's goal)
    people: int  # the people the leaderboard lists (zero-point members of the group included)
    top: list[tuple[str, float]]  # the five highest scores
    reached: list[str]  # who reached the window's goal

    @property
    def team_goal(self) -> float:
        return self.goal_each * self.people


@dataclass(frozen=True)
class SalesSection:
    group: str
    periods: list[SalesPeriod]
    link: str


@dataclass(frozen=True)
class RedmineSection:
    project: str  # "" = all projects
    periods: list[Period]
    open_now: int
    link: str


@dataclass(frozen=True)
class Digest:
    day: date  # the day the figures are of ("yesterday" when sent in the morning)
    today: date
    cases: list[CasesSection] = field(default_factory=list)
    sales: list[SalesSection] = field(default_factory=list)
    redmine: list[RedmineSection] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"KPI digest · {self.day:%a} {self.day.day} {self.day:%b %Y}"

    @property
    def intro(self) -> str:
        if self.day == self.today - timedelta(days=1):
            return "Yesterday and the week so far, as the dashboard shows them."
        return f"{self.day:%A} {self.day.day} {self.day:%B} and its week, as the dashboard shows them today."

    @property
    def at_risk(self) -> list[AtRiskCase]:
        """Every section's at-risk cases, each once."""
        seen: dict[str, AtRiskCase] = {}
        for section in self.cases:
            for case in section.at_risk:
                seen.setdefault(case.case_no or case.url or case.title, case)
        return list(seen.values())


def digest_day(settings: Settings, now: datetime) -> date:
    """The day a digest sent at `now` (naive UTC) is about: yesterday in TIMEZONE."""
    return today_in(settings.timezone, now) - timedelta(days=1)


def compose_digest(engine: Engine, settings: Settings, day: date, audience: DigestAudience, now: datetime) -> Digest:
    """The digest of `day` for `audience` as the pages show that day at `now` (naive UTC)."""
    today = today_in(settings.timezone, now)
    moment = comparison_moment(day, settings.timezone, now)  # what the page compares running windows at
    pages, groups = audience.pages, audience.groups
    cases, sales, redmine = [], [], []
    if "cases" in pages:
        for group in selected(groups, cases_views.group_choices(engine)):
            cases.append(cases_section(engine, settings, day, group, today, moment, now))
    if "sales" in pages:
        for group in selected(groups, sales_views.group_choices(engine, settings)):
            sales.append(sales_section(engine, settings, day, group, today, moment))
    if "redmine" in pages:
        for project in selected(audience.projects, redmine_views.project_choices(engine)):
            redmine.append(redmine_section(engine, settings, day, project, today, moment))
    return Digest(day=day, today=today, cases=cases, sales=sales, redmine=redmine)


def selected(wanted: tuple[str, ...], known: list[str]) -> list[str]:
    """The recipient's groups (or projects) a page knows, in the recipient's order; the whole team ("") when none
    is, as the page shows a group it does not know."""
    chosen = [group for group in wanted if group in known]
    return chosen or [""]


def page_link(settings: Settings, page: str, day: date, selector_key: str = "", selector: str = "") -> str:
    """The page showing `day` (and the group or project), on PUBLIC_URL (a path when it is not set)."""
    params = {"date": day.isoformat()}
    if selector:
        params[selector_key] = selector
    return f"{settings.public_url}/{page}?{urlencode(params)}"


def period_title(kind: WindowKind, day: date, first_day: date) -> str:
    """ "Wed 2 Dec" for the day, "Week of Mon 30 Nov so far" for its week (the page's week window: through now)."""
    if kind == "day":
        return f"{day:%a} {day.day} {day:%b}"
    return f"Week of {first_day:%a} {first_day.day} {first_day:%b} so far"


# --- cases ---------------------------------------------------------------------------------------------------


def cases_section(
    engine: Engine, settings: Settings, day: date, group: str, today: date, moment: datetime | None, sent_at: datetime
) -> CasesSection:
    view = cases_views.build_cases_view(
        engine, settings, day, group=group, window="day", today=today, charts=False, now=moment
    )
    support = {kind: support_figures(engine, settings, day, group, kind, today, sent_at) for kind in PERIODS}
    periods = []
    for kind in PERIODS:
        column, figures = view.windows[kind], support[kind]
        now, before = column.figures, column.previous_figures
        periods.append(
            Period(
                kind=kind,
                title=period_title(kind, day, column.window.first_day),
                compared_with=column.comparison.label,
                figures=[
                    Figure("Created", now.created, before.created, better="down"),
                    Figure("Resolved", now.resolved, before.resolved),
                    Figure("Kill rate", now.kill_rate, before.kill_rate, kind="percent"),
                    Figure(
                        "Resolution time (median)",
                        figures.resolution_median_hours,
                        figures.previous_resolution_median_hours,
                        kind="hours",
                        better="down",
                    ),
                    Figure("SLA met", figures.sla_met_pct, figures.previous_sla_met_pct, kind="percent"),
                ],
            )
        )
    return CasesSection(
        group=group,
        periods=periods,
        backlog=view.open_total,
        at_risk=support["day"].at_risk,
        support_known=support["day"].available,
        link=page_link(settings, "cases", day, "group", group),
        support_link=page_link(settings, "support", day, "group", group) if support["day"].available else "",
    )


# --- sales ---------------------------------------------------------------------------------------------------


def sales_section(
    engine: Engine, settings: Settings, day: date, group: str, today: date, moment: datetime | None
) -> SalesSection:
    views = sales_views.build_sales_views(engine, settings, day, group, PERIODS, today=today, now=moment)
    return SalesSection(
        group=group,
        periods=[sales_period(kind, day, views[kind]) for kind in PERIODS],
        link=page_link(settings, "sales", day, "group", group),
    )


def sales_period(kind: WindowKind, day: date, view: SalesView) -> SalesPeriod:
    board = view.leaderboard
    scores = [(str(person), float(points)) for person, points in zip(board["person"], board["points"], strict=True)]
    goal = view.goal.total
    return SalesPeriod(
        kind=kind,
        title=period_title(kind, day, view.window.first_day),
        compared_with=view.comparison.label if view.comparison else "",
        team_points=view.totals().points,
        previous_points=view.previous.points if view.previous else None,
        goal_each=goal,
        people=len(scores),
        top=[(person, points) for person, points in scores if points > 0][:TOP_PEOPLE],
        reached=[person for person, points in scores if points >= goal],
    )


# --- redmine -------------------------------------------------------------------------------------------------


def redmine_section(
    engine: Engine, settings: Settings, day: date, project: str, today: date, moment: datetime | None
) -> RedmineSection:
    view = redmine_views.build_redmine_view(
        engine, settings, day, project=project, window="day", today=today, charts=False, now=moment
    )
    periods = []
    for kind in PERIODS:
        column = view.windows[kind]
        now, before = column.figures, column.previous_figures
        periods.append(
            Period(
                kind=kind,
                title=period_title(kind, day, column.window.first_day),
                compared_with=column.comparison.label,
                figures=[
                    Figure("Created", now.created, before.created, better="down"),
                    Figure("Closed", now.resolved, before.resolved),
                ],
            )
        )
    return RedmineSection(
        project=project,
        periods=periods,
        open_now=view.totals.open,
        link=page_link(settings, "redmine", day, "project", project),
    )

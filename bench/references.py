"""The two reference implementations the app's date-change callbacks are compared against, written from the
metric definitions (../shared/PRODUCT.md "Metrics", issue 3), not from the app's code:

- naive: read the whole table(s) into pandas on every request (`SELECT * FROM cases`), then filter and group;
- per-figure SQL: one SQL GROUP BY / COUNT per figure, as a BI tool (Metabase, Grafana) would issue them.

Both return the same `Figures` (a dict of plain numbers, {name: count} dicts and id lists), so they can be checked
against each other and, later, against the app. A view is one page, one date, one window kind and one group
(cases: group name; sales: group name; Redmine: project name).

Figures per page (W = the view's window, P = the window before it, in TIMEZONE):
- cases: created, resolved, worked on and kill rate for W and P; resolved per assignee in W; open now (total, per
  group, per assignee); created and resolved per local day over the view's month and the three before it;
  created and resolved per local month over all history; the first 100 rows of W's table (worked-on cases,
  newest modification first).
- sales: calls per person, stage points per credited person (a stage counts when its change falls in W; with
  once_per_deal only a deal's first entry into that stage), points per person (calls x call_points + stage
  points), demos scheduled per qualifier, stage changes per stage, the totals for P, open pipeline amount per
  owner (closed and excluded stages left out).
- redmine: created, updated, resolved (closed_on in W and the issue closed now: Redmine keeps closed_on when an
  issue is reopened) and kill rate for W and P; closed per assignee in W; open / closed / rejected totals; open
  per status, project and assignee; the per-day and per-month series; the first 100 rows of W's table (created,
  updated or resolved in W).
Records deleted at the source are excluded everywhere.

Must not import Dash, Flask, sync/, metrics/ other than windows, or the app's callbacks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, String, and_, case, func, literal, not_, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from metrics.windows import (
    Window,
    WindowKind,
    local_midnight_utc,
    month_start,
    next_month_start,
    previous_window,
    to_local,
    window_for,
)
from models.schema import cases, deal_stage_changes, deals, phone_calls, redmine_issues
from settings import KpiRules, StageRule

PAGES = ("cases", "sales", "redmine")
TABLE_PAGE_ROWS = 100
CHART_MONTHS = 4  # the view's month and the three before it

Figures = dict[str, Any]


@dataclass(frozen=True)
class View:
    page: str  # cases, sales or redmine
    day: date
    window: WindowKind
    group: str | None = None  # cases/sales: group name; redmine: project name; None: everything

    def describe(self) -> str:
        return f"{self.page} {self.window} {self.day} {self.group or 'all groups'}"


@dataclass(frozen=True)
class Context:
    """What the figures depend on besides the data: the rules and the time zone."""

    rules: KpiRules
    tz_name: str

    def window(self, view: View) -> Window:
        return window_for(view.day, view.window, self.tz_name)


def chart_range(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """Naive-UTC bounds of the per-day charts: the start of the month three months before `day`'s month, to the
    end of `day`'s month."""
    tz = ZoneInfo(tz_name)
    first = month_start(day, CHART_MONTHS - 1)
    return local_midnight_utc(first, tz), local_midnight_utc(next_month_start(day.replace(day=1)), tz)


def kill_rate(resolved: int, created: int) -> float | None:
    """Resolved as a percentage of created; None ("—") when nothing was created."""
    return None if created == 0 else round(resolved / created * 100, 4)


def credited_column(rule: StageRule) -> str:
    """The deal_stage_changes column naming the person a stage credits: the assignee, or the "qualified by"
    person for a rule crediting any other deal field (the only other person stored with a change)."""
    return "assignee_name" if rule.credit == "assignee" else "qualified_by_name"


def _sorted_counts(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    return {str(key): value for key, value in sorted(pairs, key=lambda item: str(item[0])) if value}


def _round_amounts(values: dict[str, Any]) -> dict[str, float]:
    return {key: round(float(value), 2) for key, value in values.items()}


# ======================================================================================================= naive


def _read_whole(conn: Connection, table: str, time_columns: tuple[str, ...]) -> pd.DataFrame:
    """SELECT * into pandas, timestamps parsed (SQLite hands them back as text)."""
    frame = pd.read_sql(text(f"SELECT * FROM {table}"), conn)
    for column in time_columns:
        if not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


def _inside(series: pd.Series, start: datetime, end: datetime) -> pd.Series:
    return (series >= start) & (series < end)


def _local_keys(series: pd.Series, tz_name: str, unit: str) -> pd.Series:
    local = to_local(series.dropna(), tz_name)
    if unit == "day":
        return local.dt.strftime("%Y-%m-%d")
    return (local.dt.year * 100 + local.dt.month).map(lambda ym: f"{ym // 100:04d}-{ym % 100:02d}")


def _naive_counts(keys: pd.Series) -> dict[str, int]:
    return _sorted_counts((key, int(n)) for key, n in keys.value_counts().items())


def naive_figures(engine: Engine, view: View, context: Context) -> Figures:
    """The naive reference: whole tables into pandas on every call."""
    with engine.connect() as conn:
        return {"cases": _naive_cases, "sales": _naive_sales, "redmine": _naive_redmine}[view.page](conn, view, context)


def _naive_cases(conn: Connection, view: View, context: Context) -> Figures:
    rules = context.rules.cases
    frame = _read_whole(conn, "cases", ("created_at", "updated_at", "deleted_at", "resolved_at"))
    frame = frame[frame["deleted_at"].isna()]
    if view.group:
        frame = frame[frame["group_name"] == view.group]
    is_resolved = frame["status"].isin(rules.resolved_statuses)
    not_closed = ~frame["status"].isin(rules.closed_statuses)

    def masks(window: Window) -> tuple[pd.Series, pd.Series, pd.Series]:
        created = _inside(frame["created_at"], window.start, window.end)
        resolved_in = _inside(frame["resolved_at"], window.start, window.end)
        worked = (_inside(frame["updated_at"], window.start, window.end) & not_closed) | resolved_in | created
        return created, resolved_in & is_resolved, worked

    window = context.window(view)
    figures: Figures = {}
    for prefix, current in (("", window), ("prev_", previous_window(window))):
        created, resolved, worked = masks(current)
        figures[f"{prefix}created"] = int(created.sum())
        figures[f"{prefix}resolved"] = int(resolved.sum())
        figures[f"{prefix}worked"] = int(worked.sum())
        figures[f"{prefix}kill_rate"] = kill_rate(figures[f"{prefix}resolved"], figures[f"{prefix}created"])
        if not prefix:
            figures["resolved_by_assignee"] = _naive_counts(frame.loc[resolved, "assignee_name"])
            rows = frame[worked].sort_values(["updated_at", "id"], ascending=False).head(TABLE_PAGE_ROWS)
            figures["table_ids"] = rows["source_id"].tolist()
    open_cases = frame[~is_resolved]
    figures["open"] = len(open_cases)
    figures["open_by_group"] = _naive_counts(open_cases["group_name"])
    figures["open_by_assignee"] = _naive_counts(open_cases["assignee_name"])
    start, end = chart_range(view.day, context.tz_name)
    figures["created_per_day"] = _naive_counts(
        _local_keys(frame.loc[_inside(frame["created_at"], start, end), "created_at"], context.tz_name, "day")
    )
    resolved_rows = frame[is_resolved]
    figures["resolved_per_day"] = _naive_counts(
        _local_keys(
            resolved_rows.loc[_inside(resolved_rows["resolved_at"], start, end), "resolved_at"], context.tz_name, "day"
        )
    )
    figures["created_per_month"] = _naive_counts(_local_keys(frame["created_at"], context.tz_name, "month"))
    figures["resolved_per_month"] = _naive_counts(_local_keys(resolved_rows["resolved_at"], context.tz_name, "month"))
    return figures


def _naive_sales(conn: Connection, view: View, context: Context) -> Figures:
    rules = context.rules.sales
    calls = _read_whole(conn, "phone_calls", ("started_at", "deleted_at"))
    changes = _read_whole(conn, "deal_stage_changes", ("changed_at", "deleted_at"))
    deal_rows = _read_whole(conn, "deals", ("deleted_at",))
    calls = calls[calls["deleted_at"].isna()]
    changes = changes[changes["deleted_at"].isna()]
    deal_rows = deal_rows[deal_rows["deleted_at"].isna()]
    if rules.call_statuses:
        calls = calls[calls["status"].isin(rules.call_statuses)]
    # A deal's first entry into a stage: once_per_deal stages only score that one.
    first_entry = changes["changed_at"] == changes.groupby(["deal_source_id", "stage"])["changed_at"].transform("min")
    groups = set(rules.groups)
    if view.group:
        groups = {view.group} if not groups or view.group in groups else {"\0no group\0"}
    if groups:
        calls = calls[calls["group_name"].isin(groups)]
        first_entry = first_entry[changes["group_name"].isin(groups)]
        changes = changes[changes["group_name"].isin(groups)]
        deal_rows = deal_rows[deal_rows["group_name"].isin(groups)]

    def scored(window: Window) -> pd.DataFrame:
        """(person, points, stage) of every change that scores in the window."""
        inside = changes[_inside(changes["changed_at"], window.start, window.end)]
        parts = []
        for rule in rules.stages:
            rows = inside[inside["stage"] == rule.name]
            if rule.once_per_deal:
                rows = rows[first_entry.loc[rows.index]]
            parts.append(
                pd.DataFrame({"person": rows[credited_column(rule)], "points": rule.points, "stage": rule.name})
            )
        return pd.concat(parts) if parts else pd.DataFrame({"person": [], "points": [], "stage": []})

    window = context.window(view)
    figures: Figures = {}
    in_window_calls = calls[_inside(calls["started_at"], window.start, window.end)]
    calls_by_person = in_window_calls["assignee_name"].value_counts()
    figures["calls"] = len(in_window_calls)
    figures["calls_by_person"] = _naive_counts(in_window_calls["assignee_name"])
    stage_scores = scored(window)
    stage_points = stage_scores.groupby("person")["points"].sum()
    figures["stage_points_by_person"] = _sorted_counts(
        (person, float(points)) for person, points in stage_points.items() if points
    )
    total = (calls_by_person.astype(float) * rules.call_points).add(stage_points, fill_value=0)
    figures["points_by_person"] = _sorted_counts((person, round(float(points), 4)) for person, points in total.items())
    demos = stage_scores[stage_scores["stage"] == "Demo Scheduled"]
    figures["demos_by_qualifier"] = _naive_counts(demos["person"])
    inside = changes[_inside(changes["changed_at"], window.start, window.end)]
    figures["changes_by_stage"] = _naive_counts(inside.loc[~inside["stage"].isin(rules.excluded_stages), "stage"])
    previous = previous_window(window)
    prev_calls = int(_inside(calls["started_at"], previous.start, previous.end).sum())
    figures["prev_calls"] = prev_calls
    figures["prev_points"] = round(prev_calls * rules.call_points + float(scored(previous)["points"].sum()), 4)
    open_deals = deal_rows[~deal_rows["stage"].isin(rules.closed_stages + rules.excluded_stages)]
    figures["open_pipeline_by_owner"] = _round_amounts(
        _sorted_counts(open_deals.groupby("assignee_name")["amount"].sum().items())
    )
    return figures


def _naive_redmine(conn: Connection, view: View, context: Context) -> Figures:
    rejected = context.rules.redmine.rejected_statuses
    frame = _read_whole(conn, "redmine_issues", ("created_at", "updated_at", "deleted_at", "closed_at"))
    frame = frame[frame["deleted_at"].isna()]
    if view.group:
        frame = frame[frame["project_name"] == view.group]
    is_closed = frame["is_closed"].astype(bool)
    closed_now = frame[is_closed]

    window = context.window(view)
    figures: Figures = {}
    for prefix, current in (("", window), ("prev_", previous_window(window))):
        created = _inside(frame["created_at"], current.start, current.end)
        updated = _inside(frame["updated_at"], current.start, current.end)
        resolved = _inside(frame["closed_at"], current.start, current.end) & is_closed
        figures[f"{prefix}created"] = int(created.sum())
        figures[f"{prefix}updated"] = int(updated.sum())
        figures[f"{prefix}resolved"] = int(resolved.sum())
        figures[f"{prefix}kill_rate"] = kill_rate(figures[f"{prefix}resolved"], figures[f"{prefix}created"])
        if not prefix:
            figures["closed_by_assignee"] = _naive_counts(frame.loc[resolved, "assignee_name"])
            rows = frame[created | updated | resolved].sort_values(["updated_at", "id"], ascending=False)
            figures["table_ids"] = rows.head(TABLE_PAGE_ROWS)["source_id"].tolist()
    open_issues = frame[~is_closed]
    figures["open"] = len(open_issues)
    figures["rejected"] = int((is_closed & frame["status_name"].isin(rejected)).sum())
    figures["closed"] = int(is_closed.sum()) - figures["rejected"]
    figures["open_by_status"] = _naive_counts(open_issues["status_name"])
    figures["open_by_project"] = _naive_counts(open_issues["project_name"])
    figures["open_by_assignee"] = _naive_counts(open_issues["assignee_name"])
    start, end = chart_range(view.day, context.tz_name)
    tz = context.tz_name
    figures["created_per_day"] = _naive_counts(
        _local_keys(frame.loc[_inside(frame["created_at"], start, end), "created_at"], tz, "day")
    )
    figures["resolved_per_day"] = _naive_counts(
        _local_keys(closed_now.loc[_inside(closed_now["closed_at"], start, end), "closed_at"], tz, "day")
    )
    figures["created_per_month"] = _naive_counts(_local_keys(frame["created_at"], tz, "month"))
    figures["resolved_per_month"] = _naive_counts(_local_keys(closed_now["closed_at"], tz, "month"))
    return figures


# ============================================================================================== per-figure SQL


def sql_figures(engine: Engine, view: View, context: Context) -> Figures:
    """The BI-tool reference: one GROUP BY / COUNT query per figure."""
    with engine.connect() as conn:
        return {"cases": _sql_cases, "sales": _sql_sales, "redmine": _sql_redmine}[view.page](conn, view, context)


def _between(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _count_by(conn: Connection, key: Any, table: Any, *where: Any) -> dict[str, int]:
    rows = conn.execute(select(key, func.count()).select_from(table).where(*where).group_by(key)).all()
    return _sorted_counts((name, int(n)) for name, n in rows)


def _whole_hours(tz_name: str) -> None:
    """SQLite has no time-zone database, so local days are folded from UTC hours: exact only for zones whose
    offset is a whole number of hours."""
    tz = ZoneInfo(tz_name)
    for month in range(1, 13):
        offset = datetime(2026, month, 1, tzinfo=tz).utcoffset() or timedelta()
        if offset.total_seconds() % 3600:
            raise ValueError(f"{tz_name}: the per-figure SQL reference on SQLite needs a whole-hour UTC offset")


def _local_buckets(conn: Connection, column: Any, table: Any, tz_name: str, unit: str, *where: Any) -> dict[str, int]:
    """Counts per local day ('YYYY-MM-DD') or month ('YYYY-MM'): PostgreSQL converts with AT TIME ZONE (what a BI
    tool emits); SQLite groups by UTC hour and the hours are folded into local days here."""
    if conn.dialect.name == "postgresql":
        local = func.timezone(tz_name, func.timezone("UTC", column))
        key = func.to_char(local, "YYYY-MM-DD" if unit == "day" else "YYYY-MM")
        return _count_by(conn, key, table, column.is_not(None), *where)
    _whole_hours(tz_name)
    hour = func.substr(column, 1, 13, type_=String)  # 'YYYY-MM-DD HH' of the stored naive UTC text
    rows = conn.execute(
        select(hour, func.count()).select_from(table).where(column.is_not(None), *where).group_by(hour)
    ).all()
    tz = ZoneInfo(tz_name)
    folded: Counter[str] = Counter()
    for bucket, n in rows:
        local_hour = datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(tz)
        folded[local_hour.strftime("%Y-%m-%d" if unit == "day" else "%Y-%m")] += int(n)
    return _sorted_counts(folded.items())


def _sql_cases(conn: Connection, view: View, context: Context) -> Figures:
    rules = context.rules.cases
    c = cases.c
    scope: list[Any] = [c.deleted_at.is_(None)]
    if view.group:
        scope.append(c.group_name == view.group)
    resolved_status = c.status.in_(rules.resolved_statuses)

    def worked(window: Window) -> ColumnElement[bool]:
        return or_(
            and_(_between(c.updated_at, window.start, window.end), c.status.not_in(rules.closed_statuses)),
            _between(c.resolved_at, window.start, window.end),
            _between(c.created_at, window.start, window.end),
        )

    window = context.window(view)
    figures: Figures = {}
    for prefix, current in (("", window), ("prev_", previous_window(window))):
        created = _count(conn, cases, *scope, _between(c.created_at, current.start, current.end))
        resolved_where = (*scope, _between(c.resolved_at, current.start, current.end), resolved_status)
        figures[f"{prefix}created"] = created
        figures[f"{prefix}resolved"] = _count(conn, cases, *resolved_where)
        figures[f"{prefix}worked"] = _count(conn, cases, *scope, worked(current))
        figures[f"{prefix}kill_rate"] = kill_rate(figures[f"{prefix}resolved"], created)
        if not prefix:
            figures["resolved_by_assignee"] = _count_by(conn, c.assignee_name, cases, *resolved_where)
            table_rows = conn.execute(
                select(
                    c.source_id,
                    c.case_no,
                    c.group_name,
                    c.assignee_name,
                    c.modified_by_name,
                    c.title,
                    c.status,
                    c.created_at,
                    c.updated_at,
                    c.resolved_at,
                    c.time_spent_hours,
                )
                .where(*scope, worked(current))
                .order_by(c.updated_at.desc(), c.id.desc())
                .limit(TABLE_PAGE_ROWS)
            ).all()
            figures["table_ids"] = [row.source_id for row in table_rows]
    open_where = (*scope, not_(resolved_status))
    figures["open"] = _count(conn, cases, *open_where)
    figures["open_by_group"] = _count_by(conn, c.group_name, cases, *open_where)
    figures["open_by_assignee"] = _count_by(conn, c.assignee_name, cases, *open_where)
    start, end = chart_range(view.day, context.tz_name)
    tz = context.tz_name
    figures["created_per_day"] = _local_buckets(
        conn, c.created_at, cases, tz, "day", *scope, _between(c.created_at, start, end)
    )
    figures["resolved_per_day"] = _local_buckets(
        conn, c.resolved_at, cases, tz, "day", *scope, resolved_status, _between(c.resolved_at, start, end)
    )
    figures["created_per_month"] = _local_buckets(conn, c.created_at, cases, tz, "month", *scope)
    figures["resolved_per_month"] = _local_buckets(conn, c.resolved_at, cases, tz, "month", *scope, resolved_status)
    return figures


def _sql_sales(conn: Connection, view: View, context: Context) -> Figures:
    rules = context.rules.sales
    call, change, deal = phone_calls.c, deal_stage_changes.c, deals.c
    groups = list(rules.groups)
    if view.group:
        groups = [view.group] if not groups or view.group in groups else ["\0no group\0"]
    call_scope: list[Any] = [call.deleted_at.is_(None)]
    change_scope: list[Any] = [change.deleted_at.is_(None)]
    deal_scope: list[Any] = [deal.deleted_at.is_(None)]
    if rules.call_statuses:
        call_scope.append(call.status.in_(rules.call_statuses))
    if groups:
        call_scope.append(call.group_name.in_(groups))
        change_scope.append(change.group_name.in_(groups))
        deal_scope.append(deal.group_name.in_(groups))

    earlier = deal_stage_changes.alias("earlier")
    first_entry = ~(
        select(literal(1))
        .where(
            earlier.c.deal_source_id == change.deal_source_id,
            earlier.c.stage == change.stage,
            earlier.c.changed_at < change.changed_at,
            earlier.c.deleted_at.is_(None),
        )
        .exists()
    )
    scoring = [rule for rule in rules.stages if rule.points]
    person = case(
        *[(change.stage == rule.name, getattr(change, credited_column(rule))) for rule in scoring], else_=literal("")
    ).label("person")
    points = case(*[(change.stage == rule.name, literal(rule.points)) for rule in scoring], else_=literal(0))
    counted = or_(
        *[
            and_(change.stage == rule.name, first_entry) if rule.once_per_deal else change.stage == rule.name
            for rule in scoring
        ],
        literal(False),
    )

    def stage_points(window: Window) -> Sequence[Any]:
        if not scoring:
            return []
        return conn.execute(
            select(person, func.sum(points))
            .where(*change_scope, _between(change.changed_at, window.start, window.end), counted)
            .group_by(person)
        ).all()

    window = context.window(view)
    figures: Figures = {}
    in_window = _between(call.started_at, window.start, window.end)
    figures["calls"] = _count(conn, phone_calls, *call_scope, in_window)
    figures["calls_by_person"] = _count_by(conn, call.assignee_name, phone_calls, *call_scope, in_window)
    by_person = {name: float(total) for name, total in stage_points(window) if total}
    figures["stage_points_by_person"] = _sorted_counts(by_person.items())
    totals: dict[str, float] = defaultdict(float)
    for name, n in figures["calls_by_person"].items():
        totals[name] += n * rules.call_points
    for name, total in by_person.items():
        totals[name] += total
    figures["points_by_person"] = _sorted_counts((name, round(float(v), 4)) for name, v in totals.items())
    demo = rules.stage("Demo Scheduled")
    if demo is None:
        figures["demos_by_qualifier"] = {}
    else:
        demo_first = [first_entry] if demo.once_per_deal else []
        figures["demos_by_qualifier"] = _count_by(
            conn,
            getattr(change, credited_column(demo)),
            deal_stage_changes,
            *change_scope,
            _between(change.changed_at, window.start, window.end),
            change.stage == demo.name,
            *demo_first,
        )
    figures["changes_by_stage"] = _count_by(
        conn,
        change.stage,
        deal_stage_changes,
        *change_scope,
        _between(change.changed_at, window.start, window.end),
        change.stage.not_in(rules.excluded_stages),
    )
    previous = previous_window(window)
    prev_calls = _count(conn, phone_calls, *call_scope, _between(call.started_at, previous.start, previous.end))
    figures["prev_calls"] = prev_calls
    prev_stage = sum(float(total or 0) for _, total in stage_points(previous))
    figures["prev_points"] = round(prev_calls * rules.call_points + prev_stage, 4)
    pipeline = conn.execute(
        select(deal.assignee_name, func.sum(deal.amount))
        .where(*deal_scope, deal.stage.not_in(rules.closed_stages + rules.excluded_stages))
        .group_by(deal.assignee_name)
    ).all()
    figures["open_pipeline_by_owner"] = _round_amounts(_sorted_counts((name, total or 0) for name, total in pipeline))
    return figures


def _sql_redmine(conn: Connection, view: View, context: Context) -> Figures:
    rejected = context.rules.redmine.rejected_statuses
    r = redmine_issues.c
    scope: list[Any] = [r.deleted_at.is_(None)]
    if view.group:
        scope.append(r.project_name == view.group)
    window = context.window(view)
    figures: Figures = {}
    for prefix, current in (("", window), ("prev_", previous_window(window))):
        created = _between(r.created_at, current.start, current.end)
        updated = _between(r.updated_at, current.start, current.end)
        resolved = and_(_between(r.closed_at, current.start, current.end), r.is_closed.is_(True))
        figures[f"{prefix}created"] = _count(conn, redmine_issues, *scope, created)
        figures[f"{prefix}updated"] = _count(conn, redmine_issues, *scope, updated)
        figures[f"{prefix}resolved"] = _count(conn, redmine_issues, *scope, resolved)
        figures[f"{prefix}kill_rate"] = kill_rate(figures[f"{prefix}resolved"], figures[f"{prefix}created"])
        if not prefix:
            figures["closed_by_assignee"] = _count_by(conn, r.assignee_name, redmine_issues, *scope, resolved)
            table_rows = conn.execute(
                select(
                    r.source_id,
                    r.project_name,
                    r.author_name,
                    r.assignee_name,
                    r.subject,
                    r.status_name,
                    r.created_at,
                    r.updated_at,
                    r.closed_at,
                )
                .where(*scope, or_(created, updated, resolved))
                .order_by(r.updated_at.desc(), r.id.desc())
                .limit(TABLE_PAGE_ROWS)
            ).all()
            figures["table_ids"] = [row.source_id for row in table_rows]
    open_where = (*scope, r.is_closed.is_(False))
    figures["open"] = _count(conn, redmine_issues, *open_where)
    figures["rejected"] = _count(conn, redmine_issues, *scope, r.is_closed.is_(True), r.status_name.in_(rejected))
    figures["closed"] = _count(conn, redmine_issues, *scope, r.is_closed.is_(True), r.status_name.not_in(rejected))
    figures["open_by_status"] = _count_by(conn, r.status_name, redmine_issues, *open_where)
    figures["open_by_project"] = _count_by(conn, r.project_name, redmine_issues, *open_where)
    figures["open_by_assignee"] = _count_by(conn, r.assignee_name, redmine_issues, *open_where)
    start, end = chart_range(view.day, context.tz_name)
    tz = context.tz_name
    figures["created_per_day"] = _local_buckets(
        conn, r.created_at, redmine_issues, tz, "day", *scope, _between(r.created_at, start, end)
    )
    figures["resolved_per_day"] = _local_buckets(
        conn, r.closed_at, redmine_issues, tz, "day", *scope, r.is_closed.is_(True), _between(r.closed_at, start, end)
    )
    figures["created_per_month"] = _local_buckets(conn, r.created_at, redmine_issues, tz, "month", *scope)
    figures["resolved_per_month"] = _local_buckets(
        conn, r.closed_at, redmine_issues, tz, "month", *scope, r.is_closed.is_(True)
    )
    return figures


REFERENCES: dict[str, Callable[[Engine, View, Context], Figures]] = {"naive": naive_figures, "sql": sql_figures}


def differences(left: Figures, right: Figures) -> list[str]:
    """The figure names whose values differ (floats compared to 4 decimals), with both values."""
    problems = []
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name), right.get(name)
        if _normalise(a) != _normalise(b):
            problems.append(f"{name}: {_short(a)} != {_short(b)}")
    return problems


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) < 200 else shown[:200] + "..."

"""The sales view builder: what /sales, /export/sales.csv and the TV show for a date, window(s) and group.

    build_sales_view(engine, settings, day, group="", window="day", today=None) -> SalesView
    build_sales_views(engine, settings, day, group="", kinds=("day", "week", "month")) -> {kind: SalesView}
    build_sales_page(engine, settings, day, group, selected, limit) -> {kind: SalesView}   (the /sales callback:
        the same figures, calls counted in SQL, only the table's rows read; tests/test_views_sales.py compares)
    sales_rows(engine, settings, day, window, kpi, group) -> DataFrame   (/export/sales.csv, see web/exports.py)
    stage_picklist(engine) -> VTiger's sales_stage values in picklist order (as sync stored them)
    stage_warning(engine, settings) -> settings.StageMismatch | None   (the rules' stage names VTiger lacks)
    change_table / call_table(engine, settings, day, window, group, request) -> TableBlock   (the page's tables:
        a block of every row of the window, sorted and filtered as the grid asks)

A SalesView holds the leaderboard (`leaderboard`: person, points, "Phone calls" and one count per configured
stage, highest points first, zero-point people of the group included), the goal (`goal.total`, `goal.so_far`,
business days, holidays), the scored stage changes and calls behind the window (with `link` to VTiger), the
open pipeline per owner and the score key. `group` "" means the configured sales groups (kpi.toml
sales.groups), or everyone when none are configured. Several windows are read with ONE query per table over
the span they cover, then scored window by window.

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.sales import (
    PASSAGE_COLUMNS,
    PHONE_CALLS,
    Goal,
    ScoreKeyRow,
    call_tally,
    call_totals,
    calls_per_person,
    calls_per_person_of,
    deals_per_stage,
    deals_per_stage_of,
    demos_per_qualifier,
    demos_per_qualifier_of,
    empty_frame,
    goal_for,
    in_groups,
    open_pipeline_per_owner,
    points_from_counts,
    points_per_person,
    score_calls,
    score_key,
    score_stage_changes,
    window_rows,
)
from metrics.windows import WINDOW_KINDS, Comparison, Window, WindowKind, compare_with, today_in, window_for
from models.recent_rows import TableRequest
from models.sales import (
    effective_groups,
    read_call_block,
    read_call_counts,
    read_call_counts_of,
    read_open_deals,
    read_recent_calls,
    read_roster,
    read_stage_picklist,
    read_window_calls,
    sales_group_names,
)
from models.sales_rollups import read_change_counts_of, read_open_pipeline, read_passages
from settings import SalesRules, Settings, StageMismatch, compare_stages_with_picklist
from view_models.table_frames import FrameColumn, frame_block
from view_models.tracker_view import TableBlock, record_links

ExportKind = Literal["points", "calls", "stage_changes", "pipeline"]
EXPORT_KINDS: tuple[ExportKind, ...] = ("points", "calls", "stage_changes", "pipeline")


# --- the view model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesTotals:
    """The figures of a sales window's cards: points, calls, demos scheduled (None when demo_stage is off)."""

    points: float
    calls: int
    demos: int | None


@dataclass(frozen=True)
class SalesView:
    """Everything the /sales page, its CSV export and the TV show for one window and group selection."""

    window: Window
    groups: tuple[str, ...]  # the effective group filter; empty: everyone
    rules: SalesRules
    goal: Goal
    leaderboard: pd.DataFrame  # points_per_person
    stage_changes: pd.DataFrame  # score_stage_changes
    calls: pd.DataFrame  # score_calls
    pipeline: pd.DataFrame  # open_pipeline_per_owner
    score_key: list[ScoreKeyRow] = field(default_factory=list)
    # A page view (view_models.sales.build_sales_page) holds in `calls` only the calls its table shows; then this is
    # calls_per_person over all of the window's calls, counted in SQL. None: `calls` holds every call.
    call_summary: pd.DataFrame | None = None
    # A page view holds no stage-change rows (the table reads its own): this is the window's passages counted per
    # stage, person and qualifier (CHANGE_COUNT_COLUMNS). None: `stage_changes` holds every passage.
    change_summary: pd.DataFrame | None = None
    picklist: tuple[str, ...] = ()  # VTiger's sales_stage picklist in its order, as sync stored it (or unknown)
    # What the cards are compared with: the previous window's totals over `comparison.span` (the same elapsed
    # part of it while this window runs). None: not compared.
    comparison: Comparison | None = None
    previous: SalesTotals | None = None

    def totals(self) -> SalesTotals:
        """The cards' figures: the leaderboard's points, the calls and the demos scheduled."""
        points = float(self.leaderboard["points"].sum()) if not self.leaderboard.empty else 0.0
        demo = self.rules.demo_stage
        if self.change_summary is None:
            demos = int((self.stage_changes["stage"] == demo).sum()) if demo else None
        else:
            summary = self.change_summary
            demos = int(summary.loc[summary["stage"] == demo, "passages"].sum()) if demo else None
        return SalesTotals(points, self.call_count, demos)

    @property
    def call_count(self) -> int:
        """How many calls started in the window (in the group)."""
        return len(self.calls) if self.call_summary is None else int(self.call_summary["calls"].sum())

    @property
    def stage_names(self) -> list[str]:
        return [rule.name for rule in self.rules.stages]

    def calls_per_person(self) -> pd.DataFrame:
        return calls_per_person(self.calls) if self.call_summary is None else self.call_summary

    def demos_per_qualifier(self) -> pd.DataFrame:
        if self.change_summary is not None:
            return demos_per_qualifier_of(self.change_summary, self.rules)
        return demos_per_qualifier(self.stage_changes, self.rules)

    def deals_per_stage(self) -> pd.DataFrame:
        if self.change_summary is not None:
            return deals_per_stage_of(self.change_summary, self.rules, self.picklist)
        return deals_per_stage(self.stage_changes, self.rules, self.picklist)

    @property
    def is_empty(self) -> bool:
        return self.leaderboard.empty and self.pipeline.empty


def sales_view(
    *,
    window: Window,
    rules: SalesRules,
    today: date,
    calls: pd.DataFrame,
    changes: pd.DataFrame,
    history: pd.DataFrame,
    roster: pd.DataFrame,
    pipeline: pd.DataFrame,
    groups: Sequence[str] = (),
    picklist: Sequence[str] = (),
) -> SalesView:
    """Score one window for the given groups (empty: everyone); `picklist` orders the deals-per-stage chart."""
    groups = tuple(groups)
    scored_calls = score_calls(in_groups(calls, groups), rules, window)
    scored_changes = score_stage_changes(in_groups(changes, groups), history, rules, window)
    people: Iterable[str] = in_groups(roster, groups)["person"] if groups else []
    return SalesView(
        window=window,
        groups=groups,
        rules=rules,
        goal=goal_for(window, rules, today),
        leaderboard=points_per_person(scored_calls, scored_changes, rules, people),
        stage_changes=scored_changes,
        calls=scored_calls,
        pipeline=open_pipeline_per_owner(pipeline, rules, groups),
        score_key=score_key(rules),
        picklist=tuple(picklist),
    )


def scored_sales_view(
    *,
    window: Window,
    rules: SalesRules,
    today: date,
    calls: pd.DataFrame,
    passages: pd.DataFrame,
    roster: pd.DataFrame,
    pipeline: pd.DataFrame,
    groups: Sequence[str] = (),
    picklist: Sequence[str] = (),
) -> SalesView:
    """sales_view from passages already scored (PASSAGE_COLUMNS: models.sales_rollups.read_passages, oldest
    first) instead of the raw changes and their history."""
    groups = tuple(groups)
    scored_calls = score_calls(in_groups(calls, groups), rules, window)
    scored_changes = window_rows(in_groups(passages, groups), "changed_at", window)
    people: Iterable[str] = in_groups(roster, groups)["person"] if groups else []
    return SalesView(
        window=window,
        groups=groups,
        rules=rules,
        goal=goal_for(window, rules, today),
        leaderboard=points_per_person(scored_calls, scored_changes, rules, people),
        stage_changes=scored_changes,
        calls=scored_calls,
        pipeline=open_pipeline_per_owner(pipeline, rules, groups),
        score_key=score_key(rules),
        picklist=tuple(picklist),
    )


def totals_from_counts(call_counts: pd.DataFrame, change_counts: pd.DataFrame, rules: SalesRules) -> SalesTotals:
    """SalesView.totals of sales_page_view without building its leaderboard (what a window is compared with):
    only named people score, so the leaderboard's points are the counted calls' and the passages' points."""
    calls, counted = call_totals(call_counts, rules)
    points = float(counted) * float(rules.call_points) + float(sum(change_counts["points"].tolist()))
    demo = rules.demo_stage
    stages, passages = change_counts["stage"].tolist(), change_counts["passages"].tolist()
    demos = sum(int(n) for stage, n in zip(stages, passages, strict=True) if stage == demo) if demo else None
    return SalesTotals(points, calls, demos)


def sales_page_view(
    *,
    window: Window,
    rules: SalesRules,
    today: date,
    call_counts: pd.DataFrame,
    scored_calls: pd.DataFrame,
    change_counts: pd.DataFrame,
    roster: pd.DataFrame,
    pipeline_per_owner: pd.DataFrame,
    groups: Sequence[str] = (),
    picklist: Sequence[str] = (),
) -> SalesView:
    """sales_view from counts, the way the page reads them: the window's calls counted per assignee and status
    (`call_counts`, CALL_COUNT_COLUMNS), only the calls the table shows (`scored_calls`, metrics.sales.score_calls,
    or none), the window's stage passages counted per stage, person and qualifier (`change_counts`,
    CHANGE_COUNT_COLUMNS, already limited to `groups`) and the open pipeline per owner (open_pipeline_per_owner,
    the same for every window). The leaderboard, goal, charts and counts are those sales_view gives from every
    row."""
    groups = tuple(groups)
    tally = call_tally(call_counts, rules)
    people: Iterable[str] = in_groups(roster, groups)["person"] if groups else []
    return SalesView(
        window=window,
        groups=groups,
        rules=rules,
        goal=goal_for(window, rules, today),
        leaderboard=points_from_counts(tally, change_counts, rules, people),
        stage_changes=_no_passages(),
        calls=scored_calls,
        pipeline=pipeline_per_owner,
        score_key=score_key(rules),
        call_summary=calls_per_person_of(tally),
        change_summary=change_counts,
        picklist=tuple(picklist),
    )


@lru_cache(maxsize=1)
def _no_passages() -> pd.DataFrame:
    """The page view's empty stage-change rows (its table reads its own), built once: views never modify it."""
    return empty_frame(PASSAGE_COLUMNS)


def credit_fields(rules: SalesRules) -> list[str]:
    """Deal fields, other than the assignee and the qualifier copied onto each change, that stages credit."""
    return sorted({rule.credit for rule in rules.stages} - {"assignee", "qualified_by", rules.qualified_by_field})


def group_choices(engine: Engine, settings: Settings) -> list[str]:
    """The groups the page's selector offers (the configured sales groups, else every VTiger group)."""
    return sales_group_names(engine, settings.kpi.sales)


def stage_picklist(engine: Engine) -> tuple[str, ...]:
    """VTiger's sales_stage picklist in picklist order, as sync last stored it (empty before the first sync): the
    pipeline order stages are shown in."""
    return tuple(read_stage_picklist(engine) or ())


def stage_warning(engine: Engine, settings: Settings) -> StageMismatch | None:
    """The stage names the sales rules use that VTiger's picklist lacks (None when all match or nothing is synced
    yet): /status and /sales show it as a warning with the kpi.toml lines to write."""
    picklist = stage_picklist(engine)
    return compare_stages_with_picklist(settings.kpi.sales, picklist) if picklist else None


def build_sales_views(
    engine: Engine,
    settings: Settings,
    day: date,
    group: str = "",
    kinds: Sequence[WindowKind] = WINDOW_KINDS,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> dict[WindowKind, SalesView]:
    """Score the windows of `kinds` around `day` for `group`, and what each is compared with at `now`
    (metrics.windows.compare_with), from one read of the span they cover."""
    rules = settings.kpi.sales
    windows = {kind: window_for(day, kind, settings.timezone) for kind in kinds}
    comparisons = {kind: compare_with(window, now) for kind, window in windows.items()}
    start, end = _span([*windows.values(), *(comparison.span for comparison in comparisons.values())])
    groups = effective_groups(rules, group)
    with engine.connect() as conn:
        calls = read_window_calls(conn, start, end)
        changes = read_passages(conn, start, end, settings.timezone)
        roster = read_roster(conn, groups)
        pipeline = read_open_pipeline(conn, rules)
    calls["link"] = record_links(settings, "PhoneCalls", calls["source_id"].tolist())
    changes["link"] = record_links(settings, "Potentials", changes["deal_source_id"].tolist())
    today = today or today_in(settings.timezone)
    picklist = stage_picklist(engine)

    def view(window: Window) -> SalesView:
        return scored_sales_view(
            window=window,
            rules=rules,
            today=today,
            calls=calls,
            passages=changes,
            roster=roster,
            pipeline=pipeline,
            groups=groups,
            picklist=picklist,
        )

    return {kind: _compared(view(window), comparisons[kind], view) for kind, window in windows.items()}


def _span(windows: Sequence[Window]) -> tuple[datetime, datetime]:
    return min(window.start for window in windows), max(window.end for window in windows)


def _compared(view: SalesView, comparison: Comparison, view_of: Callable[[Window], SalesView]) -> SalesView:
    """`view` with what its cards are compared with: the totals of `view_of(comparison.span)`."""
    return replace(view, comparison=comparison, previous=view_of(comparison.span).totals())


def build_sales_page(
    engine: Engine,
    settings: Settings,
    day: date,
    group: str,
    selected: WindowKind,
    limit: int,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> dict[WindowKind, SalesView]:
    """What /sales shows for a date click: the three windows' views, the same leaderboards, goals, charts and
    counts as build_sales_views, without reading every call. Calls are counted per person and status in SQL and
    only the `limit` most recent calls of the `selected` window are read (the table's rows; the other windows'
    views hold none, see SalesView.call_summary); stage changes (far fewer) are read for the groups and scored
    once for the span. Links are left to the rows shown (page_call_rows, page_change_rows)."""
    rules = settings.kpi.sales
    windows = {kind: window_for(day, kind, settings.timezone) for kind in WINDOW_KINDS}
    comparisons = {kind: compare_with(window, now) for kind, window in windows.items()}
    groups = effective_groups(rules, group)
    # Every count the page shows, in two statements: the windows' and the compared spans' (names "day", "before:day").
    spans: dict[str, Window] = {kind: window for kind, window in windows.items()}
    spans.update({f"before:{kind}": comparison.span for kind, comparison in comparisons.items()})
    with engine.connect() as conn:
        calls = read_call_counts_of(conn, spans, groups)
        changes = read_change_counts_of(conn, spans, groups)
        per_owner = open_pipeline_per_owner(read_open_pipeline(conn, rules), rules, groups)
        roster = read_roster(conn, groups)
        recent = read_recent_calls(conn, windows[selected], groups, limit)
    picklist = stage_picklist(engine)
    today = today or today_in(settings.timezone)
    shown = score_calls(recent, rules, windows[selected])  # scored once; the other windows' views hold none

    def view(kind: WindowKind) -> SalesView:
        window = windows[kind]
        page_view = sales_page_view(
            window=window,
            rules=rules,
            today=today,
            call_counts=calls[kind],
            scored_calls=shown if kind == selected else shown[:0],
            change_counts=changes[kind],
            roster=roster,
            pipeline_per_owner=per_owner,
            groups=groups,
            picklist=picklist,
        )
        before = totals_from_counts(calls[f"before:{kind}"], changes[f"before:{kind}"], rules)
        return replace(page_view, comparison=comparisons[kind], previous=before)

    return {kind: view(kind) for kind in windows}


def _call_counts(engine: Engine, window: Window, groups: Sequence[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_call_counts(conn, window, groups)


def build_sales_view(
    engine: Engine,
    settings: Settings,
    day: date,
    group: str = "",
    window: WindowKind = "day",
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> SalesView:
    """One window's view (the TV calls this with today's date and "day", and `now`: today so far is compared
    with yesterday until the same time, `view.comparison` and `view.previous`)."""
    return build_sales_views(engine, settings, day, group, (window,), today=today, now=now)[window]


# --- the rows behind the figures ------------------------------------------------------------------------------


def points_rows(view: SalesView) -> pd.DataFrame:
    """One row per person: total points, the goal and the breakdown (calls and each stage's counted entries)."""
    board = view.leaderboard.copy()
    board.insert(2, "goal", view.goal.total)
    board.insert(3, "goal_so_far", view.goal.so_far)
    return board.rename(columns={"points": "total_points", PHONE_CALLS: "phone_calls"})


def calls_rows(view: SalesView, limit: int | None = None) -> pd.DataFrame:
    """The window's calls, one row each, oldest first; with `limit`, only the `limit` most recent."""
    return _call_rows(_most_recent(view.calls, limit))


def _call_rows(calls: pd.DataFrame) -> pd.DataFrame:
    """Scored calls (metrics.sales.score_calls) as the table and the export show them, in their order."""
    return pd.DataFrame(
        {
            "started_at": _local_text(calls["started_local"]),
            "started_at_utc": _utc_text(calls["started_at"]),
            "person": calls["assignee_name"],
            "status": calls["status"],
            "direction": calls["direction"],
            "duration_seconds": calls["duration_seconds"],
            "customer_number": calls["customer_number"],
            "counted": calls["counted"],
            "points": calls["points"],
            "group": calls["group_name"],
            "call_id": calls["source_id"],
            "link": calls.get("link", ""),
            "recording_url": calls["recording_url"],
        }
    )


def stage_change_rows(view: SalesView, limit: int | None = None) -> pd.DataFrame:
    """The window's stage passages, one row each, oldest first; with `limit`, only the `limit` most recent."""
    return _change_rows(_most_recent(view.stage_changes, limit))


def _change_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """Scored stage passages (metrics.sales.score_passages) as the table and the export show them, in order."""
    return pd.DataFrame(
        {
            "changed_at": _local_text(changes["changed_local"]),
            "changed_at_utc": _utc_text(changes["changed_at"]),
            "deal_no": changes["deal_no"],
            "deal_name": changes["deal_name"],
            "stage": changes["stage"],
            "previous_stage": changes["previous_stage"],
            "credited_to": changes["person"],
            "points": changes["points"],
            "counted": changes["counted"],
            "note": changes["note"],
            "origin": changes["origin"],
            "assignee": changes["assignee_name"],
            "qualified_by": changes["qualified_by_name"],
            "group": changes["group_name"],
            "deal_id": changes["deal_source_id"],
            "link": changes.get("link", ""),
        }
    )


# The page's tables, a block at a time as the grid asks (models.recent_rows.TableRequest): sorted and filtered over
# every row of the window, links made for the block's rows only.
CHANGE_GRID = {
    "changed_at": FrameColumn("changed_local", "datetime"),
    "deal": FrameColumn("deal_no"),
    "deal_name": FrameColumn("deal_name"),
    "stage": FrameColumn("stage"),
    "previous_stage": FrameColumn("previous_stage"),
    "credited_to": FrameColumn("person"),
    "points": FrameColumn("points", "number"),
    "note": FrameColumn("note"),
    "origin": FrameColumn("origin"),
    "group": FrameColumn("group_name"),
}


def change_table(
    engine: Engine, settings: Settings, day: date, kind: WindowKind, group: str, request: TableRequest
) -> TableBlock:
    """A block of the stage passages of the window `kind` of `day` (newest first unless sorted), as the sales
    roll-ups scored them (the ones the page's counts came from)."""
    window = window_for(day, kind, settings.timezone)
    groups = effective_groups(settings.kpi.sales, group)
    with engine.connect() as conn:
        changes = read_passages(conn, window.start, window.end, settings.timezone, groups).iloc[::-1]
    block, matching = frame_block(changes, CHANGE_GRID, request)
    rows = _change_rows(block)
    rows = rows.assign(link=record_links(settings, "Potentials", rows["deal_id"].tolist()))
    return TableBlock(rows, matching, len(changes))


def call_table(
    engine: Engine, settings: Settings, day: date, kind: WindowKind, group: str, request: TableRequest
) -> TableBlock:
    """A block of the calls of the window `kind` of `day`, read in SQL (newest first unless sorted)."""
    rules = settings.kpi.sales
    window = window_for(day, kind, settings.timezone)
    groups = effective_groups(rules, group)
    with engine.connect() as conn:
        frame, count = read_call_block(conn, window, groups, rules, request)
    order = {source_id: position for position, source_id in enumerate(frame["source_id"])}
    calls = score_calls(frame, rules, window)  # oldest first: put back in the read's order
    calls = calls.iloc[np.argsort([order[source_id] for source_id in calls["source_id"]], kind="stable")]
    rows = _call_rows(calls)
    rows = rows.assign(link=record_links(settings, "PhoneCalls", rows["call_id"].tolist()))
    total = int(_call_counts(engine, window, groups)["calls"].sum())
    return TableBlock(rows, total if count is None else count, total)


def open_deal_rows(engine: Engine, settings: Settings, group: str = "") -> pd.DataFrame:
    """The open deals behind the pipeline chart (not windowed: the pipeline is as it stands now)."""
    rules = settings.kpi.sales
    with engine.connect() as conn:
        deals = read_open_deals(conn, rules, effective_groups(rules, group))
    deals["link"] = record_links(settings, "Potentials", deals["source_id"].tolist())
    deals.insert(list(deals.columns).index("amount") + 1, "currency", rules.currency)  # what the amount is in
    return deals.rename(columns={"source_id": "deal_id", "name": "deal_name", "assignee_name": "owner"})


def sales_rows(
    engine: Engine, settings: Settings, day: date, window: WindowKind, kpi: str, group: str = ""
) -> pd.DataFrame:
    """The rows behind one sales figure, for /export/sales.csv (web/exports.py validates the parameters):
    points (one row per person: total, goal, breakdown), calls, stage_changes, pipeline (open deals now)."""
    if kpi not in EXPORT_KINDS:
        raise ValueError(f"kpi must be one of {', '.join(EXPORT_KINDS)} (got {kpi!r})")
    if kpi == "pipeline":
        return open_deal_rows(engine, settings, group)
    view = build_sales_view(engine, settings, day, group, window)
    return {"points": points_rows, "calls": calls_rows, "stage_changes": stage_change_rows}[kpi](view)


# --- helpers ----------------------------------------------------------------------------------------------------


def _most_recent(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The last `limit` rows: a SalesView's calls and stage changes are sorted oldest first (metrics.sales)."""
    return frame if limit is None else frame.tail(max(limit, 0))


def _local_text(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d %H:%M") if len(series) else series.astype("object")


def _utc_text(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%dT%H:%M:%SZ") if len(series) else series.astype("object")

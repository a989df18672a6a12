"""Everything /cases shows for a date and group, as plain data: `build_cases_view(...) -> CasesView`.

Used by callbacks/cases.py (the page), web/exports.py (/export/cases.csv) and the TV (today's figures):

    view = build_cases_view(engine, settings, day, group="Support", window="week", today=today, now=now)
    view.windows["day"].figures.created          # the "Created" card of the day window
    view.windows["week"].previous_figures         # the same figures for the previous week (until the same
    view.windows["week"].comparison.label         #   weekday and time while this week runs): "last week by Wed 10:42"
    view.windows["month"].leaderboard             # [(assignee, resolved), ...]
    view.open_total, view.open_by_group, view.open_by_assignee, view.open_by_status
    view.cumulative["created"]                    # DataFrame: day of month x (this month, 3 previous)
    view.history                                  # created / resolved per month, all history
    window_table(engine, settings, view, "worked", TableRequest())  # a block of the table, its row count
    case_rows(engine, settings, day, "week", "resolved", group)   # every row behind a card (exports)

Reads are window-bounded as view_models/tracker_view.py describes; open-now figures are SQL counts. Pass
`charts=False` (the TV) to skip the chart queries. Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine

from metrics import cases as case_metrics
from metrics.series import newest_first
from metrics.windows import Window, WindowKind, window_for
from models import case_reads
from models.recent_rows import TableRequest
from settings import Settings
from view_models.tracker_view import (
    TableBlock,
    TrackerView,
    counted_window_columns,
    local_text,
    open_rows,
    read_counts,
    record_links,
    texts,
    with_rollup_charts,
)


@dataclass(frozen=True, kw_only=True)
class CasesView(TrackerView[case_metrics.CaseFigures]):
    """The /cases view; each window column's leaderboard is resolved cases per assignee."""

    group: str
    open_total: int = 0
    open_by_group: list[tuple[str, int]] = field(default_factory=list)

    @property
    def selector(self) -> str:
        return self.group


def build_cases_view(
    engine: Engine,
    settings: Settings,
    day: date,
    *,
    group: str = "",
    window: WindowKind = "day",
    today: date | None = None,
    charts: bool = True,
    now: datetime | None = None,
) -> CasesView:
    """The /cases view from the roll-ups sync keeps (models/rollups.py): counts, not rows; the part of a day a
    running window is compared with is counted from its rows."""
    rules, tz_name = settings.kpi.cases, settings.timezone
    resolved = rules.resolved_statuses
    counts = read_counts(engine, "cases", group, day, tz_name, resolved, now=now)
    counter = case_metrics.CountedCases(counts.windows, rules)
    by_assignee = case_metrics.open_counts(counts.now, rules, "person")
    view = CasesView(
        day=day,
        group=group,
        selected=window,
        tz_name=tz_name,
        recomputing=counts.rebuilding,
        windows=counted_window_columns(
            day,
            tz_name,
            counter,
            now,
            lambda comparison: case_reads.counts_in(engine, rules, case_metrics.partial_spans(comparison), group),
        ),
        open_total=sum(count for _, count in by_assignee),
        open_by_group=[] if group else case_metrics.open_counts(counts.now, rules, "selector"),
        open_by_assignee=by_assignee,
        open_by_status=case_metrics.open_counts(counts.now, rules, "status"),
    )
    return with_rollup_charts(view, today, counts, resolved) if charts else view


# --- rows behind the numbers ---------------------------------------------------------------------------------

ROW_COLUMNS = (
    "id",
    "case_no",
    "link",
    "title",
    "status",
    "priority",
    "group",
    "assignee",
    "modified_by",
    "created",
    "modified",
    "resolved",
    "time_spent_hours",
    "in_window",
)


def group_choices(engine: Engine) -> list[str]:
    """The groups the selector offers (groups that have cases)."""
    return case_reads.group_names(engine)


def window_table(engine: Engine, settings: Settings, view: CasesView, kpi: str, request: TableRequest) -> TableBlock:
    """The block of the page's table the grid asks for: the cases behind a card of the selected window (described
    as `case_rows` describes them), sorted and filtered over all of them in SQL, and how many pass the
    filter (the card's figure when nothing is filtered). Only the block is read."""
    window = view.selected_window.window
    frame, count = case_reads.table_block(engine, settings.kpi.cases, window, kpi, view.group, request)
    total = _total(view, kpi)
    rows = describe_rows(frame, window, settings, kpi, ordered=True)
    return TableBlock(rows, total if count is None else count, total)


def _total(view: CasesView, kpi: str) -> int:
    if kpi == "open":
        return view.open_total
    if kpi not in case_metrics.CASE_KPIS:
        raise ValueError(f"unknown case kpi {kpi!r}; expected one of {', '.join(case_metrics.CASE_KPIS)}")
    return int(getattr(view.selected_window.figures, kpi))


def case_rows(
    engine: Engine, settings: Settings, day: date, window_kind: WindowKind, kpi: str, group: str = ""
) -> pd.DataFrame:
    """The rows behind one figure, read on their own (only that window's rows, or the open cases)."""
    window = window_for(day, window_kind, settings.timezone)
    if kpi == "open":
        frame = case_reads.open_cases(engine, settings.kpi.cases, group)
        return describe_rows(frame, window, settings, kpi)
    frame = case_reads.cases_touching(engine, window.start, window.end, group)
    return describe_rows(case_metrics.kpi_rows(frame, kpi, window, settings.kpi.cases), window, settings, kpi)


def describe_rows(
    frame: pd.DataFrame, window: Window, settings: Settings, kpi: str, *, ordered: bool = False
) -> pd.DataFrame:
    """Case rows behind the card `kpi` as people read them, newest first by when they counted in the window: local
    times (TIMEZONE), the VTiger link, why the row is in the window."""
    tz_name = settings.timezone
    if not ordered:  # `ordered`: the read put the rows in the table's order already
        frame = newest_first(frame, case_metrics.counted_at(frame, kpi, window, settings.kpi.cases))
    in_window = kpi != "open"
    kinds = case_metrics.row_kinds(frame, window, settings.kpi.cases) if in_window else open_rows(frame)
    columns = {
        "id": frame["id"].to_numpy(dtype="int64"),
        "case_no": texts(frame["case_no"]),
        "link": record_links(settings, "Cases", frame["source_id"].tolist()),
        "title": texts(frame["title"]),
        "status": texts(frame["status"]),
        "priority": texts(frame["priority"]),
        "group": texts(frame["group_name"]),
        "assignee": texts(frame["assignee_name"]),
        "modified_by": texts(frame["modified_by_name"]),
        "created": local_text(frame["created_at"], tz_name),
        "modified": local_text(frame["updated_at"], tz_name),
        "resolved": local_text(frame["resolved_at"], tz_name),
        "time_spent_hours": frame["time_spent_hours"].to_numpy(),
        "in_window": kinds.to_numpy(),
    }
    return pd.DataFrame(columns, columns=list(ROW_COLUMNS))

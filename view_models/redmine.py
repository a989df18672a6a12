"""Everything /redmine shows for a date and project, as plain data: `build_redmine_view(...) -> RedmineView`.

Used by callbacks/redmine.py, web/exports.py (/export/redmine.csv) and the TV:

    view = build_redmine_view(engine, settings, day, project="Firmware", window="week", today=today)
    view.totals.open, view.totals.closed, view.totals.rejected     # now (Redmine's is_closed + rejected names)
    view.windows["day"].figures.created / .updated / .resolved / .kill_rate
    view.windows["week"].previous_figures, view.windows["week"].comparison.label, view.windows["month"].leaderboard
    view.open_by_status, view.open_by_project, view.open_by_assignee
    view.cumulative["created"], view.history
    window_table(engine, settings, view, "activity", TableRequest())  # a block of the table, its row count
    issue_rows(engine, settings, day, "week", "resolved", project)  # every row behind a card (exports)

Reads are bounded as view_models/tracker_view.py describes. Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine

from metrics import redmine as issue_metrics
from metrics.series import newest_first
from metrics.windows import Window, WindowKind, window_for
from models import redmine_reads
from models.recent_rows import TableRequest
from settings import Settings
from view_models.tracker_view import (
    TableBlock,
    TrackerView,
    counted_window_columns,
    local_text,
    open_rows,
    read_counts,
    texts,
    with_rollup_charts,
)


@dataclass(frozen=True, kw_only=True)
class RedmineView(TrackerView[issue_metrics.IssueFigures]):
    """The /redmine view; each window column's leaderboard is closed issues per assignee."""

    project: str
    totals: issue_metrics.StateTotals
    activity: int = 0  # issues created, updated or resolved in the selected window (its table's rows)
    open_by_project: list[tuple[str, int]] = field(default_factory=list)

    @property
    def selector(self) -> str:
        return self.project


def project_choices(engine: Engine) -> list[str]:
    return redmine_reads.project_names(engine)


def build_redmine_view(
    engine: Engine,
    settings: Settings,
    day: date,
    *,
    project: str = "",
    window: WindowKind = "day",
    today: date | None = None,
    charts: bool = True,
    now: datetime | None = None,
) -> RedmineView:
    """The /redmine view from the roll-ups sync keeps (models/rollups.py): counts, not rows; the part of a day a
    running window is compared with is counted from its rows."""
    tz_name, rules = settings.timezone, settings.kpi.redmine
    counts = read_counts(engine, "redmine", project, day, tz_name, now=now)
    counter = issue_metrics.CountedIssues(counts.windows, rules)
    view = RedmineView(
        day=day,
        project=project,
        selected=window,
        tz_name=tz_name,
        recomputing=counts.rebuilding,
        windows=counted_window_columns(
            day,
            tz_name,
            counter,
            now,
            lambda comparison: redmine_reads.counts_in(engine, issue_metrics.partial_spans(comparison), project),
        ),
        totals=issue_metrics.totals_from_counts(issue_metrics.status_counts(counts.now), rules.rejected_statuses),
        activity=counter.activity(window_for(day, window, tz_name)),
        open_by_status=issue_metrics.open_counts(counts.now, "status"),
        open_by_project=[] if project else issue_metrics.open_counts(counts.now, "selector"),
        open_by_assignee=issue_metrics.open_counts(counts.now, "person"),
    )
    return with_rollup_charts(view, today, counts, None) if charts else view


# --- rows behind the numbers ---------------------------------------------------------------------------------

ROW_COLUMNS = (
    "id",
    "issue_id",
    "link",
    "subject",
    "project",
    "tracker",
    "status",
    "state",
    "priority",
    "author",
    "assignee",
    "created",
    "updated",
    "closed",
    "in_window",
)


def window_table(engine: Engine, settings: Settings, view: RedmineView, kpi: str, request: TableRequest) -> TableBlock:
    """The block of the page's table the grid asks for: the issues behind a card of the selected window (described
    as `issue_rows` describes them), sorted and filtered over all of them in SQL, and how many pass the
    filter (the card's figure when nothing is filtered). Only the block is read."""
    window = view.selected_window.window
    frame, count = redmine_reads.table_block(
        engine, window, kpi, view.project, request, settings.kpi.redmine.rejected_statuses
    )
    total = _total(view, kpi)
    rows = describe_rows(frame, window, settings, kpi, ordered=True)
    return TableBlock(rows, total if count is None else count, total)


def _total(view: RedmineView, kpi: str) -> int:
    if kpi == "open":
        return view.totals.open
    if kpi == "activity":
        return view.activity
    if kpi not in issue_metrics.REDMINE_KPIS:
        raise ValueError(f"unknown redmine kpi {kpi!r}; expected one of {', '.join(issue_metrics.REDMINE_KPIS)}")
    return int(getattr(view.selected_window.figures, kpi))


def issue_rows(
    engine: Engine, settings: Settings, day: date, window_kind: WindowKind, kpi: str, project: str = ""
) -> pd.DataFrame:
    """The rows behind one figure, read on their own (only that window's rows, or the open issues)."""
    window = window_for(day, window_kind, settings.timezone)
    if kpi == "open":
        return describe_rows(redmine_reads.open_issues(engine, project), window, settings, kpi)
    frame = redmine_reads.issues_touching(engine, window.start, window.end, project)
    return describe_rows(issue_metrics.kpi_rows(frame, kpi, window, settings.kpi.redmine), window, settings, kpi)


def describe_rows(
    frame: pd.DataFrame, window: Window, settings: Settings, kpi: str, *, ordered: bool = False
) -> pd.DataFrame:
    tz_name = settings.timezone
    if not ordered:  # `ordered`: the read put the rows in the table's order already
        frame = newest_first(frame, issue_metrics.counted_at(frame, kpi, window, settings.kpi.redmine))
    in_window = kpi != "open"
    redmine = settings.redmine
    source_ids = [str(value) for value in frame["source_id"].tolist()]
    kinds = issue_metrics.row_kinds(frame, window) if in_window else open_rows(frame)
    columns = {
        "id": frame["id"].to_numpy(dtype="int64"),
        "issue_id": source_ids,
        "link": [redmine.issue_link(int(sid)) if redmine and sid.isdigit() else "" for sid in source_ids],
        "subject": texts(frame["subject"]),
        "project": texts(frame["project_name"]),
        "tracker": texts(frame["tracker_name"]),
        "status": texts(frame["status_name"]),
        "state": issue_metrics.state_of(frame, settings.kpi.redmine.rejected_statuses).to_numpy(),
        "priority": texts(frame["priority_name"]),
        "author": texts(frame["author_name"]),
        "assignee": texts(frame["assignee_name"]),
        "created": local_text(frame["created_at"], tz_name),
        "updated": local_text(frame["updated_at"], tz_name),
        "closed": local_text(frame["closed_at"], tz_name),
        "in_window": kinds.to_numpy(),
    }
    return pd.DataFrame(columns, columns=list(ROW_COLUMNS))

"""Everything /redmine shows for a date and project, as plain data: `build_redmine_view(...) -> RedmineView`.

Used by callbacks/redmine.py, exports.py (/export/redmine.csv) and the TV:

    view = build_redmine_view(engine, settings, day, project="Firmware", window="week", today=today)
    view.totals.open, view.totals.closed, view.totals.rejected     # now (Redmine's is_closed + rejected names)
    view.windows["day"].figures.created / .updated / .resolved / .kill_rate
    view.windows["week"].previous_figures, view.windows["month"].leaderboard
    view.open_by_status, view.open_by_project, view.open_by_assignee
    view.cumulative["created"], view.history
    window_rows(engine, settings, view, "activity")                  # the table rows of the selected window
    issue_rows(engine, settings, day, "week", "resolved", project)  # the same, read on their own (exports)

Reads are bounded as in views/cases.py. Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from metrics import redmine as issue_metrics
from metrics.series import comparison_months, cumulative_by_day_of_month, monthly_history
from metrics.windows import WINDOW_KINDS, Window, WindowKind, next_month_start, previous_window, window_for
from models import redmine_reads
from settings import Settings
from views.cases import local_text, span_for


@dataclass(frozen=True)
class IssueWindow:
    window: Window
    previous: Window
    figures: issue_metrics.IssueFigures
    previous_figures: issue_metrics.IssueFigures
    leaderboard: list[tuple[str, int]]


@dataclass(frozen=True)
class RedmineView:
    day: date
    project: str
    selected: WindowKind
    tz_name: str
    windows: dict[WindowKind, IssueWindow]
    totals: issue_metrics.StateTotals
    frame: pd.DataFrame = field(repr=False)
    open_by_status: list[tuple[str, int]] = field(default_factory=list)
    open_by_project: list[tuple[str, int]] = field(default_factory=list)
    open_by_assignee: list[tuple[str, int]] = field(default_factory=list)
    cumulative: dict[str, pd.DataFrame] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def selected_window(self) -> IssueWindow:
        return self.windows[self.selected]


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
) -> RedmineView:
    tz_name = settings.timezone
    rejected = settings.kpi.redmine.rejected_statuses
    frame = redmine_reads.issues_touching(engine, *span_for(day, tz_name), project)
    windows = {}
    for kind in WINDOW_KINDS:
        current = window_for(day, kind, tz_name)
        before = previous_window(current)
        windows[kind] = IssueWindow(
            window=current,
            previous=before,
            figures=issue_metrics.figures(frame, current),
            previous_figures=issue_metrics.figures(frame, before),
            leaderboard=issue_metrics.resolved_leaderboard(frame, current),
        )
    view = RedmineView(
        day=day,
        project=project,
        selected=window,
        tz_name=tz_name,
        windows=windows,
        totals=issue_metrics.totals_from_counts(redmine_reads.status_counts(engine, project), rejected),
        frame=frame,
        open_by_status=redmine_reads.open_counts(engine, "status_name", project),
        open_by_project=[] if project else redmine_reads.open_counts(engine, "project_name"),
        open_by_assignee=redmine_reads.open_counts(engine, "assignee_name", project),
    )
    if not charts:
        return view
    through = today or day
    months = comparison_months(day)
    last_day = next_month_start(months[0]) - pd.Timedelta(days=1)
    daily = redmine_reads.daily_counts(engine, months[-1], last_day, tz_name, project)
    monthly = redmine_reads.monthly_counts(engine, max(through, day), tz_name, project)
    cumulative = {
        name: cumulative_by_day_of_month(daily[name], months, through=through) for name in ("created", "resolved")
    }
    return replace(view, cumulative=cumulative, history=monthly_history(monthly["created"], monthly["resolved"]))


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


def window_rows(engine: Engine, settings: Settings, view: RedmineView, kpi: str) -> pd.DataFrame:
    window = view.selected_window.window
    if kpi == "open":
        return describe_rows(redmine_reads.open_issues(engine, view.project), window, settings, in_window=False)
    return describe_rows(issue_metrics.kpi_rows(view.frame, kpi, window), window, settings)


def issue_rows(
    engine: Engine, settings: Settings, day: date, window_kind: WindowKind, kpi: str, project: str = ""
) -> pd.DataFrame:
    """The rows behind one figure, read on their own (only that window's rows, or the open issues)."""
    window = window_for(day, window_kind, settings.timezone)
    if kpi == "open":
        return describe_rows(redmine_reads.open_issues(engine, project), window, settings, in_window=False)
    frame = redmine_reads.issues_touching(engine, window.start, window.end, project)
    return describe_rows(issue_metrics.kpi_rows(frame, kpi, window), window, settings)


def describe_rows(frame: pd.DataFrame, window: Window, settings: Settings, *, in_window: bool = True) -> pd.DataFrame:
    tz_name = settings.timezone
    frame = frame.sort_values(["updated_at", "id"], ascending=[False, False], na_position="last")
    redmine = settings.redmine
    source_ids = [str(value) for value in frame["source_id"]]
    rows = pd.DataFrame(
        {
            "id": frame["id"].astype("int64"),
            "issue_id": source_ids,
            "link": [redmine.issue_link(int(sid)) if redmine and sid.isdigit() else "" for sid in source_ids],
            "subject": frame["subject"].fillna(""),
            "project": frame["project_name"].fillna(""),
            "tracker": frame["tracker_name"].fillna(""),
            "status": frame["status_name"].fillna(""),
            "state": issue_metrics.state_of(frame, settings.kpi.redmine.rejected_statuses),
            "priority": frame["priority_name"].fillna(""),
            "author": frame["author_name"].fillna(""),
            "assignee": frame["assignee_name"].fillna(""),
            "created": local_text(frame["created_at"], tz_name),
            "updated": local_text(frame["updated_at"], tz_name),
            "closed": local_text(frame["closed_at"], tz_name),
            "in_window": (
                issue_metrics.row_kinds(frame, window)
                if in_window
                else pd.Series("Open", index=frame.index, dtype="object")
            ),
        },
        columns=list(ROW_COLUMNS),
    )
    return rows.reset_index(drop=True)

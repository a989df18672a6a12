"""What the views of the two tracker pages, /cases (VTiger cases) and /redmine (Redmine issues), compute the same
way: the counts are read from the roll-ups in one statement (`read_counts`: the one read path; the roll-ups always
exist, and say when they are being recomputed), each window column holds the window's figures, the previous
window's (over the same elapsed part of it while the window runs: metrics.windows.compare_with, at `now`) and a
leaderboard (`counted_window_columns`), and the monthly charts are running totals per day of month and a
per-month history (`with_charts`). What each figure counts is in the KPI catalogue (metrics/catalogue.py);
view_models/cases.py and view_models/redmine.py say which figures a page shows; `TrackerView` is the part of their
views the layouts and callbacks share.

    counts = read_counts(engine, "cases", group, day, tz_name, resolved, now=now)
    windows = counted_window_columns(day, tz_name, counter, now, read_partial)
    view = with_charts(view, today, daily=lambda first, last: ..., monthly=lambda through: ...)
    view.selected_window.figures, view.selector, view.cumulative["created"], view.history, view.recomputing

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.series import comparison_months, cumulative_by_day_of_month, monthly_history
from metrics.windows import (
    WINDOW_KINDS,
    Comparison,
    Window,
    WindowKind,
    compare_with,
    next_month_start,
    previous_window,
    window_for,
)
from models import rollups
from models.queries import data_version
from settings import Settings
from view_models.page_state import PageState
from view_models.url_query import parse_date

F = TypeVar("F")  # the figures of one window (metrics.cases.CaseFigures, metrics.redmine.IssueFigures)
V = TypeVar("V", bound="TrackerView")
Counts = pd.DataFrame  # columns "created" / "resolved": counts per local day or month


@dataclass(frozen=True)
class WindowColumn(Generic[F]):
    """One window column of a page: its figures, the previous window's (over `comparison.span`: the same elapsed
    part of it while this window is still running) and the leaderboard."""

    window: Window
    comparison: Comparison
    figures: F
    previous_figures: F
    leaderboard: list[tuple[str, int]]

    @property
    def previous(self) -> Window:
        return self.comparison.previous


@dataclass(frozen=True, kw_only=True)
class TrackerView(ABC, Generic[F]):
    """The part of a tracker page's view both pages have. `selector` is the chosen group or project."""

    day: date
    selected: WindowKind
    tz_name: str
    windows: dict[WindowKind, WindowColumn[F]]
    open_by_assignee: list[tuple[str, int]] = field(default_factory=list)
    open_by_status: list[tuple[str, int]] = field(default_factory=list)
    cumulative: dict[str, pd.DataFrame] = field(default_factory=dict)  # "created" / "resolved"
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    today: date | None = None  # what the charts count through: the running month is drawn as "so far"
    recomputing: bool = False  # the roll-ups are being rebuilt (TIMEZONE or the catalogue changed): say so

    @property
    @abstractmethod
    def selector(self) -> str:
        """The group or project shown ("" for all)."""

    @property
    def selected_window(self) -> WindowColumn[F]:
        return self.windows[self.selected]


@dataclass(frozen=True)
class TableBlock:
    """A block of a page's table as the grid asked for it (models.recent_rows.TableRequest)."""

    rows: pd.DataFrame  # the block's rows as people read them, in the table's order
    matching: int  # how many rows pass the grid's filter (all of them when it has none)
    total: int  # how many rows the view has (the card's figure)


def windows_of(day: date, tz_name: str) -> list[Window]:
    """Every window a page shows for `day`: day, week and month, and the window before each."""
    windows = [window_for(day, kind, tz_name) for kind in WINDOW_KINDS]
    return windows + [previous_window(window) for window in windows]


def comparisons_of(day: date, tz_name: str, now: datetime | None) -> list[Comparison]:
    """What the day, week and month of `day` are compared with at `now` (naive UTC)."""
    return [compare_with(window_for(day, kind, tz_name), now) for kind in WINDOW_KINDS]


def window_columns(
    day: date,
    tz_name: str,
    *,
    figures: Callable[[Window], F],
    leaderboard: Callable[[Window], list[tuple[str, int]]],
    now: datetime | None = None,
    partial_figures: Callable[[Comparison], F] | None = None,
) -> dict[WindowKind, WindowColumn[F]]:
    """Day, week and month of `day`, each with its figures, the previous window's and its leaderboard. A window
    running at `now` is compared with the previous one's same elapsed span: `partial_figures(comparison)`, or
    `figures(comparison.span)` when counting rows."""
    partial = partial_figures or (lambda comparison: figures(comparison.span))
    columns = {}
    for kind, comparison in zip(WINDOW_KINDS, comparisons_of(day, tz_name, now), strict=True):
        current = window_for(day, kind, tz_name)
        columns[kind] = WindowColumn(
            window=current,
            comparison=comparison,
            figures=figures(current),
            previous_figures=partial(comparison) if comparison.partial else figures(comparison.previous),
            leaderboard=leaderboard(current),
        )
    return columns


def counted_window_columns(
    day: date, tz_name: str, counter: Any, now: datetime | None, read_partial: Callable[[Comparison], Mapping[str, int]]
) -> dict[WindowKind, WindowColumn[Any]]:
    """`window_columns` from roll-up counts (metrics' CountedCases / CountedIssues): a partial comparison span is
    the whole days' counts plus what `read_partial(comparison)` counts from rows (`counter.partial_figures`)."""
    return window_columns(
        day,
        tz_name,
        figures=counter.figures,
        leaderboard=counter.resolved_leaderboard,
        now=now,
        partial_figures=lambda comparison: counter.partial_figures(comparison, read_partial(comparison)),
    )


def with_charts(
    view: V,
    today: date | None,
    *,
    daily: Callable[[date, date], Counts],
    monthly: Callable[[date], Counts],
) -> V:
    """The view with its monthly charts: created and resolved running totals per day of month for the day's month
    and the three before it (`daily(first_day, last_day)` counts), and created and resolved per month for all
    history (`monthly(through)` counts). Days after `today` are left empty."""
    through = today or view.day
    months = comparison_months(view.day)
    per_day = daily(*chart_days(view.day))
    per_month = monthly(max(through, view.day))
    cumulative = {
        name: cumulative_by_day_of_month(per_day[name], months, through=through) for name in ("created", "resolved")
    }
    history = monthly_history(per_month["created"], per_month["resolved"])
    return replace(view, cumulative=cumulative, history=history, today=today)


def with_rollup_charts(view: V, today: date | None, counts: rollups.ViewCounts, resolved: Sequence[str] | None) -> V:
    """with_charts from the roll-up counts the page read (`read_counts`); `resolved`: the statuses a resolved row
    must have now (None: any, Redmine's closed flag decided it)."""
    return with_charts(
        view,
        today,
        daily=lambda first, last: rollups.daily_counts(counts.per_day, first, last, resolved),
        monthly=lambda through: rollups.monthly_counts(counts.per_month, through, resolved),
    )


def read_counts(
    engine: Engine,
    source: str,
    selector: str,
    day: date,
    tz_name: str,
    resolved: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> rollups.ViewCounts:
    """Everything the page of `day` reads from the roll-ups (models/rollups.py), in one statement. With `now`,
    also the whole days of the previous windows' spans that running windows are compared with
    (`whole_day_windows`).

    The roll-ups always exist (`db upgrade` and start-up build them): never built (a database filled another
    way), they are built here once; built for another TIMEZONE or catalogue, they are rebuilt in the background
    and the counts come back marked `rebuilding` (the pages say the numbers are being recomputed)."""
    counts = _read_counts(engine, source, selector, day, tz_name, resolved, now)
    if counts.fingerprint == rollups.fingerprint(source, tz_name):
        return counts
    if counts.fingerprint is None:
        rollups.build_missing(engine, source, tz_name)
        return _read_counts(engine, source, selector, day, tz_name, resolved, now)
    rollups.rebuild_in_background(engine, source, tz_name)
    return replace(counts, rebuilding=True)


def _read_counts(
    engine: Engine,
    source: str,
    selector: str,
    day: date,
    tz_name: str,
    resolved: Sequence[str] | None,
    now: datetime | None,
) -> rollups.ViewCounts:
    current = [window_for(day, kind, tz_name) for kind in WINDOW_KINDS]  # the leaderboards' windows
    with engine.connect() as conn:
        return rollups.read_view_counts(
            conn,
            source,
            selector,
            windows=windows_of(day, tz_name) + whole_day_windows(comparisons_of(day, tz_name, now)),
            leaderboards=current,
            days=chart_days(day),
            resolved=resolved,
        )


def whole_day_windows(comparisons: Sequence[Comparison]) -> list[Window]:
    """The day windows counted in full in the partial comparisons' spans (their roll-ups are exact; the last,
    partial day is counted from its rows)."""
    days = {window.first_day: window for comparison in comparisons if comparison.partial for window in
            comparison.whole_days}  # fmt: skip
    return [days[day] for day in sorted(days)]


def chart_days(day: date) -> tuple[date, date]:
    """The first and last local day the per-day chart of `day` counts: its month and the three before it."""
    months = comparison_months(day)
    return months[-1], next_month_start(months[0]) - timedelta(days=1)


def open_rows(frame: pd.DataFrame) -> pd.Series:
    """The table's "in window" column for the open-now list: every row is there because it is open."""
    return pd.Series("Open", index=frame.index, dtype="object")


def record_links(settings: Settings, module: str, source_ids: Sequence[Any]) -> list[str]:
    """Each record's page in VTiger ("" for every one when no VTiger is configured, as with the demo data)."""
    vtiger = settings.vtiger
    return (
        [vtiger.record_link(module, str(source_id)) for source_id in source_ids] if vtiger else [""] * len(source_ids)
    )


def texts(values: pd.Series) -> list[str]:
    """A text column as people read it: "" where missing (None or NaN)."""
    return [
        value if isinstance(value, str) else "" if value is None or value != value else str(value)
        for value in values.tolist()
    ]


def local_text(timestamps: pd.Series, tz_name: str) -> np.ndarray:
    """Naive-UTC timestamps as "YYYY-MM-DD HH:MM" in TIMEZONE ("" when missing), in their order."""
    values = pd.DatetimeIndex(pd.to_datetime(timestamps))  # an index converts zones without Series' overhead
    if values.empty:
        return np.array([], dtype=object)
    local = values.tz_localize("UTC").tz_convert(tz_name).tz_localize(None).to_numpy("datetime64[m]")
    # numpy formats a few hundred times faster than strftime. A missing time is "NaT": test for it before the
    # date/time "T" becomes a space (which would leave "Na").
    text = np.datetime_as_string(local, unit="m")
    return np.where(text == "NaT", "", np.char.replace(text, "T", " ")).astype(object)


def table_query(engine: Engine, state: PageState, kpi: str) -> dict[str, Any]:
    """What a table's rows are, for the browser to hand back with each request for rows: the view, the figure
    and the data version (a new version makes the grid ask again, see assets/tables.js). The page's layout
    holds the first one, so the grid's first request for rows can be answered."""
    version = hashlib.sha1(repr(data_version(engine)).encode()).hexdigest()[:12]
    return {
        "date": state.day.isoformat(),
        "window": state.window,
        "selector": state.selector,
        "today": state.today.isoformat(),
        "kpi": kpi,
        "version": version,
    }


def state_of_query(query: dict[str, Any], kpis: Sequence[str]) -> tuple[PageState, str]:
    """The page state and figure of a `table_query` (which came back from the browser: checked, ValueError)."""
    window, kpi, selector = query.get("window"), query.get("kpi"), query.get("selector")
    if window not in WINDOW_KINDS or not isinstance(kpi, str) or kpi not in kpis or not isinstance(selector, str):
        raise ValueError(f"not a table view: {query!r}")
    day, today = parse_date(str(query.get("date"))), parse_date(str(query.get("today")))
    return PageState(day=day, window=window, selector=selector, follow_today=False, today=today), kpi

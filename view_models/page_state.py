"""The state of a dashboard page as its URL carries it: date, window and a selector (group or project).

`parse_page_query` turns a URL query (read by view_models/url_query.py) into a `PageState`, replacing every
malformed or unknown value by its default and saying so in `notices` (one short sentence each), so a bad link
shows the default view with a notice and never an error. `PageState.to_query` is the inverse: the query string a
link needs to reproduce the view. No date in the URL means "today" (`follow_today`), which moves on by itself at
midnight in TIMEZONE.

Shared by every page with the standard controls (cases, sales, redmine), their callbacks, the CSV exports and
the TV. Pure: must not import Dash, Flask, SQLAlchemy or sync/; the caller passes `today`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from urllib.parse import urlencode

from metrics.windows import WINDOW_KINDS, WindowKind, today_in
from view_models.url_query import parse_date

DEFAULT_WINDOW: WindowKind = "day"
# The charts look three months back from the selected month; dates before this make no sense for the data.
EARLIEST_DATE = date(2000, 1, 1)


@dataclass(frozen=True)
class PageState:
    """What a page shows. `selector` is the group (cases, sales) or project (redmine); "" means all."""

    day: date
    window: WindowKind
    selector: str
    follow_today: bool  # no date in the URL: the page shows today and rolls over at midnight
    today: date
    notices: tuple[str, ...] = field(default=())
    # When a window of `day` is still running: now (naive UTC, to the minute), which running windows are compared
    # at (metrics.windows.compare_with); None otherwise. Set by the page callback, not carried in the URL.
    now: datetime | None = None

    def to_query(self, selector_key: str = "group") -> str:
        """The URL query (with its leading "?", or "" for the default view) that reproduces this state."""
        params: dict[str, str] = {}
        if not self.follow_today:
            params["date"] = self.day.isoformat()
        if self.window != DEFAULT_WINDOW:
            params["window"] = self.window
        if self.selector:
            params[selector_key] = self.selector
        return "?" + urlencode(params) if params else ""

    def moved_to(self, day: date, *, follow_today: bool = False) -> PageState:
        """The same view on another day (notices dropped: the user acted)."""
        return replace(self, day=day, follow_today=follow_today, notices=())

    @property
    def can_go_forward(self) -> bool:
        return self.day < self.today


def parse_page_query(
    query: Mapping[str, str],
    today: date,
    selectors: Collection[str],
    *,
    selector_key: str = "group",
) -> PageState:
    """Validate a page's URL query against today's date and the known groups/projects (`selectors`)."""
    notices: list[str] = []
    day, follow = today, True
    raw_date = (query.get("date") or "").strip()
    if raw_date:
        try:
            day, follow = parse_date(raw_date), False
        except ValueError:
            notices.append(f"“{raw_date}” is not a date like 2026-11-20: showing today.")
        else:
            if day > today:
                notices.append(f"{raw_date} is in the future: showing today.")
                day, follow = today, True
            elif day < EARLIEST_DATE:
                notices.append(f"{raw_date} is before {EARLIEST_DATE.year}: showing today.")
                day, follow = today, True

    window: WindowKind = DEFAULT_WINDOW
    raw_window = (query.get("window") or "").strip()
    if raw_window:
        if raw_window in WINDOW_KINDS:
            window = raw_window
        else:
            notices.append(f"“{raw_window}” is not a window (day, week or month): showing {DEFAULT_WINDOW}.")

    selector = (query.get(selector_key) or "").strip()
    if selector and selector not in selectors:
        notices.append(f"There is no {selector_key} “{selector}”: showing all.")
        selector = ""
    return PageState(day, window, selector, follow, today, tuple(notices))


def local_today(tz_name: str, now_utc: datetime | None = None) -> date:
    """Today in TIMEZONE (re-exported so callers need only this module)."""
    return today_in(tz_name, now_utc)


def export_href(
    page: str, state: PageState, kpi: str, *, window: str | None = None, selector_key: str = "group"
) -> str:
    """The /export/<page>.csv link for the rows behind a figure of this view (date always explicit)."""
    params = {"date": state.day.isoformat(), "window": window or state.window, "kpi": kpi}
    if state.selector:
        params[selector_key] = state.selector
    return f"/export/{page}.csv?{urlencode(params)}"

"""/tv callbacks. Every output id starts with "tv-" (the kiosk token's allow-list).

- `tv.tick` (clientside, assets/tv.js): the clock every second, the local day, the periodic full reload.
- `render_slide` (server): on each rotation tick, data refresh tick, new day or new data version (tv-live, written
  by assets/tv-live.js when GET /tv/data-version changes), picks the slide, reads today's
  view through views/ (cached until a sync run starts or finishes, or the day changes) and the sync health of the
  slide's sources, and fills the frame. When nothing it shows has changed it sends no update at all, so a refresh
  never re-renders (no flicker, no churn in a browser that runs for weeks).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from sqlalchemy import Engine

from layouts import tv as tv_layout
from layouts.freshness import assess_freshness, banner_text, describe, local_time
from metrics.windows import Window, comparison_moment, previous_window, today_in
from models.db import utcnow
from models.queries import data_version, module_health
from settings import Settings
from sync.scrub import Scrubber
from web.runtime import current_runtime

log = logging.getLogger(__name__)

PANEL_CACHE_SIZE = 32


class PanelCache:
    """Built slides per database engine, by (page, selector, day, data version). The data only changes when a sync
    run starts or finishes, so every TV on the wall shares one build per slide per sync."""

    def __init__(self, size: int = PANEL_CACHE_SIZE) -> None:
        self.size = size
        self.engines: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple, Any]] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def get_or_build(self, engine: Engine, key: tuple, build: Callable[[], Any]) -> Any:
        with self.lock:
            items = self.engines.setdefault(engine, OrderedDict())
            if key in items:
                items.move_to_end(key)
                return items[key]
        value = build()
        with self.lock:
            items[key] = value
            while len(items) > self.size:
                items.popitem(last=False)
        return value


PANELS = PanelCache()


def build_panel(
    engine: Engine, settings: Settings, slide: tv_layout.Slide, day: date, now: datetime | None = None
) -> Any:
    """Today's slide for one page and group (or project), through the pages' own view builders: today's figures
    are compared with yesterday's until the same time (`now`, naive UTC, to the minute); yesterday's view too where
    the slide needs it (the sales slide's board of who reached the goal, a quiet morning's context)."""
    if slide.page == "sales":
        from views.sales import build_sales_view

        view = build_sales_view(engine, settings, day, slide.selector, "day", today=day, now=now)
        before = build_sales_view(engine, settings, _day_before(view.window), slide.selector, "day", today=day)
        return tv_layout.sales_panel(view, before)
    if slide.page == "cases":
        from views.cases import build_cases_view

        def cases_of(when: date) -> Any:
            return build_cases_view(
                engine, settings, when, group=slide.selector, window="day", today=day, charts=False, now=now
            )

        view = cases_of(day)
        if tv_layout.cases_quiet(view):
            return tv_layout.quiet_cases_panel(view, cases_of(_day_before(view.windows["day"].window)))
        return tv_layout.cases_panel(view)
    from views.redmine import build_redmine_view

    def issues_of(when: date) -> Any:
        return build_redmine_view(
            engine, settings, when, project=slide.selector, window="day", today=day, charts=False, now=now
        )

    view = issues_of(day)
    if tv_layout.redmine_quiet(view):
        return tv_layout.quiet_redmine_panel(view, issues_of(_day_before(view.windows["day"].window)))
    return tv_layout.redmine_panel(view)


def all_label(settings: Settings, page: str) -> str:
    """What a slide without a group or project shows, in the words of the page it stands for."""
    from layouts.cases import PAGE as CASES
    from layouts.redmine import PAGE as REDMINE
    from layouts.sales import all_groups_label

    if page == "sales":
        return all_groups_label(settings.kpi.sales)
    return (REDMINE if page == "redmine" else CASES).all_label


def _day_before(window: Window) -> date:
    """The day of the window the pages compare today's with (metrics.windows.previous_window: yesterday)."""
    return previous_window(window).first_day


def configured(settings: Settings, sources: tuple[str, ...]) -> list[str]:
    from sync.service import configured_sources  # pure: settings in, names out

    return [source for source in configured_sources(settings) if source in sources]


def register(app: dash.Dash) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="tv", function_name="tick"),
        Output("tv-clock", "children"),
        Output("tv-day", "data"),
        Input("tv-tick", "n_intervals"),
        State("tv-config", "data"),
        State("tv-clock", "children"),
        State("tv-day", "data"),
    )

    @app.callback(
        Output("tv-title", "children"),
        Output("tv-group", "children"),
        Output("tv-date", "children"),
        Output("tv-panel", "children"),
        Output("tv-banner", "children"),
        Output("tv-banner", "className"),
        Output("tv-sync", "children"),
        Output("tv-dots", "children"),
        Output("tv-progress", "children"),
        Output("tv-signature", "data"),
        Input("tv-rotate", "n_intervals"),
        Input("tv-refresh", "n_intervals"),
        Input("tv-day", "data"),
        Input("tv-live", "data"),
        State("tv-config", "data"),
        State("tv-signature", "data"),
    )
    def render_slide(rotation, _refresh, _client_day, _live, config_data, shown):  # type: ignore[no-untyped-def]
        runtime = current_runtime()
        settings, engine = runtime.settings, runtime.engine
        config = tv_layout.TvConfig.from_store(config_data, testing=settings.testing)  # the browser's copy: checked
        rotation = rotation if isinstance(rotation, int) and not isinstance(rotation, bool) else 0
        now = utcnow() + timedelta(seconds=config.clock_offset_seconds)
        day = today_in(settings.timezone, now)
        compared_at = comparison_moment(day, settings.timezone, now)  # "vs yesterday by 10:42" moves on
        index, slide = config.slide_at(rotation)
        sources = configured(settings, slide.sources)
        freshness = assess_freshness(module_health(engine, sources), now, settings.sync_interval_minutes, sources)
        version = data_version(engine)
        signature = [
            index,
            day.isoformat(),
            *(str(part) for part in version),
            freshness.level,
            str(freshness.as_of),
            now.strftime("%Y-%m-%d %H") if not freshness.ok else "",  # the banner's "2 h ago" moves on
            str(compared_at),
        ]
        if signature == shown:
            raise dash.exceptions.PreventUpdate
        try:
            panel = PANELS.get_or_build(
                engine,
                (slide.page, slide.selector, day, compared_at, version),
                lambda: build_panel(engine, settings, slide, day, compared_at),
            )
        except Exception:
            # Keep showing the last good slide: a wall screen must not turn into an error page.
            log.exception("TV: cannot build the %s slide for %s", slide.page, day)
            raise dash.exceptions.PreventUpdate from None

        everyone = all_label(settings, slide.page)
        if freshness.ok:
            banner_children, banner_class = [], "tv-banner tv-hidden"
        else:
            details = Scrubber.for_settings(settings).scrub(
                describe(freshness, now, settings.timezone)
            )  # quotes errors
            banner_children = tv_layout.banner(banner_text(freshness), details)
            banner_class = f"tv-banner tv-banner-{freshness.level}"
        if freshness.as_of is None:
            sync_text = "Not synced yet"
        else:
            long_ago = now - freshness.as_of > timedelta(hours=20)  # then the date matters too
            sync_text = f"Last sync {local_time(freshness.as_of, settings.timezone, with_date=long_ago)}"
        return (
            slide.title,
            slide.selector or everyone,
            f"{day:%A} {day.day} {day:%B %Y}",
            tv_layout.slide_frame(panel, entering=not shown or shown[0] != index),
            banner_children,
            banner_class,
            tv_layout.sync_line(sync_text, freshness.level),
            tv_layout.dots(len(config.slides), index),
            tv_layout.progress(len(config.slides), rotation or 0),
            signature,
        )

"""/tv callbacks. Every output id starts with "tv-" (the kiosk token's allow-list).

- `tv.tick` (clientside, assets/tv.js): the clock every second, the local day, the periodic full reload.
- assets/tv-screen.js: "Reconnecting…" while the server cannot be reached, the goal celebrations (tv-goals).
- assets/tv-live.js: polls GET /tv/data-version and writes a new version into tv-live; reports the screen.
- `render_slide` (server): on each rotation tick, data refresh tick, new day or new data version (tv-live), asks
  which slides the screen shows now (a named screen's own rotation, read afresh every time, so a change reaches the
  wall without anyone touching it; else the URL's), sets the rotation tick to the slide's seconds, picks the slide,
  reads today's view through view_models/ (in the app's cache, web/cache.py, until the data version or the day
  changes) and the sync health of the slide's sources, and fills the frame. When nothing it shows has changed it
  sends no update at all, so a refresh never re-renders (no flicker, no churn in a browser that runs for weeks).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State
from sqlalchemy import Engine

from layouts import tv as tv_layout
from layouts.freshness import assess_freshness, banner_text, describe, local_time
from metrics.windows import Window, comparison_moment, previous_window, to_local_datetime, today_in
from models.db import utcnow
from models.queries import data_version, module_health
from settings import Settings
from sync.scrub import Scrubber
from view_models.tv_rotation import ScreenRotation
from view_models.tv_state import Slide, TvConfig
from web.cache import cached
from web.runtime import current_runtime

log = logging.getLogger(__name__)


def sales_today(
    engine: Engine, settings: Settings, selector: str, day: date, now: datetime | None, version: Any
) -> Any:
    """Today's sales view of a group, shared by the sales slide and the goal celebrations (one build per sync)."""
    from view_models.sales import build_sales_view

    return cached(
        "tv-sales-view",
        (selector, day, now),
        version,
        lambda: build_sales_view(engine, settings, day, selector, "day", today=day, now=now),
    )


def build_panel(
    engine: Engine,
    settings: Settings,
    slide: Slide,
    day: date,
    now: datetime | None = None,
    version: Any = None,
) -> Any:
    """Today's slide for one page and group (or project), through the pages' own view builders: today's figures
    are compared with yesterday's until the same time (`now`, naive UTC, to the minute); yesterday's view too where
    the slide needs it (the sales slide's board of who reached the goal, a quiet morning's context)."""
    if slide.page == "sales":
        from metrics.pace import expected_by
        from view_models.sales import build_sales_view

        view = sales_today(engine, settings, slide.selector, day, now, version)
        before = build_sales_view(engine, settings, _day_before(view.window), slide.selector, "day", today=day)
        expected = expected_by(settings, day, view.goal.total, now or utcnow())
        return tv_layout.sales_panel(view, before, expected)
    if slide.page == "support":
        from view_models.support import build_support_view

        view = build_support_view(engine, settings, day, slide.selector, "day", today=day, now=now)
        return tv_layout.support_panel(view)
    if slide.page == "cases":
        from view_models.cases import build_cases_view

        def cases_of(when: date) -> Any:
            return build_cases_view(
                engine, settings, when, group=slide.selector, window="day", today=day, charts=False, now=now
            )

        view = cases_of(day)
        if tv_layout.cases_quiet(view):
            return tv_layout.quiet_cases_panel(view, cases_of(_day_before(view.windows["day"].window)))
        return tv_layout.cases_panel(view)
    from view_models.redmine import build_redmine_view

    def issues_of(when: date) -> Any:
        return build_redmine_view(
            engine, settings, when, project=slide.selector, window="day", today=day, charts=False, now=now
        )

    view = issues_of(day)
    if tv_layout.redmine_quiet(view):
        return tv_layout.quiet_redmine_panel(view, issues_of(_day_before(view.windows["day"].window)))
    return tv_layout.redmine_panel(view)


def goals_reached(
    engine: Engine, settings: Settings, selectors: list[str], day: date, now: datetime | None, version: Any
) -> list[str]:
    """Who has reached today's goal in the sales groups the screen shows (from the sales slides' own views)."""

    def reached(selector: str) -> tuple[str, ...]:
        return tv_layout.SalesDay.of(sales_today(engine, settings, selector, day, now, version)).reached

    names: set[str] = set()
    for selector in selectors:
        names.update(cached("tv-goals", (selector, day, now), version, partial(reached, selector)))
    return sorted(names)


def screen_of(engine: Engine, settings: Settings, config: TvConfig) -> ScreenRotation | None:
    """The named screen's own rotation: a kiosk's (by its token's name), or the one a signed-in person previews
    with `screen=`; None shows the URL's slides."""
    from web.kiosk import screen_rotation
    from web.viewer import current_viewer

    viewer = current_viewer()
    name = viewer.name if viewer is not None and viewer.is_kiosk else config.screen
    if not name:
        return None
    try:
        return screen_rotation(engine, settings, name)
    except Exception:  # the database or kpi.toml: keep the URL's slides rather than a dead screen
        log.exception("TV: cannot read the rotation of screen %s", name)
        return None


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

    app.clientside_callback(  # "Reconnecting…" and the goal celebrations (assets/tv-screen.js)
        ClientsideFunction(namespace="tvScreen", function_name="goals"),
        Output("tv-celebrate", "title"),
        Input("tv-goals", "data"),
        State("tv-config", "data"),
    )

    @app.callback(
        output={
            "title": Output("tv-title", "children"),
            "group": Output("tv-group", "children"),
            "date": Output("tv-date", "children"),
            "panel": Output("tv-panel", "children"),
            "banner": Output("tv-banner", "children"),
            "banner_class": Output("tv-banner", "className"),
            "sync": Output("tv-sync", "children"),
            "dots": Output("tv-dots", "children"),
            "progress": Output("tv-progress", "children"),
            "signature": Output("tv-signature", "data"),
            "interval": Output("tv-rotate", "interval"),
            "goals": Output("tv-goals", "data"),
        },
        inputs={
            "rotation": Input("tv-rotate", "n_intervals"),
            "refresh": Input("tv-refresh", "n_intervals"),
            "client_day": Input("tv-day", "data"),
            "live": Input("tv-live", "data"),
        },
        state={
            "config_data": State("tv-config", "data"),
            "shown": State("tv-signature", "data"),
            "interval": State("tv-rotate", "interval"),
        },
    )
    def render_slide(
        rotation: object, config_data: object, shown: list[Any] | None, interval: int | None, **_ticks: object
    ) -> dict[str, Any]:
        runtime = current_runtime()
        settings, engine = runtime.settings, runtime.engine
        config = TvConfig.from_store(config_data, testing=settings.testing)  # the browser's copy: checked
        rotation = rotation if isinstance(rotation, int) and not isinstance(rotation, bool) else 0
        now = utcnow() + timedelta(seconds=config.clock_offset_seconds)
        day = today_in(settings.timezone, now)
        compared_at = comparison_moment(day, settings.timezone, now)  # "vs yesterday by 10:42" moves on
        screen = screen_of(engine, settings, config)
        slides, seconds = config.rotation_at(screen, to_local_datetime(now, settings.timezone).time())
        index = rotation % len(slides)
        slide, slide_seconds = slides[index], seconds[index]
        sources = configured(settings, slide.sources)
        freshness = assess_freshness(module_health(engine, sources), now, settings.sync_interval_minutes, sources)
        version = data_version(engine)
        signature = [
            f"{index}:{slide.page}:{slide.selector}",
            f"{len(slides)}:{slide_seconds}",
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
            panel = cached(
                "tv-slide",
                (slide.page, slide.selector, day, compared_at),
                version,
                lambda: build_panel(engine, settings, slide, day, compared_at, version),
            )
            sales = sorted({item.selector for item in (screen.slides if screen else slides) if item.page == "sales"})
            reached = goals_reached(engine, settings, sales, day, compared_at, version) if sales else []
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
        return {
            "title": slide.title,
            "group": slide.selector or everyone,
            "date": f"{day:%A} {day.day} {day:%B %Y}",
            "panel": tv_layout.slide_frame(panel, entering=not shown or shown[0] != signature[0]),
            "banner": banner_children,
            "banner_class": banner_class,
            "sync": tv_layout.sync_line(sync_text, freshness.level),
            "dots": tv_layout.dots(len(slides), index),
            "progress": tv_layout.progress(len(slides), rotation, slide_seconds),
            "signature": signature,
            "interval": slide_seconds * 1000 if interval != slide_seconds * 1000 else dash.no_update,
            "goals": {"day": day.isoformat(), "people": reached},
        }

"""How fresh the data is, and the two ways pages say it: the navbar badge (every page) and the TV's banner.

`assess_freshness` turns the sync health of the configured sources (models.queries.module_health) into one
verdict: fresh, stale (the last success of some module is older than three sync intervals), failed (the latest
finished run of some module failed) or never (nothing has synced successfully yet). It is pure: the caller
passes `now` (naive UTC, like the database), so tests and the TV's injected clock decide what "now" is.

Must not import callbacks/, models' SQL functions or sync/ (values in, components out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dash import dcc, html

from layouts.components import extra_props
from models.queries import ModuleHealth

Level = Literal["fresh", "stale", "failed", "never"]
STALE_AFTER_INTERVALS = 3  # the rule: older than three sync intervals is stale


@dataclass(frozen=True)
class Freshness:
    level: Level
    as_of: datetime | None  # naive UTC: the oldest "last success" among the modules, i.e. what the data covers
    newest_success: datetime | None  # naive UTC: the most recent success of any module
    problems: tuple[str, ...]  # one sentence per problem of a source (failed modules, stale data)
    threshold: timedelta

    @property
    def ok(self) -> bool:
        return self.level == "fresh"


def assess_freshness(
    health: Sequence[ModuleHealth], now: datetime, sync_interval_minutes: int, sources: Sequence[str] | None = None
) -> Freshness:
    """The verdict over the modules of `sources` (all when None). Naive UTC throughout."""
    threshold = timedelta(minutes=STALE_AFTER_INTERVALS * sync_interval_minutes)
    modules = [item for item in health if sources is None or item.source in sources]
    successes = [item.last_success_at for item in modules if item.last_success_at is not None]
    if not successes:
        return Freshness("never", None, None, ("No sync has completed successfully yet.",), threshold)
    problems: list[str] = []
    failed = stale = False
    for source in sorted({item.source for item in modules}):
        mine = [item for item in modules if item.source == source]
        failing = [item for item in mine if item.failing and item.last_finished is not None]
        if failing:
            failed = True
            names = ", ".join(item.module for item in failing)
            last = failing[0].last_finished
            error = _first_line(last.error) if last is not None else ""  # never None: `failing` keeps finished runs
            problems.append(f"{source}: the last sync of {names} failed ({error}).")
        never = [item.module for item in mine if item.last_success_at is None]
        if never:
            stale = True
            problems.append(f"{source}: {', '.join(never)} never synced successfully.")
        oldest = min((item.last_success_at for item in mine if item.last_success_at is not None), default=None)
        if oldest is not None and now - oldest > threshold:
            stale = True
            problems.append(f"{source}: last success {_ago(now - oldest)} ago.")
    level: Level = "failed" if failed else "stale" if stale else "fresh"
    return Freshness(level, min(successes), max(successes), tuple(problems), threshold)


def _first_line(error: str) -> str:
    line = (error or "no message").strip().splitlines()[0] if (error or "").strip() else "no message"
    return line if len(line) <= 160 else line[:157] + "…"


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def local_time(moment_utc: datetime | None, tz_name: str, *, with_date: bool = False) -> str:
    """A naive-UTC moment as local "14:05" (or "Mon 3 Mar 14:05"); "never" for None."""
    if moment_utc is None:
        return "never"
    local = moment_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name))
    return local.strftime("%a %d %b %H:%M") if with_date else local.strftime("%H:%M")


def describe(freshness: Freshness, now: datetime, tz_name: str) -> str:
    """One sentence: when the data was last synced and what is wrong, if anything."""
    if freshness.as_of is None:
        return "No sync has completed successfully yet."
    same_day = now - freshness.as_of < timedelta(hours=20)
    when = local_time(freshness.as_of, tz_name, with_date=not same_day)
    text = f"Last successful sync {when} ({_ago(now - freshness.as_of)} ago)."
    return " ".join([text, *freshness.problems])


# --- components -----------------------------------------------------------------------------------------------

LABELS: dict[Level, str] = {"fresh": "Synced", "stale": "Stale", "failed": "Sync failed", "never": "Never synced"}


def badge(freshness: Freshness, now: datetime, tz_name: str, word: str | None = None) -> dcc.Link:
    """The navbar badge: a coloured dot, a word (the level's, unless `word` says more) and the last sync time;
    links to /status for the details."""
    same_day = freshness.as_of is not None and now - freshness.as_of < timedelta(hours=20)
    when = local_time(freshness.as_of, tz_name, with_date=not same_day) if freshness.as_of else ""
    return dcc.Link(
        [
            html.Span(className="freshness-dot", **extra_props({"aria-hidden": "true"})),
            html.Span(word or LABELS[freshness.level], className="freshness-word"),
            html.Span(when, className="freshness-time") if when else None,
        ],
        href="/status",
        className=f"freshness freshness-{freshness.level}",
        title=describe(freshness, now, tz_name),
        id="freshness-link",
    )


def banner_text(freshness: Freshness) -> str:
    """The TV's banner headline (empty when the data is fresh)."""
    if freshness.level == "failed":
        return "The last sync failed: these numbers may be out of date"
    if freshness.level == "stale":
        return "Data is stale: no successful sync for over " + _ago(freshness.threshold)
    if freshness.level == "never":
        return "No data synced yet"
    return ""

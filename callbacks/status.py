"""/status callbacks: read sync health and the last runs through models/, work out the next run, show the stage
rules warning (view_models.sales.stage_warning, so it appears as soon as a sync stores the picklist), and start a sync
when "Sync now" is pressed.

"Sync now" enqueues an RQ job when Redis is configured (sync.jobs.enqueue_sync, which refuses duplicates), wakes
the embedded scheduler when this process runs one, and otherwise syncs on a background thread. It is refused,
with a message, while any configured source is locked by a running sync.
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, html
from sqlalchemy import Engine

from layouts.components import stage_rules_warning
from layouts.status import digest_section, runs_table, screens_table, status_table, sync_message
from models.db import utcnow, write_refusal
from models.queries import (
    MODULE_TABLES,
    ModuleHealth,
    SyncRun,
    data_version,
    live_row_counts,
    module_health,
    recent_runs,
)
from settings import Settings
from sync.scrub import Scrubber
from view_models.sales import stage_warning
from web.runtime import Runtime, current_runtime

log = logging.getLogger(__name__)


# --- formatting ------------------------------------------------------------------------------------------------


def when(moment: datetime | None, tz_name: str) -> str:
    """Naive UTC as local "2026-03-04 14:05:09"; "never" for None."""
    if moment is None:
        return "never"
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M:%S")


def duration(run: SyncRun | None) -> str:
    if run is None:
        return "—"
    seconds = run.duration_seconds
    if seconds is None:
        return "running"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "due now"
    minutes = int(seconds // 60)
    return f"in {minutes} min" if minutes else f"in {int(seconds)} s"


# --- next run ---------------------------------------------------------------------------------------------------


def scheduled_next_runs(settings: Settings) -> dict[str, datetime]:
    """Next enqueue time per source from `rq cron` (its jobs are named "sync-<source>"), naive UTC; empty when
    Redis is not configured, unreachable, or no cron scheduler is alive."""
    if not settings.uses_redis:
        return {}
    try:
        from redis import Redis
        from rq.cron import CronScheduler

        connection = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            schedulers = CronScheduler.all(connection)
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - the estimate below still answers; the page must not fail on Redis
        log.info("cannot read the rq cron schedule: %s", exc)
        return {}
    found: dict[str, datetime] = {}
    for scheduler in schedulers:
        for job in scheduler.get_jobs():
            if job.name.startswith("sync-") and job.next_enqueue_time and job.next_enqueue_time != datetime.max:
                moment = job.next_enqueue_time
                if moment.tzinfo is not None:
                    moment = moment.astimezone(UTC).replace(tzinfo=None)
                source = job.name.removeprefix("sync-")
                found[source] = min(found.get(source, moment), moment)
    return found


def next_run_text(source: str, health: list[ModuleHealth], settings: Settings, scheduled: dict[str, datetime]) -> str:
    """The scheduled next run when rq cron says it; else an estimate (last start + interval), marked "≈"."""
    now = utcnow()
    mine = [item for item in health if item.source == source]
    if any(item.running for item in mine):
        return "running now"
    if source in scheduled:
        return f"{when(scheduled[source], settings.timezone)[11:16]} ({relative(scheduled[source], now)})"
    if not mine:
        return "—"
    estimate = max(item.last_run.started_at for item in mine) + timedelta(minutes=settings.sync_interval_minutes)
    return f"≈ {when(estimate, settings.timezone)[11:16]} ({relative(estimate, now)})"


# --- rows ------------------------------------------------------------------------------------------------------

_counts: weakref.WeakKeyDictionary[Engine, tuple[object, dict[str, int]]] = weakref.WeakKeyDictionary()
_counts_lock = threading.Lock()


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Live rows per table, counted again only when a sync run started or finished since the last count: the page
    polls every few seconds, and counting millions of rows that often would load the database for nothing."""
    engine = runtime.engine
    version = data_version(engine)
    with _counts_lock:
        cached = _counts.get(engine)  # (data version, rows per table)
    if cached is not None and cached[0] == version:
        return cached[1]
    counts = live_row_counts(engine)
    with _counts_lock:
        _counts[engine] = (version, counts)
    return counts


def module_rows(runtime: Runtime) -> list[dict[str, Any]]:
    settings, engine = runtime.settings, runtime.engine
    scrub = Scrubber.for_settings(settings)  # again here: rows stored before the scrubber existed
    health = module_health(engine)
    counts = row_counts(runtime)
    scheduled = scheduled_next_runs(settings)
    rows: list[dict[str, Any]] = []
    for item in health:
        finished = item.last_finished
        failure = item.last_failure
        table = MODULE_TABLES.get((item.source, item.module), "")
        rows.append(
            {
                "Source": item.source,
                "Module": item.module,
                "Rows": f"{counts[table]:,}" if table in counts else "—",
                "Last run": f"{when(item.last_run.started_at, settings.timezone)} ({item.last_run.trigger or '—'})",
                "Result": item.last_run.status,
                "Last success": when(item.last_success_at, settings.timezone),
                "Last error": f"{when(failure.finished_at, settings.timezone)}: {scrub(failure.error or 'no message')}"
                if failure
                else "",
                "Inserted": finished.rows_inserted if finished else "—",
                "Updated": finished.rows_updated if finished else "—",
                "Deleted": finished.rows_deleted if finished else "—",
                "Duration": duration(finished),
                "Next run": next_run_text(item.source, health, settings, scheduled),
            }
        )
    return rows


def run_rows(runtime: Runtime, limit: int = 50) -> list[dict[str, Any]]:
    tz = runtime.settings.timezone
    scrub = Scrubber.for_settings(runtime.settings)
    return [
        {
            "#": run.id,
            "Source": run.source,
            "Module": run.module,
            "Trigger": run.trigger or "—",
            "Started": when(run.started_at, tz),
            "Duration": duration(run),
            "Result": run.status,
            "Inserted": run.rows_inserted,
            "Updated": run.rows_updated,
            "Deleted": run.rows_deleted,
            "Requests": run.requests,
            "Error": scrub(run.error or ""),
        }
        for run in recent_runs(runtime.engine, limit)
    ]


INTERRUPTED_TEXT = "the process stopped while sending: not sent again, as it may have gone out"


def digest_rows(runtime: Runtime, limit: int = 20) -> list[dict[str, object]]:
    """The digest's recent runs as display strings (a run cut off mid-send shows as interrupted)."""
    from digest.runs import recent_runs as recent_digest_runs

    tz = runtime.settings.timezone
    now = utcnow()
    return [
        {
            "Slot": when(run.slot_at, tz),
            "Trigger": run.trigger,
            "Day": run.digest_date.isoformat(),
            "Recipient": run.recipient,
            "Result": run.shown_status(now),
            "Attempts": run.attempts,
            "Finished": when(run.finished_at, tz) if run.finished_at else "—",
            "Error": run.error or INTERRUPTED_TEXT if run.shown_status(now) == "interrupted" else run.error,
        }
        for run in recent_digest_runs(runtime.engine, limit)
    ]


def digest_schedule_text(settings: Settings, now: datetime) -> str:
    """ "Next digest Fri 4 Dec 07:30 to 2 addresses and the chat." or why there is none."""
    from digest.schedule import next_slot
    from digest.send import digest_targets

    targets = digest_targets(settings)
    if not targets:
        return "No digest configured: add [[digest.recipients]] to kpi.toml or set DIGEST_WEBHOOK_URL."
    addresses = sum(1 for target in targets if not target.is_chat)
    who = [f"{addresses} address{'es' if addresses != 1 else ''}"] if addresses else []
    who += ["the chat"] if len(targets) > addresses else []
    slot = next_slot(settings.kpi.digest, settings.timezone, now)
    if slot is None:
        return f"The digest goes to {' and '.join(who)} on no day of the week."
    local = slot.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.timezone))
    return f"Next digest {local:%a} {local.day} {local:%b %H:%M} to {' and '.join(who)}."


def mode_text(settings: Settings) -> str:
    every = f"every {settings.sync_interval_minutes} min"
    if settings.uses_redis:
        return f"Synced by RQ workers ({every}, scheduled by rq cron)."
    if settings.embedded_sync:
        return f"Synced by the web process ({every})."
    return f"Automatic sync is off in this process; the schedule would run {every}."


def screen_rows(runtime: Runtime) -> list[dict[str, Any]]:
    """The kiosk screens as display strings (web/screens.py decides online / offline / revoked)."""
    from models.screens import screen_states
    from web.runtime import runtime_now

    tz = runtime.settings.timezone
    served = runtime.app_version
    rows: list[dict[str, Any]] = []
    for screen in screen_states(runtime.engine, runtime_now()):
        version = screen.version or "—"
        if screen.version and served and screen.version != served:
            version += f" (this server runs {served}: the TV reloads at its next full reload)"
        problem = ""
        if screen.failed:
            problem = f"page error at {when(screen.error_at, tz)}: {screen.error}"
        if screen.state == "revoked":
            problem = "sign-in revoked: the TV shows a refusal page" + (f"; {problem}" if problem else "")
        rows.append(
            {
                "Screen": screen.name,
                "State": screen.state,
                "Last seen": when(screen.last_seen, tz),
                "Slide": screen.slide or "—",
                "Size": screen.size or "—",
                "Version": version,
                "Problem": problem,
            }
        )
    return rows


# --- sync now --------------------------------------------------------------------------------------------------


def busy_sources(runtime: Runtime) -> list[str]:
    """Configured sources a sync is running for right now (their lock is held), or about to (our thread)."""
    from sync.engine import is_locked
    from sync.service import configured_sources

    busy = [source for source in configured_sources(runtime.settings) if is_locked(runtime.engine, source)]
    thread = runtime.manual_sync
    if not busy and isinstance(thread, threading.Thread) and thread.is_alive():
        busy = ["all sources"]
    return busy


def start_sync(runtime: Runtime) -> tuple[str, str]:
    """Start a sync of every configured source; (message, alert colour). Never blocks on the sync itself."""
    from sync.scheduler import sync_once
    from sync.service import configured_sources

    settings = runtime.settings
    sources = configured_sources(settings)
    if not sources:
        return "No source is configured: set VTIGER_URL or REDMINE_URL and their credentials.", "warning"
    busy = busy_sources(runtime)
    if busy:
        return f"Refused: a sync is already running ({', '.join(busy)}). Wait for it to finish.", "warning"
    if settings.uses_redis:
        from sync.jobs import enqueue_sync

        queued: list[str] = []
        pending: list[str] = []
        for source in sources:
            try:
                job = enqueue_sync(settings.redis_url, source)
            except Exception as exc:  # noqa: BLE001 - Redis down: say so instead of a broken page
                return f"Could not reach Redis to queue the sync ({exc}); check REDIS_URL.", "danger"
            (queued if job is not None else pending).append(source)
        if not queued:
            return f"Refused: a sync is already queued or running ({', '.join(pending)}).", "warning"
        extra = f"; already pending: {', '.join(pending)}" if pending else ""
        return f"Sync queued for {', '.join(queued)}{extra}. Progress shows below and at /rq.", "success"
    refusal = cannot_write(runtime)
    if refusal:
        return f"Sync cannot run: {refusal}. Make the database writable (DATABASE_URL, file rights).", "danger"
    scheduler = runtime.scheduler
    if scheduler is not None:
        scheduler.run_now("manual")
        return f"Sync started for {', '.join(sources)}. Progress shows below.", "success"
    thread = threading.Thread(
        target=sync_once,
        args=(runtime.engine, settings, "manual", runtime.write_health),
        name="kpi-sync-now",
        daemon=True,
    )
    runtime.manual_sync = thread
    thread.start()
    return f"Sync started for {', '.join(sources)}. Progress shows below.", "success"


def cannot_write(runtime: Runtime) -> str:
    """Why this process's sync cannot write the database, checked now (one UPDATE of no row), or ""; logged
    and remembered, so /status and the freshness badge say it too."""

    reason = write_refusal(runtime.engine)
    if not reason:
        return ""
    problem = f"the database refuses writes ({Scrubber.for_settings(runtime.settings).scrub(reason)})"
    log.error("sync now: %s", problem)
    runtime.write_health.refused(problem)
    return problem


def write_problem_text(runtime: Runtime) -> str:
    """The status page's warning when the last sync of this process could not write; "" otherwise."""

    problem = runtime.write_health.problem
    return f" Sync cannot write: {problem}. The data shown is from the last successful sync." if problem else ""


# --- wiring ----------------------------------------------------------------------------------------------------


def recomputing_texts(runtime: Runtime) -> list[str]:
    """One line per source whose roll-ups are being rebuilt (TIMEZONE or the KPI catalogue changed), with how far
    the recount has got: the pages show their previous numbers until it ends."""
    from models import rollups

    lines = []
    for found in rollups.rebuilding(runtime.engine):
        done = f" ({found.counted:,} of {found.of:,} records counted)" if found.of else ""
        since = when(found.since, runtime.settings.timezone)
        lines.append(f"Numbers being recomputed: {found.source}, since {since}{done}.")
    return lines


def register(app: dash.Dash) -> None:
    @app.callback(
        Output("status-table", "children"),
        Output("status-runs", "children"),
        Output("status-sync-now", "disabled"),
        Output("status-mode", "children"),
        Output("status-rq-link", "children"),
        Output("status-stage-warning", "children"),
        Input("url", "pathname"),
        Input("status-interval", "n_intervals"),
    )
    def show_status(_pathname: str | None, _ticks: int | None) -> tuple[Any, ...]:
        runtime = current_runtime()
        busy = busy_sources(runtime)
        mode: list[str | html.Strong] = [mode_text(runtime.settings)]
        if busy:
            mode.append(html.Strong(f" A sync is running now ({', '.join(busy)}): Sync now waits until it ends."))
        for text in recomputing_texts(runtime):
            mode.append(html.Strong(text, className="status-recomputing d-block"))
        problem = write_problem_text(runtime)
        if problem:
            mode.append(html.Strong(problem, id="status-write-problem", className="text-danger"))
        rq_link = None
        if runtime.settings.uses_redis:
            rq_link = html.A("Open the RQ monitor", href="/rq/", className="status-rq-link")
        return (
            status_table(module_rows(runtime)),
            runs_table(run_rows(runtime)),
            bool(busy),
            html.Span(mode, id="status-mode-text"),
            rq_link,
            stage_rules_warning(
                stage_warning(runtime.engine, runtime.settings),
                runtime.settings.kpi_file,
                element_id="status-stage-rules",
                compact=False,
            ),
        )

    @app.callback(
        output={"digest": Output("status-digest", "children")},
        inputs={"_pathname": Input("url", "pathname"), "_ticks": Input("status-interval", "n_intervals")},
    )
    def show_digest(_pathname: str | None, _ticks: int | None) -> dict[str, object]:
        runtime = current_runtime()
        return {"digest": digest_section(digest_schedule_text(runtime.settings, utcnow()), digest_rows(runtime))}

    @app.callback(
        output={"screens": Output("status-screens", "children")},
        inputs={"_pathname": Input("url", "pathname"), "_ticks": Input("status-interval", "n_intervals")},
    )
    def show_screens(_pathname: str | None, _ticks: int | None) -> dict[str, object]:
        return {"screens": screens_table(screen_rows(current_runtime()))}

    @app.callback(
        Output("status-sync-message", "children"),
        Input("status-sync-now", "n_clicks"),
        prevent_initial_call=True,
    )
    def sync_now(n_clicks: int | None) -> Any:
        if not n_clicks:
            raise dash.exceptions.PreventUpdate
        text, color = start_sync(current_runtime())
        return sync_message(text, color)

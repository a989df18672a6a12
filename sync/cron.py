"""The schedule for `rq cron sync.cron --url $REDIS_URL`: every SYNC_INTERVAL_MINUTES, each configured source
(both demo sources when no credentials are set) gets a `sync.jobs.schedule_sync` job, which enqueues the real
sync only when none is already queued, running or waiting for a retry, so a slow or stopped worker never
finds a pile of identical syncs when it comes back. A tick that waited a whole interval in the queue expires
(`ttl`) instead of running late.

The morning digest, when [digest] names recipients or DIGEST_WEBHOOK_URL is set, adds a job every minute that sends
the due slot once (digest/schedule.py).

`rq cron` imports this module and collects what it registers with `rq.cron.register`.
Must not import Dash or Flask.
"""

from __future__ import annotations

from rq import cron

from digest.jobs import register_digest
from settings import ConfigError, Settings, load_settings
from sync.jobs import QUEUE_NAME, SCHEDULE_TIMEOUT, schedule_sync
from sync.service import configured_sources


def register_schedule(settings: Settings) -> list[dict]:
    """Register one schedule_sync per configured source; returns the registrations (for tests and logs)."""
    interval = settings.sync_interval_minutes * 60
    return [
        cron.register(
            schedule_sync,
            QUEUE_NAME,
            args=(source,),
            interval=interval,
            ttl=interval,
            job_timeout=SCHEDULE_TIMEOUT,
            result_ttl=interval,
            name=f"sync-{source}",
        )
        for source in configured_sources(settings)
    ]


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from None


_settings = _settings_or_exit()
registrations = register_schedule(_settings) + register_digest(_settings)

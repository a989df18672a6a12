"""The RQ side of the digest: `register_digest` (called by sync/cron.py under `rq cron`) and the job it schedules,
`send_due_digests`, which `rq worker` imports by dotted path; the job loads the settings and makes its own engine,
like sync/jobs.py. Must not import Dash or Flask.
"""

from __future__ import annotations

from digest.schedule import send_due
from digest.send import digest_targets
from models.db import make_engine
from settings import Settings, load_settings

CRON_INTERVAL = 60  # seconds between `send_due_digests` jobs: a slot goes out within a minute of its time
QUEUE = "default"  # the Procfile's worker listens to it


def register_digest(settings: Settings) -> list[dict]:
    """Under `rq cron sync.cron`: a `send_due_digests` job every minute when a digest is configured."""
    if not digest_targets(settings):
        return []
    from rq import cron

    return [
        cron.register(
            send_due_digests,
            QUEUE,
            interval=CRON_INTERVAL,
            ttl=CRON_INTERVAL,
            job_timeout=15 * 60,  # the retries of every recipient
            result_ttl=24 * 60 * 60,
            name="digest",
        )
    ]


def send_due_digests() -> list[dict[str, str]]:
    """Send the due slot of the digest (see digest/schedule.py); returns what happened per recipient."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        outcomes = send_due(engine, settings)
    finally:
        engine.dispose()
    return [{"recipient": o.recipient, "status": o.status, "error": o.error} for o in outcomes]

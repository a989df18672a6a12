"""The RQ job of the digest, imported by dotted path (`digest.jobs.send_due_digests`) by `rq worker`: it loads the
settings and makes its own engine, like sync/jobs.py. Must not import Dash or Flask.
"""

from __future__ import annotations

from models.db import make_engine
from settings import load_settings


def send_due_digests() -> list[dict[str, str]]:
    """Send the due slot of the digest (see digest/schedule.py); returns what happened per recipient."""
    from digest.schedule import send_due

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        outcomes = send_due(engine, settings)
    finally:
        engine.dispose()
    return [{"recipient": o.recipient, "status": o.status, "error": o.error} for o in outcomes]

"""Once and only once: a `digest_runs` row per schedule slot, trigger and recipient, inserted (claimed) before the
message is sent. The unique key makes the database the referee, so two workers, a restarted process or a
retried job that reach the same slot find the row and send nothing. The row then says how it ended: sent,
failed (with the error, after the retries), or missed (no process was running within the catch-up time).
A row left at "sending" by a process that died mid-send is not sent again (it may have gone out); /status shows
it as interrupted.

Must not import Dash or Flask.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.db import utcnow as db_utcnow
from models.schema import digest_runs

CHAT = "chat"  # the recipient name of the webhook message (its URL is a secret, not stored)
INTERRUPTED_AFTER = timedelta(hours=1)  # a row still "sending" after this was cut off mid-send


@dataclass(frozen=True)
class DigestRun:
    id: int
    slot_at: datetime
    trigger: str
    recipient: str
    digest_date: date
    status: str
    attempts: int
    claimed_at: datetime
    finished_at: datetime | None
    error: str

    def shown_status(self, now: datetime) -> str:
        if self.status == "sending" and now - self.claimed_at > INTERRUPTED_AFTER:
            return "interrupted"
        return self.status


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def utcnow() -> datetime:
    """Now as naive UTC to the second (models.db.utcnow without the microseconds a slot key does not need)."""
    return db_utcnow().replace(microsecond=0)


def claim(
    engine: Engine,
    slot_at: datetime,
    trigger: str,
    recipient: str,
    digest_date: date,
    status: str = "sending",
    error: str = "",
) -> int | None:
    """Insert the row of this slot and recipient; its id, or None when another process holds it already."""
    row = {
        "slot_at": slot_at,
        "trigger": trigger,
        "recipient": recipient,
        "digest_date": digest_date,
        "status": status,
        "attempts": 0,
        "claimed_by": holder(),
        "claimed_at": utcnow(),
        "finished_at": utcnow() if status != "sending" else None,
        "error": error,
    }
    try:
        with engine.begin() as conn:
            key = conn.execute(insert(digest_runs).values(**row)).inserted_primary_key
    except IntegrityError:
        return None
    return int(key[0]) if key else None


def note_attempt(engine: Engine, run_id: int, attempt: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(digest_runs).where(digest_runs.c.id == run_id).values(attempts=attempt))


def finish(engine: Engine, run_id: int, status: str, error: str = "") -> None:
    with engine.begin() as conn:
        conn.execute(
            update(digest_runs)
            .where(digest_runs.c.id == run_id)
            .values(status=status, error=error[:2000], finished_at=utcnow())
        )


def recent_runs(engine: Engine, limit: int = 20) -> list[DigestRun]:
    """The newest runs first (the /status Digest section)."""
    query = select(digest_runs).order_by(digest_runs.c.claimed_at.desc(), digest_runs.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            DigestRun(
                id=row.id,
                slot_at=row.slot_at,
                trigger=row.trigger,
                recipient=row.recipient,
                digest_date=row.digest_date,
                status=row.status,
                attempts=row.attempts,
                claimed_at=row.claimed_at,
                finished_at=row.finished_at,
                error=row.error or "",
            )
            for row in conn.execute(query)
        ]

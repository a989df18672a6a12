"""When the digest goes out: the slots of [digest] (a local time of day on chosen weekdays, in TIMEZONE), the slot
due at a moment, and the two ways it gets sent: `rq cron` (REDIS_URL set: digest/jobs.py's `register_digest` adds
a job every minute, `send_due_digests`) or the embedded thread of the web process (`DigestThread`). Either may
run in many processes at once: runs.py lets one of them send each slot.

A slot is a local wall-clock time, so it stays at 07:30 across daylight saving; a time that does not exist on
the night clocks go forward (02:30 in most of Europe) is read with the offset before the change (03:30 new
time), and one that happens twice is the first. A slot nobody sent within `catch_up_hours` (every process was
down) is recorded as missed, not sent late in the afternoon.

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from digest import runs
from digest.deliver import RetryPolicy
from digest.send import Outcome, claimed_recipients, digest_targets, send_slot
from settings import DigestRules, Settings

log = logging.getLogger(__name__)
SCHEDULED = "schedule"
MANUAL = "manual"
THREAD_WAKE = 10 * 60  # the embedded thread looks at the clock at least this often (clock jumps, suspend)


def slot_on(day: date, rules: DigestRules, tz_name: str) -> datetime:
    """The slot of local date `day` as naive UTC."""
    hour, minute = rules.time
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz_name))  # fold=0: see above
    return local.astimezone(UTC).replace(tzinfo=None)


def local_date(moment: datetime, tz_name: str) -> date:
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name)).date()


def latest_slot(rules: DigestRules, tz_name: str, now: datetime) -> datetime | None:
    """The last slot at or before `now` (naive UTC) within the past eight days; None when no day is chosen."""
    today = local_date(now, tz_name)
    for back in range(9):
        day = today - timedelta(days=back)
        if day.weekday() in rules.days:
            slot = slot_on(day, rules, tz_name)
            if slot <= now:
                return slot
    return None


def next_slot(rules: DigestRules, tz_name: str, now: datetime) -> datetime | None:
    """The first slot after `now` (naive UTC)."""
    today = local_date(now, tz_name)
    for ahead in range(9):
        day = today + timedelta(days=ahead)
        if day.weekday() in rules.days:
            slot = slot_on(day, rules, tz_name)
            if slot > now:
                return slot
    return None


def slot_day(slot_at: datetime, tz_name: str) -> date:
    """The day a slot's digest is about: the day before the slot's local date."""
    return local_date(slot_at, tz_name) - timedelta(days=1)


def send_due(
    engine: Engine, settings: Settings, now: datetime | None = None, retry: RetryPolicy | None = None
) -> list[Outcome]:
    """Send the latest slot to whoever has not had it, or record it missed when it is too old to send."""
    now = now or runs.utcnow()
    rules, tz_name = settings.kpi.digest, settings.timezone
    targets = digest_targets(settings)
    slot = latest_slot(rules, tz_name, now)
    if slot is None or not targets:
        return []
    day = slot_day(slot, tz_name)
    if now - slot <= timedelta(hours=rules.catch_up_hours):
        return send_slot(engine, settings, slot, SCHEDULED, day, targets, now, retry)
    done = claimed_recipients(engine, slot, SCHEDULED)
    outcomes = []
    for target in targets:
        if target.recipient in done:
            continue
        error = f"not sent: no worker or web process ran within {rules.catch_up_hours:g} h of the slot"
        if runs.claim(engine, slot, SCHEDULED, target.recipient, day, status="missed", error=error):
            outcomes.append(Outcome(target.recipient, "missed", error))
    return outcomes


# --- the embedded thread -------------------------------------------------------------------------------------------


class DigestThread:
    """Without Redis: a daemon thread of the web process that sleeps until the next slot and sends it (and, on
    start, a slot of the last catch_up_hours that nobody sent)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="kpi-digest", daemon=True)

    def start(self) -> DigestThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                send_due(self.engine, self.settings)
            except Exception:  # the thread must outlive a database hiccup; the next wake retries
                log.exception("digest: sending the due slot failed")
            now = runs.utcnow()
            upcoming = next_slot(self.settings.kpi.digest, self.settings.timezone, now)
            wait = THREAD_WAKE if upcoming is None else min(THREAD_WAKE, (upcoming - now).total_seconds() + 1)
            self.stopped.wait(timeout=max(wait, 1))


_start_lock = threading.Lock()


class DigestHome(Protocol):
    """Where a process keeps its digest thread (the web app's web.runtime.Runtime)."""

    digest: DigestThread | None
    digest_checked: bool


def ensure_digest_thread(home: DigestHome, settings: Settings, engine: Engine) -> DigestThread | None:
    """Start the digest thread kept in `home.digest` unless it runs already or nothing is configured."""
    if home.digest_checked:
        return home.digest
    with _start_lock:
        if not home.digest_checked:
            home.digest = DigestThread(settings, engine).start() if digest_targets(settings) else None
            home.digest_checked = True
        return home.digest

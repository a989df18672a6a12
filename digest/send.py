"""Sending one slot of the digest to its recipients, once: for each recipient, claim its `digest_runs` row (see
runs.py), compose its digest, hand it over with retries, record how it ended.

    targets = digest_targets(settings)                  # the configured addresses, and "chat" with a webhook
    outcomes = send_slot(engine, settings, slot_at, "schedule", day, targets, now)

Must not import Dash or Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from sqlalchemy import Engine, select

from digest import runs
from digest.compose import Digest, compose_digest
from digest.deliver import DeliveryFailed, RetryPolicy, post_webhook, send_email, with_retries
from digest.render import email_message, slack_payload
from models.schema import digest_runs
from settings import ConfigError, DigestAudience, Settings
from sync.scrub import Scrubber

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    recipient: str  # an e-mail address, or runs.CHAT
    audience: DigestAudience

    @property
    def is_chat(self) -> bool:
        return self.recipient == runs.CHAT


@dataclass(frozen=True)
class Outcome:
    recipient: str
    status: str  # sent, failed, skipped (another process holds the slot), missed
    error: str = ""


def digest_targets(settings: Settings, to: str = "") -> list[Target]:
    """Who gets the digest: the [digest] recipients and, with DIGEST_WEBHOOK_URL, the chat; or only `to` (an
    address, with its configured groups and pages when it is a recipient, else everything)."""
    rules = settings.kpi.digest
    if to:
        return [Target(to, audience_of(settings, to))]
    targets = [Target(recipient.email, recipient.audience) for recipient in rules.recipients]
    if settings.digest_webhook_url:
        targets.append(Target(runs.CHAT, rules.chat))
    return targets


def audience_of(settings: Settings, to: str) -> DigestAudience:
    """What `to` is shown: the chat's or a recipient's groups and pages as configured, else everything."""
    rules = settings.kpi.digest
    if to == runs.CHAT:
        return rules.chat
    return next((r.audience for r in rules.recipients if r.email.lower() == to.lower()), DigestAudience())


def check_delivery_settings(settings: Settings, targets: list[Target]) -> None:
    """ConfigError naming what is missing to reach these targets."""
    if any(not target.is_chat for target in targets):
        if not settings.smtp_url:
            raise ConfigError("SMTP_URL is empty: set it (smtp://user:password@host:587) to e-mail the digest")
        if not settings.digest_from:
            raise ConfigError("DIGEST_FROM is empty: set the address the digest is sent from")
    if any(target.is_chat for target in targets) and not settings.digest_webhook_url:
        raise ConfigError("DIGEST_WEBHOOK_URL is empty: set the chat's incoming webhook to post the digest there")


def claimed_recipients(engine: Engine, slot_at: datetime, trigger: str) -> set[str]:
    query = select(digest_runs.c.recipient).where(digest_runs.c.slot_at == slot_at, digest_runs.c.trigger == trigger)
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def send_slot(
    engine: Engine,
    settings: Settings,
    slot_at: datetime,
    trigger: str,
    day: date,
    targets: list[Target],
    now: datetime,
    retry: RetryPolicy | None = None,
) -> list[Outcome]:
    """Send `day`'s digest of the slot to each target that no process has claimed yet."""
    retry = retry or RetryPolicy()
    scrub = Scrubber.for_settings(settings)
    done = claimed_recipients(engine, slot_at, trigger)
    digests: dict[DigestAudience, Digest] = {}
    outcomes = []
    for target in targets:
        run_id = None if target.recipient in done else runs.claim(engine, slot_at, trigger, target.recipient, day)
        if run_id is None:
            outcomes.append(Outcome(target.recipient, "skipped"))
            continue
        try:
            if target.audience not in digests:
                digests[target.audience] = compose_digest(engine, settings, day, target.audience, now)
            deliver(settings, target, digests[target.audience], retry, partial(runs.note_attempt, engine, run_id))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row, none is dropped
            permanent = " (permanent)" if isinstance(exc, DeliveryFailed) and exc.permanent else ""
            error = scrub(f"{exc}{permanent}" if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}")
            runs.finish(engine, run_id, "failed", error)
            log.error("digest for %s of %s failed: %s", target.recipient, day, error)
            outcomes.append(Outcome(target.recipient, "failed", error))
        else:
            runs.finish(engine, run_id, "sent")
            outcomes.append(Outcome(target.recipient, "sent"))
    return outcomes


def deliver(
    settings: Settings, target: Target, digest: Digest, retry: RetryPolicy, on_attempt: Callable[[int], None]
) -> None:
    """Hand `digest` to the target's channel, retried by `retry`; DeliveryFailed or ConfigError when it cannot."""
    check_delivery_settings(settings, [target])
    if target.is_chat:
        payload = slack_payload(digest)
        with_retries(lambda: post_webhook(settings.digest_webhook_url, payload), retry, on_attempt)
        return
    message = email_message(digest, sender=settings.digest_from, to=target.recipient)
    with_retries(lambda: send_email(settings.smtp_url, message), retry, on_attempt)

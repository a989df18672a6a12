"""`flask --app app:server digest preview [--date D] [--to ADDRESS] [--out FILE]`: the digest's HTML written to a
file, its text part printed; nothing is sent or recorded.
`flask --app app:server digest send --now [--to ADDRESS]`: send at once (to every recipient, or to ADDRESS, or
`--to chat` for the webhook), recorded in digest_runs as a manual slot like a scheduled one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from web.runtime import current_runtime

digest_group = AppGroup("digest", help="The morning digest by e-mail and in the team chat.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)


def _one_line(exc: BaseException) -> str:
    """The first line of an error, without the configuration's secrets (a database error carries its SQL below)."""
    from sync.scrub import Scrubber

    text = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    return Scrubber.for_settings(current_runtime().settings).scrub(text)


def _day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        _fail(f"--date must be a date like 2026-12-02 (got {raw!r})")
    raise AssertionError  # unreachable: _fail exits


@digest_group.command("preview")
@click.option("--date", "day_text", help="The day the digest is about (default: yesterday in TIMEZONE).")
@click.option("--to", "to", default="", help="Show what this recipient gets (their groups and pages).")
@click.option("--out", "out", default="digest-preview.html", show_default=True, help="Where to write the HTML.")
def digest_preview(day_text: str | None, to: str, out: str) -> None:
    """Write the digest's HTML to a file and print its text part."""
    from digest.compose import compose_digest, digest_day
    from digest.render import render_html, render_text
    from digest.runs import utcnow
    from digest.send import audience_of

    runtime = current_runtime()
    now = utcnow()
    day = _day(day_text, digest_day(runtime.settings, now))
    try:
        digest = compose_digest(runtime.engine, runtime.settings, day, audience_of(runtime.settings, to), now)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        _fail(f"digest preview failed: {_one_line(exc)}")
    Path(out).write_text(render_html(digest), encoding="utf-8")
    click.echo(render_text(digest))
    click.echo(f"HTML written to {out}", err=True)


@digest_group.command("send")
@click.option("--now", "now_flag", is_flag=True, required=True, help="Send at once (required: says it is meant).")
@click.option("--to", "to", default="", help="Send only to this address (or `chat` for the webhook).")
@click.option("--date", "day_text", help="The day the digest is about (default: yesterday in TIMEZONE).")
def digest_send(now_flag: bool, to: str, day_text: str | None) -> None:
    """Send the digest at once and record it like a scheduled one."""
    from digest.compose import digest_day
    from digest.runs import utcnow
    from digest.schedule import MANUAL
    from digest.send import check_delivery_settings, digest_targets, send_slot
    from settings import ConfigError

    runtime = current_runtime()
    settings = runtime.settings
    now = utcnow()
    targets = digest_targets(settings, to)
    if not targets:
        _fail("nobody to send to: add [[digest.recipients]] to kpi.toml, set DIGEST_WEBHOOK_URL, or pass --to")
    try:
        check_delivery_settings(settings, targets)
    except ConfigError as exc:
        _fail(f"digest send: {exc}")
    day = _day(day_text, digest_day(settings, now))
    outcomes = send_slot(runtime.engine, settings, now, MANUAL, day, targets, now)
    for outcome in outcomes:
        detail = f": {outcome.error}" if outcome.error else ""
        click.echo(f"{outcome.recipient}: {outcome.status}{detail}")
    if any(outcome.status == "failed" for outcome in outcomes):
        raise SystemExit(1)

"""When the digest goes out and that it goes out once: slots in TIMEZONE across daylight saving (hand-computed),
what is due at a moment (sent, skipped, missed), two concurrent senders against one SMTP server on SQLite and
PostgreSQL, a restart, the rq cron registration and its job, and the embedded thread."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from digest.deliver import RetryPolicy
from digest.runs import recent_runs
from digest.schedule import DigestThread, latest_slot, next_slot, send_due, slot_day, slot_on
from models.db import make_engine
from models.schema import metadata
from settings import DigestRecipient, DigestRules, Settings
from tests.digest_seed import DAY, SENT_AT, digest_settings, seed_digest_week
from tests.digest_smtp import smtp_server

WEEKDAYS = DigestRules(time=(7, 30), days=(0, 1, 2, 3, 4))
EVERY_DAY_0230 = DigestRules(time=(2, 30), days=tuple(range(7)))
NO_WAIT = RetryPolicy(delays=(0, 0, 0), sleep=lambda _: None)


# --- slots ---------------------------------------------------------------------------------------------------------


def test_a_slot_keeps_its_wall_clock_time_across_the_spring_change() -> None:
    # Berlin moves from UTC+1 to UTC+2 on Sunday 29 March 2026.
    assert slot_on(date(2026, 3, 27), WEEKDAYS, "Europe/Berlin") == datetime(2026, 3, 27, 6, 30)
    assert slot_on(date(2026, 3, 30), WEEKDAYS, "Europe/Berlin") == datetime(2026, 3, 30, 5, 30)
    saturday = datetime(2026, 3, 28, 12, 0)
    assert latest_slot(WEEKDAYS, "Europe/Berlin", saturday) == datetime(2026, 3, 27, 6, 30)
    assert next_slot(WEEKDAYS, "Europe/Berlin", saturday) == datetime(2026, 3, 30, 5, 30)
    # New York moves on Sunday 8 March 2026: 07:30 is 12:30 UTC on Friday, 11:30 UTC on Monday.
    assert next_slot(WEEKDAYS, "America/New_York", datetime(2026, 3, 6, 13, 0)) == datetime(2026, 3, 9, 11, 30)


def test_a_time_the_clocks_skip_or_repeat_is_read_once() -> None:
    # 02:30 does not exist in Berlin on 29 March (02:00 -> 03:00): the offset before the change, 01:30 UTC.
    assert slot_on(date(2026, 3, 29), EVERY_DAY_0230, "Europe/Berlin") == datetime(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 25 October (03:00 -> 02:00): the first, still UTC+2, 00:30 UTC.
    assert slot_on(date(2026, 10, 25), EVERY_DAY_0230, "Europe/Berlin") == datetime(2026, 10, 25, 0, 30)
    # One slot per local day through both nights.
    slots: list[datetime] = []
    moment = datetime(2026, 10, 23, 12, 0)
    for _ in range(4):
        upcoming = next_slot(EVERY_DAY_0230, "Europe/Berlin", moment)
        assert upcoming is not None
        moment = upcoming
        slots.append(moment)
    assert slots == [datetime(2026, 10, 24, 0, 30), datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 26, 1, 30),
                     datetime(2026, 10, 27, 1, 30)]  # fmt: skip


def test_a_slot_is_about_the_local_day_before_it() -> None:
    assert slot_day(datetime(2026, 12, 3, 6, 30), "Europe/Berlin") == date(2026, 12, 2)
    assert slot_day(datetime(2026, 12, 2, 23, 30), "Europe/Berlin") == date(2026, 12, 2)  # Thu 00:30 in Berlin
    assert slot_day(datetime(2026, 12, 3, 3, 0), "America/Los_Angeles") == date(2026, 12, 1)  # Wed 19:00 there


def test_no_chosen_day_means_no_slot() -> None:
    rules = DigestRules(days=())
    assert latest_slot(rules, "UTC", SENT_AT) is None and next_slot(rules, "UTC", SENT_AT) is None


# --- what is due ---------------------------------------------------------------------------------------------------


def with_recipients(settings: Settings, url: str, *emails: str) -> Settings:
    rules = replace(settings.kpi.digest, recipients=tuple(DigestRecipient(email) for email in emails))
    return replace(settings, kpi=replace(settings.kpi, digest=rules), smtp_url=url, digest_from="kpi@example.com")


@pytest.fixture
def seeded(engine: Engine, settings_for) -> tuple[Engine, Settings]:
    seed_digest_week(engine)
    return engine, digest_settings(settings_for(str(engine.url)))


def test_the_due_slot_is_sent_then_skipped_and_an_old_one_is_recorded_missed(seeded) -> None:
    engine, base = seeded
    with smtp_server() as server:
        settings = with_recipients(base, server.url, "ann@example.com")
        # Thursday 07:29 in Berlin: Wednesday's slot is old (more than 3 h), recorded missed, nothing sent.
        early = send_due(engine, settings, SENT_AT - timedelta(minutes=1), NO_WAIT)
        assert [(o.status, o.recipient) for o in early] == [("missed", "ann@example.com")]
        assert recent_runs(engine)[0].slot_at == datetime(2026, 12, 2, 6, 30)
        # 07:31: Thursday's slot (the digest of Wednesday) goes out; a minute later it is skipped.
        assert [o.status for o in send_due(engine, settings, SENT_AT + timedelta(minutes=1), NO_WAIT)] == ["sent"]
        assert [o.status for o in send_due(engine, settings, SENT_AT + timedelta(minutes=2), NO_WAIT)] == ["skipped"]
        assert len(server.messages) == 1 and server.messages[0]["Subject"] == "KPI digest · Wed 2 Dec 2026"
        # The missed slot is not sent later either.
        assert send_due(engine, settings, SENT_AT - timedelta(minutes=1), NO_WAIT) == []
    statuses = sorted((run.digest_date, run.status) for run in recent_runs(engine))
    assert statuses == [(date(2026, 12, 1), "missed"), (DAY, "sent")]


def test_two_senders_at_once_send_each_recipient_one_digest(seeded, monkeypatch) -> None:
    engine, base = seeded
    # Both senders see no row yet (the worst interleaving): only the unique insert decides.
    monkeypatch.setattr("digest.send.claimed_recipients", lambda *_: set())
    with smtp_server() as server:
        settings = with_recipients(base, server.url, "ann@example.com", "bob@example.com")
        engines = [make_engine(settings.database_url) for _ in range(2)]
        start = threading.Barrier(2)
        results: list[list] = [[], []]

        def worker(index: int) -> None:
            start.wait()
            results[index] = send_due(engines[index], settings, SENT_AT + timedelta(minutes=1), NO_WAIT)

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # A restarted process later in the catch-up time sends nothing either.
        restarted = make_engine(settings.database_url)
        after = send_due(restarted, settings, SENT_AT + timedelta(hours=2), NO_WAIT)
        for each in [*engines, restarted]:
            each.dispose()

        received = sorted(to for _, recipients in server.mailbox.envelopes for to in recipients)
        assert received == ["ann@example.com", "bob@example.com"]
    outcomes = sorted((o.recipient, o.status) for result in results for o in result)
    assert outcomes == [("ann@example.com", "sent"), ("ann@example.com", "skipped"),
                        ("bob@example.com", "sent"), ("bob@example.com", "skipped")]  # fmt: skip
    assert {o.status for o in after} == {"skipped"}
    assert sorted((run.recipient, run.status) for run in recent_runs(engine)) == [
        ("ann@example.com", "sent"),
        ("bob@example.com", "sent"),
    ]


def test_the_migration_creates_the_table_the_schema_declares(sqlite_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [diff for diff in diffs if "digest_runs" in str(diff)] == []
    engine.dispose()


# --- rq cron and the embedded thread ---------------------------------------------------------------------------


def test_rq_cron_registers_the_digest_and_its_job_sends_the_due_slot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis, sqlite_url: str
) -> None:
    from rq.cron import CronScheduler

    from digest.jobs import send_due_digests
    from digest.runs import utcnow

    local = utcnow()
    (tmp_path / "kpi.toml").write_text(
        f'[digest]\ntime = "{local:%H:%M}"\ndays = ["mon","tue","wed","thu","fri","sat","sun"]\n'
        '[[digest.recipients]]\nemail = "ann@example.com"\n'
    )
    monkeypatch.chdir(tmp_path)
    for name in ("VTIGER_URL", "REDMINE_URL", "TIMEZONE", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    with smtp_server() as server:
        monkeypatch.setenv("KPI_CONFIG", str(tmp_path / "kpi.toml"))
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        monkeypatch.setenv("SMTP_URL", server.url)
        monkeypatch.setenv("DIGEST_FROM", "kpi@example.com")
        scheduler = CronScheduler(connection=redis)
        scheduler.load_config_from_file("sync.cron")
        digest_jobs = [job for job in scheduler.get_jobs() if job.name == "digest"]
        assert [(job.func_name, job.queue_name, job.interval) for job in digest_jobs] == [
            ("digest.jobs.send_due_digests", "default", 60)
        ]
        assert send_due_digests() == [{"recipient": "ann@example.com", "status": "sent", "error": ""}]
        assert send_due_digests()[0]["status"] == "skipped"
        assert len(server.messages) == 1


def test_the_embedded_thread_sends_the_slot_once(sqlite_engine: Engine, settings_for) -> None:
    from digest.runs import utcnow

    now = utcnow()
    with smtp_server() as server:
        settings = with_recipients(settings_for(str(sqlite_engine.url)), server.url, "ann@example.com")
        rules = replace(settings.kpi.digest, time=(now.hour, now.minute), days=tuple(range(7)))
        settings = replace(settings, kpi=replace(settings.kpi, digest=rules))
        threads = [DigestThread(settings, sqlite_engine).start() for _ in range(2)]  # two web processes
        deadline = time.monotonic() + 60
        while not (recent_runs(sqlite_engine) and recent_runs(sqlite_engine)[0].status == "sent"):
            assert time.monotonic() < deadline, "the digest thread sent nothing within a minute"
            time.sleep(0.1)
        for thread in threads:
            thread.stop()
        assert len(server.messages) == 1


def test_the_scheduled_job_sends_the_due_slot_over_starttls_with_a_login_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis, sqlite_url: str
) -> None:
    """From a due slot to a message received over STARTTLS: the job `rq cron` enqueues, run by an RQ worker with
    the settings of the environment; the server's self-signed certificate is trusted through SSL_CERT_FILE."""
    from rq import Queue, SimpleWorker

    from digest.jobs import QUEUE, send_due_digests
    from digest.runs import utcnow
    from tests.digest_smtp import self_signed_certificate

    due = utcnow()
    (tmp_path / "kpi.toml").write_text(
        f'[digest]\ntime = "{due:%H:%M}"\ndays = ["mon","tue","wed","thu","fri","sat","sun"]\n'
        '[[digest.recipients]]\nemail = "ann@example.com"\n'
    )
    monkeypatch.chdir(tmp_path)
    for name in ("VTIGER_URL", "REDMINE_URL", "TIMEZONE", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    cert, key = self_signed_certificate(tmp_path)
    with smtp_server(tls_files=(cert, key), password="s3cret-pass") as server:
        assert server.url.startswith("smtp://digest:s3cret-pass@")
        monkeypatch.setenv("KPI_CONFIG", str(tmp_path / "kpi.toml"))
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        monkeypatch.setenv("SMTP_URL", server.url)
        monkeypatch.setenv("DIGEST_FROM", "kpi@example.com")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        queue = Queue(f"{QUEUE}-starttls-{tmp_path.name}", connection=redis)
        jobs = [queue.enqueue(send_due_digests) for _ in range(2)]  # the next minute's job finds it sent
        SimpleWorker([queue], connection=redis).work(burst=True)

        assert [job.return_value() for job in jobs] == [
            [{"recipient": "ann@example.com", "status": "sent", "error": ""}],
            [{"recipient": "ann@example.com", "status": "skipped", "error": ""}],
        ]
        assert server.mailbox.envelopes == [("kpi@example.com", ["ann@example.com"])]
        assert server.mailbox.tls_versions[0].startswith("TLSv1.")
    engine = make_engine(sqlite_url)
    (run,) = recent_runs(engine)
    engine.dispose()
    assert (run.recipient, run.status, run.trigger, run.attempts) == ("ann@example.com", "sent", "schedule", 1)
    assert run.slot_at == due.replace(second=0, microsecond=0)

"""sync/cron.py, loaded the way `rq cron sync.cron` loads it, against a real Redis: what it registers, and that
its ticks enqueue one sync per source however many ticks pile up."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler

from sync import jobs


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """The cron process's environment: no .env, no credentials.json, no kpi.toml."""
    monkeypatch.chdir(tmp_path)
    for name in ("VTIGER_URL", "REDMINE_URL", "REDMINE_API_KEY", "KPI_CONFIG", "SYNC_INTERVAL_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def load_schedule(redis: Redis) -> CronScheduler:
    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file("sync.cron")
    return scheduler


def test_demo_mode_schedules_both_sources_every_interval(environment: pytest.MonkeyPatch, redis: Redis) -> None:
    environment.setenv("SYNC_INTERVAL_MINUTES", "7")

    registered = load_schedule(redis).get_jobs()

    assert sorted(job.name for job in registered) == ["sync-redmine", "sync-vtiger"]
    for job in registered:
        assert job.func_name == "sync.jobs.schedule_sync"
        assert job.args == (job.name.removeprefix("sync-"),)
        assert job.queue_name == jobs.QUEUE_NAME
        assert job.interval == 7 * 60
        # A tick still queued after a whole interval is dropped rather than run late.
        assert job.job_options["ttl"] == 7 * 60


def test_only_configured_sources_are_scheduled(environment: pytest.MonkeyPatch, redis: Redis) -> None:
    environment.setenv("REDMINE_URL", "https://redmine.example.com")
    environment.setenv("REDMINE_API_KEY", "k" * 40)

    registered = load_schedule(redis).get_jobs()

    assert [job.name for job in registered] == ["sync-redmine"]
    assert registered[0].interval == 10 * 60  # the default SYNC_INTERVAL_MINUTES


def test_a_bad_setting_stops_the_cron_process_with_one_line(environment: pytest.MonkeyPatch, redis: Redis) -> None:
    environment.setenv("SYNC_INTERVAL_MINUTES", "often")

    with pytest.raises(SystemExit, match="SYNC_INTERVAL_MINUTES must be a whole number"):
        load_schedule(redis)


def test_piled_up_ticks_enqueue_one_sync(environment: pytest.MonkeyPatch, redis: Redis) -> None:
    tick_job = next(job for job in load_schedule(redis).get_jobs() if job.name == "sync-redmine")
    # Three ticks while no worker ran (a stopped worker, a long sync): three schedule_sync jobs wait.
    ticks = [tick_job.enqueue(redis) for _ in range(3)]
    queue = Queue(jobs.QUEUE_NAME, connection=redis)
    assert queue.job_ids == [tick.id for tick in ticks]

    # Run only the ticks (moved to a queue of their own), not the sync they enqueue.
    ticks_queue = Queue("ticks", connection=redis)
    for tick in ticks:
        queue.remove(tick)
        ticks_queue.enqueue_job(tick)
    Worker([ticks_queue], connection=redis).work(burst=True)

    outcomes = [tick.return_value() for tick in ticks]
    assert str(outcomes[0]).startswith("enqueued sync-redmine-")
    assert outcomes[1:] == ["skipped: a sync of this source is already pending"] * 2
    pending = queue.get_jobs()
    assert [(job.func_name, job.args) for job in pending] == [("sync.jobs.sync_source", ("redmine", False))]

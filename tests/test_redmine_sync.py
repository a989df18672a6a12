"""sync/redmine_sync.py on SQLite and real PostgreSQL, against the emulator: the first backfill, incremental runs,
idempotence, reconciliation of deleted and revived issues, and the fault tests (timeouts, 500s, 429s, malformed
JSON, a bad key, a crash halfway through a run). After every fault: no row lost or duplicated, the watermark not
past uncommitted rows, the failure in sync_runs, and the next run recovers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from models.db import utcnow
from models.schema import redmine_issues, redmine_statuses, sync_runs
from settings import KpiRules, RedmineRules, Settings
from sync.demo.redmine_emulator import EMULATOR_URL
from sync.engine import SourceLock, SyncError, read_state, write_state
from sync.redmine import RedmineClient
from sync.redmine_mapping import format_time
from sync.redmine_sync import later, reconcile_due, sync_redmine
from tests.emulator_faults import FaultyRedmineEmulator

T0 = datetime(2026, 11, 24, 9, 0, 0)
KEY = "s" * 40


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_issue(issue_id: int, status_id: int = 1, assignee: dict | None = None) -> dict[str, Any]:
    names = {1: "New", 2: "In Progress", 3: "Resolved", 5: "Closed", 6: "Rejected"}
    issue = {
        "id": issue_id,
        "project": {"id": 1, "name": "KPI Demo"},
        "tracker": {"id": 1, "name": "Bug"},
        "status": {"id": status_id, "name": names[status_id]},
        "priority": {"id": 2, "name": "Normal"},
        "author": {"id": 1, "name": "Redmine Admin"},
        "subject": f"Issue {issue_id}",
        "done_ratio": 0,
        "created_on": format_time(T0),
    }
    if assignee:
        issue["assigned_to"] = assignee
    return issue


@pytest.fixture
def emulator() -> FaultyRedmineEmulator:
    """250 issues a few seconds apart (every fifth closed, every seventh assigned to a group), clock after them."""
    emulator = FaultyRedmineEmulator(clock=Clock(T0 + timedelta(days=1)), api_key=KEY)
    for n in range(1, 251):
        group = {"id": 8, "name": "Support Team"} if n % 7 == 0 else None
        moment = T0 + timedelta(seconds=3 * n, microseconds=(n * 7919) % 1_000_000)
        emulator.put_issue(make_issue(n, 5 if n % 5 == 0 else 1, group), updated_at=moment)
    return emulator


@pytest.fixture
def redmine_settings(settings_for: Callable[..., Settings], database_url: str) -> Settings:
    return settings_for(database_url, kpi=KpiRules(redmine=RedmineRules(reconcile_every_hours=24)))


def client_for(emulator: FaultyRedmineEmulator, **kwargs: Any) -> RedmineClient:
    kwargs.setdefault("api_key", KEY)
    return RedmineClient(EMULATOR_URL, session=emulator.session(), sleep=lambda seconds: None, **kwargs)


def client_with_pages(
    emulator: FaultyRedmineEmulator, pages: Callable[[Iterator[tuple[int, Any]]], Iterator]
) -> RedmineClient:
    """A client whose issue pages, numbered from 0, pass through `pages`: to act between two pages as a user
    editing issues or a dying worker would."""
    client = client_for(emulator)
    original = client.issue_pages
    client.issue_pages = lambda since="": pages(enumerate(original(since)))  # type: ignore[method-assign]  # on this client only
    return client


def advance(emulator: FaultyRedmineEmulator, delta: timedelta) -> datetime:
    """Move the emulator's clock (the fixture's Clock) on by `delta`; returns the new now."""
    clock = emulator.clock
    assert isinstance(clock, Clock)  # the fixture's, which can be moved on
    clock.now += delta
    return clock.now


def run(engine: Engine, settings: Settings, emulator: FaultyRedmineEmulator, **kwargs: Any) -> list:
    client = kwargs.pop("client", None) or client_for(emulator)
    return sync_redmine(engine, settings, client=client, trigger="test", **kwargs)


def stored(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {int(row["source_id"]): dict(row) for row in conn.execute(select(redmine_issues)).mappings()}


def live_rows(engine: Engine) -> dict[int, dict[str, Any]]:
    return {issue_id: row for issue_id, row in stored(engine).items() if row["deleted_at"] is None}


def runs(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings()]


def watermark(engine: Engine) -> str:
    return read_state(engine, "redmine", "issues")[0]


def assert_mirrors(engine: Engine, emulator: FaultyRedmineEmulator) -> None:
    """Every emulator issue is stored exactly once, with its current updated_on and subject; nothing extra."""
    rows = live_rows(engine)
    assert sorted(rows) == emulator.issue_ids
    for issue_id, row in rows.items():
        issue = emulator.issue(issue_id)
        assert issue is not None
        assert format_time(row["updated_at"]) == issue["updated_on"]
        assert row["subject"] == issue["subject"]
    with engine.connect() as conn:
        duplicates = conn.execute(
            select(redmine_issues.c.source_id).group_by(redmine_issues.c.source_id).having(func.count() > 1)
        ).all()
    assert duplicates == []


def assert_watermark_covers_only_committed_rows(engine: Engine) -> None:
    """Every issue the emulator has at or before the watermark (minus Redmine's overlap second) is stored."""
    mark = watermark(engine)
    rows = stored(engine)
    newest = max((row["updated_at"] for row in rows.values()), default=None)
    if mark:
        assert newest is not None and format_time(newest) >= mark


# --- normal runs ----------------------------------------------------------------------------------------------------


def test_first_run_backfills_everything(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    statuses, issues = run(engine, redmine_settings, emulator)
    assert (statuses.module, statuses.inserted) == ("statuses", 6)
    assert (issues.module, issues.inserted, issues.updated, issues.deleted) == ("issues", 250, 0, 0)
    assert_mirrors(engine, emulator)
    rows = stored(engine)
    assert rows[5]["is_closed"] is True and rows[5]["status_name"] == "Closed"
    assert rows[7]["assignee_name"] == "Support Team"
    assert rows[1]["first_seen_at"] is not None
    mark, extra = read_state(engine, "redmine", "issues")
    assert mark == emulator.issue(250)["updated_on"]
    assert "reconciled_at" in extra  # the first run reconciles too: nothing to compare against yet
    assert [(r["module"], r["status"], r["trigger"]) for r in runs(engine)] == [
        ("statuses", "success", "test"),
        ("issues", "success", "test"),
    ]
    assert runs(engine)[1]["rows_inserted"] == 250
    assert runs(engine)[1]["requests"] == issues.requests > 3
    assert runs(engine)[0]["requests"] == statuses.requests == 2  # the credential check and the statuses
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(redmine_statuses)).scalar_one() == 6


def test_running_the_same_sync_twice_changes_nothing(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    before, mark = stored(engine), watermark(engine)
    statuses, issues = run(engine, redmine_settings, emulator)
    assert (statuses.inserted, statuses.updated) == (0, 0)
    assert (issues.inserted, issues.updated, issues.deleted) == (0, 0, 0)
    assert stored(engine) == before
    assert watermark(engine) == mark


def test_incremental_run_reads_only_what_changed(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    now = advance(emulator, timedelta(hours=1))
    emulator.update_issue(3, {"subject": "renamed", "status": {"id": 6, "name": "Rejected"}})
    emulator.put_issue(make_issue(251), updated_at=now)
    emulator.requests.clear()
    _, issues = run(engine, redmine_settings, emulator)
    assert (issues.inserted, issues.updated) == (1, 1)
    assert_mirrors(engine, emulator)
    assert stored(engine)[3]["is_closed"] is True
    assert watermark(engine) == format_time(now)
    issue_calls = [params for _, path, params in emulator.requests if path == "/issues.json"]
    assert len(issue_calls) == 1  # no reconciliation: it ran an hour ago


def test_full_rereads_everything_and_reconciles(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    mark = watermark(engine)
    emulator.delete_issue(9)
    _, issues = run(engine, redmine_settings, emulator, full=True)
    assert issues.deleted == 1
    assert watermark(engine) == mark  # a full re-read does not move the watermark backwards


def test_an_edit_during_paging_is_not_missed(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    def pages_with_an_edit(pages: Iterator[tuple[int, Any]]) -> Iterator:
        for number, page in pages:
            yield page
            if number == 0:  # issue 2 was on page 1 and is now stored; edit it and one not yet read
                advance(emulator, timedelta(minutes=1))
                emulator.update_issue(2, {"subject": "edited during the sync"})
                emulator.update_issue(120, {"subject": "edited before it was read"})

    run(engine, redmine_settings, emulator, client=client_with_pages(emulator, pages_with_an_edit))
    assert_mirrors(engine, emulator)
    assert stored(engine)[2]["subject"] == "edited during the sync"


def test_a_bulk_edit_in_one_second_is_stored_completely(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    now = advance(emulator, timedelta(hours=2))
    for n in range(1, 231):  # a bulk status change: 230 issues within 0.7 s
        emulator.update_issue(
            n, {"status": {"id": 2, "name": "In Progress"}}, at=now + timedelta(microseconds=n * 3000)
        )
    advance(emulator, timedelta(seconds=5))
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.updated == 230
    assert_mirrors(engine, emulator)
    assert all(row["status_name"] == "In Progress" for issue_id, row in stored(engine).items() if issue_id <= 230)


def test_a_status_flipped_to_closed_updates_its_stored_issues(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    emulator.put_issue(make_issue(300, status_id=3), updated_at=T0)
    run(engine, redmine_settings, emulator)
    assert stored(engine)[300]["is_closed"] is False
    emulator.statuses[2]["is_closed"] = True  # Administration → Issue statuses → Resolved: Issue closed
    statuses, _ = run(engine, redmine_settings, emulator)
    assert statuses.updated == 1
    assert stored(engine)[300]["is_closed"] is True


def test_the_lock_is_refreshed_between_pages(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    lock = SourceLock(engine, "redmine")
    assert lock.acquire()
    refreshed: list[datetime] = []
    original = lock.refresh

    def refresh() -> None:
        refreshed.append(utcnow())
        original()

    lock.refresh = refresh  # type: ignore[method-assign]  # counts this lock's refreshes
    try:
        run(engine, redmine_settings, emulator, lock=lock)
    finally:
        lock.release()
    assert len(refreshed) >= 3  # one per page of 100


# --- reconciliation --------------------------------------------------------------------------------------------------


def age_reconciliation(engine: Engine, hours: float) -> None:
    mark, extra = read_state(engine, "redmine", "issues")
    extra["reconciled_at"] = format_time(utcnow() - timedelta(hours=hours))
    with engine.begin() as conn:
        write_state(conn, "redmine", "issues", mark, extra)


def test_deleted_issues_are_marked_when_reconciliation_is_due(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    emulator.delete_issue(10)
    emulator.delete_issue(200)
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.deleted == 0  # reconciled an instant ago: not due yet
    assert stored(engine)[10]["deleted_at"] is None
    age_reconciliation(engine, 25)
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.deleted == 2
    rows = stored(engine)
    assert rows[10]["deleted_at"] is not None and rows[200]["deleted_at"] is not None
    assert runs(engine)[-1]["rows_deleted"] == 2
    assert_mirrors(engine, emulator)


def test_an_issue_that_comes_back_is_revived(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    old_10, old_20 = emulator.issue(10), emulator.issue(20)
    emulator.delete_issue(10)
    emulator.delete_issue(20)
    run(engine, redmine_settings, emulator, full=True)
    assert stored(engine)[10]["deleted_at"] is not None
    # 10 comes back unchanged (its project was unarchived): only the reconciliation can see it.
    emulator.put_issue(old_10)
    # 20 comes back edited: the incremental loop sees it.
    emulator.put_issue({**old_20, "updated_on": None}, updated_at=advance(emulator, timedelta(minutes=5)))
    _, issues = run(engine, redmine_settings, emulator)
    assert stored(engine)[20]["deleted_at"] is None
    assert stored(engine)[10]["deleted_at"] is not None  # not reconciled yet
    age_reconciliation(engine, 48)
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.updated == 1
    assert_mirrors(engine, emulator)


def test_a_failed_reconciliation_marks_nothing(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    run(engine, redmine_settings, emulator)
    emulator.delete_issue(10)
    emulator.fail(500, path="/issues.json", after=2, times=20)  # the id listing's second page keeps failing
    with pytest.raises(SyncError):
        run(engine, redmine_settings, emulator, full=True)
    assert stored(engine)[10]["deleted_at"] is None
    assert runs(engine)[-1]["status"] == "failed"


def test_reconcile_due() -> None:
    now = datetime(2026, 11, 24, 12)
    day = timedelta(hours=24)
    assert reconcile_due({}, now, day)
    assert reconcile_due({"reconciled_at": "garbage"}, now, day)
    assert not reconcile_due({"reconciled_at": "2026-11-24T00:00:00Z"}, now, day)
    assert reconcile_due({"reconciled_at": "2026-11-23T12:00:00Z"}, now, day)


def test_an_unreadable_stored_watermark_means_reading_everything_again(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    with engine.begin() as conn:
        write_state(conn, "redmine", "issues", "last tuesday")
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.inserted == 250
    assert watermark(engine) == emulator.issue(250)["updated_on"]


def test_the_watermark_only_moves_forward() -> None:
    assert later("", "2026-11-24T09:00:00Z") == "2026-11-24T09:00:00Z"
    assert later("2026-11-24T09:00:00Z", "") == "2026-11-24T09:00:00Z"
    assert later("2026-11-24T09:00:00Z", "2026-11-23T09:00:00Z") == "2026-11-24T09:00:00Z"


# --- faults --------------------------------------------------------------------------------------------------------

FAULTS: dict[str, Callable[[FaultyRedmineEmulator], object]] = {
    "timeouts": lambda e: e.timeout(path="/issues.json", after=1, times=50),
    "500s": lambda e: e.fail(500, path="/issues.json", after=1, times=50),
    "429s": lambda e: e.rate_limit(retry_after=1, path="/issues.json", after=1, times=50),
    "malformed JSON": lambda e: e.malformed(path="/issues.json", after=1),
    "HTML instead of JSON": lambda e: e.fail(200, path="/issues.json", after=1, body=b"<html>proxy error</html>"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_halfway_loses_nothing_and_the_next_run_recovers(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator, fault: str
) -> None:
    FAULTS[fault](emulator)  # the first page of issues succeeds, the second fails for good
    with pytest.raises(SyncError) as caught:
        run(engine, redmine_settings, emulator)
    rows = stored(engine)
    assert sorted(rows) == list(range(1, 101))  # page 1 committed, nothing of page 2
    assert watermark(engine) == emulator.issue(100)["updated_on"]
    assert_watermark_covers_only_committed_rows(engine)
    failed = runs(engine)[-1]
    assert (failed["module"], failed["status"]) == ("issues", "failed")
    assert failed["error"] == str(caught.value) and failed["error"]
    assert failed["rows_inserted"] == 100 and failed["requests"] >= 2

    emulator.faults.clear()
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.inserted == 150
    assert_mirrors(engine, emulator)
    assert runs(engine)[-1]["status"] == "success"


def test_a_transient_fault_is_retried_within_the_run(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    emulator.fail(502, path="/issues.json", after=1, times=2)
    emulator.rate_limit(retry_after=2, path="/issues.json", after=2)
    emulator.timeout(path="/issue_statuses.json")
    run(engine, redmine_settings, emulator)
    assert_mirrors(engine, emulator)
    assert [r["status"] for r in runs(engine)] == ["success", "success"]


def test_a_bad_key_fails_every_module_clearly_and_writes_nothing(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    with pytest.raises(SyncError, match=r"rejected REDMINE_API_KEY \(401\)"):
        run(engine, redmine_settings, emulator, client=client_for(emulator, api_key="0" * 40))
    assert stored(engine) == {}
    assert watermark(engine) == ""
    assert [(r["module"], r["status"], r["error"]) for r in runs(engine)] == [
        ("statuses", "failed", "Redmine rejected REDMINE_API_KEY (401): copy the key from My account → API access key"),
        ("issues", "failed", "Redmine rejected REDMINE_API_KEY (401): copy the key from My account → API access key"),
    ]
    assert runs(engine)[0]["requests"] == 1
    run(engine, redmine_settings, emulator)  # fixed key: recovers
    assert_mirrors(engine, emulator)


def test_a_disabled_rest_api_is_reported_before_reading_issues(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    emulator.rest_api_enabled = False  # /issues.json would now answer 200 with nothing
    with pytest.raises(SyncError, match="Administration → Settings → API"):
        run(engine, redmine_settings, emulator)
    assert stored(engine) == {}


def test_a_crash_between_upsert_and_watermark_rolls_both_back(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies while committing page 2: its rows and its watermark go together, or not at all."""
    import sync.redmine_sync as redmine_sync

    calls = {"n": 0}
    real_write_state = redmine_sync.write_state

    def crashing_write_state(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")  # not an Exception: nothing may swallow it
        real_write_state(*args, **kwargs)

    monkeypatch.setattr(redmine_sync, "write_state", crashing_write_state)
    with pytest.raises(KeyboardInterrupt):
        run(engine, redmine_settings, emulator)
    assert sorted(stored(engine)) == list(range(1, 101))  # page 2's upsert was rolled back with the watermark
    assert watermark(engine) == emulator.issue(100)["updated_on"]
    assert runs(engine)[-1]["status"] == "failed"

    monkeypatch.setattr(redmine_sync, "write_state", real_write_state)
    run(engine, redmine_settings, emulator)
    assert_mirrors(engine, emulator)


def test_a_crash_of_the_caller_between_pages_resumes_from_the_last_commit(
    engine: Engine, redmine_settings: Settings, emulator: FaultyRedmineEmulator
) -> None:
    def dying(pages: Iterator[tuple[int, Any]]) -> Iterator:
        for number, page in pages:
            if number == 2:
                raise RuntimeError("worker killed")
            yield page

    with pytest.raises(RuntimeError):
        run(engine, redmine_settings, emulator, client=client_with_pages(emulator, dying))
    # Page 2 started at issue 100's second (Redmine's overlap), so two pages hold issues 1-199.
    assert sorted(stored(engine)) == list(range(1, 200))
    assert "worker killed" in runs(engine)[-1]["error"]
    emulator.requests.clear()
    _, issues = run(engine, redmine_settings, emulator)
    assert issues.inserted == 51
    assert_mirrors(engine, emulator)
    first_issue_call = next(params for _, path, params in emulator.requests if path == "/issues.json")
    assert first_issue_call["updated_on"] == ">=" + emulator.issue(199)["updated_on"]  # resumed, not restarted

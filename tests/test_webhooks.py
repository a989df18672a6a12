"""web/webhooks.py and sync/triggers.py: a webhook call with the right secret starts a sync of the module it
names (on the embedded scheduler without Redis, on RQ with it), many calls become one sync, calls are rate
limited, the payload is never kept, and everything else gets 404 / 405 / 413 / 429."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import Engine, MetaData, select

from models.db import make_engine
from models.schema import sync_runs, webhook_tokens
from sync.demo import source as demo
from sync.engine import SourceLock
from sync.triggers import PendingRequests, claim_rq_request, modules_named, queued_key, requested_key
from tests.auth_support import AUTH_ON, build_app
from tests.browser import wait_for
from tests.conftest import postgres_url, truncate_all

URL_PATTERN = re.compile(r"^https://kpi\.example\.com/webhooks/(vtiger|redmine)/([A-Za-z0-9_-]{43})$", re.MULTILINE)
DEMO_NOW = datetime(2026, 3, 2, 15, 0)
FORM = "application/x-www-form-urlencoded"  # what VTiger's workflow sends when its parameters are a form


@pytest.fixture(autouse=True)
def quick_demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Demo mode serves both sources from the emulators; a short history keeps each sync quick."""
    monkeypatch.setattr(demo, "clock", lambda: DEMO_NOW)
    monkeypatch.setattr(demo, "HISTORY_DAYS", 5)
    demo.reset_cache()
    yield
    demo.reset_cache()


def make_app(settings_for, database_url: str, **overrides):
    return build_app(settings_for(database_url, **{**AUTH_ON, "public_url": "https://kpi.example.com", **overrides}))


@pytest.fixture
def hook_app(settings_for, database_url):
    """Sign-in on, no Redis (the embedded scheduler runs what webhooks ask), SQLite and PostgreSQL."""
    dash_app = make_app(settings_for, database_url)
    yield dash_app
    stop(dash_app)


def stop(dash_app) -> None:
    runtime = dash_app.server.extensions["kpi"]
    scheduler = runtime.scheduler
    if scheduler is not None:
        scheduler.stop()
    runtime.engine.dispose()


def cli(dash_app, *args: str):
    return dash_app.server.test_cli_runner().invoke(args=["webhook", *args])


def create(dash_app, source: str = "vtiger") -> str:
    result = cli(dash_app, "create", source)
    assert result.exit_code == 0, result.output
    match = URL_PATTERN.search(result.stdout)
    assert match and match.group(1) == source, result.stdout
    return match.group(2)


def engine_of(dash_app) -> Engine:
    return dash_app.server.extensions["kpi"].engine


def webhook_runs(engine: Engine, source: str) -> list[str]:
    with engine.connect() as conn:
        query = select(sync_runs.c.module).where(
            sync_runs.c.source == source, sync_runs.c.trigger == "webhook", sync_runs.c.status != "running"
        )
        return sorted(conn.execute(query).scalars())


# --- the secret and the CLI -------------------------------------------------------------------------------------


def test_create_prints_the_url_once_and_stores_only_the_hash(hook_app) -> None:
    token = create(hook_app)
    with engine_of(hook_app).connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(webhook_tokens))]
    assert len(rows) == 1 and rows[0]["source"] == "vtiger"
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(rows)

    listing = cli(hook_app, "list")
    assert listing.exit_code == 0
    assert re.search(r"^vtiger\s+\S+ \S+\s+never\s+active$", listing.stdout, re.MULTILINE), listing.stdout
    assert token not in listing.stdout

    client = hook_app.server.test_client()
    assert client.post(f"/webhooks/vtiger/{token}", json={"module": "Cases"}).status_code == 202
    assert "never" not in cli(hook_app, "list").stdout.splitlines()[1]  # last called is noted

    replaced = create(hook_app)  # a new secret replaces the old one at once
    assert client.post(f"/webhooks/vtiger/{token}").status_code == 404
    assert client.post(f"/webhooks/vtiger/{replaced}").status_code == 202

    revoked = cli(hook_app, "revoke", "vtiger")
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert client.post(f"/webhooks/vtiger/{replaced}").status_code == 404
    assert "revoked" in cli(hook_app, "list").stdout
    assert "no active secret" in cli(hook_app, "revoke", "vtiger").stdout
    assert cli(hook_app, "create", "jira").exit_code != 0  # only the two sources


def test_without_public_url_the_cli_says_how_to_print_the_real_address(settings_for, sqlite_url) -> None:
    dash_app = make_app(settings_for, sqlite_url, public_url="")
    try:
        result = cli(dash_app, "create", "redmine")
        assert result.exit_code == 0
        assert re.search(r"^http://127\.0\.0\.1:8050/webhooks/redmine/[A-Za-z0-9_-]{43}$", result.stdout, re.M)
        assert "PUBLIC_URL" in result.stderr
        with_base = cli(dash_app, "create", "redmine", "--base-url", "https://kpi.example.com/")
        assert URL_PATTERN.search(with_base.stdout)
    finally:
        stop(dash_app)


# --- refusals -----------------------------------------------------------------------------------------------------


def test_wrong_tokens_get_404_and_start_nothing(hook_app) -> None:
    token = create(hook_app, "vtiger")
    client = hook_app.server.test_client()
    for path in (
        f"/webhooks/redmine/{token}",  # the other source's URL
        f"/webhooks/vtiger/{token[:-1]}A" if not token.endswith("A") else f"/webhooks/vtiger/{token[:-1]}B",
        "/webhooks/vtiger/short",
        f"/webhooks/jira/{token}",
    ):
        response = client.post(path, json={"module": "Cases"})
        assert response.status_code == 404, path
    assert hook_app.server.extensions["kpi"].scheduler is None  # no sync was asked for
    assert webhook_runs(engine_of(hook_app), "vtiger") == []


def test_other_methods_get_405_not_the_sign_in_page(hook_app) -> None:
    token = create(hook_app)
    client = hook_app.server.test_client()
    for method in ("get", "put", "delete", "patch"):
        response = getattr(client, method)(f"/webhooks/vtiger/{token}")
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "POST"
    assert hook_app.server.extensions["kpi"].scheduler is None


def test_a_body_over_64_kb_gets_413_and_starts_nothing(hook_app) -> None:
    token = create(hook_app)
    client = hook_app.server.test_client()
    response = client.post(f"/webhooks/vtiger/{token}", data=b"x" * (64 * 1024 + 1), content_type="text/plain")
    assert response.status_code == 413
    assert hook_app.server.extensions["kpi"].scheduler is None

    chunked = client.post(
        f"/webhooks/vtiger/{token}",
        input_stream=io.BytesIO(b"y" * (80 * 1024)),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "text/plain"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )
    assert chunked.status_code == 413  # no Content-Length: the limit still holds while reading
    assert hook_app.server.extensions["kpi"].scheduler is None

    exactly = client.post(f"/webhooks/vtiger/{token}", data=b"x" * (64 * 1024), content_type="text/plain")
    assert exactly.status_code == 202


def test_webhooks_need_no_csrf_token_and_the_rest_still_does(hook_app) -> None:
    token = create(hook_app, "redmine")
    client = hook_app.server.test_client()  # no session, no CSRF cookie, no sign-in
    assert client.post(f"/webhooks/redmine/{token}", json={"payload": {"action": "opened"}}).status_code == 202
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.post("/tv/report", json={}).status_code == 401
    assert client.get("/status").status_code == 302  # pages still go to sign-in


# --- what a call starts ---------------------------------------------------------------------------------------------


def test_the_module_comes_from_the_payload() -> None:
    prefixes = {"Cases": "39x", "Potentials": "13x", "PhoneCalls": "43x"}
    assert modules_named("vtiger", {"module": "Cases"}) == {"Cases"}
    assert modules_named("vtiger", {"Module": "deals"}) == {"Potentials"}
    assert modules_named("vtiger", {"data": {"setype": "PhoneCalls"}}) == {"PhoneCalls"}
    assert modules_named("vtiger", {"module": "Calls"}) == {"PhoneCalls"}
    assert modules_named("vtiger", {"module": "HelpDesk"}) == {"Cases"}
    assert modules_named("vtiger", {"id": "13x4021", "title": "a deal"}, prefixes) == {"Potentials"}
    every = {"Cases", "Potentials", "PhoneCalls"}
    assert modules_named("vtiger", {"module": "Contacts"}) == every  # not one we sync: everything
    assert modules_named("vtiger", {"id": "13x4021"}) == every  # no prefixes known yet
    assert modules_named("vtiger", ["Cases"]) == every
    assert modules_named("vtiger", None) == every
    assert modules_named("redmine", {"payload": {"issue": {"id": 191}, "action": "opened"}}) == {"issues"}
    assert modules_named("redmine", {}) == {"statuses", "issues"}


def test_embedded_calls_coalesce_into_one_sync_of_the_named_modules(hook_app) -> None:
    token = create(hook_app)
    engine = engine_of(hook_app)
    client = hook_app.server.test_client()
    elsewhere = SourceLock(engine, "vtiger")  # a sync in another process: the request has to wait for it
    assert elsewhere.acquire()
    try:
        answers = [
            client.post(f"/webhooks/vtiger/{token}", json={"module": module}).get_json()["sync"]
            for module in ("Cases", "Potentials", "Cases", "Cases", "deals")
        ]
        assert answers == ["queued", "absorbed", "absorbed", "absorbed", "absorbed"]
        assert webhook_runs(engine, "vtiger") == []
    finally:
        elsewhere.release()
    wait_for(
        lambda: {"Cases", "Potentials"} <= set(webhook_runs(engine, "vtiger")),
        60,
        message="the webhook's sync once the lock is free",
    )
    scheduler = hook_app.server.extensions["kpi"].scheduler
    assert scheduler.requests.sources() == []  # everything asked was claimed by that one sync
    runs = webhook_runs(engine, "vtiger")
    assert runs.count("Cases") == 1 and runs.count("Potentials") == 1  # five calls, one sync
    assert "PhoneCalls" not in runs
    with engine.connect() as conn:  # the scheduler only ran what was asked: no scheduled pass on this app
        assert set(conn.execute(select(sync_runs.c.trigger)).scalars()) == {"webhook"}


def test_pending_requests_absorb_until_claimed_then_one_follow_up() -> None:
    pending = PendingRequests()
    assert pending.add("vtiger", {"Cases"}) is False  # the first call: a sync is needed
    assert pending.add("vtiger", {"Potentials"}) is True  # absorbed by the waiting request
    assert pending.claim("vtiger") == {"Cases", "Potentials"}  # the sync took the lock and everything asked
    assert pending.add("vtiger", {"Cases"}) is False  # during that sync: one follow-up
    assert pending.add("vtiger", {"PhoneCalls"}) is True
    assert pending.sources() == ["vtiger"]
    assert pending.claim("vtiger") == {"Cases", "PhoneCalls"}
    assert pending.claim("vtiger") == frozenset() and pending.sources() == []


def test_the_payload_is_never_stored(hook_app, caplog) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    token = create(hook_app, "vtiger")
    client = hook_app.server.test_client()
    caplog.set_level(logging.INFO, logger="kpi.webhooks")
    payload = {"module": "Cases", "id": marker, "title": marker, "description": marker * 20, marker: [marker]}
    assert client.post(f"/webhooks/vtiger/{token}", json=payload).status_code == 202
    engine = engine_of(hook_app)
    wait_for(lambda: "Cases" in webhook_runs(engine, "vtiger"), 60, message="the webhook's sync")

    reflected = MetaData()
    reflected.reflect(engine)
    with engine.connect() as conn:
        for table in reflected.sorted_tables:
            for row in conn.execute(select(table)):
                assert marker not in repr(tuple(row)), table.name
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert marker not in logged
    assert re.search(r"webhook vtiger: \d+ bytes", logged)


# --- rate limits ------------------------------------------------------------------------------------------------


def test_calls_are_rate_limited_per_source(hook_app) -> None:
    hook_app.server.extensions["kpi"].webhook_rate = "3/minute"
    vtiger, redmine = create(hook_app, "vtiger"), create(hook_app, "redmine")
    client = hook_app.server.test_client()
    codes = [client.post(f"/webhooks/vtiger/{vtiger}").status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = client.post(f"/webhooks/vtiger/{vtiger}")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 61
    assert client.post(f"/webhooks/redmine/{redmine}").status_code == 202  # the other source has its own budget
    assert client.post("/webhooks/vtiger/" + "A" * 43).status_code == 404  # a wrong token is still a 404


# --- with Redis and RQ ------------------------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = postgres_url()
    engine = make_engine(url)
    truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def rq_app(settings_for, pg_url, redis_url, monkeypatch, tmp_path: Path):
    """An app on Redis and PostgreSQL; the worker's job reads the same DATABASE_URL from its environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("VTIGER_URL", "REDMINE_URL", "REDIS_URL", "KPI_CONFIG", "TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    dash_app = make_app(settings_for, pg_url, redis_url=redis_url)
    yield dash_app
    stop(dash_app)


def run_worker(redis: Redis) -> None:
    Worker([Queue("sync", connection=redis)], connection=redis).work(burst=True)


def test_rq_calls_coalesce_into_one_job(rq_app, redis) -> None:
    token = create(rq_app)
    client = rq_app.server.test_client()
    answers = [
        client.post(
            f"/webhooks/vtiger/{token}", data=f"module={module}", content_type="application/x-www-form-urlencoded"
        ).get_json()["sync"]
        for module in ("Cases", "Cases", "Calls", "Cases")
    ]
    assert answers == ["queued", "absorbed", "absorbed", "absorbed"]
    assert Queue("sync", connection=redis).count == 1

    run_worker(redis)
    engine = engine_of(rq_app)
    runs = webhook_runs(engine, "vtiger")
    assert runs.count("Cases") == 1 and runs.count("PhoneCalls") == 1 and "Potentials" not in runs
    assert redis.scard(requested_key("vtiger")) == 0 and redis.get(queued_key("vtiger")) is None

    assert client.post(f"/webhooks/vtiger/{token}", json={"module": "Cases"}).get_json()["sync"] == "queued"


def test_rq_a_running_sync_gets_one_follow_up(rq_app, redis) -> None:
    token = create(rq_app)
    client = rq_app.server.test_client()
    queue = Queue("sync", connection=redis)

    def call(module: str) -> str:
        return client.post(f"/webhooks/vtiger/{token}", json={"module": module}).get_json()["sync"]

    assert call("Cases") == "queued"
    first = queue.jobs[0]
    # The first job takes the lock and claims what was asked: from now on it is running, not waiting.
    assert claim_rq_request(redis, "vtiger", first.id) == {"Cases"}
    assert [call("Potentials"), call("PhoneCalls"), call("Potentials")] == ["queued", "absorbed", "absorbed"]
    assert queue.count == 2  # the running one and one follow-up, however many calls came

    queue.remove(first)  # the first finished meanwhile: the follow-up syncs what came after it started
    run_worker(redis)
    runs = webhook_runs(engine_of(rq_app), "vtiger")
    assert sorted(set(runs) - {"users"}) == ["PhoneCalls", "Potentials"]
    assert runs.count("Potentials") == 1


def test_rq_rate_limit_is_shared_by_every_web_process(rq_app, settings_for, pg_url, redis_url, redis) -> None:
    token = create(rq_app)
    other = make_app(settings_for, pg_url, redis_url=redis_url)  # another gunicorn worker or machine
    try:
        for dash_app in (rq_app, other):
            dash_app.server.extensions["kpi"].webhook_rate = "3/minute"
        first, second = rq_app.server.test_client(), other.server.test_client()
        codes = [client.post(f"/webhooks/vtiger/{token}").status_code for client in (first, second, first, second)]
        assert codes == [202, 202, 202, 429]
    finally:
        stop(other)


def test_rq_payload_is_not_kept_in_redis(rq_app, redis) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    token = create(rq_app)
    client = rq_app.server.test_client()
    assert client.post(f"/webhooks/vtiger/{token}", json={"module": "Cases", "title": marker}).status_code == 202
    job = Queue("sync", connection=redis).jobs[0]
    assert job.args == ("vtiger",) and job.kwargs == {}  # the job names the source, nothing from the call
    for key in redis.scan_iter():
        assert marker.encode() not in key
        for value in redis_values(redis, key):
            assert marker.encode() not in value, key


def redis_values(redis: Any, key: bytes) -> list[bytes]:
    """Every value stored under `key`, RQ's compressed job data decompressed. `redis: Any`: a bytes-mode client,
    whose replies redis-py types as bytes | str."""
    kind = redis.type(key).decode()
    if kind == "string":
        return [redis.get(key) or b""]
    if kind == "set":
        return list(redis.smembers(key))
    if kind == "list":
        return list(redis.lrange(key, 0, -1))
    if kind == "zset":
        return list(redis.zrange(key, 0, -1))
    if kind == "hash":
        values = []
        for field, value in redis.hgetall(key).items():
            values.append(zlib.decompress(value) if field == b"data" else value)
        return values
    return [redis.dump(key) or b""]


def test_a_source_without_credentials_gets_409(settings_for, sqlite_url) -> None:
    from settings import VtigerSettings

    vtiger_only = VtigerSettings(url="https://vtiger.invalid/restapi/v1/vtiger/default", username="u", access_key="k")
    dash_app = make_app(settings_for, sqlite_url, vtiger=vtiger_only)  # Redmine is not configured
    try:
        token = create(dash_app, "redmine")
        response = dash_app.server.test_client().post(f"/webhooks/redmine/{token}")
        assert response.status_code == 409 and "not configured" in response.get_json()["error"]
        assert dash_app.server.extensions["kpi"].scheduler is None
    finally:
        stop(dash_app)

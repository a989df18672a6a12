"""Scale-out, proved on loopback (issue 15 item 12): the Procfile's processes, twice where a second machine would
run them, on one PostgreSQL database and one Redis:

    release: `flask --app app:server db upgrade`, once
    web:     two `gunicorn app:server` masters (two workers each, as the Procfile says) on two ports
    worker:  two `rq worker --with-scheduler sync default`
    cron:    one `rq cron sync.cron` (SYNC_INTERVAL_MINUTES=1; its first tick runs at start)

VTiger is the emulator served over real HTTP (threaded, so a held request does not stall the others); Redmine is
not configured, so every sync here is VTiger's. The tests, in order, on the one cluster:

1. two syncs of a source enqueued at once: one runs, the other reports "busy", and no two runs overlap;
2. a new case synced: the next read of each web process (all four gunicorn workers) has it;
3. a worker killed with SIGKILL (the worker and its work horse) while its run is storing pages: the next "Sync now"
   syncs at once, the table equals the emulator (nothing lost, nothing twice) and the watermark is never ahead
   of the committed rows.

Every wait has a deadline; every process is stopped in a finalizer; their logs are printed when a test fails.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import psutil
import pytest
import requests
from pytest_httpserver import HTTPServer
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import Engine, func, select
from werkzeug import Request, Response

from models.db import create_postgres_database, drop_postgres_database, make_engine, utcnow
from models.schema import cases, sync_locks, sync_runs, sync_state
from sync.demo.vtiger_emulator import BASE_PATH, VtigerEmulator, format_time
from sync.jobs import QUEUE_NAME, enqueue_sync
from tests.conftest import TEST_REDIS_URL, service_missing
from tests.test_response_cache import page_body
from web.csrf import CSRF_COOKIE, CSRF_HEADER

pytestmark = pytest.mark.slow

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # gunicorn, rq and flask of this virtualenv
USERNAME = "admin@example.com"
ACCESS_KEY = "sc4le-0ut-k3y"
USERS = [
    {"id": "19x1", "user_name": USERNAME, "first_name": "Ada", "last_name": "Admin", "email1": "a@x",
     "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"},
    {"id": "19x5", "user_name": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "email1": "ann@x",
     "status": "Active", "user_primary_group": "20x2", "time_zone": "UTC"},
]  # fmt: skip
GROUPS = [{"id": "20x2", "groupname": "Support"}]
FIRST_CASES = 150  # two /sync pages at the start
KILLED_RUN_CASES = 250  # three pages: the run is killed while it waits for the second
CREATED_DAY = (utcnow() - timedelta(days=3)).date()  # the day whose "created" export the web test reads
START_TIMEOUT = 60.0  # a web process imports Dash and builds the app; a worker imports the sync code
SYNC_TIMEOUT = 60.0
EPOCH = datetime(1970, 1, 1)  # a sync of a few hundred cases from a loopback emulator takes a second or two


# --- processes ----------------------------------------------------------------------------------------------------


@dataclass
class Process:
    """One process of the cluster in its own process group, its output in a log file."""

    name: str
    popen: subprocess.Popen
    log: Path
    killed: bool = False  # on purpose, by a test: its exit is no failure

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM to the group (RQ's warm shutdown, gunicorn's graceful stop), then SIGKILL to it and to every
        descendant: an RQ work horse runs in a process group of its own."""
        try:
            descendants = psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout=10)
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def tail(self, chars: int = 6000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"----- {self.name} (exit {self.popen.poll()}) -----\n{text[-chars:]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile() -> dict[str, str]:
    entries = (line.partition(":") for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    return {name.strip(): command.strip() for name, _, command in entries}


# --- the VTiger peer ------------------------------------------------------------------------------------------


@dataclass
class Hold:
    """Holds the (skip+1)-th request to `endpoint` (of `module`, when given) until released, as a slow VTiger
    would: the run holding the lock is then provably in the middle of its work."""

    endpoint: str
    module: str = ""
    skip: int = 0
    seen: int = 0
    waiting: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, request: Request) -> bool:
        return request.path.endswith(self.endpoint) and (
            not self.module or request.args.get("elementType") == self.module
        )


class HoldingServer(HTTPServer):
    """pytest-httpserver, threaded, that can hold one chosen request (see Hold) before answering it."""

    def __init__(self) -> None:
        super().__init__(host="127.0.0.1", port=free_port(), threaded=True)
        self.hold: Hold | None = None
        self._count_lock = threading.Lock()

    def dispatch(self, request: Request) -> Response:
        hold = self.hold
        if hold is not None and hold.matches(request):
            with self._count_lock:
                turn, hold.seen = hold.seen, hold.seen + 1
            if turn == hold.skip:
                hold.waiting.set()
                hold.released.wait(timeout=120)
        return super().dispatch(request)

    def arm(self, hold: Hold) -> Hold:
        self.hold = hold
        return hold

    def release(self) -> None:
        if self.hold is not None:
            self.hold.released.set()
            self.hold = None


def case_record(number: int, modified: datetime, created: datetime, title: str = "") -> dict[str, Any]:
    return {
        "id": f"39x{number}", "case_no": f"CC{number}", "title": title or f"Case {number}", "casestatus": "Open",
        "casepriority": "Low", "assigned_user_id": "19x5", "group_id": "20x2", "modifiedby": "19x1",
        "createdtime": format_time(created), "modifiedtime": format_time(modified), "time_spent": "1.0",
        "sla_actual_closureon": "",
    }  # fmt: skip


# --- the cluster ----------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    database_url: str
    redis_url: str
    peer: HoldingServer
    emulator: VtigerEmulator
    logs: Path
    engine: Engine
    redis: Redis
    web_ports: list[int] = field(default_factory=list)
    web: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    others: list[Process] = field(default_factory=list)

    @property
    def processes(self) -> list[Process]:
        return [*self.web, *self.workers, *self.others]

    def env(self, **extra: str) -> dict[str, str]:
        """The one configuration every process shares, as a deployment's environment would give it; nothing of
        the developer's own environment that could point elsewhere."""
        unwanted = ("VTIGER_", "REDMINE_", "GOOGLE_", "KPI_", "ALLOWED_", "DATABASE_URL", "REDIS_URL", "TIMEZONE")
        env = {key: value for key, value in os.environ.items() if not key.startswith(unwanted)}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SECRET_KEY="scale-out-secret-key",
            AUTH_DISABLED="true",
            SYNC_INTERVAL_MINUTES="1",
            VTIGER_URL=self.peer.url_for(BASE_PATH),
            VTIGER_USERNAME=USERNAME,
            VTIGER_ACCESS_KEY=ACCESS_KEY,
            **extra,
        )
        return env

    def start(self, name: str, command: str, **env: str) -> Process:
        log = self.logs / f"{name}.log"
        popen = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: stopped (or killed) with its children
        )
        return Process(name, popen, log)

    def release(self) -> None:
        """The Procfile's release step, as a deployment runs it before starting the processes."""
        done = subprocess.run(
            ["bash", "-c", procfile()["release"]],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"release failed:\n{done.stdout}\n{done.stderr}"

    def start_all(self) -> None:
        commands = procfile()
        # gunicorn.conf.py refuses AUTH_DISABLED on anything but loopback: the test listens on 127.0.0.1 only.
        web = commands["web"].replace("0.0.0.0", "127.0.0.1")
        for index in (1, 2):
            port = free_port()
            self.web_ports.append(port)
            self.web.append(self.start(f"web{index}", web, PORT=str(port), WEB_CONCURRENCY="2"))
        self.workers = [self.start(f"worker{index}", commands["worker"]) for index in (1, 2)]
        self.others.append(self.start("cron", commands["cron"]))
        for port in self.web_ports:
            self.wait_for(f"web on :{port}", lambda port=port: self.healthy(port), START_TIMEOUT)
        self.wait_for("two RQ workers", lambda: len(Worker.all(connection=self.redis)) == 2, START_TIMEOUT)

    def stop_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop()

    def get(self, port: int, path: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=30)

    def healthy(self, port: int) -> bool:
        try:
            return self.get(port, "/healthz").ok
        except requests.ConnectionError:  # not listening yet
            return False

    def wait_for(self, what: str, check: Callable[..., T], timeout: float) -> T:  # `...`: lambdas bind loop variables
        """Poll `check` until it returns something true; fail (with every process's log) at the deadline or when
        a process of the cluster exited."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            dead = [process.name for process in self.processes if not (process.alive or process.killed)]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"not within {timeout:.0f} s"
                raise AssertionError(f"waiting for {what}: {why}\n{self.all_logs()}")
            time.sleep(0.2)

    def all_logs(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    # --- what the database and RQ say ---------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings()]

    def run_status(self, job_id: str, module: str = "Cases") -> str:
        rows = [run for run in self.runs() if run["job_id"] == job_id and run["module"] == module]
        return rows[-1]["status"] if rows else ""

    def finished(self, job: Job) -> Any:
        """The job's result once it finished (fails the test if RQ says it failed)."""
        status = job.get_status(refresh=True)
        assert status != JobStatus.FAILED, f"job {job.id} failed:\n{self.all_logs()}"
        return job.return_value() if status == JobStatus.FINISHED else None

    def stored_cases(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(select(cases).order_by(cases.c.id)).mappings()]

    def watermark(self, module: str = "Cases") -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(sync_state.c.watermark).where(sync_state.c.source == "vtiger", sync_state.c.module == module)
            ).scalar()
        return int(value or 0)

    def newest_committed_case(self) -> int:
        """The newest modification time among committed case rows, in unix seconds (0 with none)."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(cases.c.updated_at))).scalar()
        return int((newest - EPOCH).total_seconds()) if newest else 0


def assert_no_overlapping_runs(cluster: Cluster) -> None:
    """A job's rows (users, Cases, Potentials, PhoneCalls) run one after another under the lock: the spans of two
    jobs of a source must not overlap."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for run in cluster.runs():
        end = run["finished_at"] or utcnow()
        start, stop = spans.get(run["job_id"], (run["started_at"], end))
        spans[run["job_id"]] = (min(start, run["started_at"]), max(stop, end))
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    for (first, (_, first_end)), (second, (second_start, _)) in itertools.pairwise(ordered):
        assert first_end <= second_start, f"runs of jobs {first} and {second} overlap: {cluster.runs()}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        redis.ping()
    except Exception as exc:  # noqa: BLE001 - Redis missing: skipped locally, failed in CI
        service_missing(f"Redis at {TEST_REDIS_URL}: {exc}")
    database_url = f"postgresql://postgres@127.0.0.1:5432/kpi_scale_{os.getpid()}"
    try:
        create_postgres_database(database_url)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL missing: skipped locally, failed in CI
        service_missing(f"PostgreSQL at {database_url}: {exc}")
    redis.flushdb()
    emulator = VtigerEmulator(users=USERS, groups=GROUPS, username=USERNAME, access_key=ACCESS_KEY)
    now = utcnow().replace(microsecond=0)
    for number in range(1, FIRST_CASES + 1):
        created = datetime.combine(CREATED_DAY, datetime.min.time()) + timedelta(hours=8, minutes=number % 50)
        emulator.put("Cases", case_record(number, now - timedelta(minutes=FIRST_CASES + 10 - number), created))
    peer = HoldingServer()
    emulator.serve(peer)
    peer.start()
    engine = make_engine(database_url)
    cluster = Cluster(database_url, TEST_REDIS_URL, peer, emulator, tmp_path_factory.mktemp("scale-out"), engine, redis)
    try:
        cluster.release()
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop_all()
        peer.release()
        peer.clear()
        if peer.is_running():
            peer.stop()
        engine.dispose()
        redis.flushdb()
        redis.close()
        drop_postgres_database(database_url)


@pytest.fixture(autouse=True)
def logs_on_failure(request: pytest.FixtureRequest, cluster: Cluster, capsys: pytest.CaptureFixture) -> Iterator[None]:
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        with capsys.disabled():
            print(f"\n===== process logs after {request.node.name} =====\n{cluster.all_logs()}")


# --- the tests ------------------------------------------------------------------------------------------------


def test_cron_syncs_at_start_and_two_syncs_of_a_source_never_overlap(cluster: Cluster) -> None:
    # rq cron's first tick runs at start: the first sync brings every case.
    cluster.wait_for(
        "the first sync (rq cron at start)",
        lambda: any(run["module"] == "Cases" and run["status"] == "success" for run in cluster.runs()),
        SYNC_TIMEOUT,
    )
    assert len(cluster.stored_cases()) == FIRST_CASES

    # Two syncs at once, one per worker; VTiger holds the first /me, so the first run is provably still going
    # when the second starts.
    hold = cluster.peer.arm(Hold("/me"))
    queue = Queue(QUEUE_NAME, connection=cluster.redis)
    jobs = [queue.enqueue("sync.jobs.sync_source", "vtiger") for _ in range(2)]
    try:
        cluster.wait_for("a run waiting on VTiger", hold.waiting.is_set, SYNC_TIMEOUT)
        busy = cluster.wait_for(
            "the second sync to report busy",
            lambda: [job for job in jobs if (cluster.finished(job) or {}).get("status") == "busy"],
            SYNC_TIMEOUT,
        )
    finally:
        cluster.peer.release()
    assert len(busy) == 1
    (running,) = [job for job in jobs if job is not busy[0]]
    result = cluster.wait_for("the held sync to finish", lambda: cluster.finished(running), SYNC_TIMEOUT)
    assert result["status"] == "ok"
    for job in jobs:
        job.refresh()
    assert {job.worker_name for job in jobs} == {worker.name for worker in Worker.all(connection=cluster.redis)}
    assert not [run for run in cluster.runs() if run["job_id"] == busy[0].id]  # busy: no run recorded
    assert_no_overlapping_runs(cluster)


def created_export(cluster: Cluster, port: int) -> list[dict[str, str]]:
    """What a person downloads: the cases created on CREATED_DAY, from the web process on `port`."""
    response = cluster.get(port, f"/export/cases.csv?kpi=created&window=day&date={CREATED_DAY.isoformat()}")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def cases_page(cluster: Cluster, port: int) -> str:
    """What a person sees: the /cases page's answer for CREATED_DAY (the callback answer the web processes share in
    the Redis cache, web/cache.py), posted as the browser does, with the CSRF cookie the page set."""
    session = requests.Session()
    assert session.get(f"http://127.0.0.1:{port}/cases", timeout=30).ok
    dependencies = session.get(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=30).json()
    dash_app = SimpleNamespace(callback_map={entry["output"]: entry for entry in dependencies})
    body = page_body(dash_app, "cases", day=CREATED_DAY.isoformat(), window="day")
    answer = session.post(
        f"http://127.0.0.1:{port}/_dash-update-component",
        json=body,
        headers={CSRF_HEADER: session.cookies.get(CSRF_COOKIE) or ""},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    return answer.text


def created_card(page: str) -> str:
    """The number on the page's "Created" card of the day (the table's rows come in a request of their own)."""

    def walk(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    found = [n for n in walk(json.loads(page)) if (n.get("props") or {}).get("id") == "cases-day-created"]
    assert found, "no Created card in the page's answer"
    return str(found[0]["props"]["children"])


def test_both_web_processes_serve_a_synced_case_at_the_next_read(cluster: Cluster) -> None:
    # Four reads each (two gunicorn workers per process): the page's answer without the new case is in the shared
    # Redis cache.
    before = [created_export(cluster, port) for port in cluster.web_ports for _ in range(4)]
    assert [len(rows) for rows in before] == [FIRST_CASES] * 8
    pages_before = [cases_page(cluster, port) for port in cluster.web_ports for _ in range(4)]
    assert {created_card(page) for page in pages_before} == {f"{FIRST_CASES:,}"}

    created = datetime.combine(CREATED_DAY, datetime.min.time()) + timedelta(hours=17)
    cluster.emulator.put("Cases", case_record(900, utcnow() - timedelta(seconds=1), created, "Scale-out arrival"))
    job = enqueue_sync(cluster.redis_url, "vtiger")  # what "Sync now" does
    if job is None:  # a cron tick's sync is pending: it brings the case as well
        pending = cluster.redis.get("kpi:sync:latest-job:vtiger")
        assert isinstance(pending, bytes), pending
        job = Job.fetch(pending.decode(), connection=cluster.redis)
    cluster.wait_for("the sync of the new case", lambda: cluster.finished(job), SYNC_TIMEOUT)

    # One refresh: the very next reads of every web process (both gunicorn workers of each) show the case.
    for port in cluster.web_ports:
        for _ in range(4):
            rows = created_export(cluster, port)
            assert len(rows) == FIRST_CASES + 1, f"web on :{port} served {len(rows)} rows"
            assert "Scale-out arrival" in {row.get("title") for row in rows}, rows[-1]
            assert created_card(cases_page(cluster, port)) == f"{FIRST_CASES + 1:,}"


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    # 200 new cases and 50 changed ones over five seconds after the last synced change: three /sync pages.
    last = cluster.watermark()
    first_second = max(last + 1, int(time.time()) - 5)
    cluster.wait_for("five fresh seconds", lambda: time.time() >= first_second + 5, 10)
    base = EPOCH + timedelta(seconds=first_second)
    created = datetime.combine(CREATED_DAY, datetime.min.time())
    for index in range(KILLED_RUN_CASES):
        number = 1000 + index if index < 200 else index - 199  # the last 50 change cases 1..50
        title = f"Changed {number}" if index >= 200 else ""
        cluster.emulator.put("Cases", case_record(number, base + timedelta(seconds=index // 50), created, title))
    stored_before = len(cluster.stored_cases())

    hold = cluster.peer.arm(Hold("/sync", module="Cases", skip=1))  # the run's second page of cases
    job = enqueue_sync(cluster.redis_url, "vtiger")
    assert job is not None, "a sync was still pending in RQ"
    cluster.wait_for("the run to wait on its second page", hold.waiting.is_set, SYNC_TIMEOUT)
    cluster.wait_for("the first page committed", lambda: len(cluster.stored_cases()) > stored_before, SYNC_TIMEOUT)
    assert cluster.run_status(job.id) == "running"

    # Kill the work horse holding the lock and its worker, as a crashed machine would: SIGKILL, no clean-up.
    with cluster.engine.connect() as conn:
        holder = conn.execute(select(sync_locks.c.holder).where(sync_locks.c.source == "vtiger")).scalar_one()
    horse = psutil.Process(int(holder.split(":")[1]))
    (victim,) = [worker for worker in cluster.workers if worker.popen.pid == horse.ppid()]
    os.killpg(horse.pid, signal.SIGKILL)  # RQ puts its work horse in a process group of its own
    os.killpg(victim.popen.pid, signal.SIGKILL)
    victim.popen.wait(timeout=10)
    victim.killed = True
    cluster.wait_for("the work horse gone", lambda: not horse.is_running() or horse.status() == "zombie", 10)
    cluster.peer.release()

    partial = cluster.stored_cases()
    assert stored_before < len(partial) < stored_before + 200  # killed mid-run: some pages stored, not all
    assert cluster.watermark() <= cluster.newest_committed_case()  # never ahead of committed rows

    # "Sync now" right away: the surviving worker syncs; the dead run's lock blocks nothing.
    again = enqueue_sync(cluster.redis_url, "vtiger")
    assert again is not None, "Sync now refused: RQ still counts the killed job as pending"
    result = cluster.wait_for("the sync after the kill", lambda: cluster.finished(again), SYNC_TIMEOUT)
    assert result["status"] == "ok", f"the sync after the kill reported {result}"
    assert cluster.run_status(job.id) == "failed"  # the orphaned run says it was interrupted

    stored = cluster.stored_cases()
    expected = {record["id"]: record["title"] for record in cluster.emulator.records("Cases")}
    assert len(stored) == len({row["source_id"] for row in stored}) == len(expected) == FIRST_CASES + 1 + 200
    assert {row["source_id"]: row["title"] for row in stored} == expected
    assert not [row for row in stored if row["deleted_at"] is not None]
    assert cluster.watermark() <= cluster.newest_committed_case()
    assert_no_overlapping_runs(cluster)

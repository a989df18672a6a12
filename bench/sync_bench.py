"""The sync benchmark (issue 2): a first backfill of 100,000 VTiger cases into SQLite and into PostgreSQL, from the
VTiger emulator served over real HTTP on a loopback port with 20 ms added to every request, as a slow Cloud
instance would. It prints records per second, the requests made and the peak memory of the syncing process, for
10,000 and for 100,000 cases, so one can see that memory does not grow with the number of records.

The goal is 3,000 records/s; the fake's own ceiling is 5,000/s (100 rows per 20 ms request).

Each part runs in its own process: the fake (which holds every record in memory) is a separate process, and each
backfill is a fresh interpreter, so the memory figure (peak RSS minus the RSS once imports are done) is the sync's
alone and 10,000 and 100,000 are measured from the same baseline. The sync path is the production one:
`sync.service.run_sync` with a real `VtigerClient` built from settings that point at the fake.

PostgreSQL: BENCH_SYNC_DATABASE_URL, else the database of BENCH_DATABASE_URL (default kpi_bench) with "_sync"
appended, created when missing. Its tables are emptied before each run, which is why it is not the dataset's own
kpi_bench: that one holds the cached million-row dataset. SQLite: a fresh file in a temporary directory.

`python -m bench.sync_bench` runs it alone; `run(report)` is the entry point for the bench harness.
Must not be imported by the app.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SIZES = (10_000, 100_000)
REQUEST_DELAY = 0.020  # seconds the fake adds to every request
GOAL_PER_SECOND = 3_000
FAKE_CEILING = 100 / REQUEST_DELAY
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/kpi_bench"
FIRST_CASE = datetime(2025, 6, 2, 8, 0, 0)
RESULTS_DIR = Path(__file__).resolve().parent / "results"

Report = Callable[[str], None]


# --- the fake: the VTiger emulator on a loopback port, in its own process ----------------------------------------


def case_records(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` API-shaped Cases records, a few minutes apart (some in the same second, as bulk edits are)."""
    from sync.demo import source as demo

    rng = random.Random(seed)
    support = [person.ws_id for person in demo.SUPPORT + demo.TIER2]
    moment = FIRST_CASE
    for number in range(1, count + 1):
        moment += timedelta(seconds=rng.choice((0, 20, 60, 150, 300, 420)))
        status = rng.choices(("Open", "Wait for Customer", "Resolved", "Closed"), (10, 5, 25, 60))[0]
        resolved = status in ("Resolved", "Closed")
        yield {
            "id": f"39x{number}",
            "case_no": f"CC{100000 + number}",
            "title": rng.choice(("Login fails", "Invoice missing", "Export times out", "Cannot add user")),
            "casestatus": status,
            "casepriority": rng.choice(("Low", "Medium", "High", "Urgent")),
            "assigned_user_id": rng.choice(support),
            "group_id": rng.choice(("20x2", "20x3")),
            "created_user_id": "19x1",
            "modifiedby": rng.choice(support),
            "createdtime": (moment - timedelta(hours=rng.randint(1, 72))).strftime("%Y-%m-%d %H:%M:%S"),
            "modifiedtime": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "time_spent": f"{rng.uniform(0.1, 6):.3f}" if resolved else "",
            "sla_actual_closureon": (moment - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S") if resolved else "",
            "satisfaction_index": rng.choice(("Satisfied", "Neutral", "")) if status == "Closed" else "",
            "contact_id": f"4x{rng.randint(1000, 9999)}",
            "casechannel": rng.choice(("Email", "Phone", "Portal")),
            "isclosed": "1" if resolved else "0",
            "reopen_count": "0",
        }


def serve_fake(count: int, delay: float, ready: Any) -> None:
    """Process target: build the emulator with `count` cases and answer HTTP on a free loopback port until
    terminated; the base URL goes back through `ready`."""
    from werkzeug.serving import WSGIRequestHandler, make_server
    from werkzeug.wrappers import Request, Response

    from sync.demo import source as demo

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    from sync.demo.vtiger_emulator import BASE_PATH, VtigerEmulator

    emulator = VtigerEmulator(
        users=demo.user_records(), groups=demo.group_records(), username="bench", access_key="bench", delay=delay
    )
    for record in case_records(count):
        emulator.put("Cases", record)

    @Request.application
    def application(request: Request) -> Response:
        params = dict(request.args.items())
        if request.method == "POST":
            params.update(request.form.items())
        reply = emulator.reply(request.method, request.path, params, request.headers.get("Authorization"))
        status = f"{reply.status} {reply.reason}" if reply.reason else reply.status
        return Response(reply.body, status=status, headers=reply.headers)

    class KeepAliveHandler(WSGIRequestHandler):
        # A real VTiger keeps the connection open between requests; HTTP/1.0 would add a TCP handshake to each.
        protocol_version = "HTTP/1.1"

    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=KeepAliveHandler)
    ready.send(f"http://127.0.0.1:{server.server_port}{BASE_PATH}")
    server.serve_forever()


# --- one backfill, in a fresh interpreter ----------------------------------------------------------------------------


def backfill(vtiger_url: str, database_url: str, result: Any) -> None:
    """Process target: sync VTiger from the fake into an emptied database; sends the figures through `result`."""
    from sqlalchemy import select

    from models.db import make_engine
    from models.schema import sync_runs
    from settings import Settings, VtigerSettings
    from sync.service import run_sync

    engine = make_engine(database_url)
    empty_tables(engine)
    settings = Settings(
        database_url=database_url,
        vtiger=VtigerSettings(url=vtiger_url, username="bench", access_key="bench"),
        embedded_sync=False,
    )
    baseline = max_rss_mb()
    started = time.perf_counter()
    records = run_sync(engine, settings, "vtiger", trigger="bench")
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        cases_run = conn.execute(
            select(sync_runs.c.started_at, sync_runs.c.finished_at).where(sync_runs.c.module == "Cases")
        ).one()
    engine.dispose()
    by_module = {record.module: record for record in records}
    cases = by_module["Cases"]
    cases_seconds = (cases_run.finished_at - cases_run.started_at).total_seconds()
    result.send(
        {
            "records": cases.inserted,
            "requests": sum(record.requests for record in records),
            "case_requests": cases.requests,
            "seconds": round(seconds, 2),
            "records_per_second": round(cases.inserted / cases_seconds) if cases_seconds else None,
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(max_rss_mb(), 1),
            "sync_memory_mb": round(max_rss_mb() - baseline, 1),
        }
    )


def read_only(vtiger_url: str, result: Any) -> None:
    """Process target: page through the fake's /sync with the real client and store nothing: how fast the fake
    and the HTTP round trips alone go on this machine now, the ceiling the backfill is measured against."""
    from sync.vtiger import VtigerClient

    client = VtigerClient(vtiger_url, "bench", "bench")
    started = time.perf_counter()
    page = client.sync_page("Cases", 0)
    records = len(page.updated)
    while page.more:
        page = client.sync_page("Cases", page.last_modified_time)
        records += len(page.updated)
    seconds = time.perf_counter() - started
    result.send({"records": records, "requests": client.requests, "records_per_second": round(records / seconds)})


def empty_tables(engine: Any) -> None:
    from models.schema import (
        cases,
        deal_stage_changes,
        deals,
        phone_calls,
        rollup_counts,
        rollup_state,
        sync_locks,
        sync_runs,
        sync_state,
        vtiger_groups,
        vtiger_users,
    )

    with engine.begin() as conn:
        for table in (
            cases,
            deals,
            deal_stage_changes,
            phone_calls,
            vtiger_users,
            vtiger_groups,
            sync_state,
            sync_runs,
            sync_locks,
            rollup_counts,  # a first backfill starts without roll-ups: the run counts them once at its end
            rollup_state,
        ):
            conn.execute(table.delete())


def max_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- databases --------------------------------------------------------------------------------------------------------


def postgres_url(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("BENCH_SYNC_DATABASE_URL", "").strip()
    if explicit:
        return explicit
    from sqlalchemy.engine import make_url

    base = make_url(env.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_POSTGRES)
    return base.set(database=f"{base.database}_sync").render_as_string(hide_password=False)


def prepare_postgres(url: str) -> None:
    """Create the database when missing and migrate it."""
    from models.db import create_postgres_database, upgrade_database

    create_postgres_database(url)
    upgrade_database(url)


# --- the run ----------------------------------------------------------------------------------------------------------


def measure(count: int, database_url: str, context: Any) -> dict[str, Any]:
    """Start the fake with `count` cases, backfill from it in a fresh process, stop the fake.
    An empty `database_url` only reads the pages (see read_only)."""
    receive, send = context.Pipe(duplex=False)
    fake = context.Process(target=serve_fake, args=(count, REQUEST_DELAY, send), daemon=True)
    fake.start()
    try:
        if not receive.poll(300):
            raise RuntimeError("the VTiger fake did not start within 300 s")
        vtiger_url = receive.recv()
        result_receive, result_send = context.Pipe(duplex=False)
        target, args = (backfill, (vtiger_url, database_url)) if database_url else (read_only, (vtiger_url,))
        worker = context.Process(target=target, args=(*args, result_send))
        worker.start()
        worker.join()
        if worker.exitcode != 0 or not result_receive.poll(1):
            raise RuntimeError(f"the {target.__name__} process failed (exit code {worker.exitcode}); see above")
        return result_receive.recv()
    finally:
        fake.terminate()
        fake.join(10)


def run(report: Report = print, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Backfill each size into SQLite and PostgreSQL; report a line per measurement and return the figures."""
    from models.db import upgrade_database

    context = multiprocessing.get_context("spawn")  # fresh interpreters: clean memory baselines
    results: dict[str, Any] = {
        "goal_records_per_second": GOAL_PER_SECOND,
        "fake_ceiling_records_per_second": FAKE_CEILING,
        "request_delay_ms": REQUEST_DELAY * 1000,
        # Throughput depends on free CPU: the fake, the sync and the database share the machine.
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "runs": [],
    }
    report(f"sync bench: load average {results['load_average_at_start']} on {results['cpus']} CPUs")
    alone = measure(sizes[0], "", context)
    results["fake_alone"] = alone
    report(
        f"sync bench: reading {alone['records']:,} cases from the fake without storing them: "
        f"{alone['records_per_second']:,} records/s (the practical ceiling here and now)"
    )
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as directory:
        sqlite_url = f"sqlite:///{Path(directory) / 'sync-bench.db'}"
        upgrade_database(sqlite_url)
        databases = [("sqlite", sqlite_url)]
        pg_url = postgres_url()
        try:
            prepare_postgres(pg_url)
            databases.append(("postgresql", pg_url))
        except Exception as exc:  # noqa: BLE001 - a missing PostgreSQL skips its half, and says so
            report(f"sync bench: PostgreSQL at {pg_url} unavailable, skipped ({str(exc).splitlines()[0]})")
        for kind, url in databases:
            for count in sizes:
                figures = {"database": kind, "cases": count, **measure(count, url, context)}
                results["runs"].append(figures)
                report(describe(figures))
    results["memory_growth"] = memory_growth(results["runs"])
    for kind, growth in results["memory_growth"].items():
        report(f"sync bench: {kind}: memory {growth}")
    return results


def describe(figures: dict[str, Any]) -> str:
    rate = figures["records_per_second"]
    verdict = "meets" if rate and rate >= GOAL_PER_SECOND else "MISSES"
    return (
        f"sync bench: {figures['database']:<10} {figures['cases']:>7,} cases in {figures['seconds']:6.1f} s, "
        f"{rate:,} records/s ({verdict} the {GOAL_PER_SECOND:,}/s goal; fake ceiling {FAKE_CEILING:,.0f}/s), "
        f"{figures['requests']:,} requests, peak RSS {figures['peak_rss_mb']:.0f} MB "
        f"(+{figures['sync_memory_mb']:.0f} MB over the {figures['baseline_rss_mb']:.0f} MB baseline)"
    )


def memory_growth(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Per database: the sync's memory for the largest size compared with the smallest."""
    growth = {}
    for kind in dict.fromkeys(run["database"] for run in runs):
        mine = sorted((run for run in runs if run["database"] == kind), key=lambda run: run["cases"])
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        growth[kind] = (
            f"+{small['sync_memory_mb']:.0f} MB for {small['cases']:,} cases, "
            f"+{large['sync_memory_mb']:.0f} MB for {large['cases']:,} "
            f"({large['cases'] // small['cases']}x the records)"
        )
    return growth


def main() -> None:
    results = run(print)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "sync_bench.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"sync bench: results written to {path}")


if __name__ == "__main__":
    main()

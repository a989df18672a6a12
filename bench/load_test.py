"""A bounded loopback load test: gunicorn serving the app on the benchmark PostgreSQL, and N simulated viewers
(threads with their own HTTP session) each changing the date, window and group every few seconds for a fixed
time. Reports requests per second, latency percentiles and errors.

Bounded on purpose: loopback only (127.0.0.1, a free port), a fixed number of viewers, a fixed duration, a
request timeout, and gunicorn is stopped (by the pid this module started) whatever happens.

Viewers send exactly what the browser sends: the date-change callback bodies are built by bench.harness from the
page's own layout, so a page that is not built yet is left out (and said so). gunicorn imports
`bench.load_test:gunicorn_app()`, which builds the app with sign-in off, no embedded sync and the dataset's
"today" (settings come from BENCH_LOAD_DATABASE_URL and BENCH_TIMEZONE in its environment).

`python -m bench.load_test` runs it alone against the cached dataset; `run(report, ...)` joins `make bench`.
Must not be imported by the app.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np

from bench.dataset import ANCHOR, BENCH_GROUP
from bench.harness import BROWSER_HEADERS, CallbackDriver, build_app, dependencies_of, find_page_callback
from bench.references import PAGES, View
from settings import PROJECT_DIR

Report = Callable[[str], None]
DEFAULT_VIEWERS = 50
DEFAULT_SECONDS = 60.0
THINK_SECONDS = (2.0, 4.0)  # a viewer changes the view every 2 to 4 seconds
REQUEST_TIMEOUT = 30.0
DATES_PER_PAGE = 20
GROUPS_PER_PAGE = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_bodies(database_url: str, tz_name: str, report: Report) -> dict[str, list[dict[str, Any]]]:
    """Per page, a pool of date-change request bodies: recent dates x windows x (all groups + a few groups)."""
    dash_app = build_app(database_url, tz_name)
    client = dash_app.server.test_client()
    dependencies = dependencies_of(client)
    rng = random.Random(7)
    pools: dict[str, list[dict[str, Any]]] = {}
    try:
        for page in PAGES:
            callback = find_page_callback(dependencies, page)
            if callback is None:
                report(f"load test: /{page} has no date-change callback yet; left out")
                continue
            driver = CallbackDriver(dash_app, callback)
            today = ANCHOR.date()
            choices = [value for value in driver.selector_choices(View(page, today, "day")) if value]
            groups = [None, BENCH_GROUP[page], *rng.sample(choices, min(GROUPS_PER_PAGE - 1, len(choices)))]
            pool = []
            for step in range(DATES_PER_PAGE):
                base = View(page, today - timedelta(days=step), rng.choice(("day", "week", "month")))
                pool.append(driver.payload(replace(base, group=rng.choice(groups))))
            pools[page] = pool
    finally:
        dash_app.server.extensions["kpi"].engine.dispose()
    return pools


class Gunicorn:
    """gunicorn on a loopback port, started and stopped by this object only."""

    def __init__(self, database_url: str, tz_name: str, workers: int, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            BENCH_LOAD_DATABASE_URL=database_url,
            BENCH_TIMEZONE=tz_name,
            AUTH_DISABLED="1",  # gunicorn.conf.py checks that sign-in off listens on loopback only
            PYTHONPATH=str(PROJECT_DIR),
        )
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [
                str(PROJECT_DIR / ".venv" / "bin" / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
                "--log-level",
                "warning",
                "bench.load_test:gunicorn_app()",
            ],
            cwd=PROJECT_DIR,
            env=env,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode} before answering")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def gunicorn_app() -> Any:
    """The factory gunicorn calls: the bench app from the environment set by `Gunicorn`."""
    from bench.harness import DEFAULT_TIMEZONE

    url = os.environ["BENCH_LOAD_DATABASE_URL"]
    return build_app(url, os.environ.get("BENCH_TIMEZONE", DEFAULT_TIMEZONE), testing=False).server


def _viewer(
    base_url: str,
    pools: dict[str, list[dict[str, Any]]],
    seed: int,
    deadline: float,
    samples: list[tuple[str, float, int, str]],
    lock: threading.Lock,
) -> None:
    """One simulated viewer: a page of its own, a new view every few seconds until the deadline."""
    import requests

    rng = random.Random(seed)
    page = rng.choice(sorted(pools))
    session = requests.Session()
    session.headers.update(BROWSER_HEADERS)
    time.sleep(rng.uniform(0, THINK_SECONDS[1]))  # viewers arrive spread out, not in lock-step
    while time.monotonic() < deadline:
        body = rng.choice(pools[page])
        started = time.perf_counter()
        error = ""
        status = 0
        try:
            response = session.post(base_url + "/_dash-update-component", json=body, timeout=REQUEST_TIMEOUT)
            status = response.status_code
            if status not in (200, 204):
                error = f"HTTP {status}: {response.text[:160]}"
        except requests.RequestException as exc:
            error = type(exc).__name__
        elapsed = time.perf_counter() - started
        with lock:
            samples.append((page, elapsed, status, error))
        time.sleep(rng.uniform(*THINK_SECONDS))
    session.close()


def run(
    report: Report = print,
    *,
    database_url: str,
    tz_name: str,
    viewers: int = DEFAULT_VIEWERS,
    seconds: float = DEFAULT_SECONDS,
    workers: int = 2,
    threads: int = 4,
) -> dict[str, Any]:
    """Serve the app with gunicorn on `database_url` and let `viewers` viewers use it for `seconds` seconds."""
    pools = request_bodies(database_url, tz_name, report)
    result: dict[str, Any] = {
        "viewers": viewers,
        "seconds": seconds,
        "gunicorn": {"workers": workers, "threads": threads, "worker_class": "gthread"},
        "think_seconds": list(THINK_SECONDS),
        "pages": sorted(pools),
    }
    if not pools:
        result["skipped"] = "no page has a date-change callback yet"
        report("load test: skipped (no page has a date-change callback yet)")
        return result
    server = Gunicorn(database_url, tz_name, workers, threads)
    samples: list[tuple[str, float, int, str]] = []
    lock = threading.Lock()
    try:
        server.wait_ready()
        report(
            f"load test: {viewers} viewers for {seconds:.0f} s against gunicorn ({workers} workers x {threads} "
            f"threads) at {server.url} on {database_url.rsplit('/', 1)[-1]}"
        )
        started = time.monotonic()
        deadline = started + seconds
        crowd = [
            threading.Thread(target=_viewer, args=(server.url, pools, seed, deadline, samples, lock), daemon=True)
            for seed in range(viewers)
        ]
        for thread in crowd:
            thread.start()
        for thread in crowd:
            thread.join(seconds + REQUEST_TIMEOUT + THINK_SECONDS[1] + 5)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    result.update(summarise(samples, elapsed))
    report(
        f"load test: {result['requests']:,} requests in {elapsed:.0f} s = {result['requests_per_second']:.1f}/s, "
        f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, max {result['max_ms']:.0f} ms, "
        f"{result['errors']} errors"
    )
    return result


def summarise(samples: list[tuple[str, float, int, str]], elapsed: float) -> dict[str, Any]:
    latencies = np.array([seconds for _, seconds, _, _ in samples]) * 1000
    errors = [error for _, _, _, error in samples if error]
    by_page = {}
    for page in sorted({page for page, _, _, _ in samples}):
        mine = np.array([seconds for name, seconds, _, _ in samples if name == page]) * 1000
        by_page[page] = {"requests": len(mine), "p95_ms": round(float(np.percentile(mine, 95)), 1)}
    return {
        "elapsed_seconds": round(elapsed, 1),
        "requests": len(samples),
        "requests_per_second": round(len(samples) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else 0.0,
        "p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else 0.0,
        "max_ms": round(float(latencies.max()), 1) if len(latencies) else 0.0,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "by_page": by_page,
    }


def main() -> None:
    from bench.dataset import ensure_rollups, postgres_url_for, prepare, spec_from_env
    from bench.harness import DEFAULT_TIMEZONE

    spec = spec_from_env()
    url = postgres_url_for(spec)
    prepare(spec, [url])
    ensure_rollups([url], os.environ.get("BENCH_TIMEZONE", DEFAULT_TIMEZONE))
    run(
        print,
        database_url=url,
        tz_name=os.environ.get("BENCH_TIMEZONE", DEFAULT_TIMEZONE),
        viewers=int(os.environ.get("BENCH_LOAD_VIEWERS", DEFAULT_VIEWERS)),
        seconds=float(os.environ.get("BENCH_LOAD_SECONDS", DEFAULT_SECONDS)),
    )


if __name__ == "__main__":
    main()

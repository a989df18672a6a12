"""`make bench` / `python -m bench`: build or reuse the dataset, then, on SQLite and on PostgreSQL, time each page's
date-change callback through the real Dash endpoint (cold and warm, day / week / month, all groups and one group)
next to the two references (naive pandas, per-figure SQL) on the same data; then the load test, the sync
benchmark and the page weight. Prints a table and writes bench/results/latest.json and latest.md (full scale) or
latest-<scale>.json/.md (any other scale, so a development run never overwrites the committed figures).

Settings (environment):
  BENCH_SCALE=1            dataset size (0.01 = 10,000 cases: seconds instead of minutes)
  BENCH_DATABASE_URL       PostgreSQL for the dataset (default kpi_bench; other scales get kpi_bench_<scale>)
  BENCH_SQLITE_URL         SQLite file (default bench/data/bench-<scale>.db)
  BENCH_TIMEZONE           TIMEZONE of the app and the references (default America/New_York)
  BENCH_CALLS=30           calls per app / per-figure SQL series (p50 and p95 are over these)
  BENCH_SERIES_SECONDS=20  time budget of one series: a slower series stops after at least 3 calls (2 for naive)
                           and the table shows how many it made, so a multi-second baseline cannot take hours
  BENCH_NAIVE_CALLS        calls per naive series (default 5 at full scale, BENCH_CALLS below it: each reads the
                           whole tables); BENCH_NAIVE_WINDOWS=month (naive cost does not depend on the window)
  BENCH_PAGES, BENCH_DATABASES, BENCH_WINDOWS   subsets (comma-separated)
  BENCH_SKIP               any of: references, load, sync, page_weight
  BENCH_LOAD_SECONDS, BENCH_LOAD_VIEWERS         load test (default 60 s at full scale, 15 s below; 50 viewers)
  BENCH_FORCE_RELOAD=1     regenerate the dataset even when the cached one matches
Must not be imported by the app.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench import dataset
from bench.harness import (
    DEFAULT_TIMEZONE,
    CallbackDriver,
    build_app,
    clear_app_caches,
    dependencies_of,
    find_page_callback,
    post_callback,
    views_for,
)
from bench.references import PAGES, REFERENCES, Context, View, differences
from metrics.windows import WINDOW_KINDS
from models.db import make_engine

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIN_CALLS = 3  # a series over its time budget still makes this many calls (naive: 2)
GOAL_MONTH_P95_MS = 50.0
GOAL_WARM_P95_MS = 5.0
GOAL_NAIVE_FACTOR = 10.0
GOAL_LOAD_P95_MS = 200.0

Report = Callable[[str], None]


@dataclass(frozen=True)
class Config:
    spec: dataset.DatasetSpec
    tz_name: str
    calls: int
    naive_calls: int
    naive_windows: tuple[str, ...]
    pages: tuple[str, ...]
    databases: tuple[str, ...]
    windows: tuple[str, ...]
    skip: frozenset[str]
    load_seconds: float
    load_viewers: int
    force: bool
    series_seconds: float

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        spec = dataset.spec_from_env(env)
        calls = int(env.get("BENCH_CALLS", "30"))
        full = spec.scale >= 1
        return cls(
            spec=spec,
            tz_name=env.get("BENCH_TIMEZONE", "").strip() or DEFAULT_TIMEZONE,
            calls=calls,
            naive_calls=int(env.get("BENCH_NAIVE_CALLS", "") or (5 if full else calls)),
            naive_windows=_csv(env.get("BENCH_NAIVE_WINDOWS", "month"), WINDOW_KINDS),
            pages=_csv(env.get("BENCH_PAGES", ""), PAGES),
            databases=_csv(env.get("BENCH_DATABASES", ""), ("sqlite", "postgresql")),
            windows=_csv(env.get("BENCH_WINDOWS", ""), WINDOW_KINDS),
            skip=frozenset(_csv(env.get("BENCH_SKIP", "none"), ("references", "load", "sync", "page_weight", "none"))),
            load_seconds=float(env.get("BENCH_LOAD_SECONDS", "") or (60 if full else 15)),
            load_viewers=int(env.get("BENCH_LOAD_VIEWERS", "50")),
            force=env.get("BENCH_FORCE_RELOAD", "") == "1",
            series_seconds=float(env.get("BENCH_SERIES_SECONDS", "20")),
        )

    def urls(self) -> dict[str, str]:
        found = {"sqlite": dataset.sqlite_url_for(self.spec), "postgresql": dataset.postgres_url_for(self.spec)}
        return {kind: url for kind, url in found.items() if kind in self.databases}


def _csv(raw: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise SystemExit(f"unknown value {unknown[0]!r}; expected some of {', '.join(allowed)}")
    return values or allowed


# --- statistics ----------------------------------------------------------------------------------------------------


def summarise(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"n": 0}
    ms = np.array(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


# --- one database --------------------------------------------------------------------------------------------------


class DatabaseBench:
    """Every series for one database: the app through Dash, and the references through SQLAlchemy."""

    def __init__(self, kind: str, url: str, config: Config, report: Report) -> None:
        self.kind = kind
        self.url = url
        self.config = config
        self.report = report
        self.series: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.warmed = False

    def run(self, part: str) -> None:
        """`part` "app": every app series; "references": every reference series. The app series of all databases
        run before any reference: the naive one grows this process by gigabytes, which would slow what follows."""
        dash_app = build_app(self.url, self.config.tz_name)
        client = dash_app.server.test_client()
        engine = make_engine(self.url)
        runtime = dash_app.server.extensions["kpi"]
        context = Context(runtime.settings.kpi, self.config.tz_name)
        try:
            dependencies = dependencies_of(client)
            for page in self.config.pages:
                callback = find_page_callback(dependencies, page)
                driver = CallbackDriver(dash_app, callback) if callback else None
                if part == "app" and driver is None:
                    self.note(f"/{page}: no callback with a {page}-date input yet; the app's figures are skipped")
                elif part == "app" and driver is not None:
                    self._check_group(driver, page)
                for window in self.config.windows:
                    for group in (None, dataset.BENCH_GROUP[page]):
                        self._warm_page_cache()
                        if part == "app" and driver is not None:
                            self._app_series(client, dash_app, driver, page, window, group)
                        if part == "references":
                            self._reference_series(engine, context, page, window, group)
        finally:
            engine.dispose()
            runtime.engine.dispose()

    def _warm_page_cache(self) -> None:
        """Every series starts with the database's files in the page cache (dataset.warm_page_cache says why)."""
        started = time.perf_counter()
        size = dataset.warm_page_cache(self.url)
        if not self.warmed:
            self.warmed = True
            if not size:
                self.note("pg_prewarm refused (a role that may not create it): series ran on whatever was cached")
                return
            seconds = time.perf_counter() - started
            self.report(
                f"  {self.kind}: database files read into the page cache before every series: "
                f"{size / 1e6:,.0f} MB in {seconds:.1f} s"
            )

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.report(f"  note ({self.kind}): {text}")

    def _check_group(self, driver: CallbackDriver, page: str) -> None:
        group = dataset.BENCH_GROUP[page]
        choices = driver.selector_choices(View(page, dataset.ANCHOR.date(), "month"))
        if choices and group not in choices:
            self.note(f"/{page}: the selector does not offer {group!r}; the one-group rows show all groups")

    def _record(self, page: str, window: str, group: str | None, target: str, mode: str, **figures: Any) -> None:
        row = {"database": self.kind, "page": page, "window": window, "group": group or "all", "target": target}
        row.update(mode=mode, **figures)
        self.series.append(row)
        if figures.get("n"):
            self.report(
                f"  {self.kind:<10} {page:<7} {window:<5} {group or 'all':<8} {target:<5} {mode:<4} "
                f"p50 {figures['p50_ms']:9.1f} ms  p95 {figures['p95_ms']:9.1f} ms  ({figures['n']} calls)"
            )

    def _app_series(
        self, client: Any, dash_app: Any, driver: CallbackDriver, page: str, window: str, group: str | None
    ) -> None:
        cold_views = views_for(page, window, group, self.config.calls, cold=True)
        warm_body = driver.payload(views_for(page, window, group, 1, cold=False)[0])
        # One unmeasured call first, of another group: a process serves thousands of requests, and its first one
        # compiles SQL and warms connections, which no later cold call pays again.
        other_group = None if group else dataset.BENCH_GROUP[page]
        post_callback(client, driver.payload(views_for(page, window, other_group, 1, cold=False)[0]))
        clear_app_caches(dash_app)
        for mode, bodies in (
            ("cold", [driver.payload(view) for view in cold_views]),
            ("warm", [warm_body] * (self.config.calls + 1)),
        ):
            if mode == "warm":
                post_callback(client, bodies.pop())  # the first view fills whatever the app caches
            seconds, sizes, errors = [], [], []
            started = time.monotonic()
            for body in bodies:
                if mode == "cold":
                    clear_app_caches(dash_app)
                result = post_callback(client, body)
                if result.error:
                    errors.append(result.error)
                    break
                seconds.append(result.seconds)
                sizes.append(result.size)
                if self._over_budget(started, len(seconds), MIN_CALLS):
                    break
            extra: dict[str, Any] = {"bytes_median": int(np.median(sizes)) if sizes else 0}
            if errors:
                extra["error"] = errors[0]
                self.note(f"/{page} {window} {group or 'all'} {mode}: {errors[0]}")
            self._record(page, window, group, "app", mode, **summarise(seconds), **extra)

    def _over_budget(self, started: float, calls: int, minimum: int) -> bool:
        return calls >= minimum and time.monotonic() - started > self.config.series_seconds

    def _reference_series(self, engine: Any, context: Context, page: str, window: str, group: str | None) -> None:
        views = views_for(page, window, group, self.config.calls, cold=True)
        first: dict[str, Any] = {}
        for target, function in REFERENCES.items():
            if target == "naive" and window not in self.config.naive_windows:
                continue
            count = self.config.naive_calls if target == "naive" else self.config.calls
            seconds = []
            started = time.monotonic()
            for view in views[:count]:
                elapsed, figures = _timed(partial(function, engine, view, context))
                seconds.append(elapsed)
                first.setdefault(target, figures)
                if self._over_budget(started, len(seconds), 2 if target == "naive" else MIN_CALLS):
                    break
            self._record(page, window, group, target, "cold", **summarise(seconds))
        if len(first) == 2:
            problems = differences(first["naive"], first["sql"])
            if problems:
                self.note(f"{views[0].describe()}: the references disagree: {'; '.join(problems[:3])}")


# --- the report ------------------------------------------------------------------------------------------------------


def _find(series: list[dict[str, Any]], **keys: Any) -> dict[str, Any] | None:
    return next((row for row in series if all(row.get(k) == v for k, v in keys.items())), None)


def _pair(row: dict[str, Any] | None, wanted: int = 0) -> str:
    if not row or not row.get("n"):
        return "error" if row and row.get("error") else "—"
    calls = f" (n={row['n']})" if row["n"] < wanted else ""
    return f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f}{calls}"


def _ratio(reference: dict[str, Any] | None, app: dict[str, Any] | None) -> str:
    if not reference or not app or not reference.get("n") or not app.get("n") or not app["p95_ms"]:
        return "—"
    return f"{reference['p95_ms'] / app['p95_ms']:.1f}×"


def comparison_table(series: list[dict[str, Any]], calls: int = 0, naive_calls: int = 0) -> list[str]:
    """Markdown: one row per database, page, window and group; app, naive and per-figure SQL side by side."""
    lines = [
        "| database | page | window | group | app cold p50 / p95 ms | app warm p50 / p95 ms "
        "| per-figure SQL p50 / p95 ms | naive p50 / p95 ms | SQL ÷ app (p95) | naive ÷ app (p95) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    keys = list(dict.fromkeys((r["database"], r["page"], r["window"], r["group"]) for r in series))
    for database, page, window, group in keys:
        where = {"database": database, "page": page, "window": window, "group": group}
        app_cold = _find(series, target="app", mode="cold", **where)
        app_warm = _find(series, target="app", mode="warm", **where)
        sql = _find(series, target="sql", **where)
        naive = _find(series, target="naive", **where)
        lines.append(
            f"| {database} | {page} | {window} | {group} | {_pair(app_cold, calls)} | {_pair(app_warm, calls)} "
            f"| {_pair(sql, calls)} | {_pair(naive, naive_calls)} "
            f"| {_ratio(sql, app_cold)} | {_ratio(naive, app_cold)} |"
        )
    return lines


def goals(series: list[dict[str, Any]], load: dict[str, Any] | None, full_scale: bool) -> list[dict[str, Any]]:
    """Issue 7's goals, each with the measured value and whether it is met (reported, never asserted)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: Any, met: bool | None) -> None:
        checks.append({"goal": name, "value": value, "met": met})

    for database in dict.fromkeys(row["database"] for row in series):
        for group in ("all", dataset.BENCH_GROUP["cases"]):
            where = {"database": database, "page": "cases", "window": "month", "group": group}
            cold = _find(series, target="app", mode="cold", **where)
            warm = _find(series, target="app", mode="warm", **where)
            sql = _find(series, target="sql", **where)
            naive = _find(series, target="naive", **where)
            label = f"{database}, cases month, {group}"
            if not cold or not cold.get("n"):
                check(f"{label}: app callback measured", "not built yet", None)
                continue
            p95 = cold["p95_ms"]
            check(f"{label}: cold p95 <= {GOAL_MONTH_P95_MS:.0f} ms", f"{p95:.1f} ms", p95 <= GOAL_MONTH_P95_MS)
            if warm and warm.get("n"):
                check(
                    f"{label}: warm p95 <= {GOAL_WARM_P95_MS:.0f} ms",
                    f"{warm['p95_ms']:.1f} ms",
                    warm["p95_ms"] <= GOAL_WARM_P95_MS,
                )
            if naive and naive.get("n"):
                factor = naive["p95_ms"] / p95
                check(f"{label}: >= {GOAL_NAIVE_FACTOR:.0f}x faster than naive", f"{factor:.1f}x", factor >= 10)
            if sql and sql.get("n"):
                check(
                    f"{label}: at least as fast as per-figure SQL", f"{sql['p95_ms'] / p95:.2f}x", p95 <= sql["p95_ms"]
                )
    if load and load.get("requests"):
        check("load test: 0 errors", load["errors"], load["errors"] == 0)
        check(f"load test: p95 <= {GOAL_LOAD_P95_MS:.0f} ms", f"{load['p95_ms']:.0f} ms", load["p95_ms"] <= 200)
    if not full_scale:
        for item in checks:
            item["goal"] += " (not the goal's dataset: scale below 1)"
    return checks


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark results ({results['generated_at']})",
        "",
        f"Dataset: scale {results['scale']:g} ({_counts_text(results)}), anchor {results['anchor']}, "
        f"TIMEZONE {results['timezone']}. Machine: {results['machine']['cpus']} CPUs, load average "
        f"{results['machine']['load_average_at_start']} at start, Python {results['machine']['python']}.",
        "",
        f"Server time of each page's date-change callback through POST /_dash-update-component (Flask test client: "
        f"the gate, Dash dispatch, the callback, JSON and compression), {results['calls']} calls per series. Cold: a "
        f"different window every call (and the app's caches cleared when it has any); warm: the same view again. "
        f"References on the same data: per-figure SQL ({results['calls']} calls, same dates as cold) and naive "
        f"pandas ({results['naive_calls']} calls, {', '.join(results['naive_windows'])} window only: reading the "
        f"whole tables dominates, whatever the window). A series has a time budget of "
        f"{results['series_seconds']:.0f} s: a slower one stops early and shows its number of calls (n=...). "
        f"Every series starts with the database's files read into the page cache (pg_prewarm; the SQLite file "
        f"read through): the machines here page out memory untouched for a minute, and a server answering all day "
        f"keeps its data cached.",
        "",
        *comparison_table(results["series"], results["calls"], results["naive_calls"]),
        "",
        "## Goals (issue 7)",
        "",
        "| goal | measured | met |",
        "|---|---:|:---:|",
        *[
            f"| {item['goal']} | {item['value']} | {'yes' if item['met'] else ('—' if item['met'] is None else 'NO')} |"
            for item in results["goals"]
        ],
    ]
    load = results.get("load_test") or {}
    if load.get("requests"):
        lines += [
            "",
            "## Load test",
            "",
            f"{load['viewers']} viewers for {load['seconds']:.0f} s against gunicorn ({load['gunicorn']['workers']} "
            f"workers × {load['gunicorn']['threads']} threads) on PostgreSQL: {load['requests']:,} requests, "
            f"{load['requests_per_second']:.1f}/s, p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, max "
            f"{load['max_ms']:.0f} ms, {load['errors']} errors.",
        ]
    for part, title in (("sync_bench", "Sync benchmark"), ("page_weight", "Page weight")):
        if (results.get(part) or {}).get("report_lines"):
            lines += ["", f"## {title}", "", "```", *results[part]["report_lines"], "```"]
    if results.get("dataset"):
        lines += ["", "## Dataset", ""] + [f"- {item['summary']}" for item in results["dataset"]]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def _counts_text(results: dict[str, Any]) -> str:
    counts: dict[str, int] = next((item["counts"] for item in results.get("dataset", []) if item.get("counts")), {})
    return ", ".join(f"{n:,} {table}" for table, n in counts.items() if n >= 1000) or "no data"


def print_table(results: dict[str, Any], report: Report) -> None:
    report("")
    for line in comparison_table(results["series"], results["calls"], results["naive_calls"]):
        report(line)
    report("")
    for item in results["goals"]:
        verdict = "met" if item["met"] else ("n/a" if item["met"] is None else "MISSED")
        report(f"goal: {item['goal']}: {item['value']} ({verdict})")


# --- the optional parts ----------------------------------------------------------------------------------------------


def optional_part(module: str, report: Report) -> dict[str, Any] | None:
    """`bench.<module>.run(report)` when that module exists (written by other engineers), with the lines it
    reported kept under "report_lines" for the markdown; its failure is reported, not fatal."""
    if importlib.util.find_spec(f"bench.{module}") is None:
        return None
    lines: list[str] = []

    def keep(line: str) -> None:
        lines.append(line)
        report(line)

    try:
        result = importlib.import_module(f"bench.{module}").run(keep)
    except Exception as exc:  # noqa: BLE001 - one broken part must not lose the rest of the report
        keep(f"{module}: failed: {type(exc).__name__}: {exc}")
        result = {"error": f"{type(exc).__name__}: {exc}"}
    return {**(result or {}), "report_lines": lines}


def main() -> int:
    config = Config.from_env()

    def report(line: str) -> None:
        print(line, flush=True)

    results: dict[str, Any] = {
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "scale": config.spec.scale,
        "seed": config.spec.seed,
        "anchor": dataset.ANCHOR.isoformat(),
        "timezone": config.tz_name,
        "calls": config.calls,
        "naive_calls": config.naive_calls,
        "naive_windows": list(config.naive_windows),
        "series_seconds": config.series_seconds,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
        "series": [],
        "notes": [],
    }
    urls = config.urls()
    report(f"bench: scale {config.spec.scale:g}, databases {', '.join(urls)}, TIMEZONE {config.tz_name}")
    loads = dataset.prepare(config.spec, list(urls.values()), force=config.force, log=report)
    dataset.ensure_rollups(list(urls.values()), config.tz_name, log=report)
    results["dataset"] = [
        {**asdict(item), "url": dataset.safe_url(item.url), "summary": item.summary()} for item in loads
    ]
    # The other engineers' parts first: the sync bench measures its processes' peak memory, which a child inherits
    # from this process, and the naive reference below grows this process by gigabytes.
    for part in ("sync_bench", "page_weight"):
        if part.removesuffix("_bench") not in config.skip:
            results[part] = optional_part(part, report)
    parts = ["app"] + ([] if "references" in config.skip else ["references"])
    for part in parts:
        for kind, url in urls.items():
            report(f"bench: measuring {'the app' if part == 'app' else 'the references'} on {kind}")
            bench = DatabaseBench(kind, url, config, report)
            bench.run(part)
            results["series"] += bench.series
            results["notes"] += [f"{kind}: {note}" for note in bench.notes]
    load = None
    if "load" not in config.skip and "postgresql" in urls:
        from bench import load_test

        try:
            load = load_test.run(
                report,
                database_url=urls["postgresql"],
                tz_name=config.tz_name,
                viewers=config.load_viewers,
                seconds=config.load_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - reported in the results; the rest of the run stands
            report(f"load test: failed: {type(exc).__name__}: {exc}")
            load = {"error": f"{type(exc).__name__}: {exc}"}
    results["load_test"] = load
    results["goals"] = goals(results["series"], load, config.spec.scale >= 1)
    print_table(results, report)
    write_results(results, config.spec)
    return 0


def write_results(results: dict[str, Any], spec: dataset.DatasetSpec) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = "latest" if spec.tag == "full" else f"latest-{spec.tag}"
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS_DIR / f"{stem}.md").write_text(markdown(results))
    print(f"bench: wrote {RESULTS_DIR / stem}.json and .md", flush=True)


if __name__ == "__main__":
    sys.exit(main())

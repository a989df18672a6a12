"""The benchmark dataset: a deterministic generator (seeded numpy, generated in chunks so memory stays bounded) of
rows shaped like the ones sync leaves behind, and a bulk loader into SQLite and PostgreSQL with a marker so a second
`make bench` reuses the data.

Full scale (BENCH_SCALE=1): 1,000,000 cases over the three years ending at ANCHOR, 300,000 deals with their stage
changes, 2,000,000 phone calls, 200,000 Redmine issues, 200 people in 20 groups, the 6 default Redmine statuses.
BENCH_SCALE multiplies the four big counts (people and groups stay fixed), so a development run at 0.01 takes seconds.

Rows are written straight into the tables (COPY on PostgreSQL, executemany on SQLite), never through sync, so the
loader is fast; `raw` holds a small dict (id, number, status) rather than a whole VTiger record to keep the files a
sane size. Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from models import rollups, sales_rollups
from models.db import (
    create_postgres_database,
    drop_postgres_database,
    make_engine,
    normalise_url,
    upgrade_database,
)
from settings import DEFAULT_STAGES, PROJECT_DIR, KpiRules

GENERATOR_VERSION = 1  # bump when the rows change: cached databases are then rebuilt
DEFAULT_SEED = 20261120
ANCHOR = datetime(2026, 11, 20, 17, 0, 0)  # naive UTC "now" of the dataset: results stay comparable between runs
SPAN_DAYS = 3 * 365 + 1
FULL_COUNTS = {"cases": 1_000_000, "deals": 300_000, "phone_calls": 2_000_000, "redmine_issues": 200_000}
CHUNK_ROWS = 50_000  # part of the determinism contract: the random stream is seeded per (table, chunk)
DATA_DIR = PROJECT_DIR / "bench" / "data"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/kpi_bench"
META_TABLE = "bench_meta"

DAY = 86_400
ANCHOR_EPOCH = calendar.timegm(ANCHOR.timetuple())
FIRST_DAY = ANCHOR.date() - timedelta(days=SPAN_DAYS - 1)
START_EPOCH = calendar.timegm(FIRST_DAY.timetuple())

# --- people, groups, vocabularies ------------------------------------------------------------------------------

GROUP_NAMES = (
    "Sales", "Sales Managers", "Inside Sales", "Account Management", "Support", "Support Tier 2", "Billing",
    "Onboarding", "Technical Support", "Customer Success", "Escalations", "Field Service", "Logistics", "Returns",
    "Installations", "Quality", "Partner Desk", "Enterprise Desk", "Night Shift", "Weekend Desk",
)  # fmt: skip
SALES_GROUPS = (0, 1, 2, 3)  # deals and phone calls belong to these groups' people
QUALIFIER_GROUP = 2  # Inside Sales people qualify deals (the "qualified by" credit)
FIRST_NAMES = (
    "Ana", "Ben", "Carla", "Dmitri", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jamal",
    "Kenji", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
)  # fmt: skip
LAST_NAMES = ("Abbott", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen")
PEOPLE = len(FIRST_NAMES) * len(LAST_NAMES)  # 200
GROUPS = len(GROUP_NAMES)  # 20

OPEN_CASE_STATUSES = ("Open", "In Progress", "Wait For Response")
CASE_PRIORITIES = ("Low", "Normal", "High", "Urgent")
SATISFACTION = ("", "Satisfied", "Neutral", "Not Satisfied")
CASE_TOPICS = (
    "Cannot log in", "Invoice does not match the order", "Device offline since this morning", "Password reset",
    "Report export is empty", "Wrong delivery address", "Feature request: bulk edit", "App crashes on start",
    "Refund request", "Slow dashboard", "Email notifications missing", "Update failed", "Billing address change",
    "Camera not recording", "GPS position wrong", "Cancel subscription",
)  # fmt: skip
DEAL_PATH = ("Prospecting", "Needs Analysis", "Demo Scheduled", "Demo Given", "Quote Sent", "Pilot")
FIELD_STAGES = frozenset(rule.name for rule in DEFAULT_STAGES)  # stages written by a VTiger workflow field
CALL_STATUSES = ("completed", "no-answer", "busy", "voicemail")
REDMINE_STATUSES = (
    (1, "New", False), (2, "In Progress", False), (3, "Resolved", False), (4, "Feedback", False),
    (5, "Closed", True), (6, "Rejected", True),
)  # fmt: skip  # Redmine 5's default statuses
REDMINE_PROJECTS = (
    "Platform", "Mobile App", "Web Portal", "Firmware", "Billing Service", "Data Pipeline", "Infrastructure",
    "Integrations", "Reporting", "Security", "Design System", "Internal Tools",
)  # fmt: skip
REDMINE_USERS = 60  # Redmine user ids 1..60, named like the first 60 people
REDMINE_TRACKERS = ("Bug", "Feature", "Support")
REDMINE_PRIORITIES = ("Low", "Normal", "High", "Urgent", "Immediate")

BENCH_GROUP = {"cases": "Support", "sales": "Sales", "redmine": "Platform"}  # the "one group" views


@dataclass(frozen=True)
class Person:
    index: int
    source_id: str
    first_name: str
    last_name: str
    group: int

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def user_name(self) -> str:
        return f"{self.first_name}.{self.last_name}".lower()


def people() -> list[Person]:
    """200 people, 10 per group; each (first, last) pair is unique and a group mixes first names."""
    result = []
    for index in range(PEOPLE):
        first, last = index % len(FIRST_NAMES), index // len(FIRST_NAMES)
        result.append(Person(index, f"19x{index + 1}", FIRST_NAMES[first], LAST_NAMES[last], (first + last) % GROUPS))
    return result


def group_source_id(group: int) -> str:
    return f"20x{group + 1}"


# --- the specification and where it lives ---------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    scale: float = 1.0
    seed: int = DEFAULT_SEED

    def count(self, table: str) -> int:
        return max(1, round(FULL_COUNTS[table] * self.scale))

    @property
    def counts(self) -> dict[str, int]:
        return {table: self.count(table) for table in FULL_COUNTS}

    @property
    def tag(self) -> str:
        """A file-name-safe label: 'full' at scale 1, else e.g. 's0_01'."""
        suffix = "" if self.seed == DEFAULT_SEED else f"_seed{self.seed}"
        return ("full" if self.scale == 1 else f"s{self.scale:g}".replace(".", "_")) + suffix

    def fingerprint(self) -> dict[str, Any]:
        """What a cached database must match to be reused."""
        return {
            "generator_version": GENERATOR_VERSION,
            "seed": self.seed,
            "scale": self.scale,
            "anchor": ANCHOR.isoformat(),
            "chunk_rows": CHUNK_ROWS,
            "counts": self.counts,
        }


def spec_from_env(environ: Mapping[str, str] | None = None) -> DatasetSpec:
    env = os.environ if environ is None else environ
    raw_scale = env.get("BENCH_SCALE", "").strip() or "1"
    try:
        scale = float(raw_scale)
    except ValueError as exc:
        raise SystemExit(f"BENCH_SCALE must be a number such as 0.01 or 1 (got {raw_scale!r})") from exc
    if not 0 < scale <= 10:
        raise SystemExit(f"BENCH_SCALE must be above 0 and at most 10 (got {scale})")
    seed = int(env.get("BENCH_SEED", "").strip() or DEFAULT_SEED)
    return DatasetSpec(scale=scale, seed=seed)


def sqlite_url_for(spec: DatasetSpec, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("BENCH_SQLITE_URL", "").strip() or f"sqlite:///{DATA_DIR / f'bench-{spec.tag}.db'}"


def postgres_url_for(spec: DatasetSpec, environ: Mapping[str, str] | None = None) -> str:
    """BENCH_DATABASE_URL, else kpi_bench; other scales get their own database so a small development run
    never throws away the full-scale data."""
    env = os.environ if environ is None else environ
    url = env.get("BENCH_DATABASE_URL", "").strip()
    if url:
        return url
    if spec.tag == "full":
        return DEFAULT_POSTGRES_URL
    return DEFAULT_POSTGRES_URL + "_" + spec.tag


# --- generation --------------------------------------------------------------------------------------------------


@dataclass
class Chunk:
    """Rows of one table as columns (lists of Python values ready for either database)."""

    table: str
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def rows(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns.values(), strict=True)


TABLE_STREAM = {"cases": 1, "deals": 2, "phone_calls": 3, "redmine_issues": 4, "people": 9}


def _rng(spec: DatasetSpec, stream: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, TABLE_STREAM[stream], chunk])


def _stamps(seconds: np.ndarray, missing: np.ndarray | None = None) -> list[str | None]:
    """Epoch seconds as the text SQLAlchemy stores on SQLite ('YYYY-MM-DD HH:MM:SS.000000'), which PostgreSQL
    also parses; None where `missing`."""
    as_text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    values = np.strings.add(np.strings.replace(as_text, "T", " "), ".000000").tolist()
    if missing is not None:
        for index in np.flatnonzero(missing):
            values[index] = None
    return values


def _day_cdf(saturday: float, sunday: float, growth: float) -> np.ndarray:
    """Cumulative share of rows per day: weekends quieter, volume growing over the three years."""
    days = np.arange(SPAN_DAYS)
    weekday = (FIRST_DAY.weekday() + days) % 7
    weights = np.ones(SPAN_DAYS) * (1 + growth * days / SPAN_DAYS)
    weights[weekday == 5] *= saturday
    weights[weekday == 6] *= sunday
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


CASE_DAYS = _day_cdf(0.25, 0.15, 0.5)
DEAL_DAYS = _day_cdf(0.05, 0.02, 0.3)
CALL_DAYS = _day_cdf(0.04, 0.02, 0.4)
ISSUE_DAYS = _day_cdf(0.1, 0.05, 0.6)


def _ordered_times(
    rng: np.random.Generator, start: int, n: int, total: int, cdf: np.ndarray, hour_mean: float, hour_sd: float
) -> np.ndarray:
    """Epoch seconds for rows start..start+n of `total`, in day order (ids grow with time, as sync inserts them):
    row i falls on the day where the cumulative share passes (i + u) / total, at a business-hours time (UTC)."""
    share = (np.arange(start, start + n) + rng.random(n)) / total
    day = np.minimum(np.searchsorted(cdf, share, side="right"), SPAN_DAYS - 1)
    seconds = np.mod(rng.normal(hour_mean * 3600, hour_sd * 3600, n), DAY).astype(np.int64)
    moments = START_EPOCH + day.astype(np.int64) * DAY + seconds
    late = moments > ANCHOR_EPOCH
    moments[late] = ANCHOR_EPOCH - rng.integers(60, 6 * 3600, int(late.sum()))
    return moments


def _between(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A moment uniformly between low and high (high >= low)."""
    return low + (rng.random(len(low)) * (high - low)).astype(np.int64)


@dataclass(frozen=True)
class _People:
    """Vectorised lookups over the people list."""

    source_ids: np.ndarray
    names: np.ndarray
    groups: np.ndarray
    group_names: np.ndarray
    group_ids: np.ndarray
    case_weights: np.ndarray
    sales: np.ndarray
    sales_weights: np.ndarray
    qualifiers: np.ndarray

    @classmethod
    def build(cls, spec: DatasetSpec) -> _People:
        everyone = people()
        activity = _rng(spec, "people", 0).lognormal(0, 0.5, PEOPLE)  # some people close far more than others
        groups = np.array([person.group for person in everyone])
        is_sales = np.isin(groups, SALES_GROUPS)
        case_weights = activity * np.where(is_sales, 0.05, 1.0)
        sales = np.flatnonzero(is_sales)
        return cls(
            source_ids=np.array([person.source_id for person in everyone], dtype=object),
            names=np.array([person.full_name for person in everyone], dtype=object),
            groups=groups,
            group_names=np.array(GROUP_NAMES, dtype=object),
            group_ids=np.array([group_source_id(g) for g in range(GROUPS)], dtype=object),
            case_weights=case_weights / case_weights.sum(),
            sales=sales,
            sales_weights=activity[sales] / activity[sales].sum(),
            qualifiers=np.flatnonzero(groups == QUALIFIER_GROUP),
        )


def _chunk_bounds(total: int) -> Iterator[tuple[int, int, int]]:
    for number, start in enumerate(range(0, total, CHUNK_ROWS)):
        yield number, start, min(CHUNK_ROWS, total - start)


def generate(spec: DatasetSpec) -> Iterator[Chunk]:
    """Every table's rows, in load order, chunk by chunk. Same spec, same rows."""
    crowd = _People.build(spec)
    yield _groups_chunk()
    yield _users_chunk()
    yield _redmine_statuses_chunk()
    for number, start, n in _chunk_bounds(spec.count("cases")):
        yield _cases_chunk(spec, crowd, number, start, n)
    for number, start, n in _chunk_bounds(spec.count("deals")):
        yield from _deals_chunks(spec, crowd, number, start, n)
    for number, start, n in _chunk_bounds(spec.count("phone_calls")):
        yield _calls_chunk(spec, crowd, number, start, n)
    for number, start, n in _chunk_bounds(spec.count("redmine_issues")):
        yield _issues_chunk(spec, number, start, n)
    yield _sync_runs_chunk()


def _groups_chunk() -> Chunk:
    return Chunk(
        "vtiger_groups",
        {
            "source_id": [group_source_id(g) for g in range(GROUPS)],
            "name": list(GROUP_NAMES),
            "raw": [json.dumps({"id": group_source_id(g), "groupname": name}) for g, name in enumerate(GROUP_NAMES)],
        },
    )


def _users_chunk() -> Chunk:
    everyone = people()
    return Chunk(
        "vtiger_users",
        {
            "source_id": [p.source_id for p in everyone],
            "user_name": [p.user_name for p in everyone],
            "first_name": [p.first_name for p in everyone],
            "last_name": [p.last_name for p in everyone],
            "full_name": [p.full_name for p in everyone],
            "email": [f"{p.user_name}@example.com" for p in everyone],
            "status": ["Active"] * PEOPLE,
            "primary_group_id": [group_source_id(p.group) for p in everyone],
            "raw": [json.dumps({"id": p.source_id, "user_name": p.user_name}) for p in everyone],
        },
    )


def _redmine_statuses_chunk() -> Chunk:
    return Chunk(
        "redmine_statuses",
        {
            "id": [status_id for status_id, _, _ in REDMINE_STATUSES],
            "name": [name for _, name, _ in REDMINE_STATUSES],
            "is_closed": [closed for _, _, closed in REDMINE_STATUSES],
        },
    )


def _sync_runs_chunk() -> Chunk:
    """One successful run per module at the anchor, so the freshness badge and a data-version key have a row."""
    modules = [("vtiger", "Cases"), ("vtiger", "Potentials"), ("vtiger", "PhoneCalls"), ("redmine", "issues")]
    started = ANCHOR - timedelta(minutes=2)
    return Chunk(
        "sync_runs",
        {
            "source": [source for source, _ in modules],
            "module": [module for _, module in modules],
            "trigger": ["bench"] * len(modules),
            "job_id": [""] * len(modules),
            "started_at": [f"{started:%Y-%m-%d %H:%M:%S}.000000"] * len(modules),
            "finished_at": [f"{ANCHOR:%Y-%m-%d %H:%M:%S}.000000"] * len(modules),
            "status": ["success"] * len(modules),
            "rows_inserted": [0] * len(modules),
            "rows_updated": [0] * len(modules),
            "rows_deleted": [0] * len(modules),
            "requests": [0] * len(modules),
            "error": [""] * len(modules),
        },
    )


def _cases_chunk(spec: DatasetSpec, crowd: _People, number: int, start: int, n: int) -> Chunk:
    rng = _rng(spec, "cases", number)
    created = _ordered_times(rng, start, n, spec.count("cases"), CASE_DAYS, 16.0, 3.0)
    delay = rng.lognormal(np.log(20 * 3600), 1.3, n).astype(np.int64) + 300  # median about 20 hours
    resolved = created + delay
    # Open: a few stale cases nobody resolves, plus the ones whose resolution lies after the anchor.
    never = (rng.random(n) < 0.002) | (resolved > ANCHOR_EPOCH)
    reopened = ~never & (rng.random(n) < 0.003)  # resolved once, open again: resolved_at stays, status is open
    auto_closed = ~never & ~reopened & (resolved + 5 * DAY < ANCHOR_EPOCH) & (rng.random(n) < 0.92)
    open_status = np.array(OPEN_CASE_STATUSES, dtype=object)[rng.choice(3, n, p=[0.4, 0.35, 0.25])]
    status = np.where(never | reopened, open_status, np.where(auto_closed, "Closed", "Resolved"))
    anchor = np.full(n, ANCHOR_EPOCH, dtype=np.int64)
    updated = np.select(
        [never, reopened, auto_closed],
        [
            _between(rng, created, created + (anchor - created) // 2),
            _between(rng, np.minimum(resolved, anchor), anchor),
            resolved + 5 * DAY + rng.integers(0, 6 * 3600, n),  # VTiger's auto-close edit
        ],
        resolved + rng.integers(0, 2 * 3600, n),
    )
    updated = np.minimum(updated, ANCHOR_EPOCH)
    deleted = rng.random(n) < 0.005
    deleted_at = _between(rng, updated, anchor)
    first_seen = np.minimum(created + rng.integers(30, 600, n), ANCHOR_EPOCH)

    assignee = rng.choice(PEOPLE, n, p=crowd.case_weights)
    group = np.where(rng.random(n) < 0.95, crowd.groups[assignee], rng.integers(len(SALES_GROUPS), GROUPS, n))
    modifier = np.where(rng.random(n) < 0.85, assignee, rng.integers(0, PEOPLE, n))
    satisfaction = np.where(never | reopened, 0, rng.choice(4, n, p=[0.7, 0.2, 0.07, 0.03]))
    hours = np.round(delay / 3600 * 0.3, 3)
    numbers = range(start + 1, start + n + 1)
    status_list = status.tolist()
    source_ids = [f"39x{100000 + i}" for i in numbers]
    return Chunk(
        "cases",
        {
            "source_id": source_ids,
            "created_at": _stamps(created),
            "updated_at": _stamps(updated),
            "deleted_at": _stamps(deleted_at, ~deleted),
            "first_seen_at": _stamps(first_seen),
            "raw": [
                f'{{"id": "{sid}", "ticket_no": "CC{i}", "casestatus": "{s}"}}'
                for sid, i, s in zip(source_ids, numbers, status_list, strict=True)
            ],
            "case_no": [f"CC{i}" for i in numbers],
            "title": np.array(CASE_TOPICS, dtype=object)[rng.integers(0, len(CASE_TOPICS), n)].tolist(),
            "status": status_list,
            "priority": np.array(CASE_PRIORITIES, dtype=object)[rng.choice(4, n, p=[0.2, 0.55, 0.2, 0.05])].tolist(),
            "assignee_id": crowd.source_ids[assignee].tolist(),
            "assignee_name": crowd.names[assignee].tolist(),
            "group_id": crowd.group_ids[group].tolist(),
            "group_name": crowd.group_names[group].tolist(),
            "modified_by_id": crowd.source_ids[modifier].tolist(),
            "modified_by_name": crowd.names[modifier].tolist(),
            "resolved_at": _stamps(resolved, never),
            "time_spent_hours": [None if gone else h for gone, h in zip(never.tolist(), hours.tolist(), strict=True)],
            "satisfaction": np.array(SATISFACTION, dtype=object)[satisfaction].tolist(),
        },
    )


def _deals_chunks(spec: DatasetSpec, crowd: _People, number: int, start: int, n: int) -> Iterator[Chunk]:
    """A chunk of deals and the stage changes they went through (walked per deal: paths differ in length)."""
    rng = _rng(spec, "deals", number)
    created = _ordered_times(rng, start, n, spec.count("deals"), DEAL_DAYS, 16.0, 2.5)
    assignee = crowd.sales[rng.choice(len(crowd.sales), n, p=crowd.sales_weights)]
    new_assignee = crowd.sales[rng.choice(len(crowd.sales), n, p=crowd.sales_weights)]
    reassigned = rng.random(n) < 0.05
    qualifier = np.where(
        rng.random(n) < 0.8, rng.choice(crowd.qualifiers, n), crowd.sales[rng.integers(0, len(crowd.sales), n)]
    )
    reached = np.minimum(rng.geometric(0.22, n), len(DEAL_PATH))  # how far along the path the deal gets
    ending = rng.random(n)
    won = rng.random(n) < 0.6
    reentry = rng.random(n) < 0.05  # demo rescheduled: back to Needs Analysis, then Demo Scheduled again
    gaps = rng.exponential(3.5 * DAY, (n, len(DEAL_PATH) + 3)).astype(np.int64) + 600
    deleted = rng.random(n) < 0.005
    amount = np.round(rng.lognormal(8.5, 0.8, n), 2)
    closing = created // DAY + rng.integers(30, 120, n)
    late_edit = rng.integers(0, 3 * DAY, n)
    deleted_share = rng.random(n)

    deals: dict[str, list[Any]] = {name: [] for name in _DEAL_COLUMNS}
    changes: dict[str, list[Any]] = {name: [] for name in _CHANGE_COLUMNS}
    for row in range(n):
        deal_no = f"POT{start + row + 1}"
        source_id = f"13x{500000 + start + row}"
        path = list(DEAL_PATH[: reached[row]])
        if reentry[row] and "Demo Scheduled" in path:
            at = path.index("Demo Scheduled") + 1
            path[at:at] = ["Needs Analysis", "Demo Scheduled"]
        if reached[row] == len(DEAL_PATH):
            path.append("Closed Won" if won[row] else "Closed Lost")
        elif ending[row] < 0.45:
            path.append("Closed Lost")
        elif ending[row] < 0.55:
            path.append("Recycled")
        moments = int(created[row]) + np.concatenate(([0], np.cumsum(gaps[row, : len(path) - 1])))
        kept = [(stage, int(moment)) for stage, moment in zip(path, moments, strict=True) if moment <= ANCHOR_EPOCH]
        switch_at = len(kept) // 2 if reassigned[row] else len(kept)
        last_stage, last_moment = kept[-1]
        final_owner = new_assignee[row] if switch_at < len(kept) else assignee[row]
        updated = min(last_moment + int(late_edit[row]), ANCHOR_EPOCH)
        deleted_at = updated + int(deleted_share[row] * (ANCHOR_EPOCH - updated)) if deleted[row] else None
        previous = ""
        for position, (stage, moment) in enumerate(kept):
            owner = new_assignee[row] if position >= switch_at else assignee[row]
            changes["deal_source_id"].append(source_id)
            changes["deal_no"].append(deal_no)
            changes["stage"].append(stage)
            changes["previous_stage"].append(previous)
            changes["changed_at"].append(moment)
            changes["origin"].append("field" if stage in FIELD_STAGES else "observed")
            changes["assignee_name"].append(crowd.names[owner])
            changes["group_name"].append(crowd.group_names[crowd.groups[owner]])
            changes["qualified_by_name"].append(crowd.names[qualifier[row]])
            changes["deleted_at"].append(deleted_at)
            previous = stage
        deals["source_id"].append(source_id)
        deals["created_at"].append(int(created[row]))
        deals["updated_at"].append(updated)
        deals["deleted_at"].append(deleted_at)
        deals["first_seen_at"].append(min(int(created[row]) + 120, ANCHOR_EPOCH))
        deals["raw"].append(f'{{"id": "{source_id}", "potential_no": "{deal_no}", "sales_stage": "{last_stage}"}}')
        deals["deal_no"].append(deal_no)
        deals["name"].append(f"{CASE_TOPICS[row % len(CASE_TOPICS)].split(':')[0]} deal {deal_no}")
        deals["stage"].append(last_stage)
        deals["pipeline"].append("Standard")
        deals["amount"].append(float(amount[row]))
        deals["closing_date"].append(str(date(1970, 1, 1) + timedelta(days=int(closing[row]))))
        deals["assignee_id"].append(crowd.source_ids[final_owner])
        deals["assignee_name"].append(crowd.names[final_owner])
        deals["group_id"].append(crowd.group_ids[crowd.groups[final_owner]])
        deals["group_name"].append(crowd.group_names[crowd.groups[final_owner]])
        deals["qualified_by_id"].append(crowd.source_ids[qualifier[row]])
        deals["qualified_by_name"].append(crowd.names[qualifier[row]])
        deals["modified_by_id"].append(crowd.source_ids[final_owner])
        deals["modified_by_name"].append(crowd.names[final_owner])
        deals["stage_entered_at"].append(last_moment)
    for columns, names in ((deals, _DEAL_TIME_COLUMNS), (changes, ("changed_at", "deleted_at"))):
        for name in names:
            values = columns[name]
            missing = np.array([value is None for value in values])
            columns[name] = _stamps(np.array([value or 0 for value in values], dtype=np.int64), missing)
    yield Chunk("deals", deals)
    yield Chunk("deal_stage_changes", changes)


_DEAL_COLUMNS = (
    "source_id", "created_at", "updated_at", "deleted_at", "first_seen_at", "raw", "deal_no", "name", "stage",
    "pipeline", "amount", "closing_date", "assignee_id", "assignee_name", "group_id", "group_name", "qualified_by_id",
    "qualified_by_name", "modified_by_id", "modified_by_name", "stage_entered_at",
)  # fmt: skip
_DEAL_TIME_COLUMNS = ("created_at", "updated_at", "deleted_at", "first_seen_at", "stage_entered_at")
_CHANGE_COLUMNS = (
    "deal_source_id", "deal_no", "stage", "previous_stage", "changed_at", "origin", "assignee_name", "group_name",
    "qualified_by_name", "deleted_at",
)  # fmt: skip


def _calls_chunk(spec: DatasetSpec, crowd: _People, number: int, start: int, n: int) -> Chunk:
    rng = _rng(spec, "phone_calls", number)
    started = _ordered_times(rng, start, n, spec.count("phone_calls"), CALL_DAYS, 17.0, 2.5)
    status_index = rng.choice(len(CALL_STATUSES), n, p=[0.7, 0.18, 0.05, 0.07])
    answered = status_index == 0
    duration = np.where(answered, rng.lognormal(np.log(180), 0.9, n).astype(np.int64) + 5, 0)
    ended = started + duration
    updated = np.minimum(ended + rng.integers(5, 900, n), ANCHOR_EPOCH)
    deleted = rng.random(n) < 0.001
    anchor = np.full(n, ANCHOR_EPOCH, dtype=np.int64)
    owner = crowd.sales[rng.choice(len(crowd.sales), n, p=crowd.sales_weights)]
    recorded = answered & (rng.random(n) < 0.1)
    customer = rng.integers(0, 10_000_000, n)
    source_ids = [f"43x{3000000 + i}" for i in range(start, start + n)]
    return Chunk(
        "phone_calls",
        {
            "source_id": source_ids,
            "created_at": _stamps(np.minimum(ended + 2, ANCHOR_EPOCH)),
            "updated_at": _stamps(updated),
            "deleted_at": _stamps(_between(rng, updated, anchor), ~deleted),
            "first_seen_at": _stamps(np.minimum(updated + 60, ANCHOR_EPOCH)),
            "raw": [f'{{"id": "{sid}"}}' for sid in source_ids],
            "status": np.array(CALL_STATUSES, dtype=object)[status_index].tolist(),
            "direction": np.where(rng.random(n) < 0.7, "outbound", "inbound").tolist(),
            "started_at": _stamps(started),
            "ended_at": _stamps(ended),
            "duration_seconds": duration.tolist(),
            "assignee_id": crowd.source_ids[owner].tolist(),
            "assignee_name": crowd.names[owner].tolist(),
            "group_id": crowd.group_ids[crowd.groups[owner]].tolist(),
            "group_name": crowd.group_names[crowd.groups[owner]].tolist(),
            "modified_by_id": crowd.source_ids[owner].tolist(),
            "modified_by_name": crowd.names[owner].tolist(),
            "customer_number": [f"+1555{c:07d}" for c in customer.tolist()],
            "recording_url": [
                f"https://recordings.example.com/{sid}.mp3" if r else ""
                for sid, r in zip(source_ids, recorded.tolist(), strict=True)
            ],
        },
    )


def _issues_chunk(spec: DatasetSpec, number: int, start: int, n: int) -> Chunk:
    rng = _rng(spec, "redmine_issues", number)
    created = _ordered_times(rng, start, n, spec.count("redmine_issues"), ISSUE_DAYS, 13.0, 3.0)
    closed = created + rng.lognormal(np.log(5 * DAY), 1.2, n).astype(np.int64) + 600
    never = (rng.random(n) < 0.01) | (closed > ANCHOR_EPOCH)
    reopened = ~never & (rng.random(n) < 0.005)  # Redmine keeps closed_on when an issue is reopened
    rejected = rng.random(n) < 0.12
    open_status = rng.choice(4, n, p=[0.35, 0.35, 0.15, 0.15])  # New, In Progress, Resolved, Feedback
    status_index = np.where(never | reopened, open_status, np.where(rejected, 5, 4))
    anchor = np.full(n, ANCHOR_EPOCH, dtype=np.int64)
    updated = np.select(
        [never, reopened],
        [_between(rng, created, anchor), _between(rng, np.minimum(closed, anchor), anchor)],
        np.minimum(closed + rng.integers(0, 3600, n), anchor),
    )
    deleted = rng.random(n) < 0.003
    project = rng.choice(len(REDMINE_PROJECTS), n, p=_project_shares())
    assigned = rng.random(n) >= 0.08
    assignee = rng.integers(0, REDMINE_USERS, n)
    author = rng.integers(0, REDMINE_USERS, n)
    names = np.array([person.full_name for person in people()[:REDMINE_USERS]], dtype=object)
    is_closed = np.array([closed_flag for _, _, closed_flag in REDMINE_STATUSES])[status_index]
    status_names = np.array([name for _, name, _ in REDMINE_STATUSES], dtype=object)[status_index]
    estimated = np.round(rng.gamma(2.0, 4.0, n), 1)
    has_estimate = rng.random(n) < 0.4
    done = np.where(is_closed, 100, rng.integers(0, 10, n) * 10)
    ids = list(range(start + 1, start + n + 1))
    return Chunk(
        "redmine_issues",
        {
            "source_id": [str(i) for i in ids],
            "created_at": _stamps(created),
            "updated_at": _stamps(updated),
            "deleted_at": _stamps(_between(rng, updated, anchor), ~deleted),
            "first_seen_at": _stamps(np.minimum(created + 300, ANCHOR_EPOCH)),
            "raw": [
                f'{{"id": {i}, "status": {{"id": {s + 1}, "name": "{name}"}}}}'
                for i, s, name in zip(ids, status_index.tolist(), status_names.tolist(), strict=True)
            ],
            "subject": np.array(CASE_TOPICS, dtype=object)[rng.integers(0, len(CASE_TOPICS), n)].tolist(),
            "project_id": (project + 1).tolist(),
            "project_name": np.array(REDMINE_PROJECTS, dtype=object)[project].tolist(),
            "tracker_name": np.array(REDMINE_TRACKERS, dtype=object)[rng.choice(3, n, p=[0.5, 0.3, 0.2])].tolist(),
            "status_id": (status_index + 1).tolist(),
            "status_name": status_names.tolist(),
            "is_closed": is_closed.tolist(),
            "priority_name": np.array(REDMINE_PRIORITIES, dtype=object)[
                rng.choice(5, n, p=[0.15, 0.6, 0.15, 0.07, 0.03])
            ].tolist(),
            "author_name": names[author].tolist(),
            "assignee_id": [int(a) + 1 if ok else None for a, ok in zip(assignee, assigned, strict=True)],
            "assignee_name": np.where(assigned, names[assignee], "").tolist(),
            "closed_at": _stamps(closed, never),
            "done_ratio": done.tolist(),
            "estimated_hours": [e if ok else None for e, ok in zip(estimated.tolist(), has_estimate, strict=True)],
        },
    )


def _project_shares() -> np.ndarray:
    weights = 1 / np.arange(2, len(REDMINE_PROJECTS) + 2)
    return weights / weights.sum()


# --- loading -------------------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What happened to one database: reused from the cache, or generated and loaded (with timings)."""

    database: str  # "sqlite" or "postgresql"
    url: str
    cached: bool
    counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    analyze_seconds: float = 0.0

    def summary(self) -> str:
        rows = sum(self.counts.values())
        if self.cached:
            return (
                f"{self.database}: reused the cached dataset ({rows:,} rows; it took {self.generate_seconds:.1f} s to "
                f"generate and {self.load_seconds:.1f} s to load) at {safe_url(self.url)}"
            )
        return (
            f"{self.database}: generated in {self.generate_seconds:.1f} s, loaded {rows:,} rows in "
            f"{self.load_seconds:.1f} s, indexes {self.index_seconds:.1f} s, analyze {self.analyze_seconds:.1f} s"
        )


def safe_url(url: str) -> str:
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


class _Sink(Protocol):
    index_seconds: float  # set by finish()
    analyze_seconds: float

    def write(self, chunk: Chunk) -> None: ...

    def finish(self) -> None: ...


BULK_TABLES = ("cases", "deals", "deal_stage_changes", "phone_calls", "redmine_issues")


def _plain_indexes(url: str) -> list[tuple[str, str, list[str]]]:
    """The big tables' non-unique single-purpose indexes (name, table, columns), dropped for the bulk load and
    rebuilt after it, which is several times faster than maintaining them row by row. Unique, partial and
    expression indexes stay as they are."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        found: list[tuple[str, str, list[str]]] = []
        for table in BULK_TABLES:
            for index in inspector.get_indexes(table):
                name, columns = index["name"], index.get("column_names") or []
                names = [column for column in columns if column is not None]
                partial = any("where" in key for key in index.get("dialect_options", {}))
                if index.get("unique") or not names or len(names) < len(columns) or partial or index.get("expressions"):
                    continue
                if name is not None:  # SQLAlchemy types it optional; a reflected index always has one
                    found.append((name, table, names))
        return found
    finally:
        engine.dispose()


class SqliteSink:
    """executemany in one big transaction, journal off and a large page cache while loading."""

    def __init__(self, url: str) -> None:
        self.indexes = _plain_indexes(url)
        self.path = make_url(normalise_url(url)).database or ""
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY"):
            self.connection.execute(f"PRAGMA {pragma}")
        for name, _, _ in self.indexes:
            self.connection.execute(f'DROP INDEX "{name}"')
        self.connection.execute("BEGIN")
        self.index_seconds = 0.0
        self.analyze_seconds = 0.0

    def write(self, chunk: Chunk) -> None:
        names = ", ".join(chunk.columns)
        marks = ", ".join("?" * len(chunk.columns))
        self.connection.executemany(f"INSERT INTO {chunk.table} ({names}) VALUES ({marks})", chunk.rows())

    def finish(self) -> None:
        started = time.perf_counter()
        for name, table, columns in self.indexes:
            self.connection.execute(f'CREATE INDEX "{name}" ON {table} ({", ".join(columns)})')
        self.connection.execute("COMMIT")
        self.index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.connection.execute("ANALYZE")
        self.analyze_seconds = time.perf_counter() - started
        self.connection.execute("PRAGMA journal_mode=WAL")  # what the app's engine expects
        self.connection.close()


class PostgresSink:
    """COPY (CSV) per chunk in one transaction, then the indexes, then VACUUM ANALYZE (which also sets the
    visibility map, so index-only scans work from the first query)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.indexes = _plain_indexes(url)
        self.connection = psycopg.connect(_libpq_url(url))
        with self.connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for name, _, _ in self.indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        self.index_seconds = 0.0
        self.analyze_seconds = 0.0

    def write(self, chunk: Chunk) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = [[r"\N" if value is None else value for value in values] for values in chunk.columns.values()]
        writer.writerows(zip(*columns, strict=True))
        names = ", ".join(chunk.columns)
        statement = f"COPY {chunk.table} ({names}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getvalue())

    def finish(self) -> None:
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            for name, table, columns in self.indexes:
                cursor.execute(f'CREATE INDEX "{name}" ON {table} ({", ".join(columns)})')
        self.connection.commit()
        self.index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.connection.autocommit = True
        self.connection.execute("VACUUM ANALYZE")
        self.analyze_seconds = time.perf_counter() - started
        self.connection.close()


def _libpq_url(url: str) -> str:
    return make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def database_kind(url: str) -> str:
    return make_url(normalise_url(url)).get_backend_name()


def read_marker(url: str) -> dict[str, Any] | None:
    """The marker of a loaded dataset, or None when the database, the table or the row is missing."""
    if database_kind(url) == "sqlite":
        path = make_url(normalise_url(url)).database or ""
        if not Path(path).is_file():
            return None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text(f"SELECT value FROM {META_TABLE} WHERE key = 'dataset'")).scalar()
    except Exception:  # noqa: BLE001 - no database, no table: either way there is no usable marker
        return None
    finally:
        engine.dispose()
    return json.loads(value) if value else None


def _marker_matches(url: str, spec: DatasetSpec) -> dict[str, Any] | None:
    """The marker when the database holds exactly this spec's dataset (row counts checked), else None."""
    marker = read_marker(url)
    if not marker or marker.get("fingerprint") != spec.fingerprint():
        return None
    counts: dict[str, int] = marker.get("counts", {})
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for table, expected in counts.items():
                if conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() != expected:
                    return None
    finally:
        engine.dispose()
    return marker


def _write_marker(url: str, spec: DatasetSpec, report: LoadReport) -> None:
    value = json.dumps(
        {
            "fingerprint": spec.fingerprint(),
            "counts": report.counts,
            "loaded_at": datetime.now().isoformat(timespec="seconds"),
            "generate_seconds": round(report.generate_seconds, 2),
            "load_seconds": round(report.load_seconds, 2),
        }
    )
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR(64) PRIMARY KEY, value TEXT)"))
            conn.execute(text(f"DELETE FROM {META_TABLE} WHERE key = 'dataset'"))
            conn.execute(text(f"INSERT INTO {META_TABLE} (key, value) VALUES ('dataset', :v)"), {"v": value})
    finally:
        engine.dispose()


def reset_database(url: str, environ: Mapping[str, str] | None = None) -> None:
    """An empty database at `url`: the SQLite file is deleted; the PostgreSQL database is dropped and created.
    Refuses a PostgreSQL database whose name lacks "bench" (unless BENCH_ALLOW_RESET=1), so a mistyped
    BENCH_DATABASE_URL cannot wipe real data."""
    env = os.environ if environ is None else environ
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    name = parsed.database or ""
    if "bench" not in name and env.get("BENCH_ALLOW_RESET") != "1":
        raise SystemExit(
            f"refusing to drop database {name!r}: BENCH_DATABASE_URL should name a database used only for "
            "benchmarks (its name containing 'bench'), or set BENCH_ALLOW_RESET=1"
        )
    drop_postgres_database(url)
    create_postgres_database(url)


def _sink_for(url: str) -> SqliteSink | PostgresSink:
    return SqliteSink(url) if database_kind(url) == "sqlite" else PostgresSink(url)


def prepare(spec: DatasetSpec, urls: list[str], *, force: bool = False, log: Any = print) -> list[LoadReport]:
    """Make every database at `urls` hold the spec's dataset: reuse it when the marker matches (after applying
    any new migrations), else rebuild it. One generation pass feeds every database that needs loading."""
    reports: list[LoadReport] = []
    to_load: list[LoadReport] = []
    for url in urls:
        marker = None if force else _marker_matches(url, spec)
        report = LoadReport(database_kind(url), url, cached=marker is not None)
        if marker is not None:
            report.counts = marker["counts"]
            report.generate_seconds = marker.get("generate_seconds", 0.0)
            report.load_seconds = marker.get("load_seconds", 0.0)
            upgrade_database(url)  # a newer migration (an index, a roll-up) applies to the cached data too
        else:
            reset_database(url)
            upgrade_database(url)
            to_load.append(report)
        reports.append(report)
    if to_load:
        _load(spec, to_load, log)
    for report in reports:
        log(report.summary())
    return reports


def _load(spec: DatasetSpec, reports: list[LoadReport], log: Any) -> None:
    sinks: list[_Sink] = [_sink_for(report.url) for report in reports]
    counts: dict[str, int] = {}
    generate_seconds = 0.0
    write_seconds = [0.0] * len(sinks)
    chunks = generate(spec)
    log(f"generating the benchmark dataset (scale {spec.scale:g}, seed {spec.seed}) into {len(sinks)} database(s)")
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        generate_seconds += time.perf_counter() - started
        if chunk is None:
            break
        counts[chunk.table] = counts.get(chunk.table, 0) + len(chunk)
        for position, sink in enumerate(sinks):
            started = time.perf_counter()
            sink.write(chunk)
            write_seconds[position] += time.perf_counter() - started
    for position, (sink, report) in enumerate(zip(sinks, reports, strict=True)):
        sink.finish()
        report.counts = dict(counts)
        report.generate_seconds = generate_seconds
        report.load_seconds = write_seconds[position]
        report.index_seconds = sink.index_seconds
        report.analyze_seconds = sink.analyze_seconds
        _write_marker(report.url, spec, report)


def ensure_rollups(urls: Sequence[str], tz_name: str, log: Any = print) -> None:
    """Count the roll-ups sync would have kept (models/rollups.py) for datasets loaded around it, in TIMEZONE
    `tz_name`: once per dataset and zone (a cached dataset keeps them)."""
    for url in urls:
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            rebuilt = rollups.ensure(engine, tz_name)
            # The sales rules are the benchmark app's (bench.harness.bench_settings: the defaults).
            if sales_rollups.ensure(engine, KpiRules().sales, tz_name) is not None:
                rebuilt.append("sales")
            seconds = time.perf_counter() - started
            if rebuilt:
                log(f"{database_kind(url)}: counted roll-ups of {', '.join(rebuilt)} in {seconds:.1f} s")
        finally:
            engine.dispose()


WARM_CHUNK_BYTES = 16 * 1024 * 1024


def warm_page_cache(url: str) -> int:
    """Read a benchmark database's files through the operating system's page cache, as a server answering all day
    has them. The machines here page out memory nobody touched for a minute (the kernel's DAMON "pageout" scheme),
    so without this the series after a pause (the sync bench, another page's series) measure the disk instead of
    the work. Returns the bytes read: 0 when the account may not use pg_prewarm (the series then run on whatever
    the cache holds)."""
    if database_kind(url) == "sqlite":
        path = Path(make_url(normalise_url(url)).database or "")
        size = 0
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                with part.open("rb") as file:
                    while chunk := file.read(WARM_CHUNK_BYTES):
                        size += len(chunk)
        return size
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            blocks = conn.exec_driver_sql(
                "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
            ).scalar_one()
        return int(blocks) * 8192
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()

"""Roll-ups of cases and Redmine issues: how many rows count in each local day, week and month window, kept by
sync in the same transaction that writes the rows, so a page reads a few hundred counts instead of the tens of
thousands of rows a month of a big help desk touches.

What is counted comes from the KPI catalogue (metrics/catalogue.py): `spec_for(source)` turns the source's
windowed entries into a `RollupSpec` of `Kpi`s. A KPI counts a row in a window when any of its `Term`s (a
timestamp column, optionally only when a boolean column is true) falls in the window; a row with two terms in the
same window counts once there ("worked on" is created, resolved or modified: distinct cases). Counts are split by
the group or project (`selector`), and by person and status where a page needs them, and never by a setting:
which statuses are "resolved" or "closed" in kpi.toml is applied when the counts are read
(`catalogue.count_parts`), so editing kpi.toml needs no rebuild. Kind "now" (start `NOW`) holds the live rows per
selector, person and status (open now, the Redmine state totals, the selector choices).

Each row contributes at most one to each (window, KPI) count, so counts are sums of per-row contributions and
sync keeps them exact with a delta: its store step calls `upkeep(conn, table, before, after)`, which subtracts
the stored versions of the rows it wrote and adds the new ones. `rebuild` recomputes a source from its table.
`rollup_state` holds the `fingerprint` (TIMEZONE + what the catalogue counts) the counts were built for: `db
upgrade` and start-up build what is missing (`ensure`); a page that finds another fingerprint (TIMEZONE or the
catalogue changed) starts `rebuild_in_background` and says the numbers are being recomputed until it ends. Pages
never count window figures from the rows.

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from metrics import catalogue
from metrics.series import CountRow
from metrics.windows import Window, month_start, months_from, starts_by_kind
from models.db import add_counts, utcnow
from models.schema import SOURCE_TABLES, rollup_counts, rollup_state

KINDS = ("day", "week", "month")
NOW = date(1970, 1, 1)  # the start of kind "now" rows
ALL = "*"  # the selector (or person) of counts summed over every group / project (or person)
KEY = ["kind", "kpi", "start", "selector", "person", "status"]  # the primary key after `source`
REBUILD_CHUNK = 20_000  # rows read and counted at a time by `rebuild`
WRITE_CHUNK = 5_000
REBUILD_CLAIM_TIMEOUT = timedelta(hours=1)  # a claim older than this is a rebuild that died

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Term:
    column: str  # a timestamp column: the row counts in the window this falls in
    when: str | None = None  # a boolean column that must be true for the term to count
    negate: bool = False  # ... or false


@dataclass(frozen=True)
class Kpi:
    name: str
    terms: tuple[Term, ...]
    by_person: bool = False
    by_status: bool = False


@dataclass(frozen=True)
class RollupSpec:
    source: str
    table: Table
    selector: str
    person: str
    status: str
    kpis: tuple[Kpi, ...]
    closed_flag: str | None = None  # "now" rows: KPI "open" / "closed" by this column; without one, "live"

    @property
    def now_kpis(self) -> tuple[str, ...]:
        return ("open", "closed") if self.closed_flag else ("live",)

    @property
    def timestamp_columns(self) -> list[str]:
        return sorted({term.column for kpi in self.kpis for term in kpi.terms})

    @property
    def columns(self) -> list[str]:
        flags = {term.when for kpi in self.kpis for term in kpi.terms if term.when}
        if self.closed_flag:
            flags.add(self.closed_flag)
        return [self.selector, self.person, self.status, "deleted_at", *self.timestamp_columns, *sorted(flags)]


@functools.cache
def spec_for(source: str) -> RollupSpec:
    """What the roll-ups of `source` keep, from the KPI catalogue (metrics/catalogue.py): each windowed entry's
    counts per group (and person, for a leaderboard). Roll-ups never hold a setting: an entry whose terms depend
    on a kpi.toml status set is kept per status, over all its terms and (`catalogue.base_key`) over its terms
    without that condition; `catalogue.count_parts` says how a page adds them up."""
    described = catalogue.SOURCES[source]
    kept: list[Kpi] = []
    for entry in catalogue.counted(source):
        assert entry.rows is not None
        condition = entry.rows.status_condition
        by = {"by_person": entry.rows.credit is not None, "by_status": condition is not None or entry.rows.by_status}
        kept.append(Kpi(entry.short, tuple(_term(term) for term in entry.rows.terms), **by))
        unconditional = tuple(_term(term) for term in entry.rows.terms if term.when != condition)
        if condition is not None and unconditional:
            kept.append(Kpi(catalogue.base_key(entry.short), unconditional, **by))
    return RollupSpec(
        source=source,
        table=SOURCE_TABLES[described.table],
        selector=described.selector,
        person=described.person,
        status=described.status,
        kpis=tuple(kept),
        closed_flag=described.closed_flag,
    )


def _term(term: catalogue.Term) -> Term:
    """A catalogue term as the roll-ups count it: a flag is tested as they count, a status set when they are read."""
    if isinstance(term.when, catalogue.Flag):
        return Term(term.column, term.when.column, negate=not term.when.value)
    return Term(term.column)


CASES = spec_for("cases")
REDMINE = spec_for("redmine")
CALLS = spec_for("calls")
SPECS = {spec.source: spec for spec in (CASES, REDMINE, CALLS)}
SPECS_BY_TABLE = {spec.table.name: spec for spec in SPECS.values()}


# --- counting ------------------------------------------------------------------------------------------------


def contributions(frame: pd.DataFrame, spec: RollupSpec, tz_name: str) -> pd.DataFrame:
    """The counts `frame`'s rows add to the roll-ups (KEY columns + count). Deleted rows add nothing."""
    if "deleted_at" in frame.columns:
        frame = frame[frame["deleted_at"].isna()]
    if frame.empty:
        return _empty()
    frame = frame.reset_index(drop=True)
    dims = {name: _codes(frame[getattr(spec, name)]) for name in ("selector", "person", "status")}
    starts = {column: _window_starts(frame[column], tz_name) for column in spec.timestamp_columns}
    windowed = [_kpi_counts(frame, kpi, kind, starts, dims) for kpi in spec.kpis for kind in KINDS]
    everyone = [piece.assign(selector=ALL) for piece in windowed]  # "all groups" is read often: keep it summed
    return _total([_with_totals(_now_counts(frame, spec, dims)), *windowed, *everyone])


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A text column as (codes, names): grouping on small integers is what keeps a rebuild in seconds."""
    codes, names = pd.factorize(values.fillna("").astype(str))
    return codes.astype(np.int32), np.asarray(names, dtype=object)


def _window_starts(stamps: pd.Series, tz_name: str) -> dict[str, np.ndarray]:
    """The local start date of the day, week (Monday) and month each naive-UTC timestamp falls in (NaT stays)."""
    values = pd.to_datetime(stamps)
    local = values.dt.tz_localize("UTC").dt.tz_convert(tz_name).dt.tz_localize(None)
    days = local.to_numpy().astype("datetime64[D]")
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    return {
        "day": days,
        "week": days - weekday.astype("timedelta64[D]"),
        "month": days.astype("datetime64[M]").astype("datetime64[D]"),
    }


def _kpi_counts(
    frame: pd.DataFrame,
    kpi: Kpi,
    kind: str,
    starts: Mapping[str, Mapping[str, np.ndarray]],
    dims: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    rows, at = [], []
    for term in kpi.terms:
        values = starts[term.column][kind]
        mask = ~np.isnat(values)
        if term.when:
            flag = frame[term.when].fillna(False).astype(bool).to_numpy()
            mask &= ~flag if term.negate else flag
        found = np.flatnonzero(mask)
        rows.append(found)
        at.append(values[found])
    pairs = pd.DataFrame({"row": np.concatenate(rows), "start": np.concatenate(at)})
    if len(kpi.terms) > 1:
        pairs = pairs.drop_duplicates()  # a row counts once per window, however many of its terms fall there
    used = {"selector": True, "person": kpi.by_person, "status": kpi.by_status}
    return _grouped(pairs, kind, kpi.name, dims, used)


def _now_counts(
    frame: pd.DataFrame, spec: RollupSpec, dims: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    pairs = pd.DataFrame({"row": np.arange(len(frame)), "start": np.datetime64(NOW, "D")})
    used = {"selector": True, "person": True, "status": True}
    if not spec.closed_flag:
        return _grouped(pairs, "now", "live", dims, used)
    closed = frame[spec.closed_flag].fillna(False).astype(bool).to_numpy()
    return pd.concat(
        [
            _grouped(pairs[~closed], "now", "open", dims, used),
            _grouped(pairs[closed], "now", "closed", dims, used),
        ]
    )


def _with_totals(now: pd.DataFrame) -> pd.DataFrame:
    """Kind "now" counts also summed over people (person ALL), over groups (selector ALL) and over both, so each
    breakdown the "open now" panel shows is a short range of the primary key."""
    return pd.concat([now, now.assign(person=ALL), now.assign(selector=ALL), now.assign(selector=ALL, person=ALL)])


def _grouped(
    pairs: pd.DataFrame,
    kind: str,
    kpi: str,
    dims: Mapping[str, tuple[np.ndarray, np.ndarray]],
    used: Mapping[str, bool],
) -> pd.DataFrame:
    if pairs.empty:
        return _empty()
    row = pairs["row"].to_numpy()
    coded = pd.DataFrame({"start": pairs["start"].to_numpy()})
    for name, (codes, _) in dims.items():
        coded[name] = codes[row] if used[name] else -1
    counted = coded.groupby(["start", "selector", "person", "status"], sort=False).size().reset_index(name="count")
    for name, (_, names) in dims.items():
        codes = counted[name].to_numpy()
        counted[name] = np.where(codes >= 0, names[np.maximum(codes, 0)] if len(names) else "", "")
    counted["kind"], counted["kpi"] = kind, kpi
    counted["start"] = pd.to_datetime(counted["start"]).dt.date
    return counted[[*KEY, "count"]]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="object") for name in KEY} | {"count": pd.Series(dtype="int64")})


def _total(pieces: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = [piece for piece in pieces if not piece.empty]
    if not frames:
        return _empty()
    return pd.concat(frames, ignore_index=True).groupby(KEY, as_index=False, sort=False)[["count"]].sum()


def difference(after: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """after - before, per key, without the keys that did not change."""
    negative = before.assign(count=-before["count"])
    delta = _total([after, negative])
    return delta[delta["count"] != 0].reset_index(drop=True)


# --- keeping them --------------------------------------------------------------------------------------------


@functools.cache
def fingerprint(source: str, tz_name: str) -> str:
    """What a source's roll-ups depend on: TIMEZONE and what the catalogue counts (its entries' rows, as the spec
    keeps them). kpi.toml's status sets are applied when counts are read, so they are not part of it."""
    spec = spec_for(source)
    described = (tz_name, spec.selector, spec.person, spec.status, spec.closed_flag, spec.kpis)
    return hashlib.sha256(repr(described).encode()).hexdigest()[:32]


def state_of(conn: Connection, source: str) -> str | None:
    """The TIMEZONE the source's roll-ups are kept in, or None when they are not kept."""
    return conn.execute(select(rollup_state.c.tz_name).where(rollup_state.c.source == source)).scalar_one_or_none()


def ready(engine: Engine, source: str, tz_name: str) -> bool:
    """Whether the source's roll-ups are kept for TIMEZONE `tz_name` and the catalogue as it is."""
    with engine.connect() as conn:
        found = conn.execute(select(rollup_state.c.fingerprint).where(rollup_state.c.source == source))
        return found.scalar_one_or_none() == fingerprint(source, tz_name)


def upkeep(
    conn: Connection, table: Table, before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> None:
    """Keep the roll-ups of `table` (if it has any and they are kept) right as `before` (the stored versions) is
    replaced by `after` in this transaction. The store step of each sync calls it after writing the rows
    (sync.engine.upsert_rows / mark_deleted return both); a no-op for tables without roll-ups."""
    spec = SPECS_BY_TABLE.get(table.name)
    if spec is None or (not before and not after):
        return
    tz_name = state_of(conn, spec.source)
    if tz_name is None:
        return
    delta = difference(
        contributions(_frame(after, spec), spec, tz_name), contributions(_frame(before, spec), spec, tz_name)
    )
    if not delta.empty:
        _add(conn, spec.source, delta)


def invalidate(conn: Connection, source: str) -> None:
    """Mark the source's roll-ups for a recount (when a change cannot be tracked row by row): their fingerprint
    no longer matches, so the next `ensure` (the end of the sync run) rebuilds them."""
    conn.execute(update(rollup_state).where(rollup_state.c.source == source).values(fingerprint=""))


def rebuild(engine: Engine, source: str, tz_name: str, *, report: bool = False) -> int:
    """Recount the source's roll-ups from its table in TIMEZONE `tz_name` (one transaction); returns the number of
    roll-up rows. `report`: write the rows counted so far to rollup_state as it goes (/status shows them)."""
    spec = SPECS[source]
    columns = [spec.table.c[name] for name in ("id", *spec.columns)]
    progress = _Progress(engine, source, spec.table) if report else None
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Sync's tracked deltas wait for this transaction rather than being lost in it.
            conn.exec_driver_sql(f"LOCK TABLE {spec.table.name} IN SHARE MODE")
        counts = _empty()
        last_id = 0
        while True:
            statement = select(*columns).where(spec.table.c.id > last_id).order_by(spec.table.c.id).limit(REBUILD_CHUNK)
            rows = conn.execute(statement).all()
            if not rows:
                break
            frame = pd.DataFrame([tuple(row) for row in rows], columns=["id", *spec.columns])
            # Summed as it goes: memory holds one chunk and the counts so far (bounded by days x people), not
            # every chunk's contributions.
            counts = _total([counts, contributions(frame, spec, tz_name)])
            last_id = int(frame["id"].iloc[-1])
            if progress:
                progress.add(len(frame))
        conn.execute(delete(rollup_counts).where(rollup_counts.c.source == source))
        _insert(conn, source, counts)
        conn.execute(delete(rollup_state).where(rollup_state.c.source == source))
        conn.execute(
            rollup_state.insert().values(
                source=source,
                tz_name=tz_name,
                built_at=utcnow(),
                rows=len(counts),
                fingerprint=fingerprint(source, tz_name),
                rebuilding_since=None,
            )
        )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE rollup_counts")  # the planner's estimates for the new rows
    return len(counts)


def build_missing(engine: Engine, source: str, tz_name: str) -> None:
    """Build roll-ups that were never built (no rollup_state row), now; another process building them at the
    same time is fine (its counts are the same)."""
    try:
        rebuild(engine, source, tz_name)
    except IntegrityError:
        log.info("roll-ups of %s: another process built them first", source)


def start_up(engine: Engine, tz_name: str) -> None:
    """At start-up: build the roll-ups that are missing, and rebuild in the background those built for another
    TIMEZONE or catalogue (the pages say the numbers are being recomputed meanwhile)."""
    for source in SPECS:
        stored = _stored_fingerprint(engine, source)
        if stored is None:
            build_missing(engine, source, tz_name)
        elif stored != fingerprint(source, tz_name):
            rebuild_in_background(engine, source, tz_name)


def ensure(engine: Engine, tz_name: str, sources: Iterable[str] = tuple(SPECS)) -> list[str]:
    """Rebuild, here and now, the roll-ups of each source not kept for TIMEZONE `tz_name` and the catalogue as it
    is (`db upgrade`, the end of a sync run), unless another process is rebuilding them; returns the sources
    rebuilt."""
    rebuilt = []
    for source in sources:
        stored = _stored_fingerprint(engine, source)
        if stored == fingerprint(source, tz_name):
            continue
        if stored is None:
            build_missing(engine, source, tz_name)
        elif _claim(engine, source):
            try:
                rebuild(engine, source, tz_name)
            except Exception:
                _release(engine, source)
                raise
        else:
            continue  # another process is rebuilding them
        rebuilt.append(source)
    return rebuilt


def _stored_fingerprint(engine: Engine, source: str) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(select(rollup_state.c.fingerprint).where(rollup_state.c.source == source))
        return found.scalar_one_or_none()


def rebuild_in_background(engine: Engine, source: str, tz_name: str) -> bool:
    """Rebuild the source's roll-ups in a thread when no process is rebuilding them already (`rebuilding_since`
    is the claim, so every process's pages and /status say the numbers are being recomputed meanwhile); the
    pages keep showing the counts they have until it ends. Returns whether this call started one."""
    if not _claim(engine, source):
        return False
    worker = threading.Thread(target=_rebuild_claimed, args=(engine, source, tz_name), name=f"rollups-{source}")
    worker.daemon = True
    worker.start()
    return True


class _Progress:
    """A background rebuild's rows counted so far, written to rollup_state in its own short transactions (the
    rebuild's own transaction is not visible until it ends)."""

    def __init__(self, engine: Engine, source: str, table: Table) -> None:
        self.engine, self.source, self.counted = engine, source, 0
        with engine.begin() as conn:
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            self._write(conn, rebuild_counted=0, rebuild_of=int(total))

    def add(self, rows: int) -> None:
        self.counted += rows
        with self.engine.begin() as conn:
            self._write(conn, rebuild_counted=self.counted)

    def _write(self, conn: Connection, **values: int) -> None:
        conn.execute(update(rollup_state).where(rollup_state.c.source == self.source).values(**values))


@dataclass(frozen=True)
class Rebuilding:
    """A background rebuild as /status shows it."""

    source: str
    since: datetime
    counted: int
    of: int


def rebuilding(engine: Engine) -> list[Rebuilding]:
    """The sources whose roll-ups are being rebuilt now, with their progress."""
    c = rollup_state.c
    statement = select(c.source, c.rebuilding_since, c.rebuild_counted, c.rebuild_of).where(
        c.rebuilding_since.is_not(None), c.rebuilding_since >= utcnow() - REBUILD_CLAIM_TIMEOUT
    )
    with engine.connect() as conn:
        return [Rebuilding(*row) for row in conn.execute(statement.order_by(c.source))]


def _claim(engine: Engine, source: str) -> bool:
    stale = utcnow() - REBUILD_CLAIM_TIMEOUT  # a process killed mid-rebuild leaves its claim behind
    with engine.begin() as conn:
        claimed = conn.execute(
            update(rollup_state)
            .where(rollup_state.c.source == source)
            .where((rollup_state.c.rebuilding_since.is_(None)) | (rollup_state.c.rebuilding_since < stale))
            .values(rebuilding_since=utcnow())
        )
        return claimed.rowcount == 1


def _rebuild_claimed(engine: Engine, source: str, tz_name: str) -> None:
    try:
        rebuild(engine, source, tz_name, report=True)
    except Exception:
        log.exception("roll-ups of %s: the rebuild failed; the pages keep the counts they had", source)
        _release(engine, source)


def _release(engine: Engine, source: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(rollup_state).where(rollup_state.c.source == source).values(rebuilding_since=None))


def _frame(rows: Sequence[Mapping[str, Any]], spec: RollupSpec) -> pd.DataFrame:
    return pd.DataFrame([{name: row.get(name) for name in spec.columns} for row in rows], columns=spec.columns)


def _records(source: str, counts: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"source": source, "kind": kind, "start": start, "kpi": kpi, "selector": sel, "person": per, "status": st,
         "count": int(n)}
        for kind, kpi, start, sel, per, st, n in counts[[*KEY, "count"]].itertuples(index=False, name=None)
    ]  # fmt: skip


def _insert(conn: Connection, source: str, counts: pd.DataFrame) -> None:
    records = _records(source, counts)
    for offset in range(0, len(records), WRITE_CHUNK):
        conn.execute(rollup_counts.insert(), records[offset : offset + WRITE_CHUNK])


def _add(conn: Connection, source: str, delta: pd.DataFrame) -> None:
    add_counts(conn, rollup_counts, ["source", *KEY], ["count"], _records(source, delta))


# --- reading them --------------------------------------------------------------------------------------------


def _selected(source: str, selector: str) -> list[Any]:
    """Window counts of one group / project, or of all of them ("")."""
    return [rollup_counts.c.source == source, rollup_counts.c.count != 0, rollup_counts.c.selector == (selector or ALL)]


def _live(source: str) -> list[Any]:
    """Kind "now" counts of a source."""
    return [
        rollup_counts.c.source == source,
        rollup_counts.c.kind == "now",
        rollup_counts.c.kpi.in_(SPECS[source].now_kpis),
        rollup_counts.c.start == NOW,
        rollup_counts.c.count != 0,
    ]


@dataclass(frozen=True)
class ViewCounts:
    """Everything a tracker page reads from the roll-ups for one date and group / project (`read_view_counts`)."""

    fingerprint: str | None  # what the counts were built for (rollup_state, `fingerprint`); None: never built
    rebuilding: bool  # a rebuild for the current fingerprint runs
    # Plain rows, not frames: a page reads a few hundred per click, and pandas' cost per frame and per filter was
    # more than the counting itself.
    windows: list[CountRow]  # the windows' KPIs and the leaderboards' people
    now: dict[str, list[CountRow]]  # "selector" / "person" / "status": live rows now by that
    per_day: list[CountRow]  # created / resolved per local day over the charts' days
    per_month: list[CountRow]  # created / resolved per local month, all history


def read_view_counts(
    conn: Connection,
    source: str,
    selector: str,
    *,
    windows: Iterable[Window],
    leaderboards: Iterable[Window],
    days: tuple[date, date],
    resolved: Sequence[str] | None = None,
) -> ViewCounts:
    """The counts of one group / project (or all: "") a page shows, in ONE statement (a round trip per part costs
    more than the parts on PostgreSQL): the `windows`' KPIs, the per-person KPIs of the `leaderboards` windows,
    the live rows now per group, person and status, created / resolved per day over `days` (first, last) and per
    month. Every part is a short range of the primary key; the ALL totals mean nothing is summed here.

    `resolved`, for sources whose KPIs are split by status (cases): kpi.toml's resolved statuses, so the people
    parts leave out what the page would drop (leaderboards count resolved rows, open-now lists the others);
    without it the open-now parts keep only open rows (Redmine's own flag)."""
    c = rollup_counts.c
    spec = SPECS[source]
    chosen = c.selector == (selector or ALL)
    people_statuses = [c.status.in_(resolved)] if resolved is not None else []
    open_only = [c.status.not_in(resolved)] if resolved is not None else [c.kpi != "closed"]
    parts = [
        _part(
            name,
            _selected(source, selector),
            c.kind == kind,
            c.kpi.in_(kpis),
            c.start.in_(starts),
            *(people_statuses if by_person else []),
        )
        for name, picked, by_person in (("windows", windows, False), ("windows", leaderboards, True))
        if (kpis := [kpi.name for kpi in spec.kpis if kpi.by_person == by_person])
        for kind, starts in starts_by_kind((window.kind, window.first_day) for window in picked).items()
    ]
    parts += [
        _part("now:selector", _live(source), c.selector != ALL, c.person == ALL, *open_only),
        _part("now:person", _live(source), chosen, c.person != ALL, *open_only),
        _part("now:status", _live(source), chosen, c.person == ALL),
        _part("per_day", _selected(source, selector), c.kind == "day", c.kpi.in_(CHART_KPIS), c.start.between(*days)),
        _part("per_month", _selected(source, selector), c.kind == "month", c.kpi.in_(CHART_KPIS)),
    ]
    if conn.dialect.name == "postgresql":
        # A dozen short index ranges: starting parallel workers costs more than the reads (and, under many viewers,
        # takes workers from other queries). LOCAL: for this transaction only.
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    parts.append(_state_part(source))
    found: dict[str, list[CountRow]] = {}
    for part, kind, start, kpi, selector_name, person, status, count in conn.execute(union_all(*parts)).all():
        start = start if isinstance(start, date) else _as_date(start)
        found.setdefault(part, []).append(CountRow(kind, start, kpi, selector_name, person, status, int(count)))
    state = found.get("state")
    return ViewCounts(
        fingerprint=state[0].status if state else None,
        rebuilding=bool(state and state[0].count),
        windows=found.get("windows", []),
        now={by: found.get(f"now:{by}", []) for by in ("selector", "person", "status")},
        per_day=found.get("per_day", []),
        per_month=found.get("per_month", []),
    )


def _state_part(source: str) -> Select[Any]:
    """rollup_state's fingerprint as a part (in the status column; the count says whether a rebuild runs): the
    counts are read in the same round trip as the check that they are current."""
    blank = literal("", String)
    rebuilding = case((rollup_state.c.rebuilding_since.is_(None), 0), else_=1)
    return select(
        literal("state", String), blank, literal(NOW, Date), blank, blank, blank, rollup_state.c.fingerprint, rebuilding
    ).where(rollup_state.c.source == source)


CHART_KPIS = ("created", "resolved")


def _part(name: str, *conditions: Any) -> Select[Any]:
    c = rollup_counts.c
    columns = [c.kind, c.start, c.kpi, c.selector, c.person, c.status, c["count"]]
    flat = [part for condition in conditions for part in (condition if isinstance(condition, list) else [condition])]
    return select(literal(name, String).label("part"), *columns).where(*flat)


def person_status_query(
    name: str, source: str, kpi: str, windows: Mapping[str, Sequence[date]], selectors: Sequence[str] = ()
) -> Select[Any]:
    """(name, person, status, count): a per-person entry's counts (kept by person and status) summed over
    `windows` (first days by kind, metrics.windows.starts_by_kind) in `selectors` (empty: all of them, the kept
    ALL total); `name` tags the rows so several spans can be read in one statement."""
    c = rollup_counts.c
    chosen = c.selector.in_(selectors) if selectors else c.selector == ALL
    which = or_(*(and_(c.kind == kind, c.start.in_(starts)) for kind, starts in windows.items()))
    return (
        select(literal(name, String), c.person, c.status, func.sum(c["count"]))
        .where(c.source == source, c.kpi == kpi, which, chosen, c["count"] != 0)
        .group_by(c.person, c.status)
    )


def selectors(conn: Connection, source: str) -> list[str]:
    """The groups / projects that have live rows."""
    c = rollup_counts.c
    statement = select(c.selector).distinct().where(*_live(source), c.selector != ALL, c.person == ALL)
    return [name for (name,) in conn.execute(statement) if name]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def per_start(
    counts: Iterable[CountRow], kpi: str, starts: Sequence[date], statuses: Sequence[str] | None = None
) -> list[int]:
    """One KPI's counts from `ViewCounts.per_day` / `per_month` for each of `starts` (zero where none), only over
    `statuses` when given."""
    sums: dict[date, int] = {}
    for row in counts:
        if row.kpi == kpi and (statuses is None or row.status in statuses):
            sums[row.start] = sums.get(row.start, 0) + row.count
    return [sums.get(start, 0) for start in starts]


def daily_counts(
    per_day: Sequence[CountRow], first_day: date, last_day: date, resolved: Sequence[str] | None
) -> pd.DataFrame:
    """Created and resolved per local day over [first_day, last_day] (index "day") from `ViewCounts.per_day`, as
    models.case_reads / redmine_reads count them in SQL; `resolved`: the statuses a resolved row must have now
    (None: any)."""
    days = [date.fromordinal(n) for n in range(first_day.toordinal(), last_day.toordinal() + 1)]
    return pd.DataFrame(
        {"created": per_start(per_day, "created", days), "resolved": per_start(per_day, "resolved", days, resolved)},
        index=pd.Index(days, name="day"),
    )


def monthly_counts(per_month: Sequence[CountRow], through: date, resolved: Sequence[str] | None) -> pd.DataFrame:
    """Created and resolved per local month from `ViewCounts.per_month`, from the first created row's month to
    `through`'s month (or the last created row's, if later); index "month"; empty when nothing was created."""
    created = sorted(row.start for row in per_month if row.kpi == "created")
    if not created:
        return pd.DataFrame({"created": [], "resolved": []}, dtype="int64")
    months = months_from(created[0], _months_between(created[0], max(month_start(through), created[-1])))
    return pd.DataFrame(
        {
            "created": per_start(per_month, "created", months),
            "resolved": per_start(per_month, "resolved", months, resolved),
        },
        index=pd.Index(months, name="month"),
    )


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1

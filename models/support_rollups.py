"""Roll-ups of the help-desk figures (/support): per local day, week and month window, group and person, the cases
resolved in it with fixed-bin histograms of their resolution time in calendar hours and in business hours, the
"resolved within" buckets, and SLA met / breached (resolved late) by due window. Kept by sync in the transaction
that writes the cases (`track`, called next to models/rollups.py's), so a month click reads a few hundred rows
instead of the tens of thousands of cases a month of a big help desk resolves.

What the counts depend on besides the rows: TIMEZONE (the windows), `[calendar]` (business hours, due times),
`[cases.sla]` (due times) and the resolved statuses. They are stored with the roll-ups (`support_rollup_state`,
as JSON, with their fingerprint) and `track` counts with the stored ones; the page reads the roll-ups only when
the fingerprint is the configured one, and `ensure` (after each VTiger sync, `db rollups`) re-derives them when
it is not — never on a click. Until then the page computes from the rows (view_models/support.py).

Histogram bins (`bin_of`): 0 hours exactly; (0, 1 minute]; then log-spaced bins of ratio BIN_RATIO above one
minute. A percentile is computed as numpy's linear rule over the order statistics, each taken as its bin's
geometric middle: within BIN_RATIO ** 0.5 - 1 (1.98 %) of the exact figure above one minute, within 30 seconds
below it, and exact at 0 (see docs/decisions.md). Counts are exact.

The backlog's median age per day is kept for the cases resolved since (measure "backlog_age": their ages at
each day's end); the cases open now, the other open-now figures (backlog, at risk, breached now, the open part of
SLA) and reopens stay row reads, bounded by the open cases and by reopen rows. Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, select, tuple_

from metrics import support as figures
from metrics.business_time import BusinessCalendar, calendar_from
from metrics.windows import local_midnight_utc
from models.db import utcnow
from models.schema import cases, support_rollup_state, support_rollups

SOURCE = "cases"
KINDS = ("day", "week", "month")
ALL = "*"  # the selector (or person) of counts over every group (or person)
KEY = ["kind", "start", "selector", "person", "measure"]
LONG = [*KEY, "bin", "count"]
BIN_RATIO = 1.04
FLOOR_HOURS = 1 / 60  # below a minute one bin: an absolute error of at most 30 seconds
BINS_VERSION = 2  # part of the fingerprint: a change of the bins or measures re-derives the roll-ups (2: backlog_age)
COLUMNS = (
    "id", "status", "priority", "group_name", "assignee_name", "created_at", "resolved_at", "source_due_at",
    "deleted_at",
)  # fmt: skip
REBUILD_CHUNK = 20_000
WRITE_CHUNK = 2_000
DURATIONS = ("hours", "business")  # measures with a histogram of hours
SLA_MEASURES = ("sla_met", "sla_late")


@dataclass(frozen=True)
class SupportRules:
    """Everything besides the rows that the roll-ups depend on."""

    tz_name: str
    hours: str
    days: str
    holidays_country: str
    holidays_subdivision: str
    targets: tuple[tuple[str, float], ...]
    resolved_statuses: tuple[str, ...]

    @classmethod
    def of(cls, settings: Any) -> SupportRules:  # settings.Settings (models/ does not import settings)
        calendar = settings.kpi.calendar
        return cls(
            tz_name=settings.timezone,
            hours=calendar.hours,
            days=calendar.days,
            holidays_country=calendar.holidays_country,
            holidays_subdivision=calendar.holidays_subdivision,
            targets=tuple(sorted((str(name), float(hours)) for name, hours in settings.kpi.cases.sla.resolve_hours)),
            resolved_statuses=tuple(sorted(settings.kpi.cases.resolved_statuses)),
        )

    @classmethod
    def from_json(cls, text: str) -> SupportRules:
        data = json.loads(text)
        data["targets"] = tuple((name, float(hours)) for name, hours in data["targets"])
        data["resolved_statuses"] = tuple(data["resolved_statuses"])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{BINS_VERSION}:{self.to_json()}".encode()).hexdigest()

    @property
    def calendar(self) -> BusinessCalendar:
        return calendar_from(self.hours, self.days, self.tz_name, self.holidays_country, self.holidays_subdivision)


# --- bins ---------------------------------------------------------------------------------------------------------


def bin_of(hours: np.ndarray) -> np.ndarray:
    """The bin of each duration in hours: 0 for 0 (and below), 1 for up to a minute, then log-spaced."""
    values = np.asarray(hours, dtype=float)
    logs = np.log(np.maximum(values, FLOOR_HOURS) / FLOOR_HOURS) / np.log(BIN_RATIO)
    # ceil: bin k >= 2 holds (FLOOR * r^(k-2), FLOOR * r^(k-1)]; a tiny tolerance keeps exact powers in place
    above = 1 + np.ceil(logs - 1e-9).astype(np.int64)
    return np.where(values <= 0, 0, np.maximum(above, 1))


def bin_middle(bins: np.ndarray) -> np.ndarray:
    """The value each bin stands for: 0, half a minute, or the geometric middle of a log-spaced bin."""
    bins = np.asarray(bins, dtype=np.int64)
    middle = FLOOR_HOURS * BIN_RATIO ** (bins.astype(float) - 1.5)
    return np.where(bins == 0, 0.0, np.where(bins == 1, FLOOR_HOURS / 2, middle))


def _middle(found: int) -> float:
    """`bin_middle` of one bin, in plain Python (a page takes a few hundred quantiles)."""
    if found <= 1:
        return 0.0 if found == 0 else FLOOR_HOURS / 2
    return FLOOR_HOURS * BIN_RATIO ** (found - 1.5)


def quantile(bins: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """numpy's linear quantile over the order statistics a histogram stands for."""
    order = np.argsort(bins, kind="stable")
    return quantile_of_sorted(bins[order], np.cumsum(counts[order]), q)


def quantile_of_sorted(bins: np.ndarray, ends: np.ndarray, q: float) -> float | None:
    """`quantile` of sorted bins given the running totals of their counts (`ends`)."""
    found = quantiles_of_sorted(bins, ends, (q,))
    return found[0]


def quantiles_of_sorted(bins: np.ndarray, ends: np.ndarray, qs: Sequence[float]) -> list[float | None]:
    """Several quantiles at once (one search for all of them): a page asks for the median and the 90th of
    hundreds of histograms."""
    total = int(ends[-1]) if len(ends) else 0
    if total == 0:
        return [None] * len(qs)
    positions = [(total - 1) * q for q in qs]
    ranks = [rank for position in positions for rank in (int(position), min(int(position) + 1, total - 1))]
    values = [_middle(int(found)) for found in bins[np.searchsorted(ends, ranks, side="right")].tolist()]
    return [
        values[2 * n] + (position - int(position)) * (values[2 * n + 1] - values[2 * n])
        for n, position in enumerate(positions)
    ]


# --- counting -------------------------------------------------------------------------------------------------------


def contributions(frame: pd.DataFrame, rules: SupportRules) -> pd.DataFrame:
    """What `frame`'s cases add to the roll-ups, in long form (KEY + bin + count). Deleted cases add nothing."""
    frame = frame[frame["deleted_at"].isna() & frame["created_at"].notna()] if len(frame) else frame
    if not len(frame):
        return _empty()
    frame = frame.reset_index(drop=True)
    for name in ("created_at", "resolved_at", "source_due_at"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
    calendar = rules.calendar
    pieces = [_resolution(frame, rules, calendar), _sla(frame, rules, calendar), _backlog(frame, rules)]
    return _total(pieces)


def _resolution(frame: pd.DataFrame, rules: SupportRules, calendar: BusinessCalendar) -> pd.DataFrame:
    done = frame[frame["resolved_at"].notna() & frame["status"].isin(rules.resolved_statuses)]
    if not len(done):
        return _empty()
    done = figures.with_durations(done.reset_index(drop=True), calendar, "created_at", "resolved_at")
    starts = _window_starts(done["resolved_at"], rules.tz_name)
    group, person = _names(done["group_name"], strip=False), _names(done["assignee_name"], strip=True)
    within = _within_index(done["business_hours"].to_numpy(), calendar)
    measures = {"hours": bin_of(done["hours"].to_numpy()), "business": bin_of(done["business_hours"].to_numpy())}
    pieces = []
    for kind in KINDS:
        for selector, who in ((group, person), (ALL, person), (group, ALL), (ALL, ALL)):
            for measure, bins in measures.items():
                pieces.append(_piece(kind, starts[kind], selector, who, measure, bins))
        for selector in (group, ALL):
            pieces.append(_piece(kind, starts[kind], selector, ALL, "within", within))
    return _total(pieces)


def _sla(frame: pd.DataFrame, rules: SupportRules, calendar: BusinessCalendar) -> pd.DataFrame:
    """Resolved cases by due window: met (resolved by the due time) or late. Open cases are decided by `now` and
    are counted from the open rows when the page is read."""
    done = frame[frame["resolved_at"].notna()].reset_index(drop=True)
    if not len(done):
        return _empty()
    longest = max((hours for _, hours in rules.targets), default=0)
    timeline = calendar.covering(
        done["created_at"].min().to_pydatetime(), done["created_at"].max().to_pydatetime(), hours_ahead=longest
    )
    due = pd.Series(figures.due_times(done, dict(rules.targets), timeline)).astype("datetime64[us]")
    has_due = due.notna().to_numpy()
    done, due = done[has_due].reset_index(drop=True), due[has_due].reset_index(drop=True)
    if not len(done):
        return _empty()
    met = (done["resolved_at"] <= due).to_numpy()
    starts = _window_starts(due, rules.tz_name)
    group = _names(done["group_name"], strip=False)
    measure = np.where(met, "sla_met", "sla_late")
    zero = np.zeros(len(done), dtype=np.int64)
    pieces = [_piece(kind, starts[kind], selector, ALL, measure, zero) for kind in KINDS for selector in (group, ALL)]
    return _total(pieces)


def _backlog(frame: pd.DataFrame, rules: SupportRules) -> pd.DataFrame:
    """Measure "backlog_age", kind "day": each case resolved (and resolved still) counts, at the end of every local
    day it was open through (created before that midnight, resolved after it), with its age then in hours. The
    cases open now are added from their rows when the page is read: their ages grow with every day."""
    done = frame[frame["resolved_at"].notna() & frame["status"].isin(rules.resolved_statuses)].reset_index(drop=True)
    if not len(done):
        return _empty()
    first = _window_starts(done["created_at"], rules.tz_name)["day"]
    # The last day whose end (the next local midnight) is strictly before the resolution.
    last = _window_starts(done["resolved_at"] - pd.Timedelta(microseconds=1), rules.tz_name)["day"] - np.timedelta64(
        1, "D"
    )
    spans = np.maximum((last - first).astype(np.int64) + 1, 0)
    if not spans.sum():
        return _empty()
    row = np.repeat(np.arange(len(done)), spans)
    offsets = np.arange(len(row)) - np.repeat(np.cumsum(spans) - spans, spans)
    days = first[row] + offsets.astype("timedelta64[D]")
    zone = ZoneInfo(rules.tz_name)
    unique, inverse = np.unique(days, return_inverse=True)
    ends = np.array(
        [local_midnight_utc(day.astype(object) + timedelta(days=1), zone) for day in unique], dtype="datetime64[us]"
    )[inverse]
    created = done["created_at"].to_numpy("datetime64[us]")[row]
    hours = (ends - created) / np.timedelta64(1, "h")
    group = _names(done["group_name"], strip=False)[row]
    return _total([_piece("day", days, selector, ALL, "backlog_age", bin_of(hours)) for selector in (group, ALL)])


def _within_index(business: np.ndarray, calendar: BusinessCalendar) -> np.ndarray:
    """The index of each case's `figures.RESOLVED_WITHIN` bucket (as figures.resolved_within puts it)."""
    opens = calendar.opens.hour + calendar.opens.minute / 60
    closes = 24 if calendar.closes is None else calendar.closes.hour + calendar.closes.minute / 60
    day = closes - opens
    edges = np.array([1, 4, day, 3 * day, 7 * day], dtype=float)
    return np.searchsorted(edges, business, side="left").astype(np.int64)


def _names(values: pd.Series, *, strip: bool) -> np.ndarray:
    names = values.fillna("").astype(str)
    return (names.str.strip() if strip else names).to_numpy(dtype=object)


def _piece(kind: str, starts: np.ndarray, selector: Any, person: Any, measure: Any, bins: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"kind": kind, "start": starts, "selector": selector, "person": person, "measure": measure, "bin": bins,
         "count": 1}
    )  # fmt: skip


def _window_starts(stamps: pd.Series, tz_name: str) -> dict[str, np.ndarray]:
    """The local start date of the day, week (Monday) and month each naive-UTC timestamp falls in."""
    local = pd.to_datetime(stamps).dt.tz_localize("UTC").dt.tz_convert(tz_name).dt.tz_localize(None)
    days = local.to_numpy().astype("datetime64[D]")
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    return {
        "day": days,
        "week": days - weekday.astype("timedelta64[D]"),
        "month": days.astype("datetime64[M]").astype("datetime64[D]"),
    }


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="object") for name in KEY} | {"bin": [], "count": []}).astype(
        {"bin": "int64", "count": "int64"}
    )


def _total(pieces: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = [piece for piece in pieces if len(piece)]
    if not frames:
        return _empty()
    whole = pd.concat(frames, ignore_index=True)
    whole["start"] = pd.to_datetime(whole["start"]).dt.date
    summed = whole.groupby([*KEY, "bin"], as_index=False, sort=False)["count"].sum()
    return summed[summed["count"] != 0].reset_index(drop=True)


def difference(after: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    return _total([after, before.assign(count=-before["count"])])


# --- packing: one row per key, its histogram as (bin, count) int32 pairs --------------------------------------------


def pack(long: pd.DataFrame) -> list[dict[str, Any]]:
    """Long-form counts as support_rollups rows."""
    if not len(long):
        return []
    long = long.sort_values([*KEY, "bin"], kind="stable").reset_index(drop=True)
    keys = long[KEY].to_numpy(dtype=object)
    pairs = long[["bin", "count"]].to_numpy().astype("<i4")
    edges = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
    rows = []
    for first, last in zip(np.r_[0, edges], np.r_[edges, len(long)], strict=True):
        kind, start, selector, person, measure = keys[first]
        chunk = pairs[first:last]
        histogram = measure not in SLA_MEASURES
        rows.append(
            {"kind": kind, "start": start, "selector": selector, "person": person, "measure": measure,
             "count": int(chunk[:, 1].sum()), "bins": chunk.tobytes() if histogram else b""}
        )  # fmt: skip
    return rows


def unpack(row: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A stored row's histogram as (bins, counts); an SLA row as bin 0 holding its count."""
    if not row["bins"]:
        return np.array([0], dtype=np.int64), np.array([int(row["count"])], dtype=np.int64)
    pairs = np.frombuffer(bytes(row["bins"]), dtype="<i4").reshape(-1, 2).astype(np.int64)
    return pairs[:, 0], pairs[:, 1]


def _long_of(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    pieces = []
    for row in rows:
        bins, counts = unpack(row)
        pieces.append(pd.DataFrame({**{name: row[name] for name in KEY}, "bin": bins, "count": counts}))
    return _total(pieces)


# --- keeping them ---------------------------------------------------------------------------------------------------


def kept_rules(conn: Connection) -> SupportRules | None:
    """The rules the roll-ups are kept with, or None when they are not kept."""
    text = conn.execute(
        select(support_rollup_state.c.rules).where(support_rollup_state.c.source == SOURCE)
    ).scalar_one_or_none()
    return None if text is None else SupportRules.from_json(text)


def ready(conn: Connection, rules: SupportRules) -> bool:
    """Whether the page can read the roll-ups for the configured `rules`."""
    found = conn.execute(
        select(support_rollup_state.c.fingerprint).where(support_rollup_state.c.source == SOURCE)
    ).scalar_one_or_none()
    return found == rules.fingerprint


def track(
    conn: Connection, table: Table, before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> None:
    """The upkeep: keep the roll-ups right while the stored `before` cases are replaced by `after` in this
    transaction (a deletion: `after` empty). Called by sync's store step for every write of `cases`; a no-op for
    other tables and while the roll-ups are not kept."""
    if table.name != cases.name or (not before and not after):
        return
    rules = kept_rules(conn)
    if rules is None:
        return
    delta = difference(contributions(_frame(after), rules), contributions(_frame(before), rules))
    if len(delta):
        _merge(conn, delta)


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{name: row.get(name) for name in COLUMNS} for row in rows], columns=list(COLUMNS))


def _merge(conn: Connection, delta: pd.DataFrame) -> None:
    """Add `delta` to the stored rows of its keys: read them, sum, write them back."""
    keys = list(dict.fromkeys(map(tuple, delta[KEY].to_numpy(dtype=object).tolist())))
    c = support_rollups.c
    columns = tuple_(*(c[name] for name in KEY))
    stored: list[dict[str, Any]] = []
    for offset in range(0, len(keys), WRITE_CHUNK):
        chunk = keys[offset : offset + WRITE_CHUNK]
        stored += [dict(row) for row in conn.execute(select(support_rollups).where(columns.in_(chunk))).mappings()]
        conn.execute(delete(support_rollups).where(columns.in_(chunk)))
    rows = pack(_total([_long_of(stored), delta]))
    for offset in range(0, len(rows), WRITE_CHUNK):
        conn.execute(support_rollups.insert(), rows[offset : offset + WRITE_CHUNK])


def rebuild(engine: Engine, rules: SupportRules) -> int:
    """Recount the roll-ups from the cases with `rules` (one transaction); returns the number of rows."""
    columns = [cases.c[name] for name in COLUMNS]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE cases IN SHARE MODE")  # sync's tracked writes wait for this one
        counts = _empty()
        last_id = 0
        while True:
            statement = select(*columns).where(cases.c.id > last_id).order_by(cases.c.id).limit(REBUILD_CHUNK)
            found = conn.execute(statement).all()
            if not found:
                break
            frame = pd.DataFrame([tuple(row) for row in found], columns=list(COLUMNS))
            counts = _total([counts, contributions(frame, rules)])
            last_id = int(frame["id"].iloc[-1])
        rows = pack(counts)
        conn.execute(delete(support_rollups))
        for offset in range(0, len(rows), WRITE_CHUNK):
            conn.execute(support_rollups.insert(), rows[offset : offset + WRITE_CHUNK])
        conn.execute(delete(support_rollup_state).where(support_rollup_state.c.source == SOURCE))
        conn.execute(
            support_rollup_state.insert().values(
                source=SOURCE, fingerprint=rules.fingerprint, rules=rules.to_json(), built_at=utcnow(), rows=len(rows)
            )
        )
    return len(rows)


def ensure(engine: Engine, rules: SupportRules) -> bool:
    """Re-derive the roll-ups when they are not kept with `rules` (first run, a changed TIMEZONE, calendar, SLA
    target or resolved status); True when it did."""
    with engine.connect() as conn:
        if ready(conn, rules):
            return False
    rebuild(engine, rules)
    return True


def rederive_if_changed(engine: Engine, rules: SupportRules) -> bool:
    """Re-derive roll-ups kept with other rules than `rules` (`db upgrade` after an edited kpi.toml or TIMEZONE);
    roll-ups never built are left to the first sync. True when it did."""
    with engine.connect() as conn:
        kept = kept_rules(conn)
    if kept is None or kept.fingerprint == rules.fingerprint:
        return False
    rebuild(engine, rules)
    return True


# --- reading them: one function per figure --------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    count: int
    bins: np.ndarray  # sorted, distinct
    counts: np.ndarray

    def quantile(self, q: float) -> float | None:
        return quantile_of_sorted(self.bins, np.cumsum(self.counts), q)

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        return quantiles_of_sorted(self.bins, np.cumsum(self.counts), qs)


EMPTY = Histogram(0, np.array([], dtype=np.int64), np.array([], dtype=np.int64))


def _read(conn: Connection, spans: Sequence[tuple[str, Sequence[date]]], *conditions: Any) -> list[dict[str, Any]]:
    c = support_rollups.c
    rows: list[dict[str, Any]] = []
    for kind, starts in spans:
        if starts:
            statement = select(support_rollups).where(c.kind == kind, c.start.in_(list(starts)), *conditions)
            rows += [dict(row) for row in conn.execute(statement).mappings()]
    return rows


def _summed(rows: Iterable[Mapping[str, Any]], by: str | None) -> dict[tuple[str, str], Histogram]:
    """Histograms summed over the windows read, per (name, measure) where name is the `by` column ("" without)."""
    parts: dict[tuple[str, str], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for row in rows:
        bins, counts = unpack(row)
        parts.setdefault((str(row[by]) if by else "", row["measure"]), []).append((int(row["count"]), bins, counts))
    found = {}
    for key, items in parts.items():
        if len(items) == 1:  # one window (a stored row): its bins are sorted and distinct already
            found[key] = Histogram(*items[0])
            continue
        bins = np.concatenate([item[1] for item in items])
        counts = np.concatenate([item[2] for item in items])
        unique, inverse = np.unique(bins, return_inverse=True)
        summed = np.bincount(inverse, weights=counts).astype(np.int64)
        found[key] = Histogram(sum(item[0] for item in items), unique, summed)
    return found


def _selector(group: str) -> Any:
    return support_rollups.c.selector == (group or ALL)


def resolution(
    conn: Connection, spans: Sequence[tuple[str, Sequence[date]]], group: str = ""
) -> tuple[Histogram, Histogram]:
    """(calendar hours, business hours) of the cases resolved in the windows `spans` ((kind, starts) pairs)."""
    c = support_rollups.c
    found = _summed(_read(conn, spans, _selector(group), c.person == ALL, c.measure.in_(DURATIONS)), None)
    return found.get(("", "hours"), EMPTY), found.get(("", "business"), EMPTY)


def resolution_by_person(
    conn: Connection, spans: Sequence[tuple[str, Sequence[date]]], group: str = ""
) -> dict[str, tuple[Histogram, Histogram]]:
    """Per assignee (stripped name; "" unassigned): (calendar hours, business hours)."""
    c = support_rollups.c
    found = _summed(_read(conn, spans, _selector(group), c.person != ALL, c.measure.in_(DURATIONS)), "person")
    return _pairs(found)


def resolution_by_group(
    conn: Connection, spans: Sequence[tuple[str, Sequence[date]]]
) -> dict[str, tuple[Histogram, Histogram]]:
    """Per group (as stored): (calendar hours, business hours)."""
    c = support_rollups.c
    rows = _read(conn, spans, c.selector != ALL, c.person == ALL, c.measure.in_(DURATIONS))
    return _pairs(_summed(rows, "selector"))


def _pairs(found: Mapping[tuple[str, str], Histogram]) -> dict[str, tuple[Histogram, Histogram]]:
    names = dict.fromkeys(name for name, _ in found)
    return {name: (found.get((name, "hours"), EMPTY), found.get((name, "business"), EMPTY)) for name in names}


def resolved_within(conn: Connection, spans: Sequence[tuple[str, Sequence[date]]], group: str = "") -> dict[str, int]:
    """How many resolved cases took at most 1 h, 4 h, 1, 3, 7 business days, and more."""
    c = support_rollups.c
    found = _summed(_read(conn, spans, _selector(group), c.person == ALL, c.measure == "within"), None)
    histogram = found.get(("", "within"), EMPTY)
    counts = dict(zip(histogram.bins.tolist(), histogram.counts.tolist(), strict=True))
    return {name: int(counts.get(index, 0)) for index, name in enumerate(figures.RESOLVED_WITHIN)}


def backlog_ages(conn: Connection, days: Sequence[date], group: str = "") -> dict[date, Histogram]:
    """Per local day: the ages in hours, at its end, of the cases open then that are resolved now (the open ones
    come from their rows)."""
    c = support_rollups.c
    rows = _read(conn, [("day", days)], _selector(group), c.person == ALL, c.measure == "backlog_age")
    return {day: found for (day, _), found in _summed_by_start(rows).items()}


def _summed_by_start(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[date, str], Histogram]:
    found: dict[tuple[date, str], Histogram] = {}
    for row in rows:
        start = row["start"] if isinstance(row["start"], date) else date.fromisoformat(str(row["start"])[:10])
        bins, counts = unpack(row)
        found[(start, row["measure"])] = Histogram(int(row["count"]), bins, counts)
    return found


def sla_resolved(conn: Connection, spans: Sequence[tuple[str, Sequence[date]]], group: str = "") -> tuple[int, int]:
    """(met, late) of the resolved cases due in the windows `spans` ((kind, starts) pairs)."""
    c = support_rollups.c
    rows = _read(conn, spans, _selector(group), c.person == ALL, c.measure.in_(SLA_MEASURES))
    met = sum(int(row["count"]) for row in rows if row["measure"] == "sla_met")
    return met, sum(int(row["count"]) for row in rows if row["measure"] == "sla_late")

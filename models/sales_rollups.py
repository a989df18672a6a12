"""The sales roll-ups: every stage passage scored once, as sync stores it, and the passages counted per local day,
so /sales reads a few hundred counts instead of re-reading and re-scoring a span's changes on every click.

What is kept (models/schema.py):
- `sales_passages`: one row per live stage change that is a passage (a change whose deal's previous record is the
  same stage is a second record of that passage and gets no row), with its local day in TIMEZONE, the person the
  stage's rule credits, the qualifier (demo stage only), whether the deal entered the stage before (`repeat`),
  whether it scores (`counted`), its points and the note the stage-change table shows. Changes of a deleted deal
  get no row (they still are history for telling a repeat).
- `sales_day_counts`: passages, counted passages and points per local day, group, stage, person and qualifier;
  `sales_window_counts` the same per whole local week and month, summed from the days.
- `sales_rollup_state`: the fingerprint of the rules and TIMEZONE the rows were derived under.
- `sales_pipeline`: the live deals' count and amount per owner, group and stage, kept from the deals the store
  step replaces (`track`, like models.rollups.upkeep): the open-pipeline chart reads it (`read_pipeline`).

The rules are the README's ("Sales: the point system"); metrics.sales.score_passages is the plain reference the
tests hold this derivation against. A row's score depends only on its deal's changes, the rules, TIMEZONE and (for
a stage credited to another deal field) the deal's field now, so sync re-derives the deals it touches (`keep`,
called by the store step after it wrote stage changes, deals or deletions) and a rules change re-derives all of
them (`ensure` / `rebuild`: `db upgrade`, start-up in the background, `db rollups`, never a page click).

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    String,
    and_,
    case,
    delete,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    true,
    union_all,
)

from metrics.sales import PASSAGE_COLUMNS, PIPELINE_COLUMNS
from metrics.windows import Window, span_parts, to_local_datetime, window_for
from models.db import add_counts, utcnow
from models.schema import (
    deal_stage_changes,
    deals,
    sales_day_counts,
    sales_passages,
    sales_pipeline,
    sales_rollup_state,
    sales_window_counts,
    vtiger_users,
)
from settings import SalesRules, StageRule

STATE = "sales"
CHUNK = 500  # deal ids or days per IN (...) list
WRITE_CHUNK = 5_000


def fingerprint(rules: SalesRules, tz_name: str) -> str:
    """What the derived rows depend on besides the data: the stages' points, credit and once-per-deal, the
    qualified-by field, the demo stage and TIMEZONE. Call points and statuses are read with the calls."""
    parts = {
        "timezone": tz_name,
        "qualified_by_field": rules.qualified_by_field,
        "demo_stage": rules.demo_stage,
        "stages": [[rule.name, float(rule.points), rule.credit, bool(rule.once_per_deal)] for rule in rules.stages],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --- deriving ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    id: int
    stage: str
    changed_at: datetime
    assignee_name: str
    group_name: str
    qualified_by_name: str
    shown: bool  # the deal is not deleted: the change is one of the page's rows


def _name(value: Any) -> str:
    return str(value or "").strip()


class Deriver:
    """Scores the changes of one deal at a time under `rules` in `tz_name` (README: the point system)."""

    def __init__(self, rules: SalesRules, tz_name: str, users: dict[str, str]) -> None:
        self.rules = rules
        self.tz_name = tz_name
        self.users = users  # VTiger user id -> display name, for stages credited to another deal field
        self.by_stage = {rule.name: rule for rule in rules.stages}

    def credited(self, rule: StageRule, change: Change, raw: dict[str, Any]) -> str:
        if rule.credit == "assignee":
            return _name(change.assignee_name)
        if rule.credit in (self.rules.qualified_by_field, "qualified_by"):
            return _name(change.qualified_by_name)
        value = str(raw.get(rule.credit) or "")
        return _name(self.users.get(value, value))

    def passages(self, changes: Sequence[Change], raw: dict[str, Any]) -> list[dict[str, Any]]:
        """The passage rows of one deal's live changes (any order in, rows of the shown ones out)."""
        ordered = sorted(changes, key=lambda change: (change.changed_at, change.stage))
        first: dict[str, datetime] = {}
        for change in ordered:
            first.setdefault(change.stage, change.changed_at)
        rows = []
        before = None
        for change in ordered:
            duplicate = change.stage == before
            before = change.stage
            if duplicate or not change.shown:
                continue
            rows.append(self.passage(change, first[change.stage], raw))
        return rows

    def passage(self, change: Change, first_entered: datetime, raw: dict[str, Any]) -> dict[str, Any]:
        local = to_local_datetime(change.changed_at, self.tz_name)
        repeat = change.changed_at > first_entered
        row = {
            "change_id": change.id,
            "changed_at": change.changed_at,
            "day": local.date(),
            "stage": change.stage,
            "group_name": change.group_name or "",
            "person": _name(change.assignee_name),
            "qualifier": _name(change.qualified_by_name) if change.stage == self.rules.demo_stage else "",
            "repeat": repeat,
            "counted": False,
            "points": 0.0,
            "note": "not a scored stage",
        }
        rule = self.by_stage.get(change.stage)
        if rule is None:
            return row
        person = self.credited(rule, change, raw)
        row["person"] = person
        if not person:
            row["note"] = "no one to credit"
        elif rule.once_per_deal and repeat:
            first = to_local_datetime(first_entered, self.tz_name).strftime("%Y-%m-%d %H:%M")
            row["note"] = "scores once per deal; first entered " + first
        else:
            row.update(counted=True, points=float(rule.points), note="")
        return row


# --- keeping ----------------------------------------------------------------------------------------------------


def keep(conn: Connection, deal_ids: Iterable[str], rules: SalesRules, tz_name: str) -> None:
    """Re-derive the passages of these deals and recount the days they had or have passages on. The store step
    of sync calls this in the transaction that wrote the deals' stage changes, deals or deletions."""
    ids = sorted({str(deal_id) for deal_id in deal_ids})
    if not ids:
        return
    deriver = Deriver(rules, tz_name, _user_names(conn))
    days: set[date] = set()
    for chunk in _chunks(ids):
        passage = sales_passages.c
        days.update(conn.scalars(select(passage.day).where(passage.deal_source_id.in_(chunk)).distinct()))
        conn.execute(delete(sales_passages).where(passage.deal_source_id.in_(chunk)))
        rows = _derive(conn, deriver, chunk)
        _write(conn, rows)
        days.update(row["day"] for row in rows)
    _recount(conn, sorted(days))


PIPELINE_KEY = ("assignee_name", "group_name", "stage")


def track(conn: Connection, table: Any, before: Sequence[Any], after: Sequence[Any]) -> None:
    """Keep `sales_pipeline` right as the deals `before` (the stored versions, deleted or not) are replaced by
    `after` in this transaction; a no-op for other tables. The store step calls it next to models.rollups.upkeep."""
    if table.name != deals.name or (not before and not after):
        return
    delta: dict[tuple[str, str, str], list[float]] = {}
    for rows, sign in ((before, -1), (after, 1)):
        for row in rows:
            if row.get("deleted_at") is not None:
                continue
            owner, group, stage = (str(row.get(name) or "") for name in PIPELINE_KEY)
            sums = delta.setdefault((owner, group, stage), [0, 0.0])
            sums[0] += sign
            sums[1] += sign * float(row.get("amount") or 0.0)
    changed = [
        {"assignee_name": key[0], "group_name": key[1], "stage": key[2], "deals": sums[0], "amount": sums[1]}
        for key, sums in delta.items()
        if sums[0] or sums[1]
    ]
    add_counts(conn, sales_pipeline, PIPELINE_KEY, ("deals", "amount"), changed)


def rebuild_pipeline(conn: Connection) -> None:
    """Sum the live deals into `sales_pipeline` again (a rebuild, rows written around sync)."""
    deal = deals.c
    keys = [deal.assignee_name, deal.group_name, deal.stage]
    conn.execute(delete(sales_pipeline))
    query = (
        select(*keys, func.count(), func.coalesce(func.sum(deal.amount), 0.0))
        .where(deal.deleted_at.is_(None))
        .group_by(*keys)
    )
    conn.execute(insert(sales_pipeline).from_select([*PIPELINE_KEY, "deals", "amount"], query))


def read_open_pipeline(conn: Connection, rules: SalesRules) -> pd.DataFrame:
    """Open deals' amount and count per owner, group and stage (PIPELINE_COLUMNS), closed and excluded stages left
    out, as sync keeps them; amounts to the cent (the sums are kept by adding and subtracting)."""
    pipe = sales_pipeline.c
    query = select(pipe.assignee_name, pipe.group_name, pipe.stage, pipe.amount, pipe.deals).where(pipe.deals > 0)
    closed = (*rules.closed_stages, *rules.excluded_stages)
    if closed:
        query = query.where(pipe.stage.not_in(closed))
    rows = [(owner, group, stage, round(float(amount), 2), int(count)) for owner, group, stage, amount, count in
            conn.execute(query)]  # fmt: skip
    return pd.DataFrame(rows, columns=PIPELINE_COLUMNS).astype({"amount": "float64", "deals": "int64"})


def rebuild(engine: Engine, rules: SalesRules, tz_name: str) -> int:
    """Derive every deal's passages and every day's counts again (first start, a rules or TIMEZONE change, rows
    written around sync), and sum the pipeline again; returns the passages written."""
    with engine.begin() as conn:
        rebuild_pipeline(conn)
        conn.execute(delete(sales_day_counts))
        conn.execute(delete(sales_window_counts))
        conn.execute(delete(sales_passages))
        deriver = Deriver(rules, tz_name, _user_names(conn))
        change = deal_stage_changes.c
        ids = sorted(conn.scalars(select(change.deal_source_id).where(change.deleted_at.is_(None)).distinct()))
        written = 0
        for chunk in _chunks(ids):
            rows = _derive(conn, deriver, chunk)
            _write(conn, rows)
            written += len(rows)
        conn.execute(insert(sales_day_counts).from_select(_COUNT_NAMES, _count_query()))
        _recount_windows(conn, conn.scalars(select(sales_day_counts.c.day).distinct()).all())
        _write_state(conn, fingerprint(rules, tz_name), written)
    return written


def ready(engine: Engine, rules: SalesRules, tz_name: str) -> bool:
    """The rows were derived under these rules and TIMEZONE."""
    if not inspect(engine).has_table(sales_rollup_state.name):
        return False
    with engine.connect() as conn:
        stored = conn.scalar(select(sales_rollup_state.c.fingerprint).where(sales_rollup_state.c.name == STATE))
    return stored == fingerprint(rules, tz_name)


def ensure(engine: Engine, rules: SalesRules, tz_name: str) -> int | None:
    """Rebuild when the rows were derived under other rules or TIMEZONE (or never): the passages written, None
    when they were current."""
    if ready(engine, rules, tz_name):
        return None
    return rebuild(engine, rules, tz_name)


def _derive(conn: Connection, deriver: Deriver, deal_ids: list[str]) -> list[dict[str, Any]]:
    change, deal = deal_stage_changes.c, deals.c
    deleted = set(
        conn.scalars(select(deal.source_id).where(deal.source_id.in_(deal_ids), deal.deleted_at.is_not(None)))
    )
    raws: dict[str, dict[str, Any]] = {}
    if any(
        rule.credit not in ("assignee", "qualified_by", deriver.rules.qualified_by_field)
        for rule in deriver.rules.stages
    ):
        for source_id, raw in conn.execute(select(deal.source_id, deal.raw).where(deal.source_id.in_(deal_ids))):
            raws[source_id] = raw or {}
    query = select(
        change.id, change.deal_source_id, change.stage, change.changed_at, change.assignee_name, change.group_name,
        change.qualified_by_name,
    ).where(change.deal_source_id.in_(deal_ids), change.deleted_at.is_(None))  # fmt: skip
    per_deal: dict[str, list[Change]] = {}
    for row in conn.execute(query):
        shown = row.deal_source_id not in deleted
        per_deal.setdefault(row.deal_source_id, []).append(
            Change(
                row.id,
                row.stage,
                row.changed_at,
                row.assignee_name or "",
                row.group_name or "",
                row.qualified_by_name or "",
                shown,
            )
        )
    passages: list[dict[str, Any]] = []
    for deal_id, changes in per_deal.items():
        for passage in deriver.passages(changes, raws.get(deal_id, {})):
            passages.append({**passage, "deal_source_id": deal_id})
    return passages


def _write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    for offset in range(0, len(rows), WRITE_CHUNK):
        conn.execute(insert(sales_passages), rows[offset : offset + WRITE_CHUNK])


_COUNT_NAMES = ["day", "group_name", "stage", "person", "qualifier", "passages", "counted", "points"]


def _count_query(days: Sequence[date] | None = None) -> Any:
    passage = sales_passages.c
    keys = [passage.day, passage.group_name, passage.stage, passage.person, passage.qualifier]
    query = select(
        *keys, func.count(), func.sum(case((passage.counted, 1), else_=0)), func.sum(passage.points)
    ).group_by(*keys)
    return query if days is None else query.where(passage.day.in_(days))


def _recount(conn: Connection, days: Sequence[date]) -> None:
    for chunk in _chunks(days):
        conn.execute(delete(sales_day_counts).where(sales_day_counts.c.day.in_(chunk)))
        conn.execute(insert(sales_day_counts).from_select(_COUNT_NAMES, _count_query(chunk)))
    _recount_windows(conn, days)


def _recount_windows(conn: Connection, days: Iterable[date]) -> None:
    """Sum the day counts again into the weeks and months that hold `days`."""
    windows = {
        (kind, window_for(day, kind, "UTC")) for day in days for kind in ("week", "month")
    }  # local days: any zone
    count, kept = sales_day_counts.c, sales_window_counts.c
    keys = [count.group_name, count.stage, count.person, count.qualifier]
    names = ["kind", "start", "group_name", "stage", "person", "qualifier", "passages", "counted", "points"]
    for kind, window in sorted(windows, key=lambda item: (item[0], item[1].first_day)):
        conn.execute(delete(sales_window_counts).where(kept.kind == kind, kept.start == window.first_day))
        sums = (
            select(
                literal(kind, String), literal(window.first_day, Date), *keys,
                func.sum(count.passages), func.sum(count.counted), func.sum(count.points),
            )
            .where(count.day >= window.first_day, count.day <= window.last_day)
            .group_by(*keys)
        )  # fmt: skip
        conn.execute(insert(sales_window_counts).from_select(names, sums))


def _write_state(conn: Connection, fingerprint_: str, passages: int) -> None:
    conn.execute(delete(sales_rollup_state).where(sales_rollup_state.c.name == STATE))
    conn.execute(
        insert(sales_rollup_state).values(name=STATE, fingerprint=fingerprint_, built_at=utcnow(), passages=passages)
    )


def _user_names(conn: Connection) -> dict[str, str]:
    from models.sales import person_name  # the one way a user's display name is made

    return {row.source_id: person_name(row) for row in conn.execute(select(vtiger_users))}


def _chunks(items: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


# --- reading ----------------------------------------------------------------------------------------------------


def read_change_counts_of(
    conn: Connection, spans: Mapping[str, Window], groups: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """Per span (by name): passages, counted passages and points per stage, person and qualifier
    (CHANGE_COUNT_COLUMNS) of its stage changes in `groups` (empty: every group). The whole weeks and months that
    cover a span come from the window counts, whole days from the day counts, and a span that ends inside a day (the
    compared span of a running window) adds that day's passages up to its end. One statement for every span: a
    round trip per part cost more than the parts on PostgreSQL."""
    kept, count, passage = sales_window_counts.c, sales_day_counts.c, sales_passages.c
    parts = []
    for name, window in spans.items():
        pieces = span_parts(window)
        by_kind = pieces.by_kind()
        weeks_months = [
            and_(kept.kind == kind, kept.start.in_(days)) for kind, days in by_kind.items() if kind != "day"
        ]
        if weeks_months:
            parts.append(_sums(name, kept, [or_(*weeks_months)], groups, True))
        if "day" in by_kind:
            parts.append(_sums(name, count, [count.day.in_(by_kind["day"])], groups, True))
        if pieces.part_day is not None:
            start, end = pieces.part_day
            parts.append(_sums(name, passage, [passage.changed_at >= start, passage.changed_at < end], groups, False))
    sums: dict[str, dict[tuple[str, str, str], list[Any]]] = {name: {} for name in spans}
    if parts:
        for name, stage, person, qualifier, passages, counted, points in conn.execute(union_all(*parts)):
            found = sums[name].setdefault((stage, person, qualifier), [0, 0, 0.0])
            found[0] += int(passages)
            found[1] += int(counted or 0)
            found[2] += float(points or 0)
    return {name: _counts_frame([(*key, *values) for key, values in found.items()]) for name, found in sums.items()}


def _sums(name: str, table: Any, scope: list[Any], groups: Sequence[str], counted: bool) -> Any:
    keys = [table.stage, table.person, table.qualifier]
    sums: list[Any]
    if counted:
        sums = [func.sum(table.passages), func.sum(table.counted), func.sum(table.points)]
    else:
        sums = [func.count(), func.sum(case((table.counted, 1), else_=0)), func.sum(table.points)]
    if groups:
        scope = [*scope, table.group_name.in_(groups)]
    return select(literal(name, String), *keys, *sums).where(*scope).group_by(*keys)


def _counts_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """CHANGE_COUNT_COLUMNS from (stage, person, qualifier, passages, counted, points) rows."""
    if not rows:
        return _empty_counts()
    stage, person, qualifier, passages, counted, points = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "stage": list(stage),
            "person": list(person),
            "qualifier": list(qualifier),
            "passages": np.array(passages, dtype="int64"),
            "counted": np.array(counted, dtype="int64"),
            "points": np.array([float(n or 0) for n in points], dtype="float64"),
        }
    )


def _empty_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stage": pd.Series(dtype="str"), "person": pd.Series(dtype="str"),
            "qualifier": pd.Series(dtype="str"), "passages": pd.Series(dtype="int64"),
            "counted": pd.Series(dtype="int64"), "points": pd.Series(dtype="float64"),
        }
    )  # fmt: skip


def read_passages(
    conn: Connection, start: datetime, end: datetime, tz_name: str, groups: Sequence[str] = ()
) -> pd.DataFrame:
    """The scored passages of [start, end) (naive UTC) in `groups` (empty: every group), oldest first, with the
    change's and the deal's columns (PASSAGE_COLUMNS, as metrics.sales.score_passages gives them): the rows
    behind the stage-change table, the CSV export and the TV."""
    passage, change = sales_passages.c, deal_stage_changes.c
    query = (
        select(
            passage.deal_source_id,
            change.deal_no,
            func.coalesce(deals.c.name, "").label("deal_name"),
            passage.stage,
            change.previous_stage,
            passage.changed_at,
            change.origin,
            change.assignee_name,
            passage.group_name,
            change.qualified_by_name,
            passage.person,
            passage.counted,
            passage.points,
            passage.note,
        )
        .select_from(
            sales_passages.join(deal_stage_changes, change.id == passage.change_id).outerjoin(
                deals, deals.c.source_id == passage.deal_source_id
            )
        )
        .where(
            passage.changed_at >= start, passage.changed_at < end, passage.group_name.in_(groups) if groups else true()
        )
        .order_by(passage.changed_at, passage.deal_source_id, passage.stage)
    )
    rows = conn.execute(query).all()
    names = [name for name in PASSAGE_COLUMNS if name != "changed_local"]
    if not rows:
        frame = pd.DataFrame({name: pd.Series(dtype="object") for name in names})
        frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    else:
        frame = pd.DataFrame([tuple(row) for row in rows], columns=names)
        frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    frame = frame.astype({"counted": bool, "points": "float64"})
    frame["changed_local"] = frame["changed_at"].dt.tz_localize("UTC").dt.tz_convert(tz_name).dt.tz_localize(None)
    return frame

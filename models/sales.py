"""The sales reads: the window's phone calls (through the indexed phone_calls.started_at), the window's raw stage
changes and the earlier stage history of just those deals (what the plain reference scoring in the tests reads;
the app reads the scored passages of models/sales_rollups.py), the roster of the sales groups, open-pipeline
sums, group names and the sales_stage picklist sync stored.

view_models/sales.py scores what these read (through metrics/sales.py) for the page, its CSV export and the TV.

Must not import Dash, Flask or sync/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, String, and_, case, func, inspect, literal, or_, select, true, union_all

from metrics.sales import (
    CALL_COLUMNS,
    CALL_COUNT_COLUMNS,
    CHANGE_COLUMNS,
    HISTORY_COLUMNS,
    ROSTER_COLUMNS,
    open_deal_rows,
)
from metrics.windows import Window, span_parts
from models import rollups
from models.recent_rows import Branch, GridColumn, TableRequest, day_bounds_in, read_block
from models.schema import deal_stage_changes, deals, phone_calls, sync_state, vtiger_groups, vtiger_users
from settings import SalesRules

ID_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


# --- window reads -------------------------------------------------------------------------------------------------


def read_window_calls(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Live phone calls that started in [start, end) (naive UTC)."""
    columns = [phone_calls.c[name] for name in CALL_COLUMNS]
    query = select(*columns).where(
        phone_calls.c.started_at >= start,
        phone_calls.c.started_at < end,
        phone_calls.c.deleted_at.is_(None),
    )
    return _frame(conn.execute(query).all(), CALL_COLUMNS)


def read_call_counts(conn: Connection, window: Window, groups: Sequence[str] = ()) -> pd.DataFrame:
    """Live calls that started in `window`, counted per assignee_name and status (CALL_COUNT_COLUMNS), of `groups`
    (empty: every group), from the calls' roll-ups sync keeps (models/rollups.py, source "calls"): the whole
    windows that cover it, and for a span that ends inside a day (the compared span of a running window) the calls
    of that part-day, read through started_at."""
    return read_call_counts_of(conn, {"span": window}, groups)["span"]


def read_call_counts_of(
    conn: Connection, spans: Mapping[str, Window], groups: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """read_call_counts for several spans (by name) in one statement."""
    call = phone_calls.c
    parts = []
    for name, window in spans.items():
        pieces = span_parts(window)
        if pieces.windows:
            parts.append(rollups.person_status_query(name, "calls", "calls", pieces.by_kind(), groups))
        if pieces.part_day is not None:
            parts.append(
                select(literal(name, String), call.assignee_name, call.status, func.count())
                .where(*_call_scope(*pieces.part_day, groups))
                .group_by(call.assignee_name, call.status)
            )
    sums: dict[str, dict[tuple[str, str], int]] = {name: {} for name in spans}
    if parts:
        for name, person, status, count in conn.execute(union_all(*parts)):
            sums[name][(person, status)] = sums[name].get((person, status), 0) + int(count)
    return {
        name: _frame(
            [(person, status, count) for (person, status), count in found.items() if count], CALL_COUNT_COLUMNS
        )
        for name, found in sums.items()
    }


def read_recent_calls(conn: Connection, window: Window, groups: Sequence[str], limit: int) -> pd.DataFrame:
    """The calls of the window (and groups) that metrics.sales.score_calls would put last: every call that
    started at or after the `limit`-th most recent start, ties included (score_calls breaks them by source_id)."""
    if limit <= 0:
        return _frame([], CALL_COLUMNS)
    scope = _call_scope(window.start, window.end, groups)
    cutoff = conn.execute(
        select(phone_calls.c.started_at)
        .where(*scope)
        .order_by(phone_calls.c.started_at.desc())
        .limit(1)
        .offset(limit - 1)
    ).scalar_one_or_none()
    if cutoff is not None:
        scope.append(phone_calls.c.started_at >= cutoff)
    query = select(*[phone_calls.c[name] for name in CALL_COLUMNS]).where(*scope)
    return _frame(conn.execute(query).all(), CALL_COLUMNS)


def call_grid(rules: SalesRules) -> dict[str, GridColumn]:
    """The /sales calls table's columns (layouts/sales.py) as the grid sorts and filters them; a call's points as
    metrics.sales.score_calls gives them (a named person, and a scoring status when call_statuses is set)."""
    call = phone_calls.c
    person = func.trim(call.assignee_name)
    counted = person != ""
    if rules.call_statuses:
        counted = and_(counted, call.status.in_(rules.call_statuses))
    return {
        "started_at": GridColumn(call.started_at, "datetime"),
        "person": GridColumn(person),
        "status": GridColumn(call.status),
        "direction": GridColumn(call.direction),
        "duration_seconds": GridColumn(call.duration_seconds, "number"),
        "customer_number": GridColumn(call.customer_number),
        "points": GridColumn(case((counted, float(rules.call_points)), else_=0.0), "number"),
        "call": GridColumn(call.source_id),
        "recording": GridColumn(call.recording_url),
    }


def read_call_block(
    conn: Connection, window: Window, groups: Sequence[str], rules: SalesRules, request: TableRequest
) -> tuple[pd.DataFrame, int | None]:
    """The block of the window's calls the page's table asks for (sorted and filtered over all of them, newest
    first otherwise), in order, and how many pass its filter (None: no filter)."""
    started = Branch(
        "ix_phone_calls_live_started", phone_calls.c.started_at, _call_scope(window.start, window.end, groups)
    )
    rows, count = read_block(
        conn, phone_calls, CALL_COLUMNS, [started], call_grid(rules), request, day_bounds_in(window.tz_name)
    )
    return _frame(rows, CALL_COLUMNS), count


def _call_scope(start: datetime, end: datetime, groups: Sequence[str]) -> list[Any]:
    call = phone_calls.c
    scope = [call.started_at >= start, call.started_at < end, call.deleted_at.is_(None)]
    if groups:
        scope.append(call.group_name.in_(groups))
    return scope


def read_window_stage_changes(
    conn: Connection,
    start: datetime,
    end: datetime,
    credit_fields: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> pd.DataFrame:
    """Live stage changes that happened in [start, end) (naive UTC), with the deal's name (and, for stages
    credited to a deal field other than assignee and qualified-by, that field's user resolved to a name, as the
    deal holds it now); with `groups`, only the rows of those groups."""
    change = deal_stage_changes.c
    columns = [change[name] for name in CHANGE_COLUMNS if name != "deal_name"]
    query = (
        select(*columns, func.coalesce(deals.c.name, "").label("deal_name"))
        .select_from(deal_stage_changes.outerjoin(deals, deals.c.source_id == change.deal_source_id))
        .where(
            change.changed_at >= start,
            change.changed_at < end,
            change.deleted_at.is_(None),
            or_(deals.c.deleted_at.is_(None), deals.c.id.is_(None)),
            change.group_name.in_(groups) if groups else true(),
        )
    )
    frame = _frame(conn.execute(query).all(), [c.name for c in columns] + ["deal_name"])[CHANGE_COLUMNS]
    if credit_fields:
        frame = _with_credit_fields(conn, frame, credit_fields)
    return frame


def _with_credit_fields(conn: Connection, frame: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """Add one column per deal field naming a user: the field's value in deals.raw, resolved through vtiger_users."""
    raws: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(frame["deal_source_id"]))):
        for source_id, raw in conn.execute(select(deals.c.source_id, deals.c.raw).where(deals.c.source_id.in_(chunk))):
            raws[source_id] = raw or {}
    names = {row.source_id: person_name(row) for row in conn.execute(select(vtiger_users))}
    frame = frame.copy()
    for name in fields:
        values = [str(raws.get(deal, {}).get(name) or "") for deal in frame["deal_source_id"]]
        frame[name] = [names.get(value, value) for value in values]
    return frame


def read_stage_history(conn: Connection, deal_ids: Iterable[str]) -> pd.DataFrame:
    """Every live stage change of these deals, whenever it happened (to tell a first passage from a repeat)."""
    change = deal_stage_changes.c
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(deal_ids))):
        query = select(change.deal_source_id, change.stage, change.changed_at).where(
            change.deal_source_id.in_(chunk), change.deleted_at.is_(None)
        )
        rows.extend(conn.execute(query).all())
    return _frame(rows, HISTORY_COLUMNS)


# --- people, groups, pipeline -------------------------------------------------------------------------------------


def person_name(user: Any) -> str:
    """A VTiger user's display name, as sync resolves assignees: full name, else first and last, else login."""
    full = (user.full_name or "").strip() or f"{user.first_name or ''} {user.last_name or ''}".strip()
    return full or (user.user_name or "").strip()


def read_roster(conn: Connection, groups: Sequence[str]) -> pd.DataFrame:
    """Active users whose primary group is one of `groups`: they are listed even before their first point."""
    if not groups:
        return _frame([], ROSTER_COLUMNS)
    query = (
        select(vtiger_users, vtiger_groups.c.name.label("group_name"))
        .join(vtiger_groups, vtiger_groups.c.source_id == vtiger_users.c.primary_group_id)
        .where(vtiger_groups.c.name.in_(groups), func.lower(vtiger_users.c.status) == "active")
    )
    rows = [(person_name(row), row.group_name) for row in conn.execute(query)]
    return _frame([row for row in rows if row[0]], ROSTER_COLUMNS)


def read_open_deals(conn: Connection, rules: SalesRules, groups: Sequence[str] = ()) -> pd.DataFrame:
    """The open deals themselves (the rows behind the open-pipeline chart), largest amount first."""
    closed = (*rules.closed_stages, *rules.excluded_stages)
    columns = ["source_id", "deal_no", "name", "stage", "amount", "assignee_name", "group_name", "qualified_by_name"]
    query = select(*[deals.c[name] for name in columns]).where(
        deals.c.deleted_at.is_(None), deals.c.stage.not_in(closed) if closed else true()
    )
    frame = open_deal_rows(_frame(conn.execute(query).all(), columns), rules, groups)
    return frame.sort_values(["amount", "deal_no"], ascending=[False, True], na_position="last").reset_index(drop=True)


def sales_group_names(engine: Engine, rules: SalesRules) -> list[str]:
    """The groups the selector offers: the configured sales groups, else every VTiger group by name."""
    if rules.groups:
        return list(rules.groups)
    with engine.connect() as conn:
        names = conn.execute(select(vtiger_groups.c.name).where(vtiger_groups.c.name != "")).scalars().all()
    return sorted(set(names), key=str.lower)


def effective_groups(rules: SalesRules, group: str) -> tuple[str, ...]:
    """The rows' groups a view counts: the selected group, else the configured sales groups (empty: everyone)."""
    return (group,) if group else tuple(rules.groups)


# --- the stage picklist -------------------------------------------------------------------------------------------


def read_stage_picklist(engine: Engine) -> list[str] | None:
    """VTiger's sales_stage picklist as the last sync stored it, in picklist order; None before the first sync
    (or migration). view_models.sales.stage_picklist is the cached read for pages."""
    if not inspect(engine).has_table(sync_state.name):
        return None
    with engine.connect() as conn:
        extra = conn.execute(
            select(sync_state.c.extra).where(sync_state.c.source == "vtiger", sync_state.c.module == "Potentials")
        ).scalar_one_or_none()
    picklist = ((extra or {}).get("picklists") or {}).get("sales_stage")
    if not isinstance(picklist, list) or not picklist:
        return None
    return [str(value) for value in picklist]


# --- helpers ------------------------------------------------------------------------------------------------------


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})
    return pd.DataFrame([tuple(row) for row in rows], columns=list(columns))


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), ID_CHUNK):
        yield list(items[start : start + ID_CHUNK])

"""Sales points per person and window, from the stage changes and phone calls behind the window and the rules
in kpi.toml (settings.SalesRules), plus the sales charts' figures (calls per person, demos scheduled per
qualifier, deals per stage, open pipeline per owner), the goal in business days and the score key.

The scoring, in the words of the README (Sales: the point system):
- A phone call is `call_points` to its assignee when it started (started_at) inside the window and, when
  `call_statuses` is set, its status is one of them.
- A stage change earns its rule's points for the person the rule credits when the change happened inside the
  window, whatever happened to the deal later (the change rows are history, never rewritten).
- Consecutive records of the same deal entering the same stage are one passage (the custom field and the
  transition sync observed both record it); the passage is shown once, at its earliest time.
- `once_per_deal`: a deal that enters a stage a second time (it left and came back) scores that stage only the
  first time; the later passage is listed with 0 points and a note.
- Group filter: a row belongs to the groups when its group_name (the deal's or call's group at the time) is in
  them; empty means everyone.

Input frames (models/sales.py reads them; column names below):
- calls: source_id, started_at (naive UTC), status, direction, duration_seconds, assignee_name, group_name,
  customer_number, recording_url (+ optional link)
- changes (the window's rows): deal_source_id, deal_no, deal_name, stage, previous_stage, changed_at (naive
  UTC), origin, assignee_name, group_name, qualified_by_name (+ one column per other credited deal field, named
  by the field, + optional link)
- history: deal_source_id, stage, changed_at of every live change of the deals in `changes` (any time)
- roster: person, group_name (people listed even with zero points)
- pipeline: assignee_name, group_name, stage, amount, deals (open-deal sums per owner, group and stage)

The app does not score stage changes here: sync keeps them scored (models/sales_rollups.py) and the page reads
their counts (points_from_counts, ..._of; view_models.sales.sales_page_view) or the scored rows
(view_models.sales.scored_sales_view). score_passages,
score_stage_changes and sales_view are the plain reference the tests hold those against.

Pure: pandas and the window in, frames and numbers out. Must not import SQLAlchemy, Dash, models/ or sync/,
and never reads the clock (`today` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from metrics.series import UNASSIGNED as SERIES_UNASSIGNED
from metrics.windows import Window, to_local
from settings import SalesRules, StageRule

CALL_COLUMNS = [
    "source_id", "started_at", "status", "direction", "duration_seconds", "assignee_name", "group_name",
    "customer_number", "recording_url",
]  # fmt: skip
CHANGE_COLUMNS = [
    "deal_source_id", "deal_no", "deal_name", "stage", "previous_stage", "changed_at", "origin", "assignee_name",
    "group_name", "qualified_by_name",
]  # fmt: skip
HISTORY_COLUMNS = ["deal_source_id", "stage", "changed_at"]
ROSTER_COLUMNS = ["person", "group_name"]
PIPELINE_COLUMNS = ["assignee_name", "group_name", "stage", "amount", "deals"]
CALL_COUNT_COLUMNS = ["assignee_name", "status", "calls"]  # one window's calls per assignee and status
# A window's stage passages counted per stage, credited person and qualifier (models/sales_rollups.py reads them)
CHANGE_COUNT_COLUMNS = ["stage", "person", "qualifier", "passages", "counted", "points"]
# Scored passages, as score_passages gives them and models.sales_rollups.read_passages reads them
PASSAGE_COLUMNS = [*CHANGE_COLUMNS, "person", "counted", "points", "note", "changed_local"]

NO_QUALIFIER = "(no qualifier)"
UNASSIGNED = SERIES_UNASSIGNED  # one word for nobody on every page: "Unassigned"
PHONE_CALLS = "Phone calls"  # the breakdown column of counted calls


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})


def in_groups(frame: pd.DataFrame, groups: Iterable[str]) -> pd.DataFrame:
    """Rows whose group_name is one of `groups`; every row when `groups` is empty."""
    groups = tuple(groups)
    if not groups:
        return frame
    return frame[frame["group_name"].isin(groups)]


def _in_window(frame: pd.DataFrame, column: str, window: Window) -> pd.DataFrame:
    moments = pd.to_datetime(frame[column])
    return frame[(moments >= window.start) & (moments < window.end)]


def _names(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


# --- calls ----------------------------------------------------------------------------------------------------


def score_calls(calls: pd.DataFrame, rules: SalesRules, window: Window) -> pd.DataFrame:
    """The window's calls (by start time), oldest first, with `counted`, `points` and `started_local`."""
    frame = _in_window(calls, "started_at", window).copy()
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["assignee_name"] = _names(frame["assignee_name"])
    counted = frame["assignee_name"] != ""
    if rules.call_statuses:
        counted &= frame["status"].isin(rules.call_statuses)
    frame["counted"] = counted.astype(bool)
    frame["points"] = frame["counted"].astype(float) * float(rules.call_points)
    frame["started_local"] = to_local(frame["started_at"], window.tz_name)
    return frame.sort_values(["started_at", "source_id"], kind="stable").reset_index(drop=True)


# --- stage changes --------------------------------------------------------------------------------------------


def _credited(frame: pd.DataFrame, rule: StageRule, rules: SalesRules, names: dict[str, pd.Series]) -> pd.Series:
    """The name of the person `rule` credits, per row ("" when nobody is named). `names` keeps each column's
    cleaned names, so rules crediting the same field clean it once."""
    if rule.credit == "assignee":
        column = "assignee_name"
    elif rule.credit in (rules.qualified_by_field, "qualified_by"):
        column = "qualified_by_name"
    elif rule.credit in frame.columns:
        column = rule.credit
    else:
        return pd.Series("", index=frame.index, dtype="object")
    if column not in names:
        names[column] = _names(frame[column])
    return names[column]


def _passages(changes: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """`changes` with `duplicate` (the deal's previous record is the same stage) and `first_entered_at`."""
    keys = ["deal_source_id", "stage", "changed_at"]
    every = pd.concat([history[keys], changes[keys]], ignore_index=True)
    every["changed_at"] = pd.to_datetime(every["changed_at"])
    every = every.drop_duplicates().sort_values(["deal_source_id", "changed_at", "stage"], kind="stable")
    every["stage_before"] = every.groupby("deal_source_id")["stage"].shift()
    every["first_entered_at"] = every.groupby(["deal_source_id", "stage"])["changed_at"].transform("min")
    merged = changes.merge(every, on=keys, how="left", validate="many_to_one")
    merged["duplicate"] = (merged["stage_before"] == merged["stage"]).astype(bool)
    return merged.drop(columns="stage_before")


def score_stage_changes(
    changes: pd.DataFrame, history: pd.DataFrame, rules: SalesRules, window: Window
) -> pd.DataFrame:
    """The window's stage passages, oldest first, with `person` (credited), `counted`, `points`, `note` and
    `changed_local`. Duplicate records of one passage are dropped."""
    return score_passages(_in_window(changes, "changed_at", window), history, rules, window.tz_name)


def score_passages(changes: pd.DataFrame, history: pd.DataFrame, rules: SalesRules, tz_name: str) -> pd.DataFrame:
    """score_stage_changes without the window filter: every row of `changes` is scored. A row's score depends
    only on the row and its deal's history, so a span's rows scored once and then cut per window
    (`window_rows`) give each window exactly what score_stage_changes gives it."""
    frame = changes.copy()
    frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    frame = _passages(frame, history)
    frame = frame[~frame["duplicate"]].drop(columns="duplicate").reset_index(drop=True)

    names: dict[str, pd.Series] = {"assignee_name": _names(frame["assignee_name"])}
    # Plain arrays, set once at the end: a .loc assignment per rule and column costs more than the scoring.
    stage = frame["stage"].to_numpy(dtype=object)
    person = names["assignee_name"].to_numpy(dtype=object).copy()
    points = np.zeros(len(frame), dtype="float64")
    counted = np.zeros(len(frame), dtype=bool)
    note = np.full(len(frame), "not a scored stage", dtype=object)
    repeat = (frame["changed_at"] > frame["first_entered_at"]).to_numpy(dtype=bool)
    for rule in rules.stages:
        mask = stage == rule.name
        if not mask.any():
            continue
        credited = _credited(frame, rule, rules, names).to_numpy(dtype=object)
        named = credited != ""
        blocked = mask & named & repeat if rule.once_per_deal else np.zeros(len(frame), dtype=bool)
        person[mask] = credited[mask]
        note[mask] = ""
        note[mask & ~named] = "no one to credit"
        if blocked.any():
            first = to_local(frame["first_entered_at"][blocked], tz_name).dt.strftime("%Y-%m-%d %H:%M")
            note[blocked] = ["scores once per deal; first entered " + text for text in first]
        counted[mask & named & ~blocked] = True
        points[mask & named & ~blocked] = float(rule.points)
    frame["person"] = pd.Series(person, index=frame.index, dtype=names["assignee_name"].dtype)
    frame["points"] = points
    frame["counted"] = counted
    frame["note"] = pd.Series(note, index=frame.index, dtype=names["assignee_name"].dtype)
    frame["counted"] = frame["counted"].astype(bool)
    frame["changed_local"] = to_local(frame["changed_at"], tz_name)
    return frame.sort_values(["changed_at", "deal_source_id", "stage"], kind="stable").reset_index(drop=True)


def window_rows(frame: pd.DataFrame, column: str, window: Window) -> pd.DataFrame:
    """The rows of a scored frame (sorted oldest first) whose `column` falls in `window`, order kept."""
    return _in_window(frame, column, window).reset_index(drop=True)


# --- points per person ----------------------------------------------------------------------------------------


def points_per_person(
    scored_calls: pd.DataFrame, scored_changes: pd.DataFrame, rules: SalesRules, roster: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per person: `points` (total), `Phone calls` (counted calls) and one count column per configured
    stage (counted entries), highest points first. Everyone in the frames or the roster is listed, zero or not.
    """
    return points_from_tally(call_tally_of(scored_calls), scored_changes, rules, roster)


def call_tally_of(scored_calls: pd.DataFrame) -> pd.DataFrame:
    """name (the stripped assignee name, "" for nobody), calls, counted: scored calls summed per name."""
    tally: dict[str, list[int]] = {}
    for raw, counted in zip(scored_calls["assignee_name"].tolist(), scored_calls["counted"].tolist(), strict=True):
        sums = tally.setdefault(_name(raw), [0, 0])
        sums[0] += 1
        sums[1] += int(bool(counted))
    return _tally_frame(tally)


def call_tally(counts: pd.DataFrame, rules: SalesRules) -> pd.DataFrame:
    """The call tally (as call_tally_of gives it) from call counts per assignee_name and status (`calls`), the
    way models.sales.read_call_counts reads them: the same names, the same rule for which calls count."""
    return _tally_frame(_tally(counts, rules))


def _name(value: object) -> str:
    """A name as the tallies compare them: stripped, "" for none (what `_names` does to a column)."""
    return "" if value is None or value != value else str(value).strip()  # value != value: NaN


def _tally(counts: pd.DataFrame, rules: SalesRules) -> dict[str, list[int]]:
    """name -> [calls, counted] from call counts per assignee_name and status. Plain dicts: a window has a few
    hundred counts, and pandas' cost per group-by was most of a page click."""
    statuses = set(rules.call_statuses)
    tally: dict[str, list[int]] = {}
    columns = (counts["assignee_name"].tolist(), counts["status"].tolist(), counts["calls"].tolist())
    for raw, status, calls in zip(*columns, strict=True):
        calls = int(calls)
        if calls <= 0:
            continue
        name = _name(raw)
        sums = tally.setdefault(name, [0, 0])
        sums[0] += calls
        sums[1] += calls if name and (not statuses or status in statuses) else 0
    return tally


def _tally_frame(tally: dict[str, list[int]]) -> pd.DataFrame:
    names = sorted(tally)
    return pd.DataFrame(
        {
            "name": names,
            "calls": np.array([tally[name][0] for name in names], dtype="int64"),
            "counted": np.array([tally[name][1] for name in names], dtype="int64"),
        }
    )


def call_totals(counts: pd.DataFrame, rules: SalesRules) -> tuple[int, int]:
    """(calls, counted calls) of a window from its call counts per assignee_name and status."""
    tally = _tally(counts, rules).values()
    return sum(sums[0] for sums in tally), sum(sums[1] for sums in tally)


def points_from_tally(
    tally: pd.DataFrame, scored_changes: pd.DataFrame, rules: SalesRules, roster: Iterable[str] = ()
) -> pd.DataFrame:
    """points_per_person from a call tally (call_tally_of, call_tally) instead of the scored calls themselves."""
    changes = scored_changes[scored_changes["counted"]]
    stage_points = {str(person): float(points) for person, points in changes.groupby("person")["points"].sum().items()}
    per_stage = changes.groupby(["stage", "person"]).size()  # one grouping for every stage's column
    entries = {(str(key[0]), str(key[1])): int(count) for key, count in zip(per_stage.index, per_stage, strict=True)}
    credited = set(tally["name"].tolist()) | set(scored_changes["person"].tolist())
    return _board(_counted_calls(tally), credited, stage_points, entries, rules, roster)


def points_from_counts(
    tally: pd.DataFrame, change_counts: pd.DataFrame, rules: SalesRules, roster: Iterable[str] = ()
) -> pd.DataFrame:
    """points_from_tally from the window's passages counted per stage and person (CHANGE_COUNT_COLUMNS)."""
    stage_points: dict[str, float] = {}
    entries: dict[tuple[str, str], int] = {}
    people: set[str] = set()
    columns = [change_counts[name].tolist() for name in ("stage", "person", "passages", "counted", "points")]
    for stage, person, passages, counted, points in zip(*columns, strict=True):
        stage_points[person] = stage_points.get(person, 0.0) + float(points)
        if counted > 0:
            entries[(stage, person)] = entries.get((stage, person), 0) + int(counted)
        if passages > 0:
            people.add(person)
    return _board(_counted_calls(tally), people | set(tally["name"].tolist()), stage_points, entries, rules, roster)


def _counted_calls(tally: pd.DataFrame) -> dict[str, int]:
    return {
        name: int(counted)
        for name, counted in zip(tally["name"].tolist(), tally["counted"].tolist(), strict=True)
        if counted > 0 and name != ""
    }


def _board(
    calls: dict[str, int],
    listed: set[str],
    stage_points: dict[str, float],
    entries: dict[tuple[str, str], int],
    rules: SalesRules,
    roster: Iterable[str],
) -> pd.DataFrame:
    """The leaderboard: `listed` (everyone with calls or passages credited to them) and the roster; points from
    the counted calls (`calls`: name -> counted calls) and the stage points per person, the stage columns from the
    counted entries per (stage, person)."""
    people = set(listed)  # the derivations cleaned the names
    people |= {name.strip() for name in roster}
    people.discard("")
    stage_names = [rule.name for rule in rules.stages]
    columns = ["person", "points", PHONE_CALLS, *stage_names]
    if not people:
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in columns}).astype({"person": "object"})
    call_points = float(rules.call_points)
    points = {
        person: float(calls.get(person, 0)) * call_points + float(stage_points.get(person, 0.0)) for person in people
    }
    order = sorted(people, key=lambda person: (-points[person], person))
    data: dict[str, Any] = {
        "person": order,
        "points": np.array([points[person] for person in order], dtype="float64"),
        PHONE_CALLS: np.array([calls.get(person, 0) for person in order], dtype="int64"),
    }
    for name in stage_names:
        data[name] = np.array([entries.get((name, person), 0) for person in order], dtype="int64")
    return pd.DataFrame(data)[columns]


# --- goal -------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str, years: tuple[int, ...]) -> tuple[tuple[date, str], ...]:
    if not country:
        return ()
    import holidays

    found = holidays.country_holidays(country, subdiv=subdivision or None, years=list(years))
    return tuple(sorted(found.items()))


def holidays_between(first: date, last: date, country: str, subdivision: str = "") -> list[tuple[date, str]]:
    """The public holidays from `first` to `last` (inclusive) that fall on a weekday, with their names, taken
    from every year the range touches (the old dashboard used only the first year: a week across New Year lost
    1 January)."""
    years = tuple(range(first.year, last.year + 1))
    return [
        (day, name)
        for day, name in _holidays(country, subdivision, years)
        if first <= day <= last and day.weekday() < 5
    ]


def business_days(first: date, last: date, country: str, subdivision: str = "") -> list[date]:
    """Monday to Friday from `first` to `last` (inclusive) minus the public holidays."""
    if last < first:
        return []
    off = {day for day, _ in holidays_between(first, last, country, subdivision)}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [day for day in days if day.weekday() < 5 and day not in off]


@dataclass(frozen=True)
class Goal:
    """The points goal of a window. A day's goal is the daily goal; a week's or month's is the daily goal times
    its business days, in total and so far (through `today`, when the window holds it)."""

    kind: str
    daily_goal: float
    business_days: int
    business_days_so_far: int
    holidays: tuple[tuple[date, str], ...] = ()  # weekday holidays inside the window

    @property
    def total(self) -> float:
        return self.daily_goal if self.kind == "day" else self.daily_goal * self.business_days

    @property
    def so_far(self) -> float:
        return self.daily_goal if self.kind == "day" else self.daily_goal * self.business_days_so_far


def goal_for(window: Window, rules: SalesRules, today: date) -> Goal:
    country, subdivision = rules.holidays_country, rules.holidays_subdivision
    days = business_days(window.first_day, window.last_day, country, subdivision)
    off = tuple(holidays_between(window.first_day, window.last_day, country, subdivision))
    return Goal(window.kind, float(rules.daily_goal), len(days), sum(1 for day in days if day <= today), off)


# --- charts -----------------------------------------------------------------------------------------------------


def calls_per_person(scored_calls: pd.DataFrame) -> pd.DataFrame:
    """person, calls (all the window's calls), counted (those that score), most calls first."""
    return calls_per_person_of(call_tally_of(scored_calls))


def calls_per_person_of(tally: pd.DataFrame) -> pd.DataFrame:
    """calls_per_person from a call tally: nobody's calls under UNASSIGNED."""
    sums: dict[str, list[int]] = {}
    columns = (tally["name"].tolist(), tally["calls"].tolist(), tally["counted"].tolist())
    for name, calls, counted in zip(*columns, strict=True):
        person = name or UNASSIGNED
        found = sums.setdefault(person, [0, 0])
        found[0] += int(calls)
        found[1] += int(counted)
    order = sorted(sums, key=lambda person: (-sums[person][0], person))
    return pd.DataFrame(
        {
            "person": order,
            "calls": np.array([sums[person][0] for person in order], dtype="int64"),
            "counted": np.array([sums[person][1] for person in order], dtype="int64"),
        }
    )


def demos_per_qualifier(scored_changes: pd.DataFrame, rules: SalesRules) -> pd.DataFrame:
    """qualifier, demos: the window's entries into `rules.demo_stage` per qualified-by person, most first."""
    demos = scored_changes[scored_changes["stage"] == rules.demo_stage] if rules.demo_stage else scored_changes[:0]
    frame = demos.assign(qualifier=_names(demos["qualified_by_name"]).replace("", NO_QUALIFIER))
    grouped = frame.groupby("qualifier").size().rename("demos").reset_index()
    return _most_demos_first(grouped)


def demos_per_qualifier_of(change_counts: pd.DataFrame, rules: SalesRules) -> pd.DataFrame:
    """demos_per_qualifier from the window's passage counts (CHANGE_COUNT_COLUMNS)."""
    demos = change_counts[(change_counts["stage"] == rules.demo_stage) & (change_counts["passages"] > 0)]
    if not rules.demo_stage:
        demos = demos[:0]
    frame = demos.assign(qualifier=demos["qualifier"].replace("", NO_QUALIFIER))
    grouped = frame.groupby("qualifier")["passages"].sum().rename("demos").reset_index()
    return _most_demos_first(grouped)


def _most_demos_first(grouped: pd.DataFrame) -> pd.DataFrame:
    grouped = grouped.astype({"demos": "int64"})
    return grouped.sort_values(["demos", "qualifier"], ascending=[False, True], kind="stable").reset_index(drop=True)


def deals_per_stage(
    scored_changes: pd.DataFrame, rules: SalesRules, picklist: Sequence[str] | None = None
) -> pd.DataFrame:
    """stage, deals: the window's stage entries per stage (excluded stages left out), in pipeline order (the
    order of VTiger's sales_stage `picklist` when sync has stored it, else of the stages kpi.toml names), never by
    count: a funnel reads top to bottom. Stages neither knows come last, by name."""
    kept = scored_changes[~scored_changes["stage"].isin(rules.excluded_stages)]
    grouped = kept.groupby("stage").size().rename("deals").reset_index().astype({"deals": "int64"})
    return _in_pipeline_order(grouped, rules, picklist)


def deals_per_stage_of(
    change_counts: pd.DataFrame, rules: SalesRules, picklist: Sequence[str] | None = None
) -> pd.DataFrame:
    """deals_per_stage from the window's passage counts (CHANGE_COUNT_COLUMNS)."""
    kept = change_counts[~change_counts["stage"].isin(rules.excluded_stages) & (change_counts["passages"] > 0)]
    grouped = kept.groupby("stage")["passages"].sum().rename("deals").reset_index().astype({"deals": "int64"})
    return _in_pipeline_order(grouped, rules, picklist)


def _in_pipeline_order(grouped: pd.DataFrame, rules: SalesRules, picklist: Sequence[str] | None) -> pd.DataFrame:
    order = {name: rank for rank, name in enumerate(pipeline_order(rules, picklist))}
    ranks = [(order.get(stage, len(order)), str(stage).lower()) for stage in grouped["stage"]]
    positions = sorted(range(len(grouped)), key=lambda index: ranks[index])
    return grouped.take(positions).reset_index(drop=True)


def pipeline_order(rules: SalesRules, picklist: Sequence[str] | None = None) -> list[str]:
    """The stages in pipeline order: the picklist's, else the scored stages then the closed ones as kpi.toml lists
    them."""
    if picklist:
        return list(dict.fromkeys(picklist))
    return list(dict.fromkeys([*(rule.name for rule in rules.stages), *rules.closed_stages]))


def open_deal_rows(deals: pd.DataFrame, rules: SalesRules, groups: Iterable[str] = ()) -> pd.DataFrame:
    """Deals (or per-stage sums) that are open: stage not in closed_stages or excluded_stages, compared
    exactly as VTiger spells them (the old dashboard lowercased one side and excluded nothing)."""
    frame = in_groups(deals, groups)
    return frame[~frame["stage"].isin((*rules.closed_stages, *rules.excluded_stages))]


def open_pipeline_per_owner(pipeline: pd.DataFrame, rules: SalesRules, groups: Iterable[str] = ()) -> pd.DataFrame:
    """owner, amount, deals: open deals' amount per assignee, largest first."""
    frame = open_deal_rows(pipeline, rules, groups)
    sums: dict[str, list[float]] = {}
    columns = (frame["assignee_name"].tolist(), frame["amount"].tolist(), frame["deals"].tolist())
    for owner, amount, deals in zip(*columns, strict=True):
        found = sums.setdefault(_name(owner) or UNASSIGNED, [0.0, 0])
        found[0] += _number(amount)
        found[1] += int(_number(deals))
    order = sorted(sums, key=lambda owner: (-sums[owner][0], owner))
    return pd.DataFrame(
        {
            "owner": order,
            "amount": np.array([sums[owner][0] for owner in order], dtype="float64"),
            "deals": np.array([sums[owner][1] for owner in order], dtype="int64"),
        }
    )


def _number(value: object) -> float:
    """A sum as a number, 0 for none or text that is not one (the old page's pd.to_numeric(errors="coerce"))."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if number != number else number


# --- score key ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreKeyRow:
    what: str
    points: float
    credited_to: str
    condition: str = ""


def _credit_label(rule: StageRule, rules: SalesRules) -> str:
    if rule.credit == "assignee":
        return "the deal's assignee"
    if rule.credit in (rules.qualified_by_field, "qualified_by"):
        return "the deal's qualified-by person"
    return f"the user in the deal's {rule.credit} field"


def score_key(rules: SalesRules) -> list[ScoreKeyRow]:
    """What earns points, generated from the rules (the old page had a static copy that drifted)."""
    statuses = f"status {', '.join(rules.call_statuses)}" if rules.call_statuses else "any status"
    rows = [ScoreKeyRow("Phone call", float(rules.call_points), "the call's assignee", statuses)]
    for rule in rules.stages:
        condition = "first time per deal" if rule.once_per_deal else "every time the deal enters it"
        rows.append(ScoreKeyRow(rule.name, float(rule.points), _credit_label(rule, rules), condition))
    return rows

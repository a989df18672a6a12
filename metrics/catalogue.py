"""The KPI catalogue: every figure of /cases, /redmine, /sales and the TV, defined once.

An entry says what a figure is called and what it counts in one line (the card's (i), the pages' "What the
numbers mean" panels, README's definitions table: tests/test_definitions.py holds README to these words) and, for
the figures counted from a source's rows, which rows count (`Rows`): any of its `Term`s (a timestamp column in
the window, optionally only when a `Condition` on the row holds now), or, for figures of "now", the rows a
`Condition` holds for; credited to whom (`credit`, a leaderboard) and in which group (the source's `selector`).
The conditions are plain data so they read both as SQL (models/kpi_reads.py) and as pandas (`row_mask` here).

From an entry come: the roll-ups sync keeps (models/rollups.py `spec_for`), the page reads (models/kpi_reads.py,
metrics.catalogue.count), the rows behind a card and its CSV export (views/, exports.py) and the TV's figures
(through the same views). The tests' hand-computed expectations and bench/references.py are written from README,
not from here: they are what checks it.

    entry("cases.worked").title             # "Worked on"
    entry("cases.worked").text              # one line, what the number counts
    page_entries("cases")                   # the page's figures in the order its panel lists them
    counted("cases")                        # the entries counted from the cases table, window by window
    over_100_note("cases.kill_rate", 128.0)

`tone` is the meaning a figure's colour stands for (layouts/palette.py): created (work coming in), resolved (work
done, points earned), worked (activity), open (waiting), rate, neutral, goal-met (goal status).

Pure: pandas in, pandas or numbers out. Must not import SQLAlchemy, Dash, models/ or sync/.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics.series import WindowTotals, in_window_array, latest_in_window, ranked, stamps
from metrics.windows import Comparison, Window

Tone = str  # a key of layouts.palette.PALETTE


# --- which rows count ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A table whose rows the catalogue counts: its group column (`selector`), person and status columns, the
    kpi.toml section its status rules are in, and its own open/closed flag if it has one (Redmine's is_closed)."""

    name: str  # the roll-ups' source and the page: "cases", "redmine"
    table: str
    selector: str
    person: str
    status: str
    rules: str  # the section of settings.KpiRules: its status sets are what `StatusIn` names
    closed_flag: str | None = None


@dataclass(frozen=True)
class Flag:
    """A boolean column of the row is `value` now."""

    column: str
    value: bool = True


@dataclass(frozen=True)
class StatusIn:
    """The row's status now is (`negate`: is not) in a status set of kpi.toml (`rule`: "resolved_statuses")."""

    rule: str
    negate: bool = False


Condition = Flag | StatusIn


@dataclass(frozen=True)
class Term:
    """The row counts in the window its `column` falls in (and only when `when` holds)."""

    column: str
    when: Condition | None = None


@dataclass(frozen=True)
class Rows:
    """Which rows of `source` a figure counts: any term in the window (a row counts once, however many of its
    terms fall there), or, without terms, every live row `now` holds for. `credit`: counted per this person
    column (a leaderboard)."""

    source: Source
    terms: tuple[Term, ...] = ()
    now: Condition | None = None
    credit: str | None = None
    # Kept per status although no term names a status set: the set is applied where the figure is read (the
    # calls' sales.call_statuses decide which calls score, not which are counted).
    by_status: bool = False

    @property
    def windowed(self) -> bool:
        return bool(self.terms)

    @property
    def additive(self) -> bool:
        """Whether the counts of two spans add up: one term puts a row in one day only; with several, a row counted
        on two days is still one row over both."""
        return len(self.terms) == 1

    @property
    def status_condition(self) -> StatusIn | None:
        """The one kpi.toml status condition of the terms (roll-ups split such counts by status), if any."""
        found = {term.when for term in self.terms if isinstance(term.when, StatusIn)}
        if len(found) > 1:
            raise ValueError("a catalogue entry's terms may name one kpi.toml status set at most")
        return found.pop() if found else None


@dataclass(frozen=True)
class Kpi:
    """One figure: its id ("cases.kill_rate"), the page it is on, its title and definition, its colour's meaning,
    and what it counts. `key` is its short name in URLs, exports and the roll-ups (16 characters at most).
    `ratio`: a rate of two other entries (numerator, denominator). `listed`: shown in the page's panel and README
    (a table-only figure such as Redmine's activity is not)."""

    id: str
    title: str
    text: str
    tone: Tone = "neutral"
    over_100: str = ""  # for a rate: why it can exceed 100 %, shown under the card when it does
    key: str = ""
    rows: Rows | None = None
    ratio: tuple[str, str] | None = None
    listed: bool = True

    @property
    def page(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def short(self) -> str:
        return self.key or self.id.split(".", 1)[1]


# --- the sources and their figures ---------------------------------------------------------------------------

CASES = Source("cases", "cases", "group_name", "assignee_name", "status", rules="cases")
REDMINE = Source(
    "redmine", "redmine_issues", "project_name", "assignee_name", "status_name", "redmine", closed_flag="is_closed"
)
CALLS = Source("calls", "phone_calls", "group_name", "assignee_name", "status", rules="sales")
SOURCES = {source.name: source for source in (CASES, REDMINE, CALLS)}

BACKLOG_SHRANK = "More resolved than created: the backlog shrank."

_CASE_RESOLVED = Term("resolved_at", StatusIn("resolved_statuses"))
_ISSUE_CLOSED = Term("closed_at", Flag("is_closed"))

ENTRIES: tuple[Kpi, ...] = (
    # --- /cases ---------------------------------------------------------------------------------------------------
    Kpi("cases.created", "Created", "Cases opened in the window (their created time).", "created",
        rows=Rows(CASES, (Term("created_at"),))),
    Kpi("cases.resolved", "Resolved",
        "Cases resolved in the window whose status is still a resolved one (a reopened case does not count).",
        "resolved", rows=Rows(CASES, (_CASE_RESOLVED,))),
    # VTiger auto-closes resolved cases later: a change while closed is not work.
    Kpi("cases.worked", "Worked on", "Cases created, resolved, or changed while not closed, in the window.", "worked",
        rows=Rows(CASES, (Term("updated_at", StatusIn("closed_statuses", negate=True)), Term("resolved_at"),
                          Term("created_at")))),
    Kpi("cases.kill_rate", "Kill rate",
        "Resolved ÷ created in the window, in percent; over 100 % when more were resolved than came in; "
        "— when nothing was created.", "rate", over_100=BACKLOG_SHRANK, ratio=("cases.resolved", "cases.created")),
    Kpi("cases.open", "Open now", "Cases whose status is not a resolved one, right now (whatever the date).", "open",
        rows=Rows(CASES, now=StatusIn("resolved_statuses", negate=True))),
    Kpi("cases.resolved_per_person", "Resolved per person", "Cases resolved in the window, per current assignee.",
        "resolved", key="resolved_by", rows=Rows(CASES, (_CASE_RESOLVED,), credit="assignee_name")),
    Kpi("cases.cumulative", "Created / Resolved per day, cumulative",
        "Running total per day of the month: this month so far against the three before it."),
    Kpi("cases.history", "Created and resolved per month",
        "Cases created and resolved in each month of all history; the running month is counted so far."),
    # --- /redmine -------------------------------------------------------------------------------------------------
    Kpi("redmine.total", "All issues", "Every issue in the selection, open or closed, now."),
    Kpi("redmine.open_total", "Open now", "Issues whose Redmine status is not a closed one, now.", "open",
        key="open", rows=Rows(REDMINE, now=Flag("is_closed", False))),
    Kpi("redmine.closed_total", "Closed now", "Issues in a closed Redmine status other than a rejected one, now.",
        "resolved"),
    Kpi("redmine.rejected_total", "Rejected",
        "Closed issues whose status is one of [redmine] rejected_statuses, now."),
    Kpi("redmine.created", "Created", "Issues opened in the window (their created time).", "created",
        rows=Rows(REDMINE, (Term("created_at"),))),
    Kpi("redmine.resolved", "Closed",
        "Issues closed in the window (Redmine's closed_on) that are still closed, rejected ones included.",
        "resolved", rows=Rows(REDMINE, (_ISSUE_CLOSED,))),
    Kpi("redmine.updated", "Updated", "Issues whose last change (updated time) falls in the window.", "worked",
        rows=Rows(REDMINE, (Term("updated_at"),))),
    Kpi("redmine.kill_rate", "Kill rate",
        "Closed ÷ created in the window, in percent; over 100 % when more were closed than came in; "
        "— when nothing was created.", "rate", over_100=BACKLOG_SHRANK,
        ratio=("redmine.resolved", "redmine.created")),
    Kpi("redmine.closed_per_person", "Closed per person",
        "Issues resolved (closed) in the window, per current assignee.", "resolved", key="resolved_by",
        rows=Rows(REDMINE, (_ISSUE_CLOSED,), credit="assignee_name")),
    Kpi("redmine.cumulative", "Created / Resolved per day, cumulative",
        "Running total per day of the month: this month so far against the three before it."),
    Kpi("redmine.history", "Created and resolved per month",
        "Issues created and resolved in each month of all history; the running month is counted so far."),
    Kpi("redmine.open_breakdown", "Open per status / project / person",
        "Issues open now, counted per status, project and assignee."),
    # The table behind a Redmine window: every issue any of its cards counts.
    Kpi("redmine.activity", "Activity", "Issues created, updated or closed in the window.", "worked", listed=False,
        rows=Rows(REDMINE, (Term("created_at"), Term("updated_at"), _ISSUE_CLOSED))),
    # --- /sales (counted by models/sales.py and metrics/sales.py; see CONTRIBUTING "How to add a KPI") ---------
    Kpi("sales.points", "Points",
        "Points the team scored in the window: its calls and the deals entering a scored stage (see the score key).",
        "resolved"),
    Kpi("sales.calls", "Calls", "Phone calls that started in the window, whatever their status.", "worked",
        rows=Rows(CALLS, (Term("started_at"),), credit="assignee_name", by_status=True)),
    Kpi("sales.demos", "Demos", "Deals that entered the demo stage (sales.demo_stage) in the window.", "created"),
    Kpi("sales.goal", "Goal",
        "The daily goal per person; a week's or month's is that times its business days (so far: until today).",
        "goal-met"),
    Kpi("sales.pace", "Pace",
        "The daily goal × the elapsed part of the working day (09:00-17:00): ahead at or above it, near up to 10 % "
        "below, behind further down; none on a day off.", "goal-met"),
    Kpi("sales.calls_chart", "Calls per person", "Calls that started in the window, per assignee."),
    Kpi("sales.demos_chart", "Demos scheduled per qualifier",
        "Deals entering the demo stage in the window, per qualifier."),
    Kpi("sales.stages_chart", "Deals per stage",
        "Deals entering each stage in the window, in the pipeline's stage order."),
    Kpi("sales.pipeline_chart", "Open pipeline per owner",
        "The amount of the deals not in a closed stage, per owner, as it is now."),
    # --- /support (counted by metrics/support.py over the business calendar; entries with `rows` may follow) ----
    Kpi("support.resolved", "Resolved cases",
        "Cases resolved in the window whose status is still a resolved one, as on Cases.", "resolved"),
    Kpi("support.median", "Median resolution",
        "Half of the cases resolved in the window took less than this from creation, in business hours "
        "([calendar] opening hours minus holidays); the calendar hours below."),
    Kpi("support.p90", "90th percentile resolution",
        "Nine in ten cases resolved in the window took less than this, in business hours; the calendar hours below."),
    Kpi("support.sla_met", "SLA met",
        "Of the cases due in the window (created time plus the priority's target in business hours), the share "
        "resolved by their due time; open cases not yet due wait.", "rate"),
    Kpi("support.sla_breached", "SLA breached",
        "Cases due in the window resolved after their due time, or still open past it.", "open"),
    Kpi("support.reopened", "Reopened",
        "Cases that went from a resolved status back to an open one in the window (seen by sync, or counted by "
        "VTiger's reopen_count).", "created"),
    Kpi("support.backlog", "Backlog", "Cases open now, by age since they were created.", "open"),
    Kpi("support.oldest", "Oldest open case", "The open case created longest ago, and its age."),
    Kpi("support.within", "Resolved within",
        "Cases resolved in the window by their business hours from creation: 1 h, 4 h, 1, 3 or 7 business days, "
        "or more."),
    Kpi("support.by_person", "Resolution time per person",
        "Median and 90th percentile per current assignee, in the window."),
    Kpi("support.at_risk", "At risk and breached",
        "Open cases due within the next 4 business hours, and those already past due."),
    Kpi("support.age", "Backlog age", "Open cases now per age bucket (under 1 day, 1–3, 3–7, 7–30, over 30 days)."),
    Kpi("support.age_trend", "Median backlog age per day",
        "The median age of the cases open at the end of each day."),
    Kpi("support.reopen_rate", "Reopen rate per person",
        "Cases reopened in the window ÷ cases resolved in it, per assignee, in percent."),
    Kpi("support.redmine_close", "Redmine time to close",
        "Median and 90th percentile from creation to closing of the issues closed in the window, per project."),
    Kpi("support.redmine_overdue", "Overdue issues", "Open Redmine issues whose due date has passed.", "open"),
    Kpi("support.redmine_backlog", "Redmine backlog age", "Open Redmine issues now per age bucket, per project."),
)  # fmt: skip

CATALOGUE: dict[str, Kpi] = {kpi.id: kpi for kpi in ENTRIES}
PAGES = ("cases", "redmine", "sales", "support")


def entry(kpi: str) -> Kpi:
    """The entry of `kpi` ("cases.kill_rate"); KeyError names the known ids."""
    try:
        return CATALOGUE[kpi]
    except KeyError:
        raise KeyError(f"no catalogue entry {kpi!r}; known: {', '.join(CATALOGUE)}") from None


def page_entries(page: str) -> list[Kpi]:
    """One page's listed figures, in the order its panel lists them."""
    return [kpi for kpi in ENTRIES if kpi.page == page and kpi.listed]


def counted(source: str) -> list[Kpi]:
    """The entries counted window by window from `source`'s rows (the roll-ups keep these)."""
    return [kpi for kpi in ENTRIES if kpi.rows is not None and kpi.rows.source.name == source and kpi.rows.windowed]


def by_key(page: str, key: str) -> Kpi:
    """A page's entry by its short name ("worked"): what URLs, exports and tables call it."""
    for kpi in ENTRIES:
        if kpi.page == page and kpi.short == key and kpi.rows is not None:
            return kpi
    known = ", ".join(kpi.short for kpi in ENTRIES if kpi.page == page and kpi.rows is not None)
    raise ValueError(f"unknown {page.removesuffix('s')} kpi {key!r}; expected one of {known}")


def row_keys(page: str) -> tuple[str, ...]:
    """The short names of a page's figures that have rows behind them (its tables' and exports' kinds)."""
    return tuple(kpi.short for kpi in ENTRIES if kpi.page == page and kpi.rows is not None and not kpi.rows.credit)


def over_100_note(kpi: str | None, value: float | None) -> str:
    """Why a rate reads above 100 % ("" when it does not, or the figure cannot exceed it)."""
    if kpi is None or value is None or value != value or value <= 100:
        return ""
    return CATALOGUE[kpi].over_100 if kpi in CATALOGUE else ""


# --- reading an entry: statuses, roll-up parts, rows -----------------------------------------------------------


def statuses(condition: StatusIn, rules: Any) -> tuple[str, ...]:
    """The kpi.toml statuses a status condition names (`rules`: the source's section, such as CaseRules)."""
    return tuple(getattr(rules, condition.rule))


def base_key(key: str) -> str:
    """The roll-up name of an entry's counts over its terms without a status condition (see `count_parts`)."""
    return f"{key}_base"


@dataclass(frozen=True)
class Part:
    """Roll-up counts to add: those kept under `key`, over `statuses` (all but them with `exclude`; None: all)."""

    key: str
    statuses: tuple[str, ...] | None = None
    exclude: bool = False


def count_parts(kpi: Kpi, rules: Any) -> list[Part]:
    """What a windowed entry's figure adds up from its roll-ups. Roll-ups never hold a setting: counts whose terms
    depend on a kpi.toml status set are kept per status, under the entry's key (every term) and its `base_key`
    (only the terms without that condition). A row whose status meets the condition counts by any term, any other
    row only by the unconditional ones."""
    assert kpi.rows is not None
    condition = kpi.rows.status_condition
    if condition is None:
        return [Part(kpi.short)]
    named = statuses(condition, rules)
    parts = [Part(kpi.short, named, exclude=condition.negate)]
    if any(term.when != condition for term in kpi.rows.terms):
        parts.append(Part(base_key(kpi.short), named, exclude=not condition.negate))
    return parts


def _holds(condition: Condition | None, frame: pd.DataFrame, source: Source, rules: Any) -> np.ndarray:
    if condition is None:
        return np.ones(len(frame), dtype=bool)
    if isinstance(condition, Flag):
        values = frame[condition.column].fillna(False).astype(bool).to_numpy()
        return values if condition.value else ~values
    inside = frame[source.status].isin(statuses(condition, rules)).to_numpy()
    return ~inside if condition.negate else inside


def _live(frame: pd.DataFrame) -> np.ndarray:
    if "deleted_at" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return frame["deleted_at"].isna().to_numpy()


def row_mask(kpi: Kpi, frame: pd.DataFrame, window: Window | None, rules: Any) -> np.ndarray:
    """Which rows of `frame` (the source table's columns) the entry counts in `window` (entries of "now": now)."""
    rows = kpi.rows
    if rows is None:
        raise ValueError(f"{kpi.id} is not counted from rows")
    live = _live(frame)
    if not rows.windowed:
        return live & _holds(rows.now, frame, rows.source, rules)
    if window is None:
        raise ValueError(f"{kpi.id} counts rows in a window: give one")
    mask = np.zeros(len(frame), dtype=bool)
    for term in rows.terms:
        mask |= in_window_array(stamps(frame[term.column]), window) & _holds(term.when, frame, rows.source, rules)
    return live & mask


def rows_in(kpi: Kpi, frame: pd.DataFrame, window: Window | None, rules: Any) -> pd.DataFrame:
    """The rows of `frame` behind the entry's figure."""
    return frame[row_mask(kpi, frame, window, rules)]


def counted_at(kpi: Kpi, frame: pd.DataFrame, window: Window, rules: Any) -> pd.Series:
    """When each row counted in the window for the entry: the latest of its terms in the window; for entries of
    "now", when it last changed. Tables list rows newest first by it (models/kpi_reads.py sorts the same way)."""
    rows = kpi.rows
    if rows is None or not rows.windowed:
        return pd.to_datetime(frame["updated_at"])
    terms = [
        (term.column, None if term.when is None else _holds(term.when, frame, rows.source, rules))
        for term in rows.terms
    ]
    return latest_in_window(frame, terms, window)


def ratio(kpi: Kpi, value: Callable[[Kpi], int]) -> float | None:
    """A rate entry's value in percent from its two entries' figures; None when the denominator is 0 (shown "—",
    never the old page's 300 %)."""
    assert kpi.ratio is not None
    numerator, denominator = (value(entry(name)) for name in kpi.ratio)
    return None if denominator <= 0 else 100.0 * numerator / denominator


def count_in(kpi: Kpi, frame: pd.DataFrame, window: Window | None, rules: Any) -> int:
    return int(row_mask(kpi, frame, window, rules).sum())


def keys_of(kpis: Sequence[Kpi]) -> list[str]:
    return [kpi.short for kpi in kpis]


# --- figures from roll-up counts ---------------------------------------------------------------------------------


def window_count(kpi: Kpi, totals: WindowTotals, window: Window, rules: Any) -> int:
    """The entry's figure in `window` from roll-up counts (models.rollups.ViewCounts.windows)."""
    return sum(totals.total(window, part.key, part.statuses, exclude=part.exclude) for part in count_parts(kpi, rules))


def leaderboard(kpi: Kpi, totals: WindowTotals, window: Window, rules: Any) -> list[tuple[str, int]]:
    """A credited entry's figure in `window` per person, highest first (blank: "Unassigned")."""
    sums: dict[str, int] = {}
    for part in count_parts(kpi, rules):
        for person, count in totals.per_person(window, part.key, part.statuses, exclude=part.exclude).items():
            sums[person] = sums.get(person, 0) + count
    return ranked(sums.items())


def partial_spans(kpis: Sequence[Kpi], comparison: Comparison) -> dict[str, Window]:
    """What a partial comparison span (metrics.windows.Comparison) needs counted from rows, per entry key: an
    additive entry over the span's last, partial day (its whole days come from the roll-ups), any other over the
    whole span (a case worked on two days is one case: day counts do not add up)."""
    return {kpi.short: comparison.last_day if kpi.rows and kpi.rows.additive else comparison.span for kpi in kpis}


def partial_count(kpi: Kpi, totals: WindowTotals, comparison: Comparison, counted: dict[str, int], rules: Any) -> int:
    """The entry's figure over a partial comparison span: `counted` (rows, over `partial_spans`) plus, for an
    additive entry, the whole days' roll-ups."""
    if kpi.rows is None or not kpi.rows.additive:
        return counted[kpi.short]
    return counted[kpi.short] + sum(window_count(kpi, totals, day, rules) for day in comparison.whole_days)

"""What every figure on /cases, /redmine and /sales counts, in one line each: the single source of the words the
KPI cards' (i) buttons, the pages' "What the numbers mean" panels, the TV's card colours and README's metric
definitions use (tests/test_definitions.py holds README to these words).

    definition("cases.kill_rate").title        # "Kill rate"
    definition("cases.kill_rate").text         # one line, what the number counts
    page_definitions("cases")                  # the page's definitions in the order its panel lists them
    over_100_note("cases.kill_rate", 128.0)    # the note a kill rate above 100 % carries

The wording follows PRODUCT.md "Metrics". `tone` is the meaning a figure's colour stands for (layouts/palette.py):
created (work coming in), resolved (work done, points earned), worked (activity), open (waiting), rate,
neutral, goal-met (goal status: the only figures drawn in green / amber / red).

Pure data: must not import Dash, SQLAlchemy, models/ or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass

Tone = str  # a key of layouts.palette.PALETTE


@dataclass(frozen=True)
class Definition:
    """One figure: the page it is on, its title as the page shows it, and what it counts in one line."""

    page: str  # cases, redmine, sales
    title: str
    text: str
    tone: Tone = "neutral"
    over_100: str = ""  # for a rate: why it can exceed 100 %, shown under the card when it does


BACKLOG_SHRANK = "More resolved than created: the backlog shrank."

DEFINITIONS: dict[str, Definition] = {
    # --- /cases -----------------------------------------------------------------------------------------------
    "cases.created": Definition("cases", "Created", "Cases opened in the window (their created time).", "created"),
    "cases.resolved": Definition(
        "cases",
        "Resolved",
        "Cases resolved in the window whose status is still a resolved one (a reopened case does not count).",
        "resolved",
    ),
    "cases.worked": Definition(
        "cases", "Worked on", "Cases created, resolved, or changed while not closed, in the window.", "worked"
    ),
    "cases.kill_rate": Definition(
        "cases",
        "Kill rate",
        "Resolved ÷ created in the window, in percent; over 100 % when more were resolved than came in; "
        "— when nothing was created.",
        "rate",
        over_100=BACKLOG_SHRANK,
    ),
    "cases.open": Definition(
        "cases", "Open now", "Cases whose status is not a resolved one, right now (whatever the date).", "open"
    ),
    "cases.resolved_per_person": Definition(
        "cases", "Resolved per person", "Cases resolved in the window, per current assignee.", "resolved"
    ),
    "cases.cumulative": Definition(
        "cases",
        "Created / Resolved per day, cumulative",
        "Running total per day of the month: this month so far against the three before it.",
        "neutral",
    ),
    "cases.history": Definition(
        "cases",
        "Created and resolved per month",
        "Cases created and resolved in each month of all history; the running month is counted so far.",
        "neutral",
    ),
    # --- /redmine ---------------------------------------------------------------------------------------------
    "redmine.total": Definition("redmine", "All issues", "Every issue in the selection, open or closed, now."),
    "redmine.open_total": Definition(
        "redmine", "Open now", "Issues whose Redmine status is not a closed one, now.", "open"
    ),
    "redmine.closed_total": Definition(
        "redmine", "Closed now", "Issues in a closed Redmine status other than a rejected one, now.", "resolved"
    ),
    "redmine.rejected_total": Definition(
        "redmine", "Rejected", "Closed issues whose status is one of [redmine] rejected_statuses, now.", "neutral"
    ),
    "redmine.created": Definition("redmine", "Created", "Issues opened in the window (their created time).", "created"),
    "redmine.resolved": Definition(
        "redmine",
        "Closed",
        "Issues closed in the window (Redmine's closed_on) that are still closed, rejected ones included.",
        "resolved",
    ),
    "redmine.updated": Definition(
        "redmine", "Updated", "Issues whose last change (updated time) falls in the window.", "worked"
    ),
    "redmine.kill_rate": Definition(
        "redmine",
        "Kill rate",
        "Closed ÷ created in the window, in percent; over 100 % when more were closed than came in; "
        "— when nothing was created.",
        "rate",
        over_100=BACKLOG_SHRANK,
    ),
    "redmine.closed_per_person": Definition(
        "redmine", "Closed per person", "Issues resolved (closed) in the window, per current assignee.", "resolved"
    ),
    "redmine.cumulative": Definition(
        "redmine",
        "Created / Resolved per day, cumulative",
        "Running total per day of the month: this month so far against the three before it.",
    ),
    "redmine.history": Definition(
        "redmine",
        "Created and resolved per month",
        "Issues created and resolved in each month of all history; the running month is counted so far.",
    ),
    "redmine.open_breakdown": Definition(
        "redmine", "Open per status / project / person", "Issues open now, counted per status, project and assignee."
    ),
    # --- /sales -----------------------------------------------------------------------------------------------
    "sales.points": Definition(
        "sales",
        "Points",
        "Points the team scored in the window: its calls and the deals entering a scored stage (see the score key).",
        "resolved",
    ),
    "sales.calls": Definition(
        "sales", "Calls", "Phone calls that started in the window, whatever their status.", "worked"
    ),
    "sales.demos": Definition(
        "sales", "Demos", "Deals that entered the demo stage (sales.demo_stage) in the window.", "created"
    ),
    "sales.goal": Definition(
        "sales",
        "Goal",
        "The daily goal per person; a week's or month's is that times its business days (so far: until today).",
        "goal-met",
    ),
    "sales.pace": Definition(
        "sales",
        "Pace",
        "The daily goal × the elapsed part of the working day (09:00-17:00): ahead at or above it, near up to 10 % "
        "below, behind further down; none on a day off.",
        "goal-met",
    ),
    "sales.calls_chart": Definition(
        "sales", "Calls per person", "Calls that started in the window, per assignee.", "neutral"
    ),
    "sales.demos_chart": Definition(
        "sales", "Demos scheduled per qualifier", "Deals entering the demo stage in the window, per qualifier."
    ),
    "sales.stages_chart": Definition(
        "sales", "Deals per stage", "Deals entering each stage in the window, in the pipeline's stage order."
    ),
    "sales.pipeline_chart": Definition(
        "sales", "Open pipeline per owner", "The amount of the deals not in a closed stage, per owner, as it is now."
    ),
}

PAGES = ("cases", "redmine", "sales")


def definition(kpi: str) -> Definition:
    """The definition of `kpi` ("cases.kill_rate"); KeyError names the known ids."""
    try:
        return DEFINITIONS[kpi]
    except KeyError:
        raise KeyError(f"no definition for {kpi!r}; known: {', '.join(DEFINITIONS)}") from None


def page_definitions(page: str) -> list[tuple[str, Definition]]:
    """(id, definition) of one page's figures, in the order its panel lists them."""
    return [(kpi, found) for kpi, found in DEFINITIONS.items() if found.page == page]


def over_100_note(kpi: str | None, value: float | None) -> str:
    """Why a rate reads above 100 % ("" when it does not, or the figure cannot exceed it)."""
    if kpi is None or value is None or value != value or value <= 100:
        return ""
    return DEFINITIONS[kpi].over_100 if kpi in DEFINITIONS else ""

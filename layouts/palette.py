"""The dashboard's colours by meaning, defined once: every chart, KPI card accent and leaderboard on /cases,
/redmine, /sales and the TV takes its colour from what the number means, never from its position in a chart.

- created (work coming in): blue; resolved / closed / points earned (work done): violet; worked / updated /
  calls (activity): cyan; open (waiting): pink; a rate, people and anything else: neutral slate.
- green, amber and red are reserved for goal status (on goal, behind pace, missed): no count is ever green.

`page` is the colour on the light pages, `tv` its lighter twin on the TV's dark background. assets/app.css
(--kpi-<meaning>) and assets/tv.css (--tv-<meaning>) carry the same values for the cards and leaderboards;
tests/test_definitions.py fails when they drift apart. Must not import Dash, callbacks/, models/ or sync/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hue:
    page: str
    tv: str


PALETTE: dict[str, Hue] = {
    "created": Hue("#2563eb", "#60a5fa"),
    "resolved": Hue("#7c3aed", "#a78bfa"),
    "worked": Hue("#0891b2", "#22d3ee"),
    "open": Hue("#db2777", "#f472b6"),
    "rate": Hue("#475569", "#94a3b8"),
    "neutral": Hue("#64748b", "#94a3b8"),
    "rejected": Hue("#cbd5e1", "#475569"),
    "goal-met": Hue("#16a34a", "#4ade80"),
    "goal-near": Hue("#f59e0b", "#fbbf24"),
    "goal-missed": Hue("#dc2626", "#f87171"),
}
# The months before the current one in a month-over-month chart fade out, whatever the chart counts.
EARLIER_MONTHS = ("#94a3b8", "#cbd5e1", "#e2e8f0")
# Table rows tinted by why they are listed (resolved / created in the window), as assets/app.css tints them.
TINTS = {"resolved": "#f5f3ff", "created": "#eff6ff"}
GOAL_HUES = frozenset({"goal-met", "goal-near", "goal-missed"})


def color(meaning: str) -> str:
    """The page colour of a meaning (created, resolved, worked, open, rate, neutral, rejected, goal-*)."""
    return PALETTE[meaning].page


def month_series(meaning: str) -> list[str]:
    """Line colours of a month-over-month chart: the current month in the meaning's colour, earlier months grey."""
    return [color(meaning), *EARLIER_MONTHS]

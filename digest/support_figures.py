"""The support figures of the digest (resolution time median, SLA met %, the at-risk cases) through the one
interface the support view offers: `view_models.support.build_support_view(engine, settings, day, group, window,
today) -> SupportView`. Where that view does not exist in this installation the figures are None, which the
digest shows as "—"; nothing else of the digest depends on it.

Must not import Dash or Flask.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from settings import Settings

SUPPORT_VIEW_MODULES = ("view_models.support", "views.support")  # the package's name after and before its rename


@dataclass(frozen=True)
class AtRiskCase:
    """An open case near (at_risk) or past (breached) its SLA due time, as the digest lists it."""

    case_no: str
    title: str
    group: str
    assignee: str
    priority: str
    due_at: datetime | None  # naive UTC
    url: str
    breached: bool


@dataclass(frozen=True)
class SupportFigures:
    """One window's support figures and the previous window's; None: not known (no support view)."""

    resolution_median_hours: float | None = None
    previous_resolution_median_hours: float | None = None
    sla_met_pct: float | None = None
    previous_sla_met_pct: float | None = None
    at_risk: list[AtRiskCase] = field(default_factory=list)
    available: bool = False


def support_builder() -> Any | None:
    """`build_support_view`, or None when this installation has no support view."""
    for name in SUPPORT_VIEW_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        builder = getattr(module, "build_support_view", None)
        if builder is not None:
            return builder
    return None


def support_figures(
    engine: Engine, settings: Settings, day: date, group: str, window: str, today: date, now: datetime
) -> SupportFigures:
    """The support view's figures for `day`'s `window` and `group` ("" = all), as the support page shows them at
    `now` (naive UTC; passed when the builder takes it, so the digest's figures do not move with the clock)."""
    builder = support_builder()
    if builder is None:
        return SupportFigures()
    extra = {"now": now} if "now" in inspect.signature(builder).parameters else {}
    view = builder(engine, settings, day, group=group, window=window, today=today, **extra)
    at_risk = [_case(case, breached=True) for case in view.breached_now]
    at_risk += [_case(case, breached=False) for case in view.at_risk]
    return SupportFigures(
        resolution_median_hours=_attr(view.resolution, "median_hours"),
        previous_resolution_median_hours=_attr(view.previous_resolution, "median_hours"),
        sla_met_pct=_attr(view.sla, "met_pct"),
        previous_sla_met_pct=_attr(view.previous_sla, "met_pct"),
        at_risk=at_risk,
        available=True,
    )


def _attr(figures: Any, name: str) -> float | None:
    value = getattr(figures, name, None) if figures is not None else None
    return None if value is None or value != value else float(value)  # NaN: not known


def _case(case: Any, *, breached: bool) -> AtRiskCase:
    return AtRiskCase(
        case_no=str(case.case_no or ""),
        title=str(case.title or ""),
        group=str(case.group or ""),
        assignee=str(case.assignee or ""),
        priority=str(case.priority or ""),
        due_at=case.due_at,
        url=str(case.url or ""),
        breached=breached,
    )

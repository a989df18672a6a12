"""README's metric definitions ("What the numbers mean"), written plainly, one row at a time, without the KPI
catalogue: the reference the pages' counts are checked against (tests/test_metrics_counters.py,
tests/test_rollups.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from metrics.windows import Window
from settings import CaseRules


def inside(moment: datetime | None, window: Window) -> bool:
    return moment is not None and not pd.isna(moment) and window.start <= moment < window.end


def ranked(names: Iterable[str], blank: str = "Unassigned") -> list[tuple[str, int]]:
    board = Counter((name or "").strip() or blank for name in names)
    return sorted(board.items(), key=lambda item: (-item[1], item[0].lower()))


def plain_cases(rows: list[dict], window: Window, rules: CaseRules) -> tuple[int, int, int, list[tuple[str, int]]]:
    """Created, resolved, worked on and resolved per person in the window."""
    live = [row for row in rows if row.get("deleted_at") is None]
    created = [row for row in live if inside(row["created_at"], window)]
    resolved = [row for row in live if inside(row["resolved_at"], window) and row["status"] in rules.resolved_statuses]
    worked = [
        row
        for row in live
        if (inside(row["updated_at"], window) and row["status"] not in rules.closed_statuses)
        or inside(row["resolved_at"], window)
        or inside(row["created_at"], window)
    ]
    return len(created), len(resolved), len(worked), ranked(row["assignee_name"] for row in resolved)


def plain_open_cases(rows: list[dict], rules: CaseRules, column: str) -> list[tuple[str, int]]:
    """Open cases now per column (blank: "No group" for groups, else "Unassigned")."""
    live = [row for row in rows if row.get("deleted_at") is None and row["status"] not in rules.resolved_statuses]
    return ranked((row[column] for row in live), "No group" if column == "group_name" else "Unassigned")


def plain_issues(rows: list[dict], window: Window) -> tuple[int, int, int, list[tuple[str, int]]]:
    """Created, updated, closed and closed per person in the window."""
    live = [row for row in rows if row.get("deleted_at") is None]
    created = [row for row in live if inside(row["created_at"], window)]
    updated = [row for row in live if inside(row["updated_at"], window)]
    closed = [row for row in live if inside(row["closed_at"], window) and row["is_closed"]]
    return len(created), len(updated), len(closed), ranked(row["assignee_name"] for row in closed)

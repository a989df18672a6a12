"""A block of a table held in memory, sorted and filtered as the grid asks: the /sales stage changes, whose points
are scored in Python (metrics.sales), not stored. models/recent_rows.py does the same in SQL for the tables read
from the database, with the same meaning: text compares case-insensitively with None and "" both empty, empty
values sort last whichever the direction, dates filter by local calendar day (inclusive ranges), numbers by value.

    block, matching = frame_block(rows, {"points": FrameColumn("points", "number"), ...}, request)

Must not import Dash, Flask, SQLAlchemy or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from models.recent_rows import ColumnKind, GridRequestError, TableRequest, day_of, number_of


@dataclass(frozen=True)
class FrameColumn:
    """A table column the grid may sort and filter on: the frame's column behind it (datetime: naive local)."""

    column: str
    kind: ColumnKind = "text"


def frame_block(
    frame: pd.DataFrame, columns: Mapping[str, FrameColumn], request: TableRequest
) -> tuple[pd.DataFrame, int]:
    """The rows [offset, offset + limit) of `frame` (already in the table's default order) that pass the
    request's filter, by its sort (ties keep the default order), and how many rows pass."""
    keep = np.ones(len(frame), dtype=bool)
    for name, spec in request.filter_model.items():
        if name not in columns:
            raise GridRequestError(f"the table cannot filter on {name!r}")
        keep &= _passes(frame[columns[name].column], columns[name].kind, spec)
    kept = frame[keep]
    keys: dict[str, pd.Series] = {}
    ascending: list[bool] = []
    for index, entry in enumerate(request.sort_model):
        by = entry.get("colId")
        if not isinstance(by, str) or by not in columns or entry.get("sort") not in ("asc", "desc"):
            raise GridRequestError(f"the table cannot sort on {by!r}")
        values = kept[columns[by].column]
        text = columns[by].kind == "text"
        keys[f"empty{index}"] = _empty(values, text).astype(int)
        keys[f"value{index}"] = _texts(values).str.lower() if text else values
        ascending += [True, entry["sort"] == "asc"]
    if keys:
        order = pd.DataFrame(keys, index=kept.index).reset_index(drop=True)
        positions = order.sort_values(list(keys), ascending=ascending, kind="stable").index
        kept = kept.iloc[positions]
    return kept.iloc[request.offset : request.offset + request.limit], len(kept)


def _texts(values: pd.Series) -> pd.Series:
    return values.where(values.notna(), "").astype(str)


def _empty(values: pd.Series, text: bool) -> pd.Series:
    return (_texts(values) == "") if text else values.isna()


def _passes(values: pd.Series, kind: ColumnKind, spec: Mapping[str, Any]) -> np.ndarray:
    if "conditions" in spec:
        parts = [_passes(values, kind, part) for part in spec["conditions"]]
        return np.logical_or.reduce(parts) if spec.get("operator") == "OR" else np.logical_and.reduce(parts)
    test = spec.get("type")
    if kind == "text":
        return _text_passes(_texts(values).str.lower(), test, str(spec.get("filter") or "").lower())
    if test in ("blank", "notBlank"):
        return (values.isna() if test == "blank" else values.notna()).to_numpy()
    if kind == "number":
        return _number_passes(values, test, number_of(spec.get("filter")), number_of(spec.get("filterTo")))
    return _date_passes(values, test, day_of(spec.get("dateFrom")), day_of(spec.get("dateTo")))


def _text_passes(values: pd.Series, test: Any, text: str) -> np.ndarray:
    if test == "blank":
        return (values == "").to_numpy()
    if test == "notBlank":
        return (values != "").to_numpy()
    tests = {
        "contains": lambda: values.str.contains(text, regex=False),
        "notContains": lambda: ~values.str.contains(text, regex=False),
        "equals": lambda: values == text,
        "notEqual": lambda: values != text,
        "startsWith": lambda: values.str.startswith(text),
        "endsWith": lambda: values.str.endswith(text),
    }
    if test not in tests:
        raise GridRequestError(f"unknown text filter {test!r}")
    if not text and test not in ("equals", "notEqual"):
        return np.ones(len(values), dtype=bool)
    return tests[test]().to_numpy(dtype=bool)


def _number_passes(values: pd.Series, test: Any, low: float | None, high: float | None) -> np.ndarray:
    if low is None:
        return np.ones(len(values), dtype=bool)
    numbers = pd.to_numeric(values, errors="coerce")
    tests = {
        "equals": lambda: numbers == low,
        "notEqual": lambda: numbers.notna() & (numbers != low),
        "lessThan": lambda: numbers < low,
        "lessThanOrEqual": lambda: numbers <= low,
        "greaterThan": lambda: numbers > low,
        "greaterThanOrEqual": lambda: numbers >= low,
        "inRange": lambda: (numbers >= low) & (numbers <= (low if high is None else high)),
    }
    if test not in tests:
        raise GridRequestError(f"unknown number filter {test!r}")
    return tests[test]().to_numpy(dtype=bool)


def _date_passes(values: pd.Series, test: Any, first: date | None, last: date | None) -> np.ndarray:
    if first is None:
        return np.ones(len(values), dtype=bool)
    days = pd.to_datetime(values).dt.date
    known = values.notna()
    tests = {
        "equals": lambda: known & (days == first),
        "notEqual": lambda: known & (days != first),
        "lessThan": lambda: known & (days < first),
        "greaterThan": lambda: known & (days > first),
        "inRange": lambda: known & (days >= first) & (days <= (last or first)),
    }
    if test not in tests:
        raise GridRequestError(f"unknown date filter {test!r}")
    return tests[test]().to_numpy(dtype=bool)

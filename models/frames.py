"""Turning SQL result rows into pandas frames with stable columns and dtypes, even when there are no rows, so
metrics/ never has to special-case an empty database. Must not import Dash or sync/."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd


def frame_of(rows: Iterable[Sequence[Any]], columns: Sequence[str], timestamps: Iterable[str] = ()) -> pd.DataFrame:
    """A DataFrame of the rows; `timestamps` columns become datetime64 (naive UTC, NaT for NULL)."""
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    for name in timestamps:
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
    return frame

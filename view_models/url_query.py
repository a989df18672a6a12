"""How a URL query string is read, for every page and the TV: one mapping of key to value, comma-separated lists,
names matched to the known spelling, strict dates. What the values mean is view_models/page_state.py (the
dashboard pages) and view_models/tv_state.py (the TV). Pure: must not import Dash, Flask, SQLAlchemy or sync/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from urllib.parse import parse_qsl


def parse_query(search: object) -> dict[str, str]:
    """The URL query as a dict; the last value wins for a repeated key, and junk (even a non-string sent by a
    hand-made request) never raises."""
    if not isinstance(search, str):
        return {}
    return dict(parse_qsl(search.lstrip("?"), keep_blank_values=False))


def comma_separated(raw: str | None) -> list[str]:
    """The non-empty items of a comma-separated value, stripped."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def known_spelling(name: str, known: Sequence[str] | None) -> str | None:
    """The known spelling of `name` (case-insensitive); the name itself when nothing is known yet."""
    if known is None:
        return name
    return next((candidate for candidate in known if candidate.lower() == name.lower()), None)


def parse_date(raw: str) -> date:
    """A strict YYYY-MM-DD date; ValueError otherwise."""
    if len(raw) != 10:
        raise ValueError(raw)
    return datetime.strptime(raw, "%Y-%m-%d").date()

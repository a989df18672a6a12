"""/tv callbacks (placeholder until its issue lands)."""

from __future__ import annotations

import dash


def register(app: dash.Dash) -> None:
    """Nothing to wire yet."""

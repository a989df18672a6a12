"""CSV exports of the rows behind every figure (/export/<page>.csv). Placeholder until the dashboard issues."""

from __future__ import annotations

from flask import Flask


def register_exports(server: Flask) -> None:
    """No exports yet."""

"""Sign-in and the gate in front of every route. Placeholder until the security issue lands."""

from __future__ import annotations

from flask import Flask

from settings import Settings


def init_auth(server: Flask, settings: Settings) -> None:
    """No gate yet."""

"""register_callbacks(app) wires every page's callbacks onto the app it is given (no global @callback)."""

from __future__ import annotations

import dash


def register_callbacks(app: dash.Dash) -> None:
    from callbacks import cases, freshness, redmine, sales, shell, status, support, tv

    for module in (shell, status, cases, support, sales, redmine, tv, freshness):
        module.register(app)

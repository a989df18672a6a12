"""/status callbacks: read sync_runs and the row counts, build the table."""

from __future__ import annotations

import dash
from dash import Input, Output

from layouts.status import status_table
from models.queries import MODULE_TABLES, live_row_counts, module_summaries
from runtime import current_runtime


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"  # type: ignore[attr-defined]


def register(app: dash.Dash) -> None:
    @app.callback(Output("status-table", "children"), Input("url", "pathname"))
    def show_status(_pathname: str):  # type: ignore[no-untyped-def]
        engine = current_runtime().engine
        counts = live_row_counts(engine)
        rows = [
            {
                "Source": summary.source,
                "Module": summary.module,
                "Rows": str(counts.get(MODULE_TABLES.get((summary.source, summary.module), ""), "")),
                "Last run": _when(summary.last_started_at),
                "Result": summary.last_status,
                "Last success": _when(summary.last_success_at),
                "Error": summary.last_error,
            }
            for summary in module_summaries(engine)
        ]
        return status_table(rows)

"""CSV exports of the rows behind every figure: GET /export/<page>.csv?date=YYYY-MM-DD&window=day|week|month
&kpi=...&group=... (redmine: project=...). One CSV row per record behind the figure, after a header line, so a
card's number always equals its export's row count (both come from the same view_models/ functions).

Parameters: `date` (default: today in TIMEZONE), `window` (default day), `kpi` (required; the page's list),
the page's selector (default: all). A bad value is a 400 with one line saying what to send instead.

Adding a page's export is one entry in `export_specs()` (or `register_export(ExportSpec(...))` before the app
is created): a name, its kpis, its selector key and the functions that list the selector's choices and read the
rows. Must not import Dash.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from flask import Flask, Response, request
from sqlalchemy import Engine

from metrics.windows import WINDOW_KINDS, WindowKind, today_in
from settings import Settings
from view_models.page_state import EARLIEST_DATE
from view_models.url_query import parse_date
from web.runtime import current_runtime

RowsFunction = Callable[[Engine, Settings, date, WindowKind, str, str], pd.DataFrame]


class ExportError(ValueError):
    """A bad request parameter; the message is the one line the client gets with the 400."""


@dataclass(frozen=True)
class ExportSpec:
    """One /export/<name>.csv: which figures (kpis) it explains and how to read their rows."""

    name: str
    kpis: tuple[str, ...]
    selector_key: str  # "group" or "project"
    selectors: Callable[[Engine], Collection[str]]  # the valid selector values
    rows: RowsFunction  # (engine, settings, day, window, kpi, selector) -> rows
    drop_columns: tuple[str, ...] = ("id",)  # internal columns not worth exporting
    time_columns: tuple[str, ...] = ()  # shown in TIMEZONE: their header names the zone


_EXTRA_SPECS: dict[str, ExportSpec] = {}


def register_export(spec: ExportSpec) -> None:
    """Add (or replace) an export; call before create_app."""
    _EXTRA_SPECS[spec.name] = spec


def export_specs() -> dict[str, ExportSpec]:
    from metrics.cases import CASE_KPIS
    from metrics.redmine import REDMINE_KPIS
    from models.sales import sales_group_names
    from view_models import cases, redmine, sales, support

    specs = {
        "cases": ExportSpec(
            name="cases",
            kpis=(*CASE_KPIS, *support.CASE_EXPORT_KINDS),  # the catalogue's case figures with rows
            selector_key="group",
            selectors=cases.group_choices,
            rows=support.case_export_rows,
            time_columns=("created", "modified", "resolved", "due", "reopened_at"),
        ),
        "redmine": ExportSpec(
            name="redmine",
            kpis=(*REDMINE_KPIS, *support.REDMINE_EXPORT_KINDS),
            selector_key="project",
            selectors=redmine.project_choices,
            rows=support.issue_export_rows,
            time_columns=("created", "updated", "closed"),
        ),
        "sales": ExportSpec(
            name="sales",
            kpis=sales.EXPORT_KINDS,
            selector_key="group",
            selectors=lambda engine: sales_group_names(engine, current_runtime().settings.kpi.sales),
            rows=sales.sales_rows,
            time_columns=("started_at", "changed_at"),
        ),
    }
    specs.update(_EXTRA_SPECS)
    return specs


@dataclass(frozen=True)
class ExportRequest:
    day: date
    window: WindowKind
    kpi: str
    selector: str


def parse_export_request(
    spec: ExportSpec, args: dict[str, str], today: date, selectors: Collection[str]
) -> ExportRequest:
    """Validate the query parameters of an export; ExportError with a one-line message otherwise."""
    raw_date = (args.get("date") or "").strip()
    day = today
    if raw_date:
        try:
            day = parse_date(raw_date)
        except ValueError:
            raise ExportError(f"date={raw_date!r} is not a date: use YYYY-MM-DD, e.g. date=2026-11-20") from None
        if not EARLIEST_DATE <= day <= today:
            # The page shows today for these; an export says so, and the window arithmetic never sees year 9999.
            raise ExportError(
                f"date={raw_date} is outside the data: use a date from {EARLIEST_DATE.isoformat()} "
                f"to today ({today.isoformat()})"
            )
    window = (args.get("window") or "day").strip()
    if window not in WINDOW_KINDS:
        raise ExportError(f"window={window!r} is not a window: use day, week or month")
    kpi = (args.get("kpi") or "").strip()
    if kpi not in spec.kpis:
        shown = f"kpi={kpi!r} is not known" if kpi else "kpi is missing"
        raise ExportError(f"{shown}: use one of {', '.join(spec.kpis)}")
    selector = (args.get(spec.selector_key) or "").strip()
    if selector and selector not in selectors:
        raise ExportError(
            f"{spec.selector_key}={selector!r} is not known: leave it out for all, or pick an existing one"
        )
    return ExportRequest(day, window, kpi, selector)


def csv_text(rows: pd.DataFrame, spec: ExportSpec, tz_name: str) -> str:
    """A header line and one line per row. Cells that a spreadsheet would run as a formula are quoted with '."""
    frame = rows.drop(columns=[name for name in spec.drop_columns if name in rows.columns])
    header = [f"{name} ({tz_name})" if name in spec.time_columns else name for name in frame.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for record in frame.itertuples(index=False, name=None):
        writer.writerow([_cell(value) for value in record])
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _now() -> datetime:
    """Now as naive UTC, honouring a test's injected clock (Runtime.clock, as the pages do)."""
    clock = current_runtime().clock
    now = clock() if clock else datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def register_exports(server: Flask) -> None:
    specs = export_specs()

    @server.get("/export/<name>.csv")
    def export_csv(name: str) -> Response:
        spec = specs.get(name)
        if spec is None:
            return _bad(f"there is no export {name!r}: use one of {', '.join(sorted(specs))}", status=404)
        runtime = current_runtime()
        settings = runtime.settings
        try:
            wanted = parse_export_request(
                spec,
                {key: request.args.get(key, "") for key in ("date", "window", "kpi", spec.selector_key)},
                today_in(settings.timezone, _now()),
                spec.selectors(runtime.engine),
            )
        except ExportError as exc:
            return _bad(str(exc))
        rows = spec.rows(runtime.engine, settings, wanted.day, wanted.window, wanted.kpi, wanted.selector)
        filename = "-".join(
            part for part in (name, wanted.day.isoformat(), wanted.window, wanted.kpi, _slug(wanted.selector)) if part
        )
        return Response(
            csv_text(rows, spec, settings.timezone),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.csv"',
                "X-Row-Count": str(len(rows)),
                "Cache-Control": "no-store",
            },
        )


def _bad(message: str, status: int = 400) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _slug(text: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in text)[:40]

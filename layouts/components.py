"""Building blocks every dashboard page shares: KPI cards, leaderboards, "no data" states, sections, tables
(dash-ag-grid) and charts (Plotly, one template matching the theme in assets/app.css).

Everything here is generic over the page: it takes plain values (numbers, lists of dicts, names) and returns
Dash components or figures, so the cases, redmine and sales pages (and the TV) look alike. Typical use:

    kpi_card("Created", 12, previous=9, export_href="/export/cases.csv?kpi=created&date=...")
    leaderboard([("Ann", 5), ("Bob", 3)], empty="Nobody resolved a case")
    data_table("cases-table", [column("case_no", "Case", kind="link"), ...], rows, row_id="id")
    bar_figure(["Support", "Sales"], {"Open": [4, 2]}, uirevision="cases-open", horizontal=True)

Figures carry a `uirevision` so a refresh that replaces their data keeps the user's zoom and legend choices.
Must not import callbacks/, models/ or sync/ (layouts are declarative: values in, components out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from metrics.redmine import NO_PROJECT
from metrics.series import NO_GROUP, UNASSIGNED

# What a Dash component keeps on itself besides the props it was given (dash.development.base_component).
_COMPONENT_ATTRIBUTES = frozenset({"available_properties", "available_wildcard_properties"})


def json_ready(value: Any) -> Any:
    """A callback's return value with every Dash component as the JSON Dash sends for it ({"props", "type",
    "namespace"}, as `Component.to_plotly_json` gives). Dash serialises a response with orjson alone when it holds
    plain values only; one component anywhere makes plotly first walk the whole response in Python (~5 ms for a
    tracker page's cards, leaderboards and table rows). The props are the component's own attributes: asking
    for each of its possible props, as `to_plotly_json` does, costs three times as much. Lists and components are
    walked, not dicts (figures, table rows): a component left inside a dict still serialises, only slower.
    tests/test_figures.py checks this against Dash's own JSON for every page."""
    if isinstance(value, Component):
        props = {
            name: json_ready(prop)
            for name, prop in vars(value).items()
            if not name.startswith("_") and name not in _COMPONENT_ATTRIBUTES
        }
        return {"props": props, "type": value._type, "namespace": value._namespace}  # type: ignore[attr-defined]
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def records_of(rows: Any) -> list[dict[str, Any]]:
    """A frame's rows as dicts of plain Python values (what `to_dict("records")` gives, read column by column:
    about four times quicker for a table's hundred rows)."""
    names = [str(name) for name in rows.columns]
    columns = [rows[name].tolist() for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


# --- the palette (kept in step with the CSS variables in assets/app.css) ------------------------------------

COLORS = {
    "created": "#2563eb",  # blue: work coming in
    "resolved": "#16a34a",  # green: work done
    "worked": "#7c3aed",
    "open": "#ea580c",
    "rejected": "#9ca3af",
    "muted": "#6b7280",
    "grid": "#e5e7eb",
    "text": "#1f2937",
}
# Series colours in order (the current month first, then older months fading out).
SERIES = ["#2563eb", "#f59e0b", "#10b981", "#a855f7", "#ef4444", "#0ea5e9", "#84cc16", "#ec4899"]
MONTH_SERIES = ["#2563eb", "#94a3b8", "#cbd5e1", "#e2e8f0"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# Figures are plain dicts in plotly.js's own shape ({"data": [traces], "layout": {...}}), which dcc.Graph takes
# as they are: building plotly graph objects validated and deep-copied every property (the template included),
# ~15-30 ms per page callback, for the same JSON. tests/test_figures.py checks this template against plotly's.
Figure = dict[str, Any]
KPI_TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {"family": FONT, "size": 13, "color": COLORS["text"]},
        "colorway": SERIES,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "xaxis": {"gridcolor": COLORS["grid"], "zeroline": False, "automargin": True, "linecolor": COLORS["grid"]},
        "yaxis": {"gridcolor": COLORS["grid"], "zeroline": False, "automargin": True, "rangemode": "tozero"},
        "bargap": 0.25,
    }
}
GRAPH_CONFIG = {
    "displaylogo": False,
    "displayModeBar": "hover",
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
}


# --- numbers --------------------------------------------------------------------------------------------------


def format_number(value: float | int | None) -> str:
    """A count with thousands separators; "—" for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def format_percent(value: float | None) -> str:
    """A kill rate or similar ratio in percent, truncated like the old dashboard (66.9 -> "66%"); "—" for None."""
    if value is None or math.isnan(value):
        return "—"
    return f"{math.floor(value + 1e-9)}%"


def change_text(current: float | None, previous: float | None, *, percent: bool = False) -> tuple[str, str]:
    """("▲ 3 vs previous", "up") style text and a direction class: up, down, same or none."""
    if current is None or previous is None:
        return ("no comparison", "none")
    delta = current - previous
    unit = " pts" if percent else ""
    if abs(delta) < 1e-9:
        return ("= same", "same")
    arrow = "▲" if delta > 0 else "▼"
    amount = math.floor(abs(delta) + 1e-9) if percent else abs(delta)
    return (f"{arrow} {format_number(amount)}{unit}", "up" if delta > 0 else "down")


# --- cards, leaderboards, sections, no data ------------------------------------------------------------------


def kpi_card(
    label: str,
    value: float | int | None,
    *,
    previous: float | int | None = None,
    previous_label: str = "previous",
    percent: bool = False,
    compare: bool = True,
    export_href: str | None = None,
    card_id: str | None = None,
    tone: str = "",
    good_when: Literal["up", "down", "either"] = "either",
) -> html.Div:
    """One figure: label, big value, change against the previous window and, optionally, a link to its rows.

    `tone` colours the value's accent (created, resolved, worked, open); `good_when` colours the change arrow
    green or red (either: neutral). `compare=False` for figures that have no previous window (totals now).
    `card_id` goes on the value so tests and the TV can find it.
    """
    shown = format_percent(value) if percent else format_number(value)
    change, direction = change_text(value, previous, percent=percent) if compare else ("", "none")
    sentiment = "neutral"
    if direction in ("up", "down") and good_when != "either":
        sentiment = "good" if direction == good_when else "bad"
    footer: list[Any] = [
        html.Span(change, className=f"kpi-change kpi-change-{direction} kpi-{sentiment}"),
        html.Span(f" vs {previous_label}", className="kpi-change-label") if direction != "none" else None,
    ]
    if export_href:
        footer.append(
            html.A("rows ↓", href=export_href, className="kpi-rows", title="Download the rows behind this number")
        )
    value_props: dict[str, Any] = {"id": card_id} if card_id else {}
    return html.Div(
        [
            html.Div(label, className="kpi-label"),
            html.Div(shown, className="kpi-value", **value_props),
            html.Div([part for part in footer if part is not None], className="kpi-footer"),
        ],
        className=f"kpi-card kpi-tone-{tone}" if tone else "kpi-card",
    )


def leaderboard(
    entries: Sequence[tuple[str, float | int]],
    *,
    title: str = "",
    empty: str = "Nobody yet",
    max_entries: int = 10,
    board_id: str | None = None,
    scale: float | None = None,
    ranked: bool = True,
) -> html.Div:
    """A list with proportional bars, highest first; `empty` is shown when there are no entries. Bars are relative
    to the leader, or to `scale` (e.g. a points goal: a full bar means the goal is met).

    `ranked`: people competing get rank numbers (the first in gold); a breakdown (open per status, group or
    person) is not a ranking and gets none. "Unassigned", "No group" and "No project" are nobody: never ranked,
    they follow the list on a line of their own."""
    header = html.Div(title, className="leaderboard-title") if title else None
    if not entries:
        body: Any = no_data(empty, compact=True)
    else:
        top = scale or max(value for _, value in entries) or 1
        listed = [(name, value) for name, value in entries if name not in NOBODY]
        apart = [(name, value) for name, value in entries if name in NOBODY]
        shown = listed[:max_entries]
        rows = [_board_row(name, value, top, rank if ranked else None) for rank, (name, value) in enumerate(shown, 1)]
        parts: list[Any] = [
            html.Ol(rows, className="leaderboard-list") if ranked else html.Ul(rows, className="leaderboard-list")
        ]
        if len(listed) > max_entries:
            parts.append(html.Div(f"and {len(listed) - max_entries} more", className="lb-more"))
        parts += [
            html.Div(_board_row(name, value, top, None, tag=html.Div), className="lb-apart") for name, value in apart
        ]
        body = html.Div(parts) if len(parts) > 1 else parts[0]
    props: dict[str, Any] = {"id": board_id} if board_id else {}
    class_name = "leaderboard" if ranked else "leaderboard is-unranked"
    return html.Div([part for part in (header, body) if part is not None], className=class_name, **props)


NOBODY = (UNASSIGNED, NO_GROUP, NO_PROJECT)  # a blank assignee, group or project: apart from the names, never ranked


def _board_row(name: str, value: float | int, top: float, rank: int | None, *, tag: Any = html.Li) -> Any:
    return tag(
        [
            html.Span(str(rank) if rank is not None else "", className="lb-rank"),
            html.Span(name, className="lb-name", title=name),
            html.Span(
                html.Span(className="lb-bar-fill", style={"width": f"{min(100, 100 * value / top):.0f}%"}),
                className="lb-bar",
            ),
            html.Span(format_number(value), className="lb-value"),
        ],
        className="lb-row",
    )


def no_data(message: str = "No data for this selection", *, compact: bool = False) -> html.Div:
    """The "nothing here" state: a short sentence instead of an empty chart or table."""
    return html.Div(
        [html.Span("∅", className="no-data-icon", **{"aria-hidden": "true"}), html.Span(message)],
        className="no-data no-data-compact" if compact else "no-data",
    )


def section(title: Any, children: Any, *, actions: Any = None, subtitle: str = "", section_id: str = "") -> html.Div:
    """A titled white panel; `actions` sit on the right of the title (buttons, links). `title` may be a component
    (e.g. a Span with an id a callback fills)."""
    head = html.Div(
        [
            html.Div(
                [html.H2(title, className="section-title"), html.Div(subtitle, className="section-subtitle")]
                if subtitle
                else [html.H2(title, className="section-title")]
            ),
            html.Div(actions, className="section-actions") if actions is not None else None,
        ],
        className="section-head",
    )
    props: dict[str, Any] = {"id": section_id} if section_id else {}
    return html.Div([head, html.Div(children, className="section-body")], className="panel", **props)


def notice(messages: Iterable[str]) -> Any:
    """A short dismissible warning listing what was wrong with the URL (or nothing)."""
    messages = [message for message in messages if message]
    if not messages:
        return None
    return dbc.Alert(
        [html.Strong("Showing the default view. "), " ".join(messages)],
        color="warning",
        dismissable=True,
        className="page-alert",
    )


# --- tables ---------------------------------------------------------------------------------------------------

ColumnKind = Literal["text", "number", "datetime", "link"]


def column(field: str, header: str, *, kind: ColumnKind = "text", width: int | None = None, **extra: Any) -> dict:
    """An ag-grid column definition. `link` columns hold markdown "[text](url)" (or plain text) values."""
    definition: dict[str, Any] = {"field": field, "headerName": header}
    if kind == "number":
        definition.update(type="numericColumn", filter="agNumberColumnFilter")
    elif kind == "datetime":
        # ISO "YYYY-MM-DD HH:MM" strings sort and filter correctly as text.
        definition.update(filter="agTextColumnFilter", minWidth=150)
    elif kind == "link":
        definition.update(cellRenderer="markdown", linkTarget="_blank", filter="agTextColumnFilter")
    else:
        definition.update(filter="agTextColumnFilter")
    if width:
        definition["width"] = width
    definition.update(extra)
    return definition


def markdown_link(text: str, url: str) -> str:
    """A link cell value; plain (escaped) text when there is no URL to go to."""
    safe = text.replace("[", "\\[").replace("]", "\\]")
    return f"[{safe}]({url})" if url else safe


def data_table(
    table_id: str,
    columns: list[dict],
    rows: list[dict],
    *,
    row_id: str = "id",
    row_class_rules: Mapping[str, str] | None = None,
    page_size: int = 15,
    height: int | None = None,
) -> dag.AgGrid:
    """A sortable, filterable, paged ag-grid. Rows keep their identity across refreshes (`row_id`), so new data
    does not reset the user's sort, filter or page. The CSV export is a link next to the table (see
    `export_link`), served by /export/<page>.csv with the same parameters, so it matches the page's numbers."""
    return dag.AgGrid(
        id=table_id,
        columnDefs=columns,
        rowData=rows,
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": False, "minWidth": 90},
        dashGridOptions={
            "pagination": True,
            "paginationPageSize": page_size,
            "paginationPageSizeSelector": [15, 50, 100],
            "animateRows": False,
            "domLayout": "autoHeight" if height is None else "normal",
            "localeText": {"noRowsToShow": "No rows for this selection"},
            "enableCellTextSelection": True,
            "suppressCellFocus": True,
        },
        getRowId=f"params.data.{row_id}",
        rowClassRules=dict(row_class_rules or {}),
        columnSize="responsiveSizeToFit",
        className="kpi-grid",
        style={"height": f"{height}px"} if height else {"width": "100%"},
    )


def export_link(href: str, *, label: str = "Export CSV", link_id: str | None = None) -> html.A:
    """The button that downloads the rows of the current view as CSV."""
    props: dict[str, Any] = {"id": link_id} if link_id else {}
    return html.A(
        [html.Span("↓ ", **{"aria-hidden": "true"}), label],
        href=href,
        className="btn btn-sm btn-outline-secondary export-link",
        download="",
        **props,
    )


# --- charts ---------------------------------------------------------------------------------------------------


def graph(graph_id: str, *, height: int = 320, figure: Figure | None = None) -> dcc.Graph:
    """A chart slot; callbacks fill its `figure`. Responsive width, fixed height for stable layout."""
    return dcc.Graph(
        id=graph_id,
        figure=figure if figure is not None else empty_figure("Loading…", uirevision=graph_id),
        config=GRAPH_CONFIG,
        style={"height": f"{height}px"},
        className="kpi-graph",
    )


def base_figure(uirevision: str) -> Figure:
    """An empty figure wearing the dashboard template. Keep `uirevision` stable for a chart so refreshed data
    keeps the user's zoom; change it when the question changes (other group), so the view resets."""
    # The template is shared, not copied: figures are built, serialised and dropped, never edited in place.
    return {"data": [], "layout": {"template": KPI_TEMPLATE, "uirevision": uirevision}}


def empty_figure(message: str = "No data for this selection", *, uirevision: str = "empty") -> Figure:
    """A blank chart with a centred message (no axes), for the "no data" state."""
    figure = base_figure(uirevision)
    figure["layout"].update(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 15, "color": COLORS["muted"]},
            }
        ],
    )
    return figure


def bar_figure(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    uirevision: str,
    horizontal: bool = False,
    colors: Mapping[str, str] | None = None,
    empty: str = "No data for this selection",
    stacked: bool = False,
) -> Figure:
    """Bars per category, one trace per series (name -> values aligned with `categories`)."""
    if not categories or not any(any(values) for values in series.values()):
        return empty_figure(empty, uirevision=uirevision)
    figure = base_figure(uirevision)
    for index, (name, values) in enumerate(series.items()):
        color = (colors or {}).get(name, SERIES[index % len(SERIES)])
        if horizontal:
            trace = {"type": "bar", "y": list(categories), "x": list(values), "orientation": "h"}
        else:
            trace = {"type": "bar", "x": list(categories), "y": list(values)}
        figure["data"].append({**trace, "name": name, "marker": {"color": color}})
    layout = figure["layout"]
    layout.update(showlegend=len(series) > 1, barmode="stack" if stacked else "group")
    if horizontal:
        # Largest at the top, and room for long names.
        layout.update(yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"}, xaxis={"rangemode": "tozero"})
    return figure


def line_figure(
    x: Sequence[Any],
    series: Mapping[str, Sequence[float | None]],
    *,
    uirevision: str,
    colors: Sequence[str] | None = None,
    widths: Sequence[float] | None = None,
    empty: str = "No data for this selection",
    x_title: str = "",
) -> Figure:
    """Lines over a shared x axis, one trace per series; None values leave a gap (e.g. days still to come)."""
    if not x or not any(value for values in series.values() for value in values if value):
        return empty_figure(empty, uirevision=uirevision)
    figure = base_figure(uirevision)
    palette = list(colors or SERIES)
    for index, (name, values) in enumerate(series.items()):
        figure["data"].append(
            {
                "type": "scatter",
                "x": list(x),
                "y": list(values),
                "name": name,
                "mode": "lines",
                "line": {"color": palette[index % len(palette)], "width": (widths or [3, 2, 2, 2])[min(index, 3)]},
                "hovertemplate": "%{y}<extra>" + name + "</extra>",
            }
        )
    figure["layout"]["hovermode"] = "x unified"
    if x_title:
        figure["layout"]["xaxis"] = {"title": {"text": x_title}}
    return figure


def window_panel(
    title: str, subtitle: str, cards: Sequence[Any], board: Any, *, selected: bool, panel_id: str
) -> html.Div:
    """One window column (Day, Week or Month): a 2x2 grid of KPI cards over a leaderboard. The selected window
    is highlighted, and on phones it is the only one shown (assets/app.css)."""
    return html.Div(
        [
            html.Div(
                [html.Div(title, className="window-name"), html.Div(subtitle, className="section-subtitle")],
                className="section-head",
            ),
            html.Div(list(cards), className="kpi-grid-2"),
            board,
        ],
        className="panel window-col" + (" is-selected" if selected else ""),
        id=panel_id,
    )


def cumulative_figure(frame: Any, *, uirevision: str, empty: str) -> Figure:
    """Running totals per day of month, one line per month (the current month bold, older months fading):
    `frame` as metrics.series.cumulative_by_day_of_month returns it."""
    if frame is None or frame.empty:
        return empty_figure(empty, uirevision=uirevision)
    series = {label: [None if value != value else value for value in frame[label]] for label in frame.columns}
    return line_figure(
        list(frame.index), series, uirevision=uirevision, colors=MONTH_SERIES, empty=empty, x_title="Day of month"
    )


def history_figure(history: Any, *, uirevision: str, empty: str, done: str = "Resolved") -> Figure:
    """Created and resolved bars per month: `history` as metrics.series.monthly_history returns it; `done` names
    the second series as the page does ("Closed" on /redmine)."""
    if history is None or history.empty:
        return empty_figure(empty, uirevision=uirevision)
    return bar_figure(
        list(history["label"]),
        {"Created": list(history["created"]), done: list(history["resolved"])},
        uirevision=uirevision,
        colors={"Created": COLORS["created"], done: COLORS["resolved"]},
        empty=empty,
    )


def button_choice(choice_id: str, options: list[dict], value: str, *, class_name: str = "table-kpi") -> Any:
    """A dbc.RadioItems that looks like a joined button group."""
    return dbc.RadioItems(
        id=choice_id,
        options=options,
        value=value,
        inline=True,
        className=f"btn-group {class_name}",
        inputClassName="btn-check",
        labelClassName="btn btn-outline-secondary btn-sm",
        labelCheckedClassName="active",
    )


def row_legend(entries: Sequence[tuple[str, str]]) -> html.Div:
    """Colour swatches explaining a table's row colours: (colour, text) pairs."""
    return html.Div(
        [
            html.Span([html.Span(className="legend-swatch", style={"background": colour}), text])
            for colour, text in entries
        ],
        className="table-legend",
    )

"""Building blocks every dashboard page shares: KPI cards, leaderboards, "no data" states, sections, tables
(dash-ag-grid) and charts (Plotly, one template matching the theme in assets/app.css).

Everything here is generic over the page: it takes plain values (numbers, lists of dicts, names) and returns
Dash components or figures, so the cases, redmine and sales pages (and the TV) look alike. Typical use:

    kpi_card("Created", 12, previous=9, export_href="/export/cases.csv?kpi=created&date=...")
    leaderboard([("Ann", 5), ("Bob", 3)], empty="Nobody resolved a case")
    data_table("cases-table", [column("case_no", "Case", kind="link"), ...], row_id="id")  # rows: a callback
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

from layouts.palette import color, month_series
from metrics.catalogue import entry, over_100_note, page_entries
from metrics.redmine import NO_PROJECT
from metrics.series import NO_GROUP, UNASSIGNED
from settings import StageMismatch

# What a Dash component keeps on itself besides the props it was given (dash.development.base_component).
_COMPONENT_ATTRIBUTES = frozenset({"available_properties", "available_wildcard_properties"})


def extra_props(values: Mapping[str, str]) -> dict[str, Any]:
    """Props for `**` that a keyword cannot name (aria-*, data-*) or that are given only sometimes. Dash's
    components type each named keyword, so a dict of strings spread into them does not type-check; this one
    says its values may go to any of them."""
    return dict(values)


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
        return {"props": props, "type": value._type, "namespace": value._namespace}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A callback's values by output name (dictionary-style outputs), each json_ready."""
    return {name: json_ready(value) for name, value in values.items()}


def records_of(rows: Any) -> list[dict[str, Any]]:
    """A frame's rows as dicts of plain Python values (what `to_dict("records")` gives, read column by column:
    about four times quicker for a table's hundred rows)."""
    names = [str(name) for name in rows.columns]
    columns = [rows[name].tolist() for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


# --- the palette (layouts/palette.py: colours by meaning, kept in step with assets/app.css) ------------------

COLORS = {
    "created": color("created"),  # work coming in
    "resolved": color("resolved"),  # work done
    "worked": color("worked"),  # activity
    "open": color("open"),  # waiting
    "neutral": color("neutral"),  # people, stages, amounts: bars whose colour says nothing more
    "rejected": color("rejected"),
    "muted": "#6b7280",
    "grid": "#e5e7eb",
    "text": "#1f2937",
}
# The template's colorway, for a trace given no colour of its own (every dashboard chart names its colour).
SERIES = [color(meaning) for meaning in ("created", "resolved", "worked", "open", "neutral")]
MONTH_SERIES = month_series("created")
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
GRAPH_CONFIG: dcc.Graph.Config = {
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
    kpi: str | None = None,
) -> html.Div:
    """One figure: label, big value, change against the previous window and, optionally, a link to its rows.

    `tone` colours the value's accent (created, resolved, worked, open); `good_when` colours the change arrow
    green or red (either: neutral). `compare=False` for figures that have no previous window (totals now).
    `card_id` goes on the value so tests and the TV can find it. `kpi` (metrics.catalogue) puts an (i) next
    to the label that shows what the figure counts, on hover and on a tap, and gives the accent colour of its
    meaning unless `tone` is given. A rate above 100 % says why.
    """
    tone = tone or (entry(kpi).tone if kpi else "")
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
    note = rate_note(kpi, value) if percent else ""
    return html.Div(
        [
            kpi_label(label, kpi, f"{card_id}-info" if card_id else None),
            html.Div(shown, className="kpi-value", **value_props),
            html.Div(note, className="kpi-note") if note else None,
            html.Div([part for part in footer if part is not None], className="kpi-footer"),
        ],
        className=f"kpi-card kpi-tone-{tone}" if tone else "kpi-card",
    )


def rate_note(kpi: str | None, value: float | int | None) -> str:
    """Why a rate reads above 100 % (kill rates: the backlog shrank); "" otherwise."""
    if kpi is not None:
        return over_100_note(kpi, value)
    return over_100_note("cases.kill_rate", value)  # the only rate a card shows without an id (the TV)


def kpi_label(label: str, kpi: str | None, info_id: str | None) -> html.Div:
    """A card's title, with an (i) that shows the figure's one-line definition when `kpi` is given."""
    if kpi is None:
        return html.Div(label, className="kpi-label")
    return html.Div([html.Span(label, className="kpi-label-text"), *info_button(kpi, info_id)], className="kpi-label")


def info_button(kpi: str, button_id: str | None) -> list[Any]:
    """The (i) for a figure: hovering shows its definition (desktop), a tap or click toggles it and a tap
    elsewhere closes it (phones: dbc.Popover's "legacy" trigger). Without an id (no popover target), the
    definition is the button's native tooltip only."""
    found = entry(kpi)
    button = html.Button(
        "i",
        type="button",
        className="kpi-info",
        title="" if button_id else found.text,
        **extra_props({"aria-label": f"What {found.title} means: {found.text}", "data-kpi": kpi}),
        **extra_props({"id": button_id} if button_id else {}),
    )
    if not button_id:
        return [button]
    popover = dbc.Popover(
        dbc.PopoverBody(found.text),
        target=button_id,
        trigger="hover legacy",
        placement="bottom",
        className="kpi-definition",
    )
    return [button, popover]


def defined_title(label: str, kpi: str, id_prefix: str) -> html.Span:
    """A panel or chart title with the (i) of its definition (`id_prefix`-info is the button's id)."""
    return html.Span([label, *info_button(kpi, f"{id_prefix}-info")], className="defined-title")


def meaning_panel(page: str, panel_id: str) -> html.Details:
    """The page's "What the numbers mean": every figure's one-line definition, folded until opened."""
    return html.Details(
        [
            html.Summary("What the numbers mean", className="meaning-summary"),
            html.Dl(
                [part for found in page_entries(page) for part in (html.Dt(found.title), html.Dd(found.text))],
                className="meaning-list",
            ),
        ],
        className="panel meaning-panel",
        id=panel_id,
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
    badges: Mapping[str, tuple[str, str]] | None = None,
) -> html.Div:
    """A list with proportional bars, highest first; `empty` is shown when there are no entries. Bars are relative
    to the leader, or to `scale` (e.g. a points goal: a full bar means the goal is met). `badges`: per name a
    (level, words) pair the row shows after the value and is coloured by (`lb-level-<level>`), e.g. the pace.

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
        marks = badges or {}
        rows = [
            _board_row(name, value, top, rank if ranked else None, badge=marks.get(name))
            for rank, (name, value) in enumerate(shown, 1)
        ]
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


def _board_row(
    name: str,
    value: float | int,
    top: float,
    rank: int | None,
    *,
    tag: Any = html.Li,
    badge: tuple[str, str] | None = None,
) -> Any:
    marks = [html.Span(badge[1], className="lb-badge")] if badge else []
    return tag(
        [
            html.Span(str(rank) if rank is not None else "", className="lb-rank"),
            html.Span(name, className="lb-name", title=name),
            html.Span(
                html.Span(className="lb-bar-fill", style={"width": f"{min(100, 100 * value / top):.0f}%"}),
                className="lb-bar",
            ),
            html.Span(format_number(value), className="lb-value"),
            *marks,
        ],
        className=f"lb-row lb-level-{badge[0]}" if badge else "lb-row",
    )


def no_data(message: str = "No data for this selection", *, compact: bool = False) -> html.Div:
    """The "nothing here" state: a short sentence instead of an empty chart or table."""
    return html.Div(
        [html.Span("∅", className="no-data-icon", **extra_props({"aria-hidden": "true"})), html.Span(message)],
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


def stage_rules_warning(mismatch: StageMismatch | None, kpi_file: str, *, element_id: str, compact: bool) -> Any:
    """The warning /status and /sales show when the sales rules name stages VTiger's sales_stage picklist lacks:
    which names (and the keys naming them), the picklist in its order, and the kpi.toml lines to write, with a
    copy button. `compact` (/sales) folds the lines away and, on a phone, keeps only the title and the names with
    a link to /status, so the page's own figures stay on the first screen. None when everything matches."""
    if mismatch is None:
        return None
    names = mismatch.missing_names()
    source = f"{kpi_file} names" if kpi_file else "There is no kpi.toml, and the default sales rules name"
    where = kpi_file or "a kpi.toml next to app.py (or the file KPI_CONFIG names)"
    snippet_id = f"{element_id}-snippet"
    return dbc.Alert(
        [
            html.H2(
                f"{len(names)} sales {'stage' if len(names) == 1 else 'stages'} not in VTiger's pipeline",
                className="stage-warning-title",
            ),
            html.P(
                f"{source} stages VTiger's sales_stage picklist does not have. Deals and every stage change are "
                "still stored; stages the rules do not name score 0 until they are configured.",
                className="stage-warning-text",
            ),
            html.Ul(
                [
                    html.Li(
                        [
                            html.Strong(name),
                            html.Span(
                                f" (named by {', '.join(mismatch.keys_naming(name))})", className="stage-warning-keys"
                            ),
                            # The separator a phone shows between the names on one line (assets/stage-warning.css).
                            html.Span(", ", className="stage-warning-comma") if number < len(names) else None,
                        ]
                    )
                    for number, name in enumerate(names, 1)
                ],
                className="stage-warning-missing",
            ),
            html.Div(
                [
                    html.Span("VTiger's stages, in pipeline order: ", className="stage-warning-label"),
                    *[
                        html.Span(f"{number}. {stage}", className="stage-warning-stage")
                        for number, stage in enumerate(mismatch.picklist, 1)
                    ],
                ],
                className="stage-warning-picklist",
            ),
            html.Details(
                [
                    html.Summary(f"The lines to write into {where}, then restart"),
                    html.Div(
                        [
                            dcc.Clipboard(target_id=snippet_id, title="Copy", className="stage-warning-copy"),
                            html.Pre(mismatch.snippet, id=snippet_id, className="stage-warning-snippet"),
                        ],
                        className="stage-warning-lines",
                    ),
                ],
                open=not compact,
            ),
            html.A("What to change: Status", href="/status", className="stage-warning-more") if compact else None,
        ],
        color="warning",
        id=element_id,
        className="stage-warning stage-warning-compact" if compact else "stage-warning",
    )


# --- tables ---------------------------------------------------------------------------------------------------

ColumnKind = Literal["text", "number", "datetime", "link"]
# The filters the server understands (models/recent_rows.py grid_conditions), one condition per column.
TEXT_FILTER = {
    "filterOptions": ["contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank"],
    "maxNumConditions": 1,
    "buttons": ["reset"],
}
NUMBER_FILTER = {
    "filterOptions": [
        "equals",
        "notEqual",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "inRange",
        "blank",
        "notBlank",
    ],
    "inRangeInclusive": True,
    "maxNumConditions": 1,
    "buttons": ["reset"],
}
DATE_FILTER = {
    "filterOptions": ["equals", "lessThan", "greaterThan", "inRange", "blank", "notBlank"],
    "inRangeInclusive": True,
    "maxNumConditions": 1,
    "buttons": ["reset"],
}
TABLE_BLOCK = 100  # rows per request: the grid asks for the next block as the user scrolls
TABLE_HEIGHT = 460  # px: about twelve rows, then the grid scrolls (and asks for more)


def header_width(header: str) -> int:
    """A column's least width in px that shows its whole header label with the sort arrow beside it (13 px
    system-ui text averages under 8 px a character; padding and the arrow take about 44 px)."""
    return 44 + 8 * len(header)


def column(
    field: str,
    header: str,
    *,
    kind: ColumnKind = "text",
    width: int | None = None,
    server_side: bool = True,
    **extra: Any,
) -> dict:
    """An ag-grid column definition. `link` columns hold markdown "[text](url)" (or plain text) values. Columns
    the server cannot sort or filter on (`server_side=False`: a value worked out per row) offer neither."""
    definition: dict[str, Any] = {"field": field, "headerName": header, "headerTooltip": header}
    if kind == "number":
        definition.update(type="numericColumn", filter="agNumberColumnFilter", filterParams=NUMBER_FILTER)
    elif kind == "datetime":
        # Shown as local "YYYY-MM-DD HH:MM"; filtered by local calendar day on the server.
        definition.update(filter="agDateColumnFilter", filterParams=DATE_FILTER, minWidth=170)
    elif kind == "link":
        definition.update(
            cellRenderer="markdown", cellRendererParams={"linkTarget": "_blank"}, filter="agTextColumnFilter"
        )
        definition["filterParams"] = TEXT_FILTER
    else:
        definition.update(filter="agTextColumnFilter", filterParams=TEXT_FILTER)
    if not server_side:
        definition.update(sortable=False, filter=False)
        definition.pop("filterParams", None)
    if width:
        definition["width"] = width
    definition.update(extra)
    definition["minWidth"] = max(definition.get("minWidth", 0), width or 0, header_width(header))
    return definition


def markdown_link(text: str, url: str) -> str:
    """A link cell value; plain (escaped) text when there is no URL to go to."""
    safe = text.replace("[", "\\[").replace("]", "\\]")
    return f"[{safe}]({url})" if url else safe


def data_table(
    table_id: str,
    columns: list[dict],
    *,
    row_id: str = "id",
    row_class_rules: Mapping[str, str] | None = None,
    height: int = TABLE_HEIGHT,
) -> dag.AgGrid:
    """A sortable, filterable ag-grid over all the rows of a view, sent a block at a time: the infinite row model
    asks through `getRowsRequest` (the rows wanted, the sort and filter models) and a callback answers in
    `getRowsResponse` (the block and how many rows match), so sorting and filtering act on every row on the
    server while the page sends a hundred. Filters sit in a row under the labels (the labels keep their room);
    columns keep at least their label's width and text columns share what is left; an empty view says "No rows".
    The CSV export is a link next to the table (see `export_link`), served by /export/<page>.csv with the same
    parameters, so it matches the page's numbers."""
    return dag.AgGrid(
        id=table_id,
        columnDefs=columns,
        rowModelType="infinite",
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "floatingFilter": True,
            "suppressHeaderMenuButton": True,
            "suppressHeaderFilterButton": True,
        },
        dashGridOptions={
            "cacheBlockSize": TABLE_BLOCK,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "animateRows": False,
            "localeText": {"noRowsToShow": "No rows"},
            "enableCellTextSelection": True,
            "suppressCellFocus": True,
            "suppressColumnVirtualisation": True,  # every label rendered, every column sized to its content
            "tooltipShowDelay": 300,
        },
        getRowId=f"params.data.{row_id} + ''",
        rowClassRules=dict(row_class_rules or {}),
        className="kpi-grid",
        style={"height": f"{height}px", "width": "100%"},
    )


def table_stores(table_id: str, query: Mapping[str, Any]) -> list[dcc.Store]:
    """What a `data_table` needs beside it: the view its rows come from (`<id>-query`: `query` until the page's
    callback writes it; handed back with every request for rows) and where the browser notes that it reloaded
    them."""
    return [dcc.Store(id=f"{table_id}-query", data=dict(query)), dcc.Store(id=f"{table_id}-reload")]


def row_count(matching: int, total: int) -> str:
    """ "1,234 rows", or "56 of 1,234 rows" when a filter keeps some of them."""
    noun = "row" if total == 1 else "rows"
    if matching == total:
        return f"{format_number(total)} {noun}"
    return f"{format_number(matching)} of {format_number(total)} {noun}"


def export_link(href: str, *, label: str = "Export CSV", link_id: str | None = None) -> html.A:
    """The button that downloads the rows of the current view as CSV."""
    props: dict[str, Any] = {"id": link_id} if link_id else {}
    return html.A(
        [html.Span("↓ ", **extra_props({"aria-hidden": "true"})), label],
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


def count_axis(top: float) -> dict[str, Any]:
    """A value axis of counts: whole numbers only (no 0.5 ticks when the largest count is 1 or 3), from zero, with
    thousands separators; the step is 1, 2 or 5 times a power of ten, about five ticks up to `top`."""
    raw = max(float(top), 1.0) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= raw)
    return {
        "tickformat": ",d",
        "tickmode": "linear",
        "tick0": 0,
        "dtick": max(1, round(step)),
        "rangemode": "tozero",
    }


CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}


def currency_prefix(code: str) -> str:
    """What goes before an amount: the currency's symbol ("€") when it has a well-known one, else its code."""
    return CURRENCY_SYMBOLS.get(code.upper(), f"{code.upper()} ")


def format_amount(value: float | int | None, currency: str) -> str:
    """An amount with its currency and no cents: "€12,345"; "—" for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{currency_prefix(currency)}{value:,.0f}"


def amount_axis(currency: str) -> dict[str, Any]:
    """A value axis of money in `currency`: "€12k" style ticks, from zero."""
    return {"tickprefix": currency_prefix(currency), "tickformat": "~s", "rangemode": "tozero"}


def bar_figure(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    uirevision: str,
    horizontal: bool = False,
    colors: Mapping[str, str] | None = None,
    empty: str = "No data for this selection",
    stacked: bool = False,
    currency: str = "",
) -> Figure:
    """Bars per category, one trace per series (name -> values aligned with `categories`). The values are counts
    (a whole-number axis) unless `currency` is given: then amounts in that currency, on the axis and in the hover."""
    if not categories or not any(any(values) for values in series.values()):
        return empty_figure(empty, uirevision=uirevision)
    figure = base_figure(uirevision)
    value_key, category_key = ("x", "y") if horizontal else ("y", "x")
    hover = f"%{{{category_key}}}: " + (
        f"{currency_prefix(currency)}%{{{value_key}:,.2f}}" if currency else f"%{{{value_key}:,d}}"
    )
    for index, (name, values) in enumerate(series.items()):
        color = (colors or {}).get(name, SERIES[index % len(SERIES)])
        if horizontal:
            trace = {"type": "bar", "y": list(categories), "x": list(values), "orientation": "h"}
        else:
            trace = {"type": "bar", "x": list(categories), "y": list(values)}
        figure["data"].append(
            {**trace, "name": name, "marker": {"color": color}, "hovertemplate": hover + f"<extra>{name}</extra>"}
        )
    layout = figure["layout"]
    layout.update(showlegend=len(series) > 1, barmode="stack" if stacked else "group")
    value_axis = amount_axis(currency) if currency else count_axis(bar_top(series, stacked))
    if horizontal:
        # Largest at the top, and room for long names.
        layout.update(yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"}, xaxis=value_axis)
    else:
        layout.update(yaxis=value_axis)
    return figure


def bar_top(series: Mapping[str, Sequence[float]], stacked: bool) -> float:
    """The longest bar: the largest value, or the largest sum per category when the series are stacked."""
    columns = [list(values) for values in series.values()]
    if stacked:
        return max((sum(float(v or 0) for v in row) for row in zip(*columns, strict=False)), default=0.0)
    return max((float(v or 0) for values in columns for v in values), default=0.0)


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
                "hovertemplate": "%{y:,d}<extra>" + name + "</extra>",
            }
        )
    top = max((value for values in series.values() for value in values if value), default=0)
    figure["layout"].update(hovermode="x unified", yaxis=count_axis(top))
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


SO_FAR = "so far"


def cumulative_figure(
    frame: Any, *, uirevision: str, empty: str, meaning: str = "created", running_day: int | None = None
) -> Figure:
    """Running totals per day of month, one line per month (the current month bold in the colour of what it
    counts, older months fading): `frame` as metrics.series.cumulative_by_day_of_month returns it. When the
    current month is still running, `running_day` (today's day of month) ends its line at today with a marked
    point saying "so far": nothing is drawn after it, so a running month never looks like a collapse."""
    if frame is None or frame.empty:
        return empty_figure(empty, uirevision=uirevision)
    series = {label: [None if value != value else value for value in frame[label]] for label in frame.columns}
    days = list(frame.index)
    if running_day is not None:
        current = next(iter(series))
        series[current] = [
            value if day <= running_day else None for day, value in zip(days, series[current], strict=True)
        ]
    figure = line_figure(
        days, series, uirevision=uirevision, colors=month_series(meaning), empty=empty, x_title="Day of month"
    )
    if running_day is not None and figure["data"] and figure["data"][0]["y"][running_day - 1] is not None:
        mark_running_day(figure, running_day, figure["data"][0]["y"][running_day - 1], color(meaning))
    return figure


def mark_running_day(figure: Figure, day: int, value: float, line_color: str) -> None:
    """A dot where the running month's line ends (today), labelled "so far"."""
    first = figure["data"][0]
    first["mode"] = "lines"
    figure["data"].append(
        {
            "type": "scatter",
            "x": [day],
            "y": [value],
            "mode": "markers",
            "marker": {"color": line_color, "size": 9, "line": {"color": "#ffffff", "width": 2}},
            "name": f"{first['name']} ({SO_FAR})",
            "showlegend": False,
            "hovertemplate": f"%{{y:,d}} {SO_FAR}, day %{{x}}<extra>{first['name']}</extra>",
        }
    )
    figure["layout"]["annotations"] = [
        {
            "x": day,
            "y": value,
            "text": SO_FAR,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "xshift": 6,
            "font": {"size": 12, "color": line_color},
        }
    ]


def history_figure(history: Any, *, uirevision: str, empty: str, running: Any = None, done: str = "Resolved") -> Figure:
    """Created and resolved bars per month: `history` as metrics.series.monthly_history returns it; `done` names
    the second series as the page does ("Closed" on /redmine). The month `running` (the first day of the month
    still under way, or None) is drawn hatched and lighter with a "so far" label, so its short bars read as a month
    not over yet rather than a collapse."""
    if history is None or history.empty:
        return empty_figure(empty, uirevision=uirevision)
    figure = bar_figure(
        list(history["label"]),
        {"Created": list(history["created"]), done: list(history["resolved"])},
        uirevision=uirevision,
        colors={"Created": COLORS["created"], done: COLORS["resolved"]},
        empty=empty,
    )
    partial = [month == running for month in history["month"]] if running is not None else []
    if any(partial) and figure["data"]:
        mark_partial_bars(figure, partial, list(history["label"]))
    return figure


def mark_partial_bars(figure: Figure, partial: list[bool], labels: list[str]) -> None:
    """Hatch and lighten the bars of a period still under way; hover and a label above them say "so far"."""
    for trace in figure["data"]:
        trace["marker"].update(
            pattern={"shape": ["/" if flag else "" for flag in partial], "fillmode": "overlay", "solidity": 0.35},
            opacity=[0.55 if flag else 1.0 for flag in partial],
        )
        trace["customdata"] = [f" ({SO_FAR})" if flag else "" for flag in partial]
        trace["hovertemplate"] = f"%{{x}}%{{customdata}}: %{{y:,d}}<extra>{trace['name']}</extra>"
    tallest = {
        label: max(float(trace["y"][index] or 0) for trace in figure["data"]) for index, label in enumerate(labels)
    }
    figure["layout"]["annotations"] = [
        {"x": label, "y": tallest[label], "text": SO_FAR, "showarrow": False, "yanchor": "bottom",
         "font": {"size": 12, "color": COLORS["muted"]}}
        for label, flag in zip(labels, partial, strict=True)
        if flag
    ]  # fmt: skip


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

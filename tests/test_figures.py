"""The chart builders of layouts/components.py return plain dicts in plotly.js's shape (issue 7: graph objects cost
~15-30 ms per callback). These tests pin their structure and check the JSON equals what plotly's graph objects
produced for the same chart, so the browser sees no difference."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import plotly.utils

from layouts import components
from layouts.components import (
    COLORS,
    KPI_TEMPLATE,
    MONTH_SERIES,
    bar_figure,
    cumulative_figure,
    empty_figure,
    history_figure,
    line_figure,
)
from metrics.series import cumulative_by_day_of_month, monthly_history


def as_json(figure: object) -> str:
    """What Dash sends for a figure, with sorted keys so equal charts compare equal."""
    raw = figure.to_plotly_json() if isinstance(figure, go.Figure) else figure
    return json.dumps(raw, cls=plotly.utils.PlotlyJSONEncoder, sort_keys=True)


def plotly_template() -> go.layout.Template:
    """The dashboard template built the way it used to be, as plotly validates it."""
    return go.layout.Template(layout=go.Layout(**KPI_TEMPLATE["layout"]))


def test_the_template_is_what_plotly_makes_of_it() -> None:
    assert as_json(KPI_TEMPLATE) == as_json(plotly_template().to_plotly_json())


def test_horizontal_bars_are_one_trace_per_series_largest_on_top() -> None:
    figure = bar_figure(
        ["Ann", "Bo"], {"Open": [5, 3]}, uirevision="cases-open", horizontal=True, colors={"Open": COLORS["open"]}
    )
    assert isinstance(figure, dict)
    [trace] = figure["data"]
    assert trace == {
        "type": "bar",
        "y": ["Ann", "Bo"],
        "x": [5, 3],
        "orientation": "h",
        "name": "Open",
        "marker": {"color": COLORS["open"]},
        "hovertemplate": "%{y}: %{x:,d}<extra>Open</extra>",
    }
    layout = figure["layout"]
    assert layout["template"] is KPI_TEMPLATE
    assert layout["uirevision"] == "cases-open"
    assert layout["yaxis"] == {"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"}
    assert layout["xaxis"] == {"tickformat": ",d", "tickmode": "linear", "tick0": 0, "dtick": 1, "rangemode": "tozero"}
    assert (layout["showlegend"], layout["barmode"]) == (False, "group")


def test_bars_match_the_graph_object_version() -> None:
    figure = bar_figure(["A", "B", "C"], {"Calls": [1, 0, 3], "Demos": [2, 1, 0]}, uirevision="x", stacked=True)
    expected = go.Figure()
    expected.update_layout(template=plotly_template(), uirevision="x")
    hover = "%{x}: %{y:,d}<extra>{name}</extra>"
    expected.add_bar(
        x=["A", "B", "C"],
        y=[1, 0, 3],
        name="Calls",
        marker_color=components.SERIES[0],
        hovertemplate=hover.replace("{name}", "Calls"),
    )
    expected.add_bar(
        x=["A", "B", "C"],
        y=[2, 1, 0],
        name="Demos",
        marker_color=components.SERIES[1],
        hovertemplate=hover.replace("{name}", "Demos"),
    )
    expected.update_layout(showlegend=True, barmode="stack")
    expected.update_yaxes(tickformat=",d", tickmode="linear", tick0=0, dtick=1, rangemode="tozero")
    assert as_json(figure) == as_json(expected)


def test_cumulative_lines_have_a_day_of_month_axis_and_gaps_for_days_to_come() -> None:
    daily = pd.Series({date(2026, 10, day): 1 for day in range(1, 32)} | {date(2026, 11, 1): 2, date(2026, 11, 2): 1})
    frame = cumulative_by_day_of_month(daily, [date(2026, 11, 1), date(2026, 10, 1)], through=date(2026, 11, 2))
    figure = cumulative_figure(frame, uirevision="cum", empty="Nothing")
    november, october = figure["data"]
    assert (november["name"], october["name"]) == ("November 2026", "October 2026")
    assert november["y"][:3] == [2.0, 3.0, None]  # nothing drawn after today
    assert october["y"][30] == 31.0
    assert november["x"] == list(range(1, 32))
    assert (november["line"], october["line"]) == (
        {"color": MONTH_SERIES[0], "width": 3},
        {"color": MONTH_SERIES[1], "width": 2},
    )
    assert figure["layout"]["xaxis"] == {"title": {"text": "Day of month"}}
    assert figure["layout"]["hovermode"] == "x unified"
    json.dumps(figure, cls=plotly.utils.PlotlyJSONEncoder)  # serialisable as Dash sends it


def test_lines_match_the_graph_object_version() -> None:
    figure = line_figure([1, 2, 3], {"a": [1, None, 3]}, uirevision="l", x_title="Day")
    expected = go.Figure()
    expected.update_layout(template=plotly_template(), uirevision="l")
    expected.add_scatter(
        x=[1, 2, 3],
        y=[1, None, 3],
        name="a",
        mode="lines",
        line={"color": components.SERIES[0], "width": 3},
        hovertemplate="%{y:,d}<extra>a</extra>",
    )
    expected.update_layout(hovermode="x unified")
    expected.update_yaxes(tickformat=",d", tickmode="linear", tick0=0, dtick=1, rangemode="tozero")
    expected.update_xaxes(title_text="Day")
    assert as_json(figure) == as_json(expected)


def test_history_is_created_and_resolved_bars_per_month() -> None:
    history = monthly_history(
        pd.Series({date(2026, 1, 1): 5, date(2026, 3, 1): 7}), pd.Series({date(2026, 2, 1): 4}, dtype="int64")
    )
    created, resolved = history_figure(history, uirevision="h", empty="None yet")["data"]
    assert created["x"] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert (created["y"], resolved["y"]) == ([5, 0, 7], [0, 4, 0])
    assert (created["marker"]["color"], resolved["marker"]["color"]) == (COLORS["created"], COLORS["resolved"])


def test_no_data_is_a_message_without_axes() -> None:
    for figure in (
        bar_figure(["A"], {"Open": [0]}, uirevision="x", empty="No open cases"),
        empty_figure("No open cases", uirevision="x"),
    ):
        assert figure["data"] == []
        assert figure["layout"]["xaxis"] == {"visible": False} == figure["layout"]["yaxis"]
        assert [note["text"] for note in figure["layout"]["annotations"]] == ["No open cases"]


def dash_json(value: object) -> object:
    """What Dash itself sends for a value holding components (plotly's encoder calls to_plotly_json)."""
    return json.loads(json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder))


def test_json_ready_gives_the_json_dash_sends_for_every_page(app) -> None:
    from dash.development.base_component import Component
    from plotly.io.json import to_json_plotly

    from layouts.pages import all_pages

    trees: list[Component] = [
        components.leaderboard([("Ann", 3), ("", 1)], title="Resolved", board_id="board", max_entries=1),
        components.kpi_card("Created", 12, previous=9, export_href="/export/cases.csv?kpi=created"),
        components.no_data("Nothing yet"),
    ]
    with app.server.test_request_context("/"):
        trees += [page.layout({}) for page in all_pages()]
    for tree in trees:
        ready = components.json_ready([tree, "text", 3, None])
        assert json.loads(to_json_plotly(ready)) == dash_json([tree, "text", 3, None])
        # Plain values only: orjson serialises it without plotly's walk over every node.
        assert not any(isinstance(node, Component) for node in walk(ready))


def walk(value: object) -> list[object]:
    if isinstance(value, dict):
        return [value, *(node for item in value.values() for node in walk(item))]
    if isinstance(value, list):
        return [value, *(node for item in value for node in walk(item))]
    return [value]

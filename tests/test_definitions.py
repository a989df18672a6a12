"""Issue 12 items 5 and 7 (charts): every figure says what it counts (metrics/catalogue.py, the same words on
the cards, the pages' panels and README), and charts are coloured by meaning (layouts/palette.py) on every page and
the TV, count axes have whole-number ticks, deals per stage follow the pipeline's picklist order, amounts carry
the configured currency, and the running month is drawn as "so far", not as a collapse."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from layouts import cases as cases_layout
from layouts import redmine as redmine_layout
from layouts import sales as sales_layout
from layouts import tracker_page, tv
from layouts.components import (
    COLORS,
    bar_figure,
    count_axis,
    cumulative_figure,
    history_figure,
    json_ready,
    kpi_card,
)
from layouts.palette import GOAL_HUES, PALETTE, TINTS
from metrics.catalogue import BACKLOG_SHRANK, ENTRIES, PAGES, entry, page_entries
from metrics.sales import deals_per_stage
from metrics.series import cumulative_by_day_of_month, monthly_history
from models.schema import cases, deal_stage_changes, deals, sync_state
from settings import ConfigError, KpiRules, SalesRules, Settings, load_kpi_rules
from tests.sales_seed import derive
from tests.seed_dashboards import case_row, demo_cases, demo_issues, seed_statuses, write_rows
from view_models.cases import build_cases_view
from view_models.page_state import parse_page_query
from view_models.redmine import build_redmine_view
from view_models.sales import build_sales_page, open_deal_rows

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 15, 0)
STOCK_PICKLIST = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
                  "Perception Analysis", "Proposal or Price Quote", "Negotiation or Review", "Closed Won",
                  "Closed Lost"]  # fmt: skip


def nodes(tree: Any) -> list[dict]:
    """Every component (as Dash's JSON) in a tree."""
    found: list[dict] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "props" in value and "type" in value:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json_ready(tree))
    return found


def text_of(node: Any) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return "".join(text_of(item) for item in node)
    if isinstance(node, dict) and "props" in node:
        return text_of(node["props"].get("children"))
    return ""


def cards_of(tree: Any) -> list[dict]:
    return [node for node in nodes(tree) if "kpi-card" in str(node["props"].get("className", "")).split()]


def card_title_and_kpi(card: dict) -> tuple[str, str | None]:
    label = next(node for node in nodes(card) if node["props"].get("className") == "kpi-label")
    info = [node for node in nodes(label) if node["props"].get("className") == "kpi-info"]
    title = next((text_of(n) for n in nodes(label) if n["props"].get("className") == "kpi-label-text"), "")
    return title, (info[0]["props"]["data-kpi"] if info else None)


def tone_of(card: dict) -> str:
    return next(c[len("kpi-tone-") :] for c in card["props"]["className"].split() if c.startswith("kpi-tone-"))


# --- the pages' trees, built from seeded data ----------------------------------------------------------------------


@pytest.fixture
def seeded(settings_for: Any, sqlite_url: str) -> Iterator[tuple[Engine, Settings]]:
    from app import create_app

    settings = settings_for(sqlite_url, auth_disabled=True, timezone="Europe/Berlin")
    app = create_app(settings)
    engine = app.server.extensions["kpi"].engine
    write_rows(engine, cases, demo_cases(NOW, count=200, days=90))
    seed_statuses(engine)
    from models.schema import redmine_issues

    write_rows(engine, redmine_issues, demo_issues(NOW, count=100, days=90))
    with engine.begin() as conn:
        conn.execute(insert(sync_state).values(source="vtiger", module="Potentials", watermark="1",
                                               extra={"picklists": {"sales_stage": STOCK_PICKLIST}}))  # fmt: skip
    yield engine, settings
    engine.dispose()


def tracker_trees(engine: Engine, settings: Settings) -> dict[str, Any]:
    state = parse_page_query({}, TODAY, [])
    case_view = build_cases_view(engine, settings, TODAY, today=TODAY)
    issue_view = build_redmine_view(engine, settings, TODAY, today=TODAY)
    return {
        "cases": [
            tracker_page.window_columns(cases_layout.PAGE, case_view, state),
            cases_layout.open_panel_content(case_view, state),
        ],
        "redmine": [
            redmine_layout.totals_content(issue_view, state),
            tracker_page.window_columns(redmine_layout.PAGE, issue_view, state),
        ],
        "views": (case_view, issue_view),
    }


def sales_tree(engine: Engine, settings: Settings) -> tuple[list[Any], Any]:
    state = parse_page_query({}, TODAY, [])
    derive(engine, settings)
    views = build_sales_page(engine, settings, TODAY, "", "day", 100, today=TODAY)
    columns = [
        sales_layout.window_column(kind, view, selected=kind == "day", state=state) for kind, view in views.items()
    ]
    return columns, views["day"]


def test_every_card_on_every_page_has_its_definition(seeded: tuple[Engine, Settings]) -> None:
    engine, settings = seeded
    trees = tracker_trees(engine, settings)
    columns, _ = sales_tree(engine, settings)
    for page, tree in (("cases", trees["cases"]), ("redmine", trees["redmine"]), ("sales", columns)):
        cards = cards_of(tree)
        assert len(cards) >= 9, page
        for card in cards:
            title, kpi = card_title_and_kpi(card)
            assert kpi is not None, f"{page}: the card {title!r} has no (i)"
            assert kpi.startswith(f"{page}.") and entry(kpi).title == title
            # The popover carries the definition's words, bound to the button.
            popover = next(node for node in nodes(card) if node["type"] == "Popover")
            assert text_of(popover) == entry(kpi).text
            assert "legacy" in popover["props"]["trigger"] and "hover" in popover["props"]["trigger"]
            assert tone_of(card) == entry(kpi).tone


def test_each_page_has_a_panel_listing_its_definitions(app: Any) -> None:
    from layouts.pages import all_pages

    with app.server.test_request_context("/"):
        layouts = {page.path.strip("/"): page.layout({}) for page in all_pages()}
    for page in PAGES:
        [panel] = [node for node in nodes(layouts[page]) if node["props"].get("id") == f"{page}-meaning"]
        assert panel["type"] == "Details"
        assert "What the numbers mean" in text_of(panel)
        terms = [text_of(node) for node in nodes(panel) if node["type"] == "Dt"]
        texts = [text_of(node) for node in nodes(panel) if node["type"] == "Dd"]
        assert list(zip(terms, texts, strict=True)) == [(d.title, d.text) for d in page_entries(page)]


def readme_definitions() -> dict[tuple[str, str], str]:
    """(page, figure) -> definition from the "What the numbers mean" table README links (docs/metrics.md)."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    section = text.split("### What the numbers mean", 1)[1].split("| Page | Figure | Definition |", 1)[1]
    section = section.split("\n\n", 1)[0]  # the table ends at the first blank line
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in {"Cases", "Redmine", "Sales", "Support"}:
            rows[(cells[0].lower(), cells[1])] = cells[2]
    return rows


def test_readme_metric_definitions_and_the_catalogue_say_the_same_thing() -> None:
    rows = readme_definitions()
    listed = {(kpi.page, kpi.title): kpi for kpi in ENTRIES if kpi.listed}
    for (page, title), kpi in listed.items():
        assert rows.get((page, title)) == kpi.text, f"README lacks {kpi.id}: | {kpi.title} | {kpi.text} |"
    # and README defines nothing the catalogue does not: a figure gone from the app goes from README too
    assert set(rows) == set(listed), f"README rows without a catalogue entry: {sorted(set(rows) - set(listed))}"
    assert len(listed) == sum(1 for kpi in ENTRIES if kpi.listed)  # one title per figure on a page


def test_the_readme_test_reads_the_table_it_means() -> None:
    rows = readme_definitions()
    assert rows[("cases", "Worked on")] == "Cases created, resolved, or changed while not closed, in the window."
    assert len(rows) >= 28


def test_a_kill_rate_over_100_percent_says_why() -> None:
    def note(value: float | None) -> str:
        return " ".join(text_of(n) for n in nodes(kpi_card("Kill rate", value, percent=True, kpi="cases.kill_rate"))
                        if n["props"].get("className") == "kpi-note")  # fmt: skip

    assert note(128.0) == BACKLOG_SHRANK == "More resolved than created: the backlog shrank."
    assert note(100.0) == note(66.9) == note(None) == ""
    on_tv = nodes(kpi_card("Kill rate", 157.0, percent=True, card_id="tv-cases-kill-rate"))
    assert BACKLOG_SHRANK in [text_of(n) for n in on_tv if n["props"].get("className") == "kpi-note"]


def test_a_kill_rate_over_100_on_the_page_carries_the_note(seeded: tuple[Engine, Settings]) -> None:
    engine, settings = seeded
    today = datetime(2026, 11, 20, 9)
    write_rows(engine, cases, [
        case_row(9000 + n, created_at=datetime(2026, 10, 1), status="Resolved", resolved_at=today, updated_at=today)
        for n in range(30)
    ])  # fmt: skip
    case_view = build_cases_view(engine, settings, TODAY, today=TODAY)
    rate = case_view.windows["day"].figures.kill_rate
    assert rate is not None and rate > 100
    [card] = [c for c in cards_of(tracker_trees(engine, settings)["cases"]) if "cases-day-kill-rate" in json.dumps(c)]
    assert BACKLOG_SHRANK in [text_of(n) for n in nodes(card) if n["props"].get("className") == "kpi-note"]


# --- one palette by meaning ---------------------------------------------------------------------------------------


def css_variables(path: Path, prefix: str) -> dict[str, str]:
    return {
        name: value.lower()
        for name, value in re.findall(rf"--{prefix}-([a-z-]+):\s*(#[0-9a-fA-F]{{6}})", path.read_text())
    }


def test_the_stylesheets_carry_the_palette() -> None:
    page, tv_css = css_variables(ROOT / "assets/app.css", "kpi"), css_variables(ROOT / "assets/tv.css", "tv")
    for meaning, hue in PALETTE.items():
        assert page[meaning] == hue.page, meaning
        if meaning in tv_css:
            assert tv_css[meaning] == hue.tv, meaning
    assert {"created", "resolved", "worked", "open", "rate", "neutral", "goal-met"} <= set(tv_css)
    assert f"background-color: {TINTS['resolved']}" in (ROOT / "assets/app.css").read_text()


def figure_colours(figure: dict) -> list[str]:
    colours = []
    for trace in figure["data"]:
        for part in ("marker", "line"):
            value = trace.get(part, {}).get("color")
            colours += value if isinstance(value, list) else [value] if value else []
    return [colour.lower() for colour in colours]


def test_colours_mean_the_same_on_both_tracker_pages_and_the_tv(seeded: tuple[Engine, Settings]) -> None:
    engine, settings = seeded
    trees = tracker_trees(engine, settings)
    case_view, issue_view = trees["views"]
    for page, view in ((cases_layout.PAGE, case_view), (redmine_layout.PAGE, issue_view)):
        created, resolved = (tracker_page.cumulative_chart(page, view, name) for name in ("created", "resolved"))
        assert created["data"][0]["line"]["color"] == PALETTE["created"].page
        assert resolved["data"][0]["line"]["color"] == PALETTE["resolved"].page
        history = tracker_page.history_chart(page, view)
        assert [trace["marker"]["color"] for trace in history["data"]] == [COLORS["created"], COLORS["resolved"]]
        assert set(figure_colours(tracker_page.open_bars(page, view.open_by_status, "x"))) == {COLORS["open"]}
    # The TV's cards wear the page cards' colours for the same figures.
    page_tones = {card_title_and_kpi(c)[0]: tone_of(c) for c in cards_of(trees["cases"]) + cards_of(trees["redmine"])}
    for card in cards_of([tv.cases_panel(case_view), tv.redmine_panel(issue_view)]):
        label = text_of(next(n for n in nodes(card) if n["props"].get("className") == "kpi-label"))
        if label in page_tones:
            assert tone_of(card) == page_tones[label], label
    _, sales_view = sales_tree(engine, settings)
    tv_sales = {
        # a quiet day's slide shows yesterday's cards (tv-sales-yesterday-points): the same figures, the same tones
        card["props"]["children"][1]["props"]["id"].replace("-yesterday", ""): tone_of(card)
        for card in cards_of(tv.sales_panel(sales_view, sales_view))
    }
    assert tv_sales["tv-sales-points"] == entry("sales.points").tone
    assert tv_sales["tv-sales-demos"] == entry("sales.demos").tone
    assert tv_sales["tv-sales-at-goal"] == "goal-met"


def test_no_count_is_drawn_in_a_goal_colour(seeded: tuple[Engine, Settings]) -> None:
    from callbacks.sales import chart_figures

    engine, settings = seeded
    case_view, issue_view = tracker_trees(engine, settings)["views"]
    figures = [tracker_page.cumulative_chart(cases_layout.PAGE, case_view, "resolved"),
               tracker_page.history_chart(redmine_layout.PAGE, issue_view),
               *[figure for _, figure in cases_layout.open_charts(case_view)]]  # fmt: skip
    _, sales_view = sales_tree(engine, settings)
    figures += chart_figures(sales_view, parse_page_query({}, TODAY, []))
    goal = {PALETTE[name].page for name in GOAL_HUES}
    for figure in figures:
        assert not goal & set(figure_colours(figure))
    assert not goal & {COLORS[name] for name in ("created", "resolved", "worked", "open", "neutral")}


# --- axes, order, currency, the running period -------------------------------------------------------------------


@pytest.mark.parametrize(("top", "dtick"), [(0, 1), (1, 1), (3, 1), (7, 2), (12, 5), (37, 10), (480, 100)])
def test_count_axes_have_whole_number_ticks(top: int, dtick: int) -> None:
    axis = count_axis(top)
    assert (axis["tickformat"], axis["tickmode"], axis["tick0"], axis["dtick"]) == (",d", "linear", 0, dtick)
    figure = bar_figure(["Ann"], {"Calls": [top or 1]}, uirevision="x", horizontal=True)
    assert figure["layout"]["xaxis"]["dtick"] == max(1, dtick) and figure["layout"]["xaxis"]["tickformat"] == ",d"
    stacked = bar_figure(["Ann"], {"A": [2], "B": [2]}, uirevision="x", stacked=True)
    assert stacked["layout"]["yaxis"]["dtick"] == 1  # 4 in all: ticks 0..4, no 0.5


def test_deals_per_stage_follow_the_picklist_not_the_counts(seeded: tuple[Engine, Settings]) -> None:
    from callbacks.sales import chart_figures

    engine, settings = seeded
    at = datetime(2026, 11, 20, 10)
    changes = [("Closed Won", 5), ("Prospecting", 1), ("Negotiation or Review", 3), ("Qualification", 2)]
    with engine.begin() as conn:
        n = 0
        for stage, count in changes:
            for _ in range(count):
                n += 1
                conn.execute(insert(deals).values(source_id=f"5x{n}", deal_no=f"POT{n}", name=f"D{n}", stage=stage,
                                                  raw={}, assignee_name="Ann", amount=100.0 * n))  # fmt: skip
                entry = {"deal_source_id": f"5x{n}", "deal_no": f"POT{n}", "stage": stage, "origin": "observed",
                         "changed_at": at, "assignee_name": "Ann"}  # fmt: skip
                conn.execute(insert(deal_stage_changes).values(**entry))
    _, view = sales_tree(engine, settings)
    stages = chart_figures(view, parse_page_query({}, TODAY, []))[2]
    [trace] = stages["data"]
    expected = [stage for stage in STOCK_PICKLIST if stage in dict(changes)]
    assert trace["y"] == expected == ["Prospecting", "Qualification", "Negotiation or Review", "Closed Won"]
    assert trace["x"] == [1, 2, 3, 5]
    assert stages["layout"]["yaxis"]["autorange"] == "reversed"  # the first stage on top


def test_without_a_stored_picklist_the_rules_give_the_order() -> None:
    rules = KpiRules().sales  # Demo Scheduled, Demo Given, Quote Sent, Pilot, Needs Analysis, then the closed stages
    entries = pd.DataFrame({"stage": ["Closed Won", "Closed Won", "Odd stage", "Demo Given", "Recycled", "Pilot"]})
    per_stage = deals_per_stage(entries, rules)
    assert list(per_stage["stage"]) == ["Demo Given", "Pilot", "Closed Won", "Odd stage"]  # Recycled excluded
    assert list(per_stage["deals"]) == [1, 1, 2, 1]
    picked = deals_per_stage(entries, rules, ["Closed Won", "Pilot", "Demo Given"])
    assert list(picked["stage"]) == ["Closed Won", "Pilot", "Demo Given", "Odd stage"]


def test_amounts_carry_the_configured_currency(seeded: tuple[Engine, Settings], tmp_path: Path) -> None:
    from callbacks.sales import chart_figures

    figure = bar_figure(["Ann"], {"Open amount": [1234.5]}, uirevision="p", horizontal=True, currency="EUR")
    assert figure["layout"]["xaxis"]["tickprefix"] == "€"
    assert "€%{x:,.2f}" in figure["data"][0]["hovertemplate"]
    assert (
        bar_figure(["Ann"], {"A": [5.0]}, uirevision="p", horizontal=True, currency="USD")["layout"]["xaxis"][
            "tickprefix"
        ]
        == "$"
    )
    assert bar_figure(["Ann"], {"A": [5.0]}, uirevision="p", currency="CHF")["layout"]["yaxis"]["tickprefix"] == "CHF "

    # kpi.toml: default EUR, documented in kpi.example.toml, a bad code stops start-up with the key named.
    assert SalesRules().currency == "EUR" == load_kpi_rules(ROOT / "kpi.example.toml").sales.currency
    assert 'currency = "EUR"' in (ROOT / "kpi.example.toml").read_text()
    config = tmp_path / "kpi.toml"
    config.write_text('[sales]\ncurrency = "usd"\n')
    assert load_kpi_rules(config).sales.currency == "USD"
    config.write_text('[sales]\ncurrency = "Euro"\n')
    with pytest.raises(ConfigError, match=r"sales\.currency must be a three-letter ISO 4217 code"):
        load_kpi_rules(config)

    engine, settings = seeded
    with engine.begin() as conn:
        conn.execute(insert(deals).values(source_id="5x1", deal_no="POT1", name="Big", stage="Qualification",
                                          raw={}, assignee_name="Ann", amount=1234.5))  # fmt: skip
    gbp = replace(settings, kpi=replace(settings.kpi, sales=replace(settings.kpi.sales, currency="GBP")))
    _, view = sales_tree(engine, gbp)
    pipeline = chart_figures(view, parse_page_query({}, TODAY, []))[3]
    assert pipeline["layout"]["xaxis"]["tickprefix"] == "£" and "£" in pipeline["data"][0]["hovertemplate"]
    rows = open_deal_rows(engine, gbp)
    assert (
        list(rows["currency"]) == ["GBP"]
        and list(rows.columns).index("currency") == list(rows.columns).index("amount") + 1
    )


def test_the_running_month_is_marked_so_far_and_its_line_ends_at_today() -> None:
    daily = pd.Series({date(2026, 10, day): 2 for day in range(1, 32)} | {date(2026, 11, d): 1 for d in range(1, 21)})
    frame = cumulative_by_day_of_month(daily, [date(2026, 11, 1), date(2026, 10, 1)], through=TODAY)
    figure = cumulative_figure(frame, uirevision="c", empty="-", meaning="resolved", running_day=20)
    november = figure["data"][0]
    assert november["y"][:20] == [float(d) for d in range(1, 21)]  # rising to today
    assert november["y"][20:] == [None] * 11  # and nothing after: no drop to zero
    marker = figure["data"][-1]
    assert (marker["x"], marker["y"], marker["mode"]) == ([20], [20.0], "markers")
    assert [note["text"] for note in figure["layout"]["annotations"]] == ["so far"]
    assert november["line"]["color"] == PALETTE["resolved"].page

    history = monthly_history(pd.Series({date(2026, 10, 1): 60, date(2026, 11, 1): 20}),
                              pd.Series({date(2026, 10, 1): 55, date(2026, 11, 1): 18}))  # fmt: skip
    bars = history_figure(history, uirevision="h", empty="-", running=date(2026, 11, 1))
    for trace in bars["data"]:
        assert trace["marker"]["pattern"]["shape"] == ["", "/"]
        assert trace["marker"]["opacity"] == [1.0, 0.55]
        assert trace["customdata"] == ["", " (so far)"]
    [note] = bars["layout"]["annotations"]
    assert (note["x"], note["text"], note["y"]) == ("Nov 2026", "so far", 20.0)
    finished = history_figure(history, uirevision="h", empty="-", running=date(2026, 12, 1))
    assert "pattern" not in finished["data"][0]["marker"] and "annotations" not in finished["layout"]


def test_the_pages_charts_mark_today_as_the_end_of_the_running_month(seeded: tuple[Engine, Settings]) -> None:
    engine, settings = seeded
    case_view, _ = tracker_trees(engine, settings)["views"]
    figure = tracker_page.cumulative_chart(cases_layout.PAGE, case_view, "created")
    current = figure["data"][0]["y"]
    drawn = [value for value in current[:20] if value is not None]
    assert len(drawn) == 20 and drawn == sorted(drawn) and current[20:] == [None] * 11
    assert figure["layout"]["annotations"][0]["x"] == 20
    history = tracker_page.history_chart(cases_layout.PAGE, case_view)
    assert history["data"][0]["marker"]["pattern"]["shape"][-1] == "/"
    # A past month, viewed later, is whole: no marker.
    october = build_cases_view(engine, settings, date(2026, 10, 15), today=TODAY)
    past = tracker_page.cumulative_chart(cases_layout.PAGE, october, "created")
    assert "annotations" not in past["layout"] and None not in past["data"][0]["y"][:31]

"""view_models/page_state.py and callbacks/controls.resolve_state: the URL query <-> page state rules."""

from __future__ import annotations

from datetime import date

from callbacks.controls import resolve_state
from view_models.page_state import PageState, export_href, parse_page_query

TODAY = date(2026, 11, 20)
GROUPS = ["Support", "Sales Support"]


def test_no_query_follows_today() -> None:
    state = parse_page_query({}, TODAY, GROUPS)
    assert state == PageState(TODAY, "day", "", True, TODAY, ())
    assert state.to_query() == ""


def test_a_full_query_round_trips() -> None:
    state = parse_page_query({"date": "2026-11-02", "window": "week", "group": "Sales Support"}, TODAY, GROUPS)
    assert (state.day, state.window, state.selector, state.follow_today) == (
        date(2026, 11, 2),
        "week",
        "Sales Support",
        False,
    )
    assert state.notices == ()
    assert state.to_query() == "?date=2026-11-02&window=week&group=Sales+Support"


def test_bad_values_fall_back_with_notices() -> None:
    state = parse_page_query({"date": "2026-13-45", "window": "year", "group": "Nope"}, TODAY, GROUPS)
    assert (state.day, state.window, state.selector, state.follow_today) == (TODAY, "day", "", True)
    assert len(state.notices) == 3
    assert "2026-13-45" in state.notices[0] and "year" in state.notices[1] and "Nope" in state.notices[2]


def test_future_and_ancient_dates_show_today() -> None:
    assert parse_page_query({"date": "2026-11-21"}, TODAY, GROUPS).day == TODAY
    assert parse_page_query({"date": "1900-01-01"}, TODAY, GROUPS).notices
    assert parse_page_query({"date": "2026-1-5"}, TODAY, GROUPS).notices  # not zero-padded: not the format


def test_project_selector_key() -> None:
    state = parse_page_query({"project": "Portal"}, TODAY, ["Portal"], selector_key="project")
    assert state.selector == "Portal"
    assert state.to_query("project") == "?project=Portal"


def test_export_href_pins_the_date() -> None:
    state = parse_page_query({"group": "Support"}, TODAY, GROUPS)
    assert export_href("cases", state, "resolved", window="month") == (
        "/export/cases.csv?date=2026-11-20&window=month&kpi=resolved&group=Support"
    )


def resolve(triggered: set[str], search: str = "", **values: str | None) -> tuple[PageState, str]:
    return resolve_state(
        triggered=triggered,
        prefix="cases",
        search=search,
        date_value=values.get("date_value"),
        window_value=values.get("window_value", "day"),
        selector_value=values.get("selector_value", ""),
        selectors=GROUPS,
        today=TODAY,
        selector_key="group",
    )


def test_first_load_and_back_forward_read_the_url() -> None:
    assert resolve(set(), "?date=2026-11-02")[1] == "initial"
    state, kind = resolve({"cases-url.search"}, "?date=2026-11-02&window=month")
    assert kind == "url" and (state.day, state.window) == (date(2026, 11, 2), "month")


def test_picker_steps_and_today_button() -> None:
    # Previous / next move the picker in the browser (assets/refresh.js); the server sees a picked date.
    state, kind = resolve({"cases-date.date"}, "?date=2026-11-02", date_value="2026-11-01")
    assert kind == "controls" and state.day == date(2026, 11, 1) and state.to_query() == "?date=2026-11-01"
    state, _ = resolve({"cases-date.date"}, "", date_value="2026-11-19")  # following today: yesterday, pinned
    assert state.day == date(2026, 11, 19) and not state.follow_today
    state, _ = resolve({"cases-date.date"}, "?date=2026-11-19", date_value="2026-11-21")  # never past today
    assert state.day == TODAY and state.to_query() == "?date=2026-11-20"
    state, _ = resolve({"cases-today.n_clicks"}, "?date=2026-11-02&window=week", window_value="week")
    assert state.follow_today and state.to_query() == "?window=week"


def test_picker_window_and_group_changes() -> None:
    state, _ = resolve({"cases-date.date"}, "", date_value="2026-10-05")
    assert state.to_query() == "?date=2026-10-05"
    state, _ = resolve({"cases-window.value"}, "?date=2026-10-05", window_value="month")
    assert state.to_query() == "?date=2026-10-05&window=month"
    state, _ = resolve({"cases-selector.value"}, "?window=year", selector_value="Support")
    assert state.to_query() == "?group=Support" and state.notices == ()  # the bad window is dropped


def test_refresh_and_clock_ticks_keep_the_state() -> None:
    assert resolve({"cases-refresh.n_intervals"}, "?date=2026-11-02")[1] == "refresh"
    state, kind = resolve({"cases-today-date.data"}, "")
    assert kind == "clock" and state.follow_today and state.day == TODAY

"""/tv fits its content on the wall (layouts/tv.py, assets/tv.js, assets/tv.css), measured in headless Chromium
the way a person would see it: on a crowded day (names like "Maximilian Alexander Oberhausen-Wittgenstein", a
kill rate of 157 %, 1,214 open cases, more people than a board has room for) every text element of every slide,
at 1280×720, 1920×1080 and 3840×2160, is whole (not clipped, not cut with an ellipsis) and inside its panel and
the screen; a board shows the rows that fit and says how many it left out; the sales slide compares with
yesterday like the others; and a quiet morning says so in large type with yesterday's figures beside it.

The app runs in UTC with an injected clock (`now=`, tests only), so "today" and "yesterday" are fixed days.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.browser import console_errors, screenshot, start_chromium, wait_for
from tests.sales_seed import derive_app
from tests.tv_seed import LONG_NAMES, RESOLVED_TODAY, record_runs, seed_crowded

pytestmark = pytest.mark.browser

NOW = datetime(2026, 3, 4, 10, 42)  # a Wednesday morning, UTC (the app's time zone in tests)
SIZES = [(1920, 1080), (1280, 720), (3840, 2160)]  # 1920 first: a resize must grow text back as well as shrink it

# Every text element inside the TV, measured: its own text's box must lie inside its panel and the viewport,
# and an element that hides overflow must not be overflowing (which is also what an applied ellipsis needs).
MEASURE = """
const problems = [];
const panels = '.kpi-card, .tv-board, .tv-hero, .tv-header, .tv-footer, .tv-banner';
const view = {left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight};
const inside = (box, outer) => box.left >= outer.left - 1 && box.top >= outer.top - 1 &&
    box.right <= outer.right + 1 && box.bottom <= outer.bottom + 1;
const hides = (value) => ['hidden', 'clip', 'auto', 'scroll'].includes(value);
let measured = 0;
for (const el of document.querySelectorAll('#tv-root *')) {
  const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!own.length || !el.getClientRects().length) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
  const text = el.textContent.trim().slice(0, 60);
  measured += 1;
  if (hides(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
    problems.push(`${text}: ${el.scrollWidth} px wide in ${el.clientWidth} px (cut sideways)`);
  if (hides(style.overflowY) && el.scrollHeight > el.clientHeight + 1)
    problems.push(`${text}: ${el.scrollHeight} px tall in ${el.clientHeight} px (cut at the bottom)`);
  if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1)
    problems.push(`${text}: ends in an ellipsis`);
  if (style.webkitLineClamp && style.webkitLineClamp !== 'none' && el.scrollHeight > el.clientHeight + 1)
    problems.push(`${text}: line-clamped`);
  const panel = el.closest(panels);
  for (const node of own) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (panel && !inside(box, panel.getBoundingClientRect()))
      problems.push(`${text}: outside its panel (${panel.className})`);
    if (!inside(box, view)) problems.push(`${text}: outside the screen`);
  }
}
return {problems, measured};
"""

# Each board: its title, the rows on screen (inside the board), and the "and N more" line if one is visible.
BOARDS = """
return [...document.querySelectorAll('#tv-panel .tv-board')].map((board) => {
  const outer = board.getBoundingClientRect();
  const seen = (el) => {
    if (!el || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') return false;
    const box = el.getBoundingClientRect();
    return box.height > 0 && box.top >= outer.top - 1 && box.bottom <= outer.bottom + 1;
  };
  // The board's own line (assets/tv.js); the leaderboard component's .lb-more is hidden on the TV.
  const more = [...board.querySelectorAll('.tv-more')].find((el) => /^and \\d+ more$/.test(el.textContent.trim()));
  return {
    title: (board.querySelector('.leaderboard-title') || {}).textContent || '',
    rows: [...board.querySelectorAll('.lb-row')].filter(seen).map((row) => row.querySelector('.lb-name').textContent),
    more: more && seen(more) ? more.textContent.trim() : null,
    moreRendered: Boolean(more),
  };
});
"""


# Each board as it is laid out: the font size of every name on screen, the height of its tallest row, and the room
# left between its last row and the "and N more" line (or the board's bottom when nothing was left out).
BOARD_ROOM = """
return [...document.querySelectorAll('#tv-panel .tv-board')].map((board) => {
  const rows = [...board.querySelectorAll('.lb-row')].filter((row) => getComputedStyle(row).display !== 'none');
  const more = board.querySelector('.tv-more');
  const moreShown = Boolean(more && getComputedStyle(more).display !== 'none' && more.textContent.trim());
  const style = getComputedStyle(board);
  const bottom = board.getBoundingClientRect().bottom - parseFloat(style.paddingBottom);
  const last = rows.length ? rows[rows.length - 1].getBoundingClientRect().bottom : bottom;
  return {
    title: (board.querySelector('.leaderboard-title') || {}).textContent || '',
    sizes: rows.map((row) => parseFloat(getComputedStyle(row.querySelector('.lb-name')).fontSize)),
    tallest: Math.max(0, ...rows.map((row) => row.getBoundingClientRect().height)),
    room: (moreShown ? more.getBoundingClientRect().top : bottom) - last,
    moreShown,
  };
});
"""


def assert_boards_use_their_room(driver: Any, where: str) -> None:
    """Names on one board read the same size, and a board that leaves rows out has no room for another one."""
    for board in driver.execute_script(BOARD_ROOM):
        sizes = board["sizes"]
        assert sizes and max(sizes) <= min(sizes) * 1.01, f"{where}, {board['title']}: name sizes {sizes}"
        if board["moreShown"]:
            assert board["room"] < 1.5 * board["tallest"], f"{where}, {board['title']}: {board}"


def assert_boards_show_their_rows(driver: Any, where: str) -> None:
    boards = driver.execute_script(BOARDS)
    assert len(boards) == 2
    for board in boards:
        assert board["rows"], board  # every board shows at least its leader
        if board["moreRendered"]:
            assert board["more"] is not None, f"{where}, {board['title']}: the 'and N more' line is off screen: {board}"


def settled(check: Callable[[], None], seconds: float = 5) -> None:
    """`check()` passes once the page has fitted itself (it fits again when a board's box settles: fonts, the
    slide's fade-in); the last failure is raised after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def sized(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def measure(driver: Any) -> list[str]:
    """What does not fit, once the page has had a moment to fit itself after a render or resize (the fit runs
    on the next animation frame; the slide fades in over half a second)."""
    deadline = time.monotonic() + 5
    while True:
        result = driver.execute_script(MEASURE)
        assert result["measured"] >= 20, result  # the slide is there, not an empty frame
        if not result["problems"] or time.monotonic() > deadline:
            return result["problems"]
        time.sleep(0.25)


def tv_url(base: str, page: str) -> str:
    return f"{base}/tv?pages={page}&rotate=600&refresh=600&now={NOW.isoformat()}"


def open_slide(driver: Any, base: str, page: str) -> Any:
    """The TV showing only `page`, at 1920×1080, at NOW."""
    sized(driver, 1920, 1080)
    driver.get(tv_url(base, page))
    return driver


@pytest.fixture
def crowded(app):
    engine = app.server.extensions["kpi"].engine
    seed_crowded(engine, NOW)
    derive_app(app)
    record_runs(engine, NOW - timedelta(minutes=2))
    return engine


@pytest.fixture
def quiet(app):
    engine = app.server.extensions["kpi"].engine
    seed_crowded(engine, NOW, today=False)
    derive_app(app)
    record_runs(engine, NOW - timedelta(minutes=2))
    return engine


@pytest.fixture
def tv_browser():
    driver = start_chromium(1920, 1080)
    yield driver
    driver.quit()


def text(driver: Any, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


FIRST_FIGURE = {
    "support": ("tv-support-breached", "1,200"),  # the cases open for weeks (High: 8 business hours)
    "cases": ("tv-cases-kill-rate", "157%"),
    "sales": ("tv-sales-calls", "552"),
    "redmine": ("tv-redmine-kill-rate", "157%"),
}


@pytest.mark.parametrize("page", ["cases", "sales", "redmine", "support"])
def test_every_text_on_a_crowded_slide_fits_at_every_size(crowded, live_server, tv_browser, page: str) -> None:
    driver = open_slide(tv_browser, live_server.url, page)
    card_id, expected = FIRST_FIGURE[page]
    wait_for(lambda: text(driver, card_id) == expected, message=f"the {page} slide's figures")
    for width, height in SIZES:
        sized(driver, width, height)
        problems = measure(driver)
        if (width, height) == (1920, 1080):
            time.sleep(0.6)
            screenshot(driver, f"tv-fit-{page}-{width}")
        assert problems == [], f"{page} at {width}×{height}: {problems}"
        # The figures are whole and still large: a three-digit percentage is not "15…", nor shrunk to a footnote.
        assert text(driver, card_id) == expected
        size = driver.execute_script(
            f"return parseFloat(getComputedStyle(document.getElementById('{card_id}')).fontSize)"
        )
        assert size >= 0.06 * height, (page, width, size)
        where = f"{page} at {width}×{height}"
        settled(partial(assert_boards_use_their_room, driver, where))
        settled(partial(assert_boards_show_their_rows, driver, where))
    assert console_errors(driver) == []


def test_resolved_today_shows_the_rows_that_fit_and_counts_the_rest(crowded, live_server, tv_browser) -> None:
    driver = tv_browser
    driver.get(tv_url(live_server.url, "cases"))
    wait_for(lambda: text(driver, "tv-cases-resolved") == "22", message="today's resolved cases")
    total = len(RESOLVED_TODAY)  # 13 people resolved a case today
    ranked = sorted(range(total), key=lambda person: (-RESOLVED_TODAY[person], LONG_NAMES[person]))
    for width, height in SIZES:
        sized(driver, width, height)
        assert measure(driver) == []
        board = next(board for board in driver.execute_script(BOARDS) if board["title"].startswith("Resolved"))
        shown = len(board["rows"])
        assert 2 <= shown < total, board  # two-line names: at 1280x720 two rows fit under the cards
        assert board["rows"] == [LONG_NAMES[person] for person in ranked[:shown]]  # the leaders, in order
        assert board["more"] == f"and {total - shown} more", board  # visible, and it counts what was left out


def test_the_sales_slide_compares_with_yesterday(crowded, live_server, tv_browser) -> None:
    driver = tv_browser
    driver.get(tv_url(live_server.url, "sales"))
    wait_for(lambda: text(driver, "tv-sales-calls") == "552", message="today's calls")
    footers = dict(
        driver.execute_script(
            """return [...document.querySelectorAll('#tv-panel .kpi-card')].map((card) => [
                card.querySelector('.kpi-label').textContent, card.querySelector('.kpi-footer').textContent])"""
        )
    )
    # Today: 552 calls + 8 demos × 5 points = 592 points, 2 people at the 100-point goal; yesterday 300 calls.
    assert text(driver, "tv-sales-points") == "592"
    assert re.fullmatch(r"▲ 292 vs yesterday.*", footers["Team points"]), footers
    assert re.fullmatch(r"▲ 252 vs yesterday.*", footers["Phone calls"]), footers
    assert re.fullmatch(r"▲ 8 vs yesterday.*", footers["Demo Scheduled"]), footers
    assert re.fullmatch(r"▲ 2 vs yesterday.*", footers["At goal"]), footers
    for footer in driver.find_elements(By.CSS_SELECTOR, "#tv-panel .kpi-footer"):
        assert footer.is_displayed()


QUIET = {
    "cases": (
        "No cases yet today",
        {
            "tv-cases-yesterday-created": "22",
            "tv-cases-yesterday-resolved": "12",
            "tv-cases-yesterday-kill-rate": "54%",
        },
    ),
    "redmine": (
        "No issues yet today",
        {
            "tv-redmine-yesterday-created": "11",
            "tv-redmine-yesterday-resolved": "7",
            "tv-redmine-yesterday-kill-rate": "63%",
        },
    ),
    "sales": ("No sales activity yet today", {"tv-sales-yesterday-calls": "300", "tv-sales-yesterday-points": "300"}),
}


@pytest.mark.parametrize("page", ["cases", "sales", "redmine"])
def test_a_quiet_morning_says_so_and_shows_yesterday(quiet, live_server, tv_browser, page: str) -> None:
    driver = open_slide(tv_browser, live_server.url, page)
    message, yesterday = QUIET[page]
    hero = wait_for(
        lambda: next((el for el in driver.find_elements(By.CSS_SELECTOR, "#tv-panel *") if el.text == message), None),
        message=f"'{message}' on the {page} slide",
    )
    assert hero.is_displayed()
    size = float(driver.execute_script("return parseFloat(getComputedStyle(arguments[0]).fontSize)", hero))
    assert size >= 64, size  # large type: 6 % of a 1080 px screen or more, not small grey text
    for element_id, value in yesterday.items():
        figure = driver.find_element(By.ID, element_id)
        assert figure.is_displayed() and figure.text == value, (element_id, figure.text)
    time.sleep(0.6)
    screenshot(driver, f"tv-quiet-{page}-1920")
    assert "YESTERDAY · TUESDAY 3 MARCH" in driver.find_element(By.ID, "tv-panel").text
    for width, height in SIZES:
        sized(driver, width, height)
        assert measure(driver) == [], (page, width)
    assert console_errors(driver) == []

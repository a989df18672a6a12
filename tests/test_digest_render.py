"""digest/render.py on a digest built by hand: numbers as the pages write them, the direction colours, the at-risk
list capped with a count, and Slack's limits."""

from __future__ import annotations

import json
from datetime import date, datetime

from digest.compose import CasesSection, Digest, Figure, Period
from digest.render import BAD, GOOD, NEUTRAL, change, number, render_html, render_text, slack_payload
from digest.support_figures import AtRiskCase


def test_numbers_are_written_as_the_pages_write_them() -> None:
    assert [number(None), number(1234), number(2.5), number(66.99, "percent"), number(3.25, "hours")] == [
        "—", "1,234", "2.5", "66%", "3.2 h"
    ]  # fmt: skip
    assert number(float("nan"), "percent") == "—"


def test_a_change_is_green_when_it_goes_the_good_way() -> None:
    assert change(Figure("Resolved", 5, 3)) == {"text": "▲ 2", "color": GOOD}
    assert change(Figure("Created", 5, 3, better="down")) == {"text": "▲ 2", "color": BAD}
    faster = Figure("Resolution time", 2.0, 3.5, kind="hours", better="down")
    assert change(faster) == {"text": "▼ 1.5 h", "color": GOOD}
    assert change(Figure("SLA met", 80.0, 90.0, kind="percent")) == {"text": "▼ 10 pts", "color": BAD}
    assert change(Figure("Created", 4, 4)) == {"text": "same", "color": NEUTRAL}
    assert change(Figure("SLA met", None, 90.0)) == {"text": "", "color": NEUTRAL}


def at_risk(count: int) -> list[AtRiskCase]:
    return [AtRiskCase(f"CC{n}", f"Case {n}", "Support", "Ann", "High", datetime(2026, 12, 3, 9), f"https://crm/{n}",
                       breached=n < 3) for n in range(count)]  # fmt: skip


def test_the_at_risk_list_is_capped_and_counted() -> None:
    period = Period("day", "Wed 2 Dec", "Tue 1 Dec", [Figure("Created", 1, 0)])
    section = CasesSection("", [period], 4, at_risk(13), True, "https://kpi.example.com/cases?date=2026-12-02")
    digest = Digest(day=date(2026, 12, 2), today=date(2026, 12, 3), cases=[section])

    text, html = render_text(digest), render_html(digest)
    assert "Yesterday and the week so far" in text
    older = Digest(day=date(2026, 11, 30), today=date(2026, 12, 3))
    assert "Monday 30 November and its week, as the dashboard shows them today." in render_text(older)
    assert "AT-RISK CASES (3 past due, 10 due within hours)" in text
    assert "CC9 " in text and "CC10" not in text and "and 3 more" in text
    assert "and 3 more" in html and 'href="https://crm/9"' in html and "https://crm/10" not in html
    payload = slack_payload(digest)
    assert "and 3 more" in json.dumps(payload)
    assert all(len(block.get("fields", [])) <= 10 for block in payload["blocks"])

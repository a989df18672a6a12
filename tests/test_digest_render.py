"""digest/render.py on a digest built by hand: numbers as the pages write them, the direction colours, the at-risk
list capped with a count, Slack's limits, and HTML that common mail clients read (parsed, not pattern-matched)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime
from html.parser import HTMLParser

from digest.compose import CasesSection, Digest, Figure, Period, RedmineSection, SalesPeriod, SalesSection
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


class MailHtml(HTMLParser):
    """The tags of an HTML e-mail with their attributes, the doctype, and where each tag sits (inside <head>?)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str], bool]] = []
        self.doctype = ""
        self.in_head = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}, self.in_head))
        self.in_head = self.in_head or tag == "head"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.in_head = self.in_head and tag != "head"

    def of(self, *names: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs, _ in self.tags if tag in names]


def every_section_digest() -> Digest:
    figures = [Figure("Created", 3, 1, better="down"), Figure("Kill rate", 66.0, None, kind="percent")]
    period = Period("day", "Wed 2 Dec", "Tue 1 Dec", figures)
    cases = CasesSection("Support", [period], 4, at_risk(12), False, "https://kpi.example.com/cases?date=2026-12-02")
    no_link = AtRiskCase("CC99", "No link", "Support", "", "Low", datetime(2026, 12, 3, 9), "", breached=False)
    cases = replace(cases, at_risk=[no_link, *cases.at_risk])
    sales = SalesSection(
        "Sales",
        [SalesPeriod("day", "Wed 2 Dec", "Tue 1 Dec", 14, 9, 8, 3, [("Ann", 8), ("Bob", 1)], ["Ann"])],
        "https://kpi.example.com/sales?date=2026-12-02",
    )
    redmine = RedmineSection("Portal", [period], 2, "https://kpi.example.com/redmine?date=2026-12-02&project=Portal")
    return Digest(day=date(2026, 12, 2), today=date(2026, 12, 3), cases=[cases], sales=[sales], redmine=[redmine])


def test_the_html_holds_nothing_common_mail_clients_drop_or_choke_on() -> None:
    html = render_html(every_section_digest())
    page = MailHtml()
    page.feed(html)
    page.close()
    styles = [attrs["style"] for attrs in page.of(*{tag for tag, _, _ in page.tags}) if "style" in attrs]

    assert page.doctype.lower() == "doctype html"
    (root,) = page.of("html")
    assert root.get("lang") == "en"
    head_meta = [attrs for tag, attrs, in_head in page.tags if tag == "meta" and in_head]
    assert head_meta and head_meta[0].get("charset", "").lower() == "utf-8"  # first in <head>, before any text
    # Nothing clients strip or refuse: no style sheet (every style is inline), scripts, frames, forms or media.
    dropped = {"style", "link", "script", "iframe", "object", "embed", "form", "input", "svg", "video", "audio", "base"}
    assert {tag for tag, _, _ in page.tags} & dropped == set()
    assert all("class" not in attrs and not any(name.startswith("on") for name in attrs) for _, attrs, _ in page.tags)
    assert all(attrs.get("alt") for attrs in page.of("img"))  # none today; any image to come has an alt text
    # The layout lives on every element itself, in CSS that Outlook, Gmail and Apple Mail all read.
    for tag in ("body", "table", "td", "p", "h1", "h2", "a", "span"):
        assert all(attrs.get("style") for attrs in page.of(tag)), f"a <{tag}> without an inline style"
    for style in styles:
        flat = style.replace(" ", "").lower()
        assert "var(" not in flat and "--" not in flat, style
        assert not re.search(r"display:(inline-)?(flex|grid)|\bflex[-:]|\bgrid[-:]|position:|float:", flat), style
        assert "url(" not in flat and "@" not in flat, style
    # Widths in the tables themselves: every table is laid out by its width attribute, and a cell's width in CSS is
    # repeated as an attribute (Outlook reads only the attribute).
    for table in page.of("table"):
        assert table.get("width") and table.get("cellpadding") == "0" and table.get("cellspacing") == "0", table
        assert table.get("border") == "0" and table.get("role") == "presentation", table
    for cell in page.of("td"):
        css = re.search(r"(?:^|;)\s*width:\s*([\d.]+(?:%|px))", cell.get("style", ""))
        if css:
            assert cell.get("width") in (css.group(1), css.group(1).removesuffix("px")), cell
    assert "<!--[if mso]>" in html  # Outlook's fixed-width frame around the max-width column

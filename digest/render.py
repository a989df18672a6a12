"""The digest as people read it: an HTML e-mail that reads well in common mail clients (inline styles, bars drawn
with tables, no images, no scripts), its plain-text part, the e-mail message itself and the chat message in
Slack's block format (which Mattermost and Rocket.Chat accept).

    message = email_message(digest, sender="kpi@example.com", to="ann@example.com")
    payload = slack_payload(digest)

The HTML and text come from Jinja templates in digest/templates (autoescaped HTML). Must not import Dash or Flask.
"""

from __future__ import annotations

import math
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from digest.compose import Digest, Figure, Period, SalesPeriod

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "—"
AT_RISK_SHOWN = 10  # the rest are counted and linked: a morning mail is not the place for a list of hundreds
# The dashboard's colours (assets/app.css): up is good in green, bad in red; bars in the brand blue.
GOOD, BAD, NEUTRAL, BAR, BAR_PREVIOUS, GOAL = "#1a7f37", "#c62828", "#6b7280", "#2563eb", "#c7d2fe", "#16a34a"


def number(value: float | int | None, kind: str = "count") -> str:
    """A figure as the pages write it: counts with separators, ratios in whole percent (truncated like the kill
    rate on the pages), hours to one decimal; "—" when not known."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if kind == "percent":
        return f"{math.floor(value + 1e-9)}%"
    if kind == "hours":
        return f"{value:,.1f} h"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def change(figure: Figure) -> dict[str, str]:
    """The change against the compared window: text ("▲ 3", "▼ 2.5 h", "same", "" when unknown) and colour."""
    if figure.value is None or figure.previous is None:
        return {"text": "", "color": NEUTRAL}
    delta = figure.value - figure.previous
    if abs(delta) < 1e-9:
        return {"text": "same", "color": NEUTRAL}
    arrow = "▲" if delta > 0 else "▼"
    good = (delta > 0) == (figure.better == "up")
    size = number(abs(delta), figure.kind) if figure.kind != "percent" else f"{abs(delta):.0f} pts"
    return {"text": f"{arrow} {size}", "color": GOOD if good else BAD}


def bar_widths(value: float | None, other: float | None) -> tuple[int, int]:
    """Widths in percent of two bars drawn against the larger of the two (0 when unknown)."""
    values = [v if v is not None and v == v and v > 0 else 0 for v in (value, other)]
    top = max(values) or 1
    return round(100 * values[0] / top), round(100 * values[1] / top)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.globals.update(
        change=change,
        bar_widths=bar_widths,
        colors={"good": GOOD, "bad": BAD, "neutral": NEUTRAL, "bar": BAR, "previous": BAR_PREVIOUS, "goal": GOAL},
    )
    return env


_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def render_html(digest: Digest) -> str:
    return environment().get_template("digest.html").render(**_context(digest))


def render_text(digest: Digest) -> str:
    return environment().get_template("digest.txt").render(**_context(digest))


def _context(digest: Digest) -> dict[str, Any]:
    cases = digest.at_risk
    breached = sum(1 for case in cases if case.breached)
    summary = f"{breached:,} past due, {len(cases) - breached:,} due within hours" if cases else ""
    return {
        "digest": digest,
        "group_name": group_name,
        "project_name": project_name,
        "at_risk_shown": cases[:AT_RISK_SHOWN],
        "at_risk_more": max(len(cases) - AT_RISK_SHOWN, 0),
        "at_risk_summary": summary,
        "cases_link": (digest.cases[0].support_link or digest.cases[0].link) if digest.cases else "",
    }


def group_name(group: str) -> str:
    return group or "All groups"


def project_name(project: str) -> str:
    return project or "All projects"


def email_message(digest: Digest, *, sender: str, to: str) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part last (the one clients prefer)."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] if "@" in sender else None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a report
    message.set_content(render_text(digest))
    message.add_alternative(render_html(digest), subtype="html")
    return message


# --- the chat message --------------------------------------------------------------------------------------------


def slack_payload(digest: Digest) -> dict[str, Any]:
    """An incoming-webhook payload: `text` (the notification and the fallback) and `blocks`."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(digest.subject)}]
    for section in digest.cases:
        blocks.append(_mrkdwn_section(f"*Cases · {group_name(section.group)}* · open now *{section.backlog:,}*"))
        blocks += [_period_block(period) for period in section.periods]
        support = f" · <{section.support_link}|the support page>" if section.support_link else ""
        blocks.append(_links_block(f"<{section.link}|Open the cases page>{support}"))
    for sales in digest.sales:
        blocks.append(_mrkdwn_section(f"*Sales · {group_name(sales.group)}*"))
        blocks += [_sales_block(period) for period in sales.periods]
        blocks.append(_links_block(f"<{sales.link}|Open the sales page>"))
    for redmine in digest.redmine:
        title = f"Redmine · {_escape(project_name(redmine.project))}"
        blocks.append(_mrkdwn_section(f"*{title}* · open now *{redmine.open_now:,}*"))
        blocks += [_period_block(period) for period in redmine.periods]
        blocks.append(_links_block(f"<{redmine.link}|Open the Redmine page>"))
    if digest.at_risk:
        lines = [
            f"{'Breached' if case.breached else 'At risk'}: <{case.url}|{_escape(case.case_no)}> "
            f"{_escape(case.title)} · {_escape(case.assignee or 'nobody')}"
            if case.url
            else f"{'Breached' if case.breached else 'At risk'}: {_escape(case.case_no)} {_escape(case.title)}"
            for case in digest.at_risk[:AT_RISK_SHOWN]
        ]
        more = len(digest.at_risk) - AT_RISK_SHOWN
        if more > 0:
            lines.append(f"and {more:,} more")
        blocks.append(_mrkdwn_section("*At-risk cases*\n" + "\n".join(lines)))
    return {"text": digest.subject, "blocks": blocks[:50]}  # Slack takes at most 50 blocks


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": False}


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _links_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _escape(text: str) -> str:
    """Slack's mrkdwn escapes: &, < and > (the rest is literal)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _period_block(period: Period) -> dict[str, Any]:
    fields = []
    for figure in period.figures[:10]:  # Slack takes at most 10 fields
        moved = change(figure)["text"]
        after = f" ({moved} vs {period.compared_with})" if moved else ""
        fields.append({"type": "mrkdwn", "text": f"{figure.label}: *{number(figure.value, figure.kind)}*{after}"})
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"_{period.title}_"}, "fields": fields}


def _sales_block(period: SalesPeriod) -> dict[str, Any]:
    top = ", ".join(f"{_escape(person)} {number(points)}" for person, points in period.top) or "nobody scored"
    reached = ", ".join(_escape(person) for person in period.reached) or "nobody"
    text = (
        f"_{period.title}_\nTeam points *{number(period.team_points)}* of {number(period.team_goal)} "
        f"({number(period.goal_each)} each × {period.people})\nTop five: {top}\nReached the goal: {reached}"
    )
    return _mrkdwn_section(text)

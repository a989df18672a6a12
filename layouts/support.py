"""/support: what a help-desk lead runs the team by. The shared control bar (date, window, group, auto refresh);
cards for resolution time (business and calendar hours, against the previous window), SLA met / breached and
reopens; the distribution of resolution times; the open cases at risk and already breached, linked to VTiger;
backlog age per group and person with the oldest case and the daily median-age trend; reopen rate per person;
and Redmine's time to close, overdue issues and backlog age.

`layout` is the page's frame; `body` turns a view_models.support SupportView (and RedmineSupportView) into components
(callbacks/support.py calls it). Must not import callbacks/, models/ or sync/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dash import html

from layouts.components import (
    COLORS,
    bar_figure,
    defined_title,
    export_link,
    format_number,
    format_percent,
    graph,
    kpi_card,
    line_figure,
    meaning_panel,
    no_data,
    section,
)
from layouts.controls import control_bar, current_now, current_timing, page_header
from metrics.support import AGE_BUCKETS, RESOLVED_WITHIN, NamedResolution, OpenCase
from metrics.windows import to_local_datetime
from view_models.page_state import PageState, local_today, parse_page_query
from view_models.page_state import export_href as page_export_href
from view_models.support import OpenIssue, RedmineSupportView, SupportView

PREFIX = "support"
BUCKET_NAMES = [name for name, _ in AGE_BUCKETS]


def layout(query: Mapping[str, str]) -> html.Div:
    from view_models.cases import group_choices
    from web.runtime import current_runtime

    runtime = current_runtime()
    groups = group_choices(runtime.engine)
    state = parse_page_query(query, local_today(runtime.settings.timezone, current_now()), groups)
    return html.Div(
        [
            page_header("Support", f"{PREFIX}-subtitle"),
            control_bar(PREFIX, state, groups, timing=current_timing()),
            html.Div(id=f"{PREFIX}-body", className="support-body"),
            meaning_panel(PREFIX, f"{PREFIX}-meaning"),
        ],
        className="page page-support",
    )


def body(view: SupportView, redmine: RedmineSupportView | None, state: PageState, tz_name: str) -> list[Any]:
    """Every section of the page for one view."""
    label = view.comparison.label
    parts = [
        html.Div(cards(view, state, label), className="support-cards", id=f"{PREFIX}-cards"),
        html.Div(
            [
                section(
                    defined_title("Resolved within", "support.within", f"{PREFIX}-within"),
                    graph(f"{PREFIX}-within-chart", height=300, figure=within_figure(view)),
                    subtitle=f"{view.resolution.count} resolved · {view.window.label()}",
                    actions=export_link(export_href(state, "resolved")),
                ),
                section(
                    defined_title("Resolution time per person", "support.by_person", f"{PREFIX}-by-person"),
                    resolution_table(view.resolution_by_person, "Person", f"{PREFIX}-by-person-table"),
                    subtitle="business hours (calendar hours)",
                ),
            ],
            className="charts-2",
        ),
        section(
            defined_title("At risk and breached", "support.at_risk", f"{PREFIX}-lists"),
            html.Div(
                [
                    case_list("At risk", view.at_risk, tz_name, view.now, f"{PREFIX}-at-risk"),
                    case_list("Breached", view.breached_now, tz_name, view.now, f"{PREFIX}-breached"),
                ],
                className="charts-2",
            ),
            actions=html.Div(
                [
                    export_link(export_href(state, "at_risk"), label="At risk CSV"),
                    export_link(export_href(state, "breached"), label="Breached CSV"),
                ],
                className="support-exports",
            ),
        ),
        html.Div(
            [
                section(
                    defined_title("Backlog age", "support.age", f"{PREFIX}-age"),
                    [
                        oldest_line(view.backlog.oldest, view.now),
                        bucket_table(view.backlog_by_group, "Group", f"{PREFIX}-age-groups"),
                        bucket_table(view.backlog_by_person, "Person", f"{PREFIX}-age-people"),
                    ],
                    subtitle=f"{view.backlog.open} open now",
                    actions=export_link(export_href(state, "backlog")),
                ),
                section(
                    defined_title("Median backlog age per day", "support.age_trend", f"{PREFIX}-trend"),
                    graph(f"{PREFIX}-trend-chart", height=300, figure=trend_figure(view)),
                    subtitle="days",
                ),
            ],
            className="charts-2",
        ),
        section(
            defined_title("Reopen rate per person", "support.reopen_rate", f"{PREFIX}-reopens"),
            reopen_table(view),
            subtitle=f"{view.reopened} reopened · {view.window.label()}",
            actions=export_link(export_href(state, "reopened")),
        ),
    ]
    if redmine is not None:
        parts.append(redmine_section(redmine, state, tz_name))
    return parts


def export_href(state: PageState, kpi: str, page: str = "cases") -> str:
    return page_export_href(page, state, kpi, selector_key="group" if page == "cases" else "project")


# --- cards ----------------------------------------------------------------------------------------------------------


def cards(view: SupportView, state: PageState, label: str) -> list[Any]:
    now, before = view.resolution, view.previous_resolution
    return [
        kpi_card(
            "Resolved cases", now.count, previous=before.count, previous_label=label, kpi="support.resolved",
            card_id=f"{PREFIX}-resolved", export_href=export_href(state, "resolved"),
        ),
        hours_card("Median resolution", now.median_business_hours, before.median_business_hours, now.median_hours,
                   label, "support.median", f"{PREFIX}-median"),
        hours_card("90th percentile resolution", now.p90_business_hours, before.p90_business_hours, now.p90_hours,
                   label, "support.p90", f"{PREFIX}-p90"),
        kpi_card(
            "SLA met", view.sla.met_pct, previous=view.previous_sla.met_pct, previous_label=label, percent=True,
            kpi="support.sla_met", card_id=f"{PREFIX}-sla-met", good_when="up",
        ),
        kpi_card(
            "SLA breached", view.sla.breached, previous=view.previous_sla.breached, previous_label=label,
            kpi="support.sla_breached", card_id=f"{PREFIX}-sla-breached", good_when="down",
            export_href=export_href(state, "breached"),
        ),
        kpi_card(
            "Reopened", view.reopened, previous=view.previous_reopened, previous_label=label, kpi="support.reopened",
            card_id=f"{PREFIX}-reopened", good_when="down", export_href=export_href(state, "reopened"),
        ),
        kpi_card(
            "Backlog", view.backlog.open, compare=False, kpi="support.backlog", card_id=f"{PREFIX}-backlog",
            export_href=export_href(state, "backlog"),
        ),
    ]  # fmt: skip


def hours_card(
    title: str,
    business: float | None,
    previous: float | None,
    calendar: float | None,
    label: str,
    kpi: str,
    card_id: str,
) -> html.Div:
    """A duration card: business hours large, compared with the previous window; calendar hours beneath."""
    card = kpi_card(
        title, _round(business), previous=_round(previous), previous_label=label, kpi=kpi, card_id=card_id,
        good_when="down",
    )  # fmt: skip
    unit = f"business hours · {hours_text(calendar)} calendar" if calendar is not None else "business hours"
    card.children.insert(2, html.Div(unit, className="kpi-note support-unit"))
    return card


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def hours_text(value: float | None) -> str:
    """ "3.5 h"; "—" for nothing."""
    return "—" if value is None else f"{format_number(round(value, 1))} h"


# --- charts ---------------------------------------------------------------------------------------------------------


def within_figure(view: SupportView) -> Any:
    names = list(RESOLVED_WITHIN)
    values = [view.resolved_within.get(name, 0) for name in names]
    return bar_figure(
        names, {"Resolved": values}, uirevision=f"{PREFIX}-within", colors={"Resolved": COLORS["resolved"]},
        empty="Nothing resolved in this window",
    )  # fmt: skip


def trend_figure(view: SupportView) -> Any:
    days = [f"{day:%d %b}" for day, _ in view.median_age_trend]
    values = [None if value is None else round(value, 1) for _, value in view.median_age_trend]
    return line_figure(days, {"Median age (days)": values}, uirevision=f"{PREFIX}-trend", empty="No open cases")


# --- tables and lists -----------------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: list[list[Any]], table_id: str, empty: str) -> html.Div:
    """A plain table that scrolls inside its own box on a narrow screen (the page never scrolls sideways)."""
    if not rows:
        return no_data(empty, compact=True)
    return html.Div(
        html.Table(
            [
                html.Thead(html.Tr([html.Th(name) for name in header])),
                html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
            ],
            className="support-table",
            id=table_id,
        ),
        className="support-table-wrap table-responsive",
    )


def resolution_table(entries: Sequence[NamedResolution], who: str, table_id: str) -> html.Div:
    rows = [
        [
            entry.name,
            format_number(entry.figures.count),
            _pair(entry.figures.median_business_hours, entry.figures.median_hours),
            _pair(entry.figures.p90_business_hours, entry.figures.p90_hours),
        ]
        for entry in entries
    ]
    return table([who, "Resolved", "Median", "90th pct"], rows, table_id, "Nothing resolved in this window")


def _pair(business: float | None, calendar: float | None) -> str:
    return f"{hours_text(business)} ({hours_text(calendar)})"


def case_link(case: OpenCase) -> Any:
    text = case.case_no or case.case_id
    if not case.url:
        return html.Span(text)
    return html.A(text, href=case.url, target="_blank", rel="noopener", className="support-case-link")


def case_list(title: str, found: Sequence[OpenCase], tz_name: str, now: datetime, list_id: str) -> html.Div:
    rows = [
        [case_link(case), case.title, case.priority, case.assignee or "Unassigned", local_text(case.due_at, tz_name),
         due_text(case.due_at, now)]
        for case in found[:50]
    ]  # fmt: skip
    more = html.Div(f"and {len(found) - 50} more (CSV)", className="lb-more") if len(found) > 50 else None
    return html.Div(
        [
            html.H3(f"{title} ({len(found)})", className="support-list-title"),
            table(["Case", "Title", "Priority", "Assignee", "Due", ""], rows, list_id, f"No case {title.lower()}"),
            more,
        ],
        className="support-list",
    )


def local_text(moment: datetime | None, tz_name: str) -> str:
    return "" if moment is None else f"{to_local_datetime(moment, tz_name):%a %d %b %H:%M}"


def due_text(due: datetime | None, now: datetime) -> str:
    """ "in 2.5 h" or "3.0 h late" (calendar hours from now)."""
    if due is None:
        return ""
    hours = (due - now).total_seconds() / 3600
    return f"in {hours:.1f} h" if hours >= 0 else f"{-hours:.1f} h late"


def oldest_line(oldest: OpenCase | None, now: datetime) -> html.Div:
    if oldest is None:
        return html.Div("No open cases", className="support-oldest")
    age = (now - oldest.created_at).total_seconds() / 86400
    return html.Div(
        [
            html.Span("Oldest open case: "),
            case_link(oldest),
            html.Span(f" {oldest.title} · {age:.0f} days · {oldest.assignee or 'Unassigned'}"),
        ],
        className="support-oldest",
        id=f"{PREFIX}-oldest",
    )


def bucket_table(entries: Sequence[tuple[str, dict[str, int]]], who: str, table_id: str) -> html.Div:
    rows = [[name, *(format_number(buckets[bucket]) for bucket in BUCKET_NAMES)] for name, buckets in entries]
    return table([who, *BUCKET_NAMES], rows, table_id, "No open cases")


def reopen_table(view: SupportView) -> html.Div:
    reopens = dict(view.reopens_by_person)
    rows = [
        [name, format_number(reopens.get(name, 0)), format_percent(rate)] for name, rate in view.reopen_rate_by_person
    ]
    return table(["Person", "Reopened", "Rate"], rows, f"{PREFIX}-reopen-table", "Nothing resolved in this window")


# --- Redmine --------------------------------------------------------------------------------------------------------


def redmine_section(view: RedmineSupportView, state: PageState, tz_name: str) -> html.Div:
    close = view.close_time
    rows = [
        [
            entry.name,
            format_number(entry.figures.count),
            _pair(entry.figures.median_business_hours, entry.figures.median_hours),
            _pair(entry.figures.p90_business_hours, entry.figures.p90_hours),
        ]
        for entry in view.close_time_by_project
    ]
    summary = (
        f"{close.count} closed · median {_pair(close.median_business_hours, close.median_hours)} · "
        f"90th pct {_pair(close.p90_business_hours, close.p90_hours)} · before: "
        f"{_pair(view.previous_close_time.median_business_hours, view.previous_close_time.median_hours)} "
        f"({view.comparison.label})"
    )
    overdue = [
        [issue_link(issue), issue.subject, issue.project, issue.assignee or "Unassigned",
         "" if issue.due_date is None else f"{issue.due_date:%a %d %b}"]
        for issue in view.overdue[:50]
    ]  # fmt: skip
    redmine_state = PageState(state.day, state.window, "", state.follow_today, state.today)
    return html.Div(
        [
            html.H2("Redmine", className="support-part-title"),
            html.Div(
                [
                    section(
                        defined_title("Redmine time to close", "support.redmine_close", f"{PREFIX}-rm-close"),
                        [
                            html.Div(summary, className="support-summary", id=f"{PREFIX}-rm-summary"),
                            table(
                                ["Project", "Closed", "Median", "90th pct"],
                                rows,
                                f"{PREFIX}-rm-close-table",
                                "Nothing closed in this window",
                            ),
                        ],
                        subtitle="business hours (calendar hours)",
                        actions=export_link(export_href(redmine_state, "resolved", "redmine")),
                    ),
                    section(
                        defined_title("Overdue issues", "support.redmine_overdue", f"{PREFIX}-rm-overdue"),
                        table(
                            ["Issue", "Subject", "Project", "Assignee", "Due"],
                            overdue,
                            f"{PREFIX}-rm-overdue-table",
                            "No overdue issues",
                        ),
                        subtitle=f"{len(view.overdue)} overdue",
                        actions=export_link(export_href(redmine_state, "overdue", "redmine")),
                    ),
                ],
                className="charts-2",
            ),
            section(
                defined_title("Redmine backlog age", "support.redmine_backlog", f"{PREFIX}-rm-age"),
                bucket_table(view.backlog_by_project, "Project", f"{PREFIX}-rm-age-table"),
                subtitle=f"{view.backlog.open} open now",
                actions=export_link(export_href(redmine_state, "backlog", "redmine")),
            ),
        ],
        className="support-redmine",
    )


def issue_link(issue: OpenIssue) -> Any:
    text = f"#{issue.issue_id}"
    if not issue.url:
        return html.Span(text)
    return html.A(text, href=issue.url, target="_blank", rel="noopener", className="support-case-link")


def subtitle(state: PageState, view: SupportView) -> str:
    return f"{state.selector or 'All groups'} · {view.window.label()}"


def day_of(value: date) -> str:
    return f"{value:%d %b}"

"""The demo source: deterministic synthetic VTiger and Redmine records, served by the in-memory emulators
(sync/demo/vtiger_emulator.py, sync/demo/redmine_emulator.py) to the real clients, so demo rows go through
exactly the mapping, upsert and watermark code that real rows go through. No table is written here except the
demo's anchor in `sync_state`; loading the demo is sync/demo/load.py.

The data: 30 people in 4 VTiger groups (Support, Tier 2, Sales, Sales Managers) and about 90 days of history
before the anchor date, generated day by day from `random.Random` seeded with the day, so any day always comes
out the same. Cases follow a working rhythm (weekdays busier, business hours in TIMEZONE, resolutions lagging
creation, some reopened, most Closed a few days after Resolved); deals walk the default stages and fill the
"stage changed at" fields; salespeople make dozens of calls a weekday; Redmine issues spread over 3 projects.
Every record is a list of versions (each edit is one), and a version is handed to its emulator only once the
clock has passed its modifiedtime. So the history appears at the first sync, and every later sync finds what
"happened" since: a demo TV keeps moving, day after day, without the data ever shifting.

The anchor (the date of the first demo load) is stored once in sync_state (source "demo", module "anchor").
Generated data is cached per process, so the embedded scheduler does not rebuild it every 10 minutes.

Must not import Dash or Flask.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from models.db import utcnow
from settings import SalesRules, Settings
from sync.engine import read_state, write_state

if TYPE_CHECKING:  # for the annotations only; the functions below import the clients where they use them
    from sync.redmine import RedmineClient
    from sync.vtiger import VtigerClient

SEED = 20_240_611
HISTORY_DAYS = 90
SOURCE, ANCHOR_MODULE = "demo", "anchor"
REWIND_TOLERANCE = timedelta(minutes=5)  # threads reading the clock in turn are not a clock set back
API_USER, API_KEY = "demo", "demo"
VTIGER_TIME = "%Y-%m-%d %H:%M:%S"
REDMINE_TIME = "%Y-%m-%dT%H:%M:%SZ"

clock: Callable[[], datetime] = utcnow
"""The demo's "now" (naive UTC). Tests replace it to move time forward; everything else leaves it alone."""

# --- people -----------------------------------------------------------------------------------------------------

GROUPS = (("20x2", "Support"), ("20x3", "Tier 2"), ("20x4", "Sales"), ("20x5", "Sales Managers"))
_NAMES = (
    # Support (12)
    ("Ava", "Thompson"), ("Liam", "Garcia"), ("Mia", "Patel"), ("Noah", "Kim"), ("Emma", "Rossi"),
    ("Lucas", "Nguyen"), ("Zoe", "Fischer"), ("Ethan", "Okafor"), ("Chloe", "Dubois"), ("Owen", "Larsen"),
    ("Grace", "Silva"), ("Jack", "Murphy"),
    # Tier 2 (5)
    ("Nora", "Bergstrom"), ("Samuel", "Adeyemi"), ("Leah", "Novak"), ("Isaac", "Moreau"), ("Ruby", "Tanaka"),
    # Sales (10)
    ("Olivia", "Bennett"), ("James", "Carter"), ("Sophia", "Alvarez"), ("Henry", "Walsh"), ("Isla", "Schmidt"),
    ("Leo", "Jensen"), ("Amelia", "Costa"), ("Daniel", "Hughes"), ("Hannah", "Kowalski"), ("Max", "Lindqvist"),
    # Sales Managers (3)
    ("Victoria", "Reyes"), ("Thomas", "Whitaker"), ("Claire", "Mbeki"),
)  # fmt: skip
_TEAM_SIZES = (("20x2", 12), ("20x3", 5), ("20x4", 10), ("20x5", 3))


@dataclass(frozen=True)
class Person:
    ws_id: str  # VTiger user id
    redmine_id: int  # 0: no Redmine account
    first: str
    last: str
    group_id: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def login(self) -> str:
        return f"{self.first}.{self.last}@example.com".lower()


def _people() -> tuple[Person, ...]:
    groups = [group for group, size in _TEAM_SIZES for _ in range(size)]
    people = []
    for index, ((first, last), group) in enumerate(zip(_NAMES, groups, strict=True)):
        technical = group in ("20x2", "20x3")  # support people file Redmine issues; Tier 2 works them
        people.append(Person(f"19x{index + 5}", index + 5 if technical else 0, first, last, group))
    return tuple(people)


PEOPLE = _people()
ADMIN = Person("19x1", 1, "Demo", "Admin", "")


def members(group_id: str) -> list[Person]:
    return [person for person in PEOPLE if person.group_id == group_id]


SUPPORT, TIER2, SALES, MANAGERS = (members(group) for group, _ in GROUPS)
REDMINE_GROUP = {"id": 40, "name": "Tier 2 Team"}
REDMINE_PROJECTS = ({"id": 1, "name": "Platform"}, {"id": 2, "name": "Mobile App"}, {"id": 3, "name": "Integrations"})
REDMINE_TRACKERS = ({"id": 1, "name": "Bug"}, {"id": 2, "name": "Feature"}, {"id": 3, "name": "Support"})
REDMINE_PRIORITIES = (
    {"id": 1, "name": "Low"},
    {"id": 2, "name": "Normal"},
    {"id": 3, "name": "High"},
    {"id": 4, "name": "Urgent"},
    {"id": 5, "name": "Immediate"},
)
REDMINE_STATUSES = {
    "New": {"id": 1, "name": "New", "is_closed": False},
    "In Progress": {"id": 2, "name": "In Progress", "is_closed": False},
    "Resolved": {"id": 3, "name": "Resolved", "is_closed": False},
    "Feedback": {"id": 4, "name": "Feedback", "is_closed": False},
    "Closed": {"id": 5, "name": "Closed", "is_closed": True},
    "Rejected": {"id": 6, "name": "Rejected", "is_closed": True},
}

_CASE_SUBJECTS = (
    "Login fails after password reset", "Invoice PDF is missing the logo", "Export to CSV times out",
    "Cannot add a new user", "Report totals do not match", "Email notifications not arriving",
    "Mobile app crashes on start", "Two-factor code rejected", "Dashboard loads slowly", "Wrong tax rate on quote",
    "Import skips rows with accents", "Calendar sync duplicates events", "API returns 500 on update",
    "Permission denied on shared folder", "Printer template cut off", "Cannot cancel subscription",
    "Search finds no results", "Attachment upload fails", "Time zone shown incorrectly", "Webhook not firing",
)  # fmt: skip
_COMPANIES = (
    "Acme Logistics", "Bluebird Dental", "Cedar Analytics", "Delta Freight", "Evergreen Foods", "Fjord Labs",
    "Granite Legal", "Harbor Health", "Indigo Retail", "Juniper Schools", "Keystone Energy", "Lumen Media",
    "Maple Insurance", "Northwind Travel", "Orchid Hotels", "Pioneer Farms", "Quartz Security", "Riverbend Clinic",
    "Summit Realty", "Tidewater Marine", "Union Bakery", "Vertex Robotics", "Willow Finance", "Yarrow Studios",
)  # fmt: skip
_ISSUE_SUBJECTS = (
    "Null pointer in sync worker", "Add bulk edit to contacts", "Session expires too early", "Slow query on reports",
    "Upgrade TLS library", "Push notifications delayed", "Support SSO with Okta", "Memory leak in importer",
    "Broken link in footer", "Retry failed webhooks", "Paginate the audit log", "Crash when offline",
    "Localise date pickers", "Rate limit the public API", "Flaky test in billing", "Add dark mode",
)  # fmt: skip


# --- time helpers ------------------------------------------------------------------------------------------------


def _fmt_vtiger(moment: datetime) -> str:
    return moment.strftime(VTIGER_TIME)


def _fmt_redmine(moment: datetime) -> str:
    return moment.strftime(REDMINE_TIME)


class Calendar:
    """Local working hours in the organisation's time zone, converted to naive UTC for the records."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC).replace(tzinfo=None)

    def local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC).astimezone(self.tz).replace(tzinfo=None)

    def at(self, day: date, hours: float) -> datetime:
        """UTC time of a local wall-clock time on a day, `hours` after midnight."""
        return self.utc(datetime.combine(day, time()) + timedelta(hours=hours))

    def working(self, moment: datetime, rng: random.Random) -> datetime:
        """Move a UTC moment into working hours (weekdays 8:00-18:00 local): work done at night or over the
        weekend shows up the next working morning."""
        local = self.local(moment)
        if local.weekday() < 5 and 8 <= local.hour < 18:
            return moment
        day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return self.at(day, 8 + rng.uniform(0, 1.5))


def _business_hour(rng: random.Random, weekend: bool) -> float:
    """An hour of the day (local) with a morning peak, a lunch dip and a quiet late afternoon."""
    if weekend:
        return rng.uniform(9, 17)
    hours = (8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
    weights = (5, 10, 12, 11, 6, 9, 11, 10, 8, 4)
    return rng.choices(hours, weights)[0] + rng.random()


# --- records as lists of versions ---------------------------------------------------------------------------------


@dataclass(order=True)
class Event:
    """One thing that happens at the source at `at` (naive UTC): a record version appears, or it is deleted."""

    at: datetime
    seq: int
    module: str = field(compare=False)
    record: dict[str, Any] = field(compare=False)
    delete: bool = field(default=False, compare=False)


class Timeline:
    """Record versions in time order; `due(now)` hands over, once each, the ones whose time has come."""

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._seq = itertools.count()

    def add(self, at: datetime, module: str, record: dict[str, Any], *, delete: bool = False) -> None:
        # Whole seconds, as the APIs show them (and as `advance` compares them).
        heapq.heappush(self._heap, Event(at.replace(microsecond=0), next(self._seq), module, record, delete))

    def due(self, now: datetime) -> Iterator[Event]:
        while self._heap and self._heap[0].at <= now:
            yield heapq.heappop(self._heap)

    def pending(self) -> list[Event]:
        """What has not happened yet, in time order."""
        return sorted(self._heap)

    def __len__(self) -> int:
        return len(self._heap)


class Versions:
    """Builds the successive versions of one record: each `edit` copies the last one, changes fields and moves
    modifiedtime forward (never backwards, never twice in the same second)."""

    def __init__(self, first: dict[str, Any], at: datetime, time_key: str, fmt: Callable[[datetime], str]) -> None:
        self.time_key, self.fmt = time_key, fmt
        first[time_key] = fmt(at)
        self.items: list[tuple[datetime, dict[str, Any]]] = [(at, first)]

    @property
    def last(self) -> dict[str, Any]:
        return self.items[-1][1]

    @property
    def at(self) -> datetime:
        return self.items[-1][0]

    def edit(self, at: datetime, **changes: Any) -> datetime:
        at = max(at.replace(microsecond=0), self.at + timedelta(seconds=1))
        record = {**self.last, **changes, self.time_key: self.fmt(at)}
        self.items.append((at, record))
        return at


# --- the generator --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConfig:
    """What the generated data depends on, besides the day: the anchor and the settings it must agree with."""

    anchor: date
    history_days: int
    timezone: str
    stage_fields: tuple[tuple[str, str], ...]  # (stage name, its "changed at" custom field)
    stage_time_format: str
    stage_time_zone: str
    qualified_by_field: str

    @classmethod
    def of(cls, anchor: Anchor, settings: Settings) -> DemoConfig:
        rules: SalesRules = settings.kpi.sales
        return cls(
            anchor=anchor.day,
            history_days=anchor.history_days,
            timezone=settings.timezone,
            stage_fields=tuple((rule.name, rule.changed_at_field) for rule in rules.stages if rule.changed_at_field),
            stage_time_format=rules.stage_time_format,
            # Empty means "the API user's zone from /me", which the emulator reports as TIMEZONE.
            stage_time_zone=rules.stage_time_zone or settings.timezone,
            qualified_by_field=rules.qualified_by_field,
        )


class Generator:
    """Generates the demo's records day by day, in order, into a VTiger and a Redmine timeline.

    Each (kind, day) has its own random.Random, so a day's records do not depend on how far generation went;
    ids are numbered in creation order, which is deterministic because days are always generated in order.
    """

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.calendar = Calendar(ZoneInfo(config.timezone))
        self.stage_tz = ZoneInfo(config.stage_time_zone)
        self.vtiger = Timeline()
        self.redmine = Timeline()
        self.first_day = config.anchor - timedelta(days=config.history_days)
        self.next_day = self.first_day
        self.counters = {"Cases": 0, "Potentials": 0, "PhoneCalls": 0, "issues": 0}

    def extend_to(self, last_day: date) -> None:
        """Generate every day up to and including `last_day`."""
        while self.next_day <= last_day:
            day = self.next_day
            self._cases(day)
            self._deals(day)
            self._calls(day)
            self._issues(day)
            self.next_day += timedelta(days=1)

    def _rng(self, kind: str, day: date) -> random.Random:
        return random.Random(f"{SEED}:{kind}:{day.isoformat()}")

    def _next_id(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]

    def _creation_times(self, rng: random.Random, day: date, count: int) -> list[datetime]:
        weekend = day.weekday() >= 5
        moments = [self.calendar.at(day, _business_hour(rng, weekend)) for _ in range(count)]
        return sorted(moment.replace(microsecond=0) for moment in moments)

    def _emit(self, timeline: Timeline, module: str, versions: Versions) -> None:
        for at, record in versions.items:
            timeline.add(at, module, record)

    # --- cases ------------------------------------------------------------------------------------------------

    def _cases(self, day: date) -> None:
        rng = self._rng("cases", day)
        weekday = day.weekday()
        count = rng.randint(2, 6) if weekday >= 5 else rng.randint(28, 40) + (6 if weekday == 0 else 0)
        for created in self._creation_times(rng, day, count):
            self._case(rng, created)

    def _case(self, rng: random.Random, created: datetime) -> None:
        number = self._next_id("Cases")
        escalated = rng.random() < 0.15
        team, group = (TIER2, "20x3") if escalated else (SUPPORT, "20x2")
        creator = rng.choice([ADMIN, *SUPPORT])  # the portal/email channel creates as the API user
        record = {
            "id": f"39x{number}",
            "case_no": f"CC{20000 + number}",
            "title": rng.choice(_CASE_SUBJECTS),
            "casestatus": "New",
            "casepriority": rng.choices(("Low", "Medium", "High", "Urgent"), (20, 50, 22, 8))[0],
            "assigned_user_id": group,
            "group_id": group,
            "created_user_id": creator.ws_id,
            "modifiedby": creator.ws_id,
            "createdtime": _fmt_vtiger(created),
            "time_spent": "",
            "sla_actual_closureon": "",
            "satisfaction_index": "",
            "satisfaction_feedback": "",
            "contact_id": f"4x{rng.randint(1000, 9999)}",
            "casechannel": rng.choice(("Email", "Phone", "Portal", "Chat")),
            "isclosed": "0",
            "reopen_count": "0",
            "resolution_type": "",
        }
        case = Versions(record, created, "modifiedtime", _fmt_vtiger)
        if rng.random() < 0.01:  # spam, deleted within hours
            self._emit(self.vtiger, "Cases", case)
            self.vtiger.add(created + timedelta(hours=rng.uniform(0.5, 4)), "Cases", {"id": record["id"]}, delete=True)
            return
        owner = self._weighted_member(rng, team)
        moment = self.calendar.working(created + timedelta(minutes=rng.expovariate(1 / 40)), rng)
        moment = case.edit(moment, casestatus="Assigned", assigned_user_id=owner.ws_id, modifiedby=owner.ws_id)
        moment = case.edit(moment + timedelta(minutes=rng.uniform(5, 90)), casestatus="Open", modifiedby=owner.ws_id)
        if not escalated and rng.random() < 0.1:  # escalated to Tier 2 halfway
            owner = self._weighted_member(rng, TIER2)
            moment = case.edit(
                moment + timedelta(hours=rng.uniform(1, 20)), assigned_user_id=owner.ws_id, group_id="20x3"
            )
        if rng.random() < 0.06:  # still open: stuck, or waiting on the customer
            if rng.random() < 0.5:
                case.edit(moment + timedelta(hours=rng.uniform(1, 48)), casestatus="Wait for Customer")
            self._emit(self.vtiger, "Cases", case)
            return
        if rng.random() < 0.25:
            moment = case.edit(
                self.calendar.working(moment + timedelta(hours=rng.uniform(1, 8)), rng),
                casestatus=rng.choice(("Wait for Customer", "Wait for Third Party")),
                modifiedby=owner.ws_id,
            )
            moment = case.edit(moment + timedelta(hours=rng.uniform(4, 60)), casestatus="Open", modifiedby=owner.ws_id)
        spent = 0.0
        moment, spent = self._resolve(rng, case, moment, owner, spent)
        if rng.random() < 0.08:  # the customer comes back: reopened, then resolved again
            reopened = self.calendar.working(moment + timedelta(hours=rng.uniform(10, 72)), rng)
            moment = case.edit(
                reopened,
                casestatus="Open",
                sla_actual_closureon="",
                isclosed="0",
                reopen_count="1",
                modifiedby=owner.ws_id,
            )
            moment, spent = self._resolve(rng, case, moment, owner, spent)
        if rng.random() < 0.7:  # the auto-close workflow, a few days after Resolved
            satisfaction = rng.choices(("Satisfied", "Neutral", "Not Satisfied", ""), (60, 15, 5, 20))[0]
            case.edit(
                moment + timedelta(days=rng.uniform(2, 5)),
                casestatus="Closed",
                satisfaction_index=satisfaction,
                modifiedby=ADMIN.ws_id,
            )
        self._emit(self.vtiger, "Cases", case)

    def _resolve(
        self, rng: random.Random, case: Versions, since: datetime, owner: Person, spent: float
    ) -> tuple[datetime, float]:
        hours = min(rng.lognormvariate(1.8, 1.0), 24 * 12)  # median about 6 hours, a long tail of days
        resolved = self.calendar.working(since + timedelta(hours=hours), rng).replace(microsecond=0)
        spent += round(rng.uniform(0.1, 3.5), 3)
        moment = case.edit(
            resolved,
            casestatus="Resolved",
            time_spent=f"{spent:.3f}",
            isclosed="1",
            resolution_type=rng.choice(("Answered", "Fixed", "Configuration", "Duplicate")),
            modifiedby=owner.ws_id,
        )
        case.last["sla_actual_closureon"] = _fmt_vtiger(moment)  # VTiger's own resolution time: the edit's
        return moment, spent

    def _weighted_member(self, rng: random.Random, team: list[Person]) -> Person:
        """Some people handle more than others (a leaderboard with a shape)."""
        weights = [1.6 - index / len(team) for index in range(len(team))]
        return rng.choices(team, weights)[0]

    # --- deals ------------------------------------------------------------------------------------------------

    def _deals(self, day: date) -> None:
        rng = self._rng("deals", day)
        count = rng.randint(0, 1) if day.weekday() >= 5 else rng.randint(4, 9)
        for created in self._creation_times(rng, day, count):
            self._deal(rng, created)

    def _deal(self, rng: random.Random, created: datetime) -> None:
        number = self._next_id("Potentials")
        owner = self._weighted_member(rng, SALES) if rng.random() < 0.85 else rng.choice(MANAGERS)
        # An SDR or a manager often qualified the deal someone else now owns.
        qualifier = owner if rng.random() < 0.6 else rng.choice([*SALES, *MANAGERS])
        seats = rng.choice((5, 10, 15, 25, 40, 60, 100, 250))
        company = rng.choice(_COMPANIES)
        record = {
            "id": f"5x{number}",
            "potential_no": f"POT{1000 + number}",
            "potentialname": f"{company} - {seats} seats",
            "amount": f"{seats * rng.choice((240, 360, 480)):.8f}",
            "sales_stage": "Needs Analysis",
            "prev_sales_stage": "",
            "pipeline": "Standard Sales Pipeline",
            "probability": "10",
            "closingdate": (created + timedelta(days=rng.randint(30, 75))).strftime("%Y-%m-%d"),
            "createdtime": _fmt_vtiger(created),
            "assigned_user_id": owner.ws_id,
            "created_user_id": qualifier.ws_id,
            "modifiedby": qualifier.ws_id,
            "current_stage_entry_time": _fmt_vtiger(created),
            "isclosed": "0",
            "lost_reason": "",
            "forecast_category": "Pipeline",
            "related_to": f"3x{rng.randint(100, 999)}",
            "contact_id": f"4x{rng.randint(1000, 9999)}",
            self.config.qualified_by_field: qualifier.ws_id,
            **{changed_field: "" for _, changed_field in self.config.stage_fields},
        }
        deal = Versions(record, created, "modifiedtime", _fmt_vtiger)
        self._stage_field(deal.last, "Needs Analysis", created)
        moment = created
        path = (("Demo Scheduled", 0.7, (0.3, 4)), ("Demo Given", 0.8, (1, 7)), ("Quote Sent", 0.65, (1, 6)))
        for stage, chance, (low, high) in path:
            if rng.random() >= chance:
                self._end_early(rng, deal, moment, owner)
                self._emit(self.vtiger, "Potentials", deal)
                return
            moment = self._move(rng, deal, moment, stage, rng.uniform(low, high), owner)
        if rng.random() < 0.4:
            moment = self._move(rng, deal, moment, "Pilot", rng.uniform(2, 10), owner)
        if rng.random() < 0.85:
            final = "Closed Won" if rng.random() < 0.55 else "Closed Lost"
            self._move(rng, deal, moment, final, rng.uniform(3, 20), owner)
        self._emit(self.vtiger, "Potentials", deal)

    def _end_early(self, rng: random.Random, deal: Versions, moment: datetime, owner: Person) -> None:
        ending = rng.random()
        if ending < 0.55:
            self._move(rng, deal, moment, "Closed Lost", rng.uniform(2, 25), owner)
        elif ending < 0.7:
            self._move(rng, deal, moment, "Recycled", rng.uniform(5, 30), owner)
        # else: still open, stalled in its stage

    def _move(
        self, rng: random.Random, deal: Versions, since: datetime, stage: str, days: float, owner: Person
    ) -> datetime:
        at = self.calendar.working(since + timedelta(days=days), rng).replace(microsecond=0)
        at = max(at, deal.at + timedelta(seconds=1))
        closed = stage in ("Closed Won", "Closed Lost")
        probability = {"Demo Scheduled": "20", "Demo Given": "40", "Quote Sent": "60", "Pilot": "75"}
        changes: dict[str, Any] = {
            "sales_stage": stage,
            "prev_sales_stage": deal.last["sales_stage"],
            "probability": "100"
            if stage == "Closed Won"
            else "0"
            if closed or stage == "Recycled"
            else probability[stage],
            "current_stage_entry_time": _fmt_vtiger(at),
            "isclosed": "1" if closed else "0",
            "modifiedby": owner.ws_id,
        }
        if closed:
            changes["closingdate"] = self.calendar.local(at).strftime("%Y-%m-%d")
        if stage == "Closed Lost":
            changes["lost_reason"] = rng.choice(("Price", "Competitor", "No budget", "No decision"))
        at = deal.edit(at, **changes)
        self._stage_field(deal.last, stage, at)
        return at

    def _stage_field(self, record: dict[str, Any], stage: str, at: datetime) -> None:
        """The workflow-filled "<stage> changed at" field: local time in the stage zone, minute precision."""
        for name, changed_field in self.config.stage_fields:
            if name == stage:
                local = at.replace(tzinfo=UTC).astimezone(self.stage_tz)
                record[changed_field] = local.strftime(self.config.stage_time_format)

    # --- phone calls ------------------------------------------------------------------------------------------

    def _calls(self, day: date) -> None:
        rng = self._rng("calls", day)
        if day.weekday() >= 5:
            return
        calls = []
        for person in [*SALES, *MANAGERS]:
            if rng.random() < 0.05:  # a day off
                continue
            count = rng.randint(18, 40) if person.group_id == "20x4" else rng.randint(4, 12)
            calls += [(self.calendar.at(day, _business_hour(rng, False)), person) for _ in range(count)]
        for started, person in sorted(calls, key=lambda item: (item[0], item[1].ws_id)):
            self._call(rng, started.replace(microsecond=0), person)

    def _call(self, rng: random.Random, started: datetime, person: Person) -> None:
        number = self._next_id("PhoneCalls")
        status = rng.choices(("completed", "no-answer", "busy", "failed"), (65, 20, 8, 7))[0]
        seconds = int(min(rng.lognormvariate(5.2, 0.8), 3600)) if status == "completed" else 0
        ring = rng.randint(5, 35)
        ended = started + timedelta(seconds=seconds + ring)
        to_local = self.calendar.local  # VTiger gives call times in the API user's zone (reference 2.2)
        customer_kind = rng.choice(("Contacts", "Leads"))
        record = {
            "id": f"43x{number}",
            "callstatus": status,
            "direction": "outbound" if rng.random() < 0.85 else "inbound",
            "starttime": _fmt_vtiger(to_local(started)),
            "endtime": _fmt_vtiger(to_local(ended)),
            "totalduration": str(seconds + ring) if status == "completed" else "",
            "billduration": str(seconds) if status == "completed" else "",
            "assigned_user_id": person.ws_id,
            "user": person.ws_id,
            "created_user_id": person.ws_id,
            "modifiedby": person.ws_id,
            "customer": f"{'4' if customer_kind == 'Contacts' else '2'}x{rng.randint(1000, 9999)}",
            "customertype": customer_kind,
            "customernumber": f"+1555{rng.randint(0, 9_999_999):07d}",
            "gateway": "Dialpad",
            "sourceuuid": f"{rng.getrandbits(64):016x}",
            "recordingurl": f"https://dialpad.com/callhistory/callreview/{rng.getrandbits(48)}"
            if status == "completed"
            else "",
            "createdtime": _fmt_vtiger(ended),
        }
        self._emit(self.vtiger, "PhoneCalls", Versions(record, ended, "modifiedtime", _fmt_vtiger))

    # --- redmine ----------------------------------------------------------------------------------------------

    def _issues(self, day: date) -> None:
        rng = self._rng("issues", day)
        count = rng.randint(0, 2) if day.weekday() >= 5 else rng.randint(5, 12)
        for created in self._creation_times(rng, day, count):
            self._issue(rng, created)

    def _issue(self, rng: random.Random, created: datetime) -> None:
        number = self._next_id("issues")
        author = rng.choice([*SUPPORT, *TIER2])
        tracker = rng.choices(REDMINE_TRACKERS, (55, 25, 20))[0]
        issue: dict[str, Any] = {
            "id": number,
            "project": dict(rng.choices(REDMINE_PROJECTS, (50, 30, 20))[0]),
            "tracker": dict(tracker),
            "status": dict(REDMINE_STATUSES["New"]),
            "priority": dict(rng.choices(REDMINE_PRIORITIES, (15, 50, 22, 10, 3))[0]),
            "author": {"id": author.redmine_id, "name": author.name},
            "subject": rng.choice(_ISSUE_SUBJECTS),
            "description": "",
            "start_date": self.calendar.local(created).strftime("%Y-%m-%d"),
            "due_date": None,
            "done_ratio": 0,
            "is_private": False,
            "estimated_hours": rng.choice((None, None, 2.0, 4.0, 8.0, 16.0)),
            "created_on": _fmt_redmine(created),
            "closed_on": None,
        }
        assignee = rng.random()
        if assignee < 0.75:
            worker = self._weighted_member(rng, TIER2)
            issue["assigned_to"] = {"id": worker.redmine_id, "name": worker.name}
        elif assignee < 0.9:
            issue["assigned_to"] = dict(REDMINE_GROUP)
        versions = Versions(issue, created, "updated_on", _fmt_redmine)
        if rng.random() < 0.005:
            self._emit_issue(versions)
            self.redmine.add(created + timedelta(hours=rng.uniform(1, 48)), "issues", {"id": number}, delete=True)
            return
        moment = created
        if rng.random() < 0.1:  # rejected after triage
            at = self.calendar.working(moment + timedelta(hours=rng.uniform(2, 72)), rng)
            moment = versions.edit(at, status=dict(REDMINE_STATUSES["Rejected"]))
            versions.last["closed_on"] = _fmt_redmine(moment)
            self._emit_issue(versions)
            return
        if rng.random() < 0.12:  # still waiting in the backlog
            self._emit_issue(versions)
            return
        moment = versions.edit(
            self.calendar.working(moment + timedelta(hours=rng.uniform(1, 96)), rng),
            status=dict(REDMINE_STATUSES["In Progress"]),
            done_ratio=rng.choice((10, 30, 50)),
        )
        if rng.random() < 0.15:
            moment = versions.edit(
                self.calendar.working(moment + timedelta(hours=rng.uniform(4, 72)), rng),
                status=dict(REDMINE_STATUSES["Feedback"]),
            )
            moment = versions.edit(
                self.calendar.working(moment + timedelta(hours=rng.uniform(4, 96)), rng),
                status=dict(REDMINE_STATUSES["In Progress"]),
            )
        if rng.random() < 0.1:  # long-running work, still in progress
            self._emit_issue(versions)
            return
        moment = versions.edit(
            self.calendar.working(moment + timedelta(hours=rng.lognormvariate(3, 0.9)), rng),
            status=dict(REDMINE_STATUSES["Resolved"]),
            done_ratio=100,
        )
        if rng.random() < 0.8:
            moment = versions.edit(
                self.calendar.working(moment + timedelta(days=rng.uniform(0.5, 6)), rng),
                status=dict(REDMINE_STATUSES["Closed"]),
            )
            versions.last["closed_on"] = _fmt_redmine(moment)
        self._emit_issue(versions)

    def _emit_issue(self, versions: Versions) -> None:
        self._emit(self.redmine, "issues", versions)


# --- the emulators, fed from the timelines ---------------------------------------------------------------------------


def user_records() -> list[dict[str, Any]]:
    """The Users records (the API user first), shaped as `SELECT ... FROM Users` returns them."""
    users = [_user_record(ADMIN, "on")]
    return users + [_user_record(person, "off") for person in PEOPLE]


def _user_record(person: Person, is_admin: str) -> dict[str, Any]:
    login = API_USER if person is ADMIN else person.login
    return {
        "id": person.ws_id,
        "user_name": login,
        "first_name": person.first,
        "last_name": person.last,
        "email1": "demo@example.com" if person is ADMIN else person.login,
        "status": "Active",
        "is_admin": is_admin,
        "user_primary_group": person.group_id,
    }


def group_records() -> list[dict[str, Any]]:
    return [{"id": ws_id, "groupname": name, "description": f"{name} team"} for ws_id, name in GROUPS]


class DemoWorld:
    """The generator plus one emulator per source, advanced to a moment by `advance_*` (never backwards)."""

    def __init__(self, config: DemoConfig) -> None:
        from sync.demo.redmine_emulator import RedmineEmulator
        from sync.demo.vtiger_emulator import DEFAULT_PICKLISTS, VtigerEmulator

        self.config = config
        self.generator = Generator(config)
        self.now = datetime.min
        self._lock = threading.Lock()
        picklists = {module: dict(fields) for module, fields in DEFAULT_PICKLISTS.items()}
        stages = list(picklists["Potentials"]["sales_stage"])
        stages += [name for name, _ in config.stage_fields if name not in stages]  # kpi.toml's stage names
        picklists["Potentials"] = {**picklists["Potentials"], "sales_stage": stages}
        self.vtiger = VtigerEmulator(
            users=user_records(),
            groups=group_records(),
            picklists=picklists,
            clock=lambda: self.now,
            username=API_USER,
            access_key=API_KEY,
            time_zone=config.timezone,
        )
        self.redmine = RedmineEmulator(
            statuses=list(REDMINE_STATUSES.values()), clock=lambda: self.now, api_key=API_KEY
        )

    def advance(self, now: datetime) -> None:
        """Generate up to tomorrow (local) and hand every version due by `now` to its emulator."""
        with self._lock:
            if now <= self.now:
                return  # a thread that read the clock a moment before another: nothing new to show
            self.now = now.replace(microsecond=0)
            self.generator.extend_to(self.generator.calendar.local(now).date() + timedelta(days=1))
            for event in self.generator.vtiger.due(self.now):
                if event.delete:
                    self.vtiger.delete(event.module, event.record["id"], event.at)
                else:
                    self.vtiger.put(event.module, event.record)
            for event in self.generator.redmine.due(self.now):
                if event.delete:
                    self.redmine.delete_issue(event.record["id"])
                else:
                    self.redmine.put_issue(event.record, updated_at=event.at)


_worlds: dict[DemoConfig, DemoWorld] = {}
_worlds_lock = threading.Lock()


def world_for(config: DemoConfig, now: datetime) -> DemoWorld:
    """The process's demo world for this config, advanced to `now`. A clock set back by more than a moment (tests)
    gets a fresh world: emulators cannot un-happen what they were shown."""
    with _worlds_lock:
        world = _worlds.get(config)
        if world is None or now < world.now - REWIND_TOLERANCE:
            world = _worlds[config] = DemoWorld(config)
    world.advance(now)
    return world


def reset_cache() -> None:
    """Forget the generated data (tests use it to prove that a fresh generation gives the same rows)."""
    with _worlds_lock:
        _worlds.clear()


# --- anchor, clients ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """The demo's start, stored once: the date of the first demo sync and how many days of history precede it."""

    day: date
    history_days: int

    @property
    def first_day(self) -> date:
        return self.day - timedelta(days=self.history_days)


def demo_anchor(engine: Engine, now: datetime) -> Anchor:
    """Read the anchor from sync_state, or store today's date (UTC) as the anchor at the first demo sync."""
    watermark, extra = read_state(engine, SOURCE, ANCHOR_MODULE)
    if watermark:
        return Anchor(date.fromisoformat(watermark), int(extra.get("history_days", HISTORY_DAYS)))
    anchor = Anchor(now.date(), HISTORY_DAYS)
    with engine.begin() as conn:
        write_state(conn, SOURCE, ANCHOR_MODULE, anchor.day.isoformat(), {"seed": SEED, "history_days": HISTORY_DAYS})
    return anchor


def _world(engine: Engine, settings: Settings) -> DemoWorld:
    now = clock()
    return world_for(DemoConfig.of(demo_anchor(engine, now), settings), now)


def demo_vtiger_client(engine: Engine, settings: Settings) -> VtigerClient:
    """A real VtigerClient talking to the demo's VTiger emulator, advanced to now."""
    from sync.demo.vtiger_emulator import EMULATOR_URL
    from sync.vtiger import VtigerClient

    world = _world(engine, settings)
    return VtigerClient(EMULATOR_URL, API_USER, API_KEY, session=world.vtiger.session())


def demo_redmine_client(engine: Engine, settings: Settings) -> RedmineClient:
    """A real RedmineClient talking to the demo's Redmine emulator, advanced to now."""
    from sync.demo.redmine_emulator import EMULATOR_URL
    from sync.redmine import RedmineClient

    world = _world(engine, settings)
    return RedmineClient(EMULATOR_URL, api_key=API_KEY, session=world.redmine.session())

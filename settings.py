"""One Settings object built from the environment, `.env`, the old `credentials.json` and `kpi.toml`.

Nothing here talks to the network or the database. A bad or missing value raises ConfigError with one line
that names the key and says how to fix it; `app.py` and the CLI print that line and exit.
Must not import Dash, Flask, sync/ or models/.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from view_models.tv_rotation import RotationError, ScreenRotation, parse_clock, parse_screens

if TYPE_CHECKING:  # for the annotation only; the property imports it where it is used
    from metrics.business_time import BusinessCalendar

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_STAGE_TIME_FORMAT = "%m-%d-%Y %I:%M %p"


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key and the fix."""


@dataclass(frozen=True)
class StageRule:
    """How one deal stage scores: points, who gets them, and where its change time is recorded."""

    name: str
    points: float = 0
    credit: str = "assignee"  # "assignee", or the name of a deal field holding a user, e.g. cf_potentials_qualifiedby
    changed_at_field: str = ""  # custom VTiger field written by a workflow, e.g. cf_potentials_demoscheduledchangedat
    once_per_deal: bool = True  # a deal that reaches this stage again scores it only the first time


@dataclass(frozen=True)
class SalesRules:
    groups: tuple[str, ...] = ()  # empty: everyone
    call_points: float = 1
    call_statuses: tuple[str, ...] = ()  # empty: every call counts, whatever its status
    stages: tuple[StageRule, ...] = ()
    closed_stages: tuple[str, ...] = ("Closed Won", "Closed Lost")
    excluded_stages: tuple[str, ...] = ("Recycled",)
    stage_time_format: str = DEFAULT_STAGE_TIME_FORMAT
    stage_time_zone: str = ""  # empty: the VTiger API user's time zone from /me, else TIMEZONE
    daily_goal: float = 100
    holidays_country: str = "US"
    holidays_subdivision: str = ""
    # The deal field sync copies into deals.qualified_by_* and deal_stage_changes.qualified_by_name; a stage
    # credited to this field reads the name copied at the time of the change.
    qualified_by_field: str = "cf_potentials_qualifiedby"
    demo_stage: str = "Demo Scheduled"  # the stage charted as "demos scheduled per qualifier"; empty: no chart
    currency: str = "EUR"  # ISO 4217 code of deal amounts (the pipeline chart and amount columns)

    def stage(self, name: str) -> StageRule | None:
        return next((rule for rule in self.stages if rule.name == name), None)

    def named_stages(self) -> list[tuple[str, str]]:
        """Every stage name the rules mention, with the key that mentions it (for the picklist comparison)."""
        named = [(f"sales.stages[{index}].name", rule.name) for index, rule in enumerate(self.stages)]
        named += [("sales.closed_stages", name) for name in self.closed_stages]
        named += [("sales.excluded_stages", name) for name in self.excluded_stages]
        if self.demo_stage:
            named.append(("sales.demo_stage", self.demo_stage))
        return named


@dataclass(frozen=True)
class StageMismatch:
    """Stage names the sales rules use that VTiger's sales_stage picklist lacks. A warning, never an error: deals
    and their stage changes are stored whatever the rules say, and a stage no rule names scores 0."""

    missing: tuple[tuple[str, str], ...]  # (key, stage name), in the order the rules mention them
    picklist: tuple[str, ...]  # VTiger's sales_stage values, in picklist order
    snippet: str  # kpi.toml lines that match the rules to the picklist (see stage_rules_snippet)

    def missing_names(self) -> list[str]:
        """The missing stage names, each once, in the order the rules mention them."""
        return list(dict.fromkeys(name for _, name in self.missing))

    def keys_naming(self, name: str) -> list[str]:
        """The kpi.toml keys that name `name` (sales.stages[2].name shortened to sales.stages)."""
        keys = (key.split("[", 1)[0] for key, named in self.missing if named == name)
        return list(dict.fromkeys(keys))


def compare_stages_with_picklist(rules: SalesRules, picklist: Sequence[str]) -> StageMismatch | None:
    """The rules' stage names VTiger does not have (compared exactly, case included, as sync stores them), or None
    when every name is in the picklist."""
    known = set(picklist)
    missing = tuple((key, name) for key, name in rules.named_stages() if name not in known)
    if not missing:
        return None
    return StageMismatch(missing, tuple(picklist), stage_rules_snippet(rules, picklist))


def stage_rules_snippet(rules: SalesRules, picklist: Sequence[str]) -> str:
    """Ready-to-paste kpi.toml lines for this picklist: the stage lists without the names VTiger lacks, and one
    [[sales.stages]] block per picklist value in picklist order, keeping the points, credit and field of a stage
    the rules already score (a new stage gets points = 0 until someone sets them)."""
    known = set(picklist)
    lines = [
        "# kpi.toml: the sales stages matched to VTiger's sales_stage picklist.",
        "# Merge these keys into the [sales] section; the [[sales.stages]] blocks replace the existing ones.",
        "[sales]",
    ]
    for key, names in (("closed_stages", rules.closed_stages), ("excluded_stages", rules.excluded_stages)):
        lacking = [name for name in names if name not in known]
        if lacking:
            kept = ", ".join(_toml_string(name) for name in names if name in known)
            lines.append(f"{key} = [{kept}]  # VTiger has no {', '.join(map(_toml_string, lacking))}")
    if rules.demo_stage and rules.demo_stage not in known:
        lines.append(f'demo_stage = ""  # VTiger has no {_toml_string(rules.demo_stage)}: name the demo stage here')
    for name in picklist:
        rule = rules.stage(name) or StageRule(name)
        lines += ["", "[[sales.stages]]", f"name = {_toml_string(name)}", f"points = {rule.points:g}"]
        lines.append(f"credit = {_toml_string(rule.credit)}")
        if rule.changed_at_field:
            lines.append(f"changed_at_field = {_toml_string(rule.changed_at_field)}")
        if not rule.once_per_deal:
            lines.append("once_per_deal = false")
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also forbids a raw DEL."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


DEFAULT_SLA_HOURS: tuple[tuple[str, float], ...] = (("Urgent", 4), ("High", 8), ("Medium", 24), ("Low", 72))


@dataclass(frozen=True)
class SlaRules:
    """`[cases.sla]`: the resolution target per priority in business hours; a case is due at its created time plus
    its target, or at the time in `due_field` (a VTiger field such as sla_closureon) when that is set."""

    resolve_hours: tuple[tuple[str, float], ...] = DEFAULT_SLA_HOURS
    due_field: str = ""

    def target_hours(self, priority: str) -> float | None:
        """The priority's target; None for a priority without one (such a case has no due time)."""
        return dict(self.resolve_hours).get(priority)


@dataclass(frozen=True)
class CaseRules:
    resolved_statuses: tuple[str, ...] = ("Resolved", "Closed")
    closed_statuses: tuple[str, ...] = ("Closed",)  # final states: a later edit of such a case is not "work"
    sla: SlaRules = field(default_factory=SlaRules)


@dataclass(frozen=True)
class CalendarRules:
    """`[calendar]`: the business hours both pages count in (in TIMEZONE), minus the public holidays."""

    hours: str = "09:00-17:00"
    days: str = "Mon-Fri"
    holidays_country: str = "US"
    holidays_subdivision: str = ""


@dataclass(frozen=True)
class RedmineRules:
    rejected_statuses: tuple[str, ...] = ("Rejected",)
    reconcile_every_hours: float = 24


DIGEST_PAGES: tuple[str, ...] = ("cases", "sales", "redmine")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestAudience:
    """What one recipient of the morning digest (an address, or the team chat) is shown: the pages' sections, the
    cases and sales ones for the VTiger groups named (empty: the whole team), the Redmine one for the projects named
    (empty: all projects together)."""

    groups: tuple[str, ...] = ()
    pages: tuple[str, ...] = DIGEST_PAGES
    projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestRecipient:
    email: str
    audience: DigestAudience = field(default_factory=DigestAudience)


@dataclass(frozen=True)
class DigestRules:
    """[digest] in kpi.toml: when the morning digest goes out (local time in TIMEZONE, on `days`) and to whom."""

    time: tuple[int, int] = (7, 30)  # hour, minute
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    recipients: tuple[DigestRecipient, ...] = ()
    chat: DigestAudience = field(default_factory=DigestAudience)  # the DIGEST_WEBHOOK_URL message
    catch_up_hours: float = 3  # a slot missed (no worker running) is still sent this long after its time

    @property
    def enabled(self) -> bool:
        return bool(self.recipients)


@dataclass(frozen=True)
class TvRules:
    reload_at: time = time(4, 0)  # the TV reloads itself fully once a day at this local time
    screens: tuple[tuple[str, ScreenRotation], ...] = ()  # [tv.screens.<name>], by kiosk name

    def screen(self, name: str) -> ScreenRotation | None:
        """The rotation of the screen named `name` (kiosk names are matched whatever their case)."""
        return next((rotation for key, rotation in self.screens if key.lower() == name.lower()), None)


@dataclass(frozen=True)
class KpiRules:
    cases: CaseRules = field(default_factory=CaseRules)
    sales: SalesRules = field(default_factory=lambda: SalesRules(stages=DEFAULT_STAGES))
    redmine: RedmineRules = field(default_factory=RedmineRules)
    calendar: CalendarRules = field(default_factory=CalendarRules)
    tv: TvRules = field(default_factory=TvRules)
    digest: DigestRules = field(default_factory=DigestRules)


# The old dashboard's scoring (original-dashboard.md 1.3): Demo Scheduled 5 to the qualifier, Demo Given 5 to the
# assignee, the other stages counted for 0.
DEFAULT_STAGES: tuple[StageRule, ...] = (
    StageRule("Demo Scheduled", 5, "cf_potentials_qualifiedby", "cf_potentials_demoscheduledchangedat"),
    StageRule("Demo Given", 5, "assignee", "cf_potentials_demogivenchangedat"),
    StageRule("Quote Sent", 0, "assignee", "cf_potentials_quotesentchangedat"),
    StageRule("Pilot", 0, "assignee", "cf_potentials_pilotchangedat"),
    StageRule("Needs Analysis", 0, "assignee", "cf_potentials_needsanalysischangedat"),
    StageRule("Closed Won", 0, "assignee", "cf_potentials_closedwonchangedat"),
    StageRule("Closed Lost", 0, "assignee", "cf_potentials_closedlostchangedat"),
)


@dataclass(frozen=True)
class VtigerSettings:
    url: str
    username: str
    access_key: str
    record_url: str = ""  # base of links, e.g. https://x.od1.vtiger.com/index.php?module={module}&view=Detail&record=

    def record_link(self, module: str, source_id: str) -> str:
        """Link to a record in the VTiger web UI; the ws id's module prefix is stripped."""
        if not self.record_url:
            return ""
        crm_id = source_id.split("x", 1)[-1]
        return self.record_url.replace("{module}", module) + crm_id


@dataclass(frozen=True)
class RedmineSettings:
    url: str
    api_key: str = ""
    username: str = ""
    password: str = ""

    def issue_link(self, issue_id: int) -> str:
        return f"{self.url.rstrip('/')}/issues/{issue_id}"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///kpi.db"
    redis_url: str = ""
    secret_key: str = ""
    timezone: str = "UTC"
    sync_interval_minutes: int = 10
    vtiger: VtigerSettings | None = None
    redmine: RedmineSettings | None = None
    google_client_id: str = ""
    google_client_secret: str = ""
    allowed_email_domains: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    auth_disabled: bool = False
    allowed_hosts: tuple[str, ...] = ()  # Host names answered (".example.com": it and its subdomains); empty: any
    public_url: str = ""  # where people reach the dashboard, e.g. https://kpi.example.com (links in the digest)
    smtp_url: str = ""  # smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (TLS)
    digest_from: str = ""  # the digest's From address
    digest_webhook_url: str = ""  # an incoming webhook (Slack, Mattermost, Rocket.Chat) for the digest
    kpi: KpiRules = field(default_factory=KpiRules)
    kpi_file: str = ""  # the kpi.toml the rules came from; empty: no file, the default rules
    # Start the in-process sync thread when there is no Redis. Tests build apps with it off.
    embedded_sync: bool = True
    testing: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def business_calendar(self) -> BusinessCalendar:
        """`[calendar]` in TIMEZONE, as the figures count business hours."""
        from metrics.business_time import calendar_from

        rules = self.kpi.calendar
        return calendar_from(rules.hours, rules.days, self.timezone, rules.holidays_country, rules.holidays_subdivision)

    @property
    def demo_mode(self) -> bool:
        """No source credentials at all: the app shows (and keeps extending) synthetic demo data."""
        return self.vtiger is None and self.redmine is None

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)


# --- loading ------------------------------------------------------------------------------------------------


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | Path | None = ".env",
    credentials_file: str | Path | None = "credentials.json",
    **overrides: Any,
) -> Settings:
    """Build Settings from (lowest to highest precedence) credentials.json, .env, the environment, overrides."""
    values: dict[str, str] = {}
    if credentials_file and Path(credentials_file).is_file():
        values.update(_read_old_credentials(Path(credentials_file)))
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    kpi_path = values.get("KPI_CONFIG", "").strip()
    if not kpi_path and Path("kpi.toml").is_file():
        kpi_path = "kpi.toml"
    settings = Settings(
        database_url=values.get("DATABASE_URL", "").strip() or "sqlite:///kpi.db",
        redis_url=values.get("REDIS_URL", "").strip(),
        secret_key=values.get("SECRET_KEY", "").strip(),
        timezone=_time_zone(values.get("TIMEZONE", "").strip() or "UTC", "TIMEZONE"),
        sync_interval_minutes=_positive_int(values.get("SYNC_INTERVAL_MINUTES", "10"), "SYNC_INTERVAL_MINUTES"),
        vtiger=_vtiger(values),
        redmine=_redmine(values),
        google_client_id=values.get("GOOGLE_OAUTH_CLIENT_ID", "").strip(),
        google_client_secret=values.get("GOOGLE_OAUTH_CLIENT_SECRET", "").strip(),
        allowed_email_domains=_csv(values.get("ALLOWED_EMAIL_DOMAINS", "")),
        allowed_emails=_csv(values.get("ALLOWED_EMAILS", "")),
        auth_disabled=_bool(values.get("AUTH_DISABLED", ""), "AUTH_DISABLED"),
        allowed_hosts=_host_names(values.get("ALLOWED_HOSTS", "")),
        public_url=_optional_http_url(values.get("PUBLIC_URL", ""), "PUBLIC_URL").rstrip("/"),
        smtp_url=_smtp_url(values.get("SMTP_URL", "")),
        digest_from=_email_address(values.get("DIGEST_FROM", ""), "DIGEST_FROM"),
        digest_webhook_url=_optional_http_url(values.get("DIGEST_WEBHOOK_URL", ""), "DIGEST_WEBHOOK_URL"),
        kpi=load_kpi_rules(kpi_path) if kpi_path else KpiRules(),
        kpi_file=kpi_path,
    )
    if overrides:
        settings = replace(settings, **overrides)
    _check_digest_delivery(settings)
    return settings


def _check_digest_delivery(settings: Settings) -> None:
    """Recipients in [digest] need a mail server and a sender: say so at start-up, not at 07:30."""
    if not settings.kpi.digest.recipients:
        return
    where = settings.kpi_file or "kpi.toml"
    if not settings.smtp_url:
        raise ConfigError(f"SMTP_URL is empty but {where} lists digest recipients: set SMTP_URL, or remove them")
    if not settings.digest_from:
        raise ConfigError(f"DIGEST_FROM is empty but {where} lists digest recipients: set the sender's address")


def _read_old_credentials(path: Path) -> dict[str, str]:
    """Map the old Django dashboard's credentials.json onto our variable names."""
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); fix the file or remove it") from exc
    if not isinstance(old, dict):
        raise ConfigError(f"{path}: expected a JSON object with keys such as username, access_key, host")
    mapping = {
        "username": "VTIGER_USERNAME",
        "access_key": "VTIGER_ACCESS_KEY",
        "host": "VTIGER_URL",
        "django_secret_key": "SECRET_KEY",
        "redmine_host": "REDMINE_URL",
    }
    values = {ours: str(old[theirs]) for theirs, ours in mapping.items() if old.get(theirs)}
    # The old file had one record URL per module ending in "record="; ours is one template with {module}.
    cases_url = str(old.get("host_url_cases", ""))
    if cases_url:
        values["VTIGER_RECORD_URL"] = cases_url.replace("module=Cases", "module={module}")
    # The old Redmine credentials were Basic auth: a username plus a password or an API key.
    if old.get("redmine_username"):
        values["REDMINE_USERNAME"] = str(old["redmine_username"])
        values["REDMINE_PASSWORD"] = str(old.get("redmine_access_key", ""))
    elif old.get("redmine_access_key"):
        values["REDMINE_API_KEY"] = str(old["redmine_access_key"])
    return values


def _vtiger(values: Mapping[str, str]) -> VtigerSettings | None:
    url = values.get("VTIGER_URL", "").strip()
    if not url:
        return None
    _require_http_url(url, "VTIGER_URL")
    for key in ("VTIGER_USERNAME", "VTIGER_ACCESS_KEY"):
        if not values.get(key, "").strip():
            raise ConfigError(f"{key} is empty: set it, or remove VTIGER_URL to run on demo data")
    return VtigerSettings(
        url=url.rstrip("/"),
        username=values["VTIGER_USERNAME"].strip(),
        access_key=values["VTIGER_ACCESS_KEY"].strip(),
        record_url=values.get("VTIGER_RECORD_URL", "").strip(),
    )


def _redmine(values: Mapping[str, str]) -> RedmineSettings | None:
    url = values.get("REDMINE_URL", "").strip()
    if not url:
        return None
    _require_http_url(url, "REDMINE_URL")
    api_key = values.get("REDMINE_API_KEY", "").strip()
    username = values.get("REDMINE_USERNAME", "").strip()
    password = values.get("REDMINE_PASSWORD", "").strip()
    if not api_key and not (username and password):
        raise ConfigError(
            "REDMINE_API_KEY is empty: set it (or REDMINE_USERNAME and REDMINE_PASSWORD), "
            "or remove REDMINE_URL to run without Redmine"
        )
    return RedmineSettings(url=url.rstrip("/"), api_key=api_key, username=username, password=password)


def _require_http_url(url: str, key: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{key} must start with http:// or https:// (got {url!r})")


def _optional_http_url(raw: str, key: str) -> str:
    url = raw.strip()
    if url:
        _require_http_url(url, key)
    return url


def _smtp_url(raw: str) -> str:
    """SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS when offered, required with a password) or smtps://
    (TLS from the first byte)."""
    url = raw.strip()
    if not url:
        return ""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"SMTP_URL is not a URL such as smtp://user:password@mail.example.com:587 ({exc})") from exc
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "SMTP_URL must look like smtp://user:password@mail.example.com:587 (STARTTLS) "
            "or smtps://user:password@mail.example.com:465 (TLS)"
        )
    return url


EMAIL_PATTERN = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+")


def _email_address(raw: str, key: str) -> str:
    address = raw.strip()
    if address and not EMAIL_PATTERN.fullmatch(address):
        raise ConfigError(f"{key} must be an e-mail address such as kpi@example.com (got {address!r})")
    return address


def _time_zone(name: str, key: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{key} is not an IANA time zone name such as Europe/Berlin (got {name!r})") from exc
    return name


def _positive_int(raw: str, key: str) -> int:
    try:
        number = int(str(raw).strip())
    except ValueError as exc:
        raise ConfigError(f"{key} must be a whole number (got {raw!r})") from exc
    if number < 1:
        raise ConfigError(f"{key} must be at least 1 (got {number})")
    return number


def _bool(raw: str, key: str) -> bool:
    text = str(raw).strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{key} must be true or false (got {raw!r})")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _host_names(raw: str) -> tuple[str, ...]:
    """ALLOWED_HOSTS: host names as a browser puts them in Host, without scheme, path or port."""
    names = _csv(raw)
    for name in names:
        if "/" in name or " " in name or name.count(":") == 1:  # one colon: a port, not IPv6
            raise ConfigError(
                f"ALLOWED_HOSTS: {name!r} is not a host name; list names only, comma-separated, "
                "e.g. ALLOWED_HOSTS=kpi.example.com,.example.org (a leading dot admits the subdomains too)"
            )
    return names


# --- kpi.toml -----------------------------------------------------------------------------------------------


def load_kpi_rules(path: str | Path) -> KpiRules:
    """Read kpi.toml; every key is optional and defaults reproduce the old dashboard's rules."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"KPI_CONFIG: file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    reader = _TomlReader(data, str(path))
    sales = reader.sales()  # first: an old [sales] holidays key is reported under its own name
    calendar = reader.calendar()
    # One calendar for both pages: the sales goal's business days use [calendar]'s holidays.
    sales = replace(
        sales, holidays_country=calendar.holidays_country, holidays_subdivision=calendar.holidays_subdivision
    )
    return KpiRules(
        cases=reader.cases(),
        sales=sales,
        redmine=reader.redmine(),
        calendar=calendar,
        tv=reader.tv(),
        digest=reader.digest(),
    )


_tv_rules: dict[str, tuple[tuple[int, int], TvRules]] = {}
_tv_rules_lock = threading.Lock()


def current_tv_rules(settings: Settings) -> TvRules:
    """The `[tv]` section as kpi.toml says it now: the file is read again when its modification time changes, so a
    screen's rotation changes without a restart. A file that no longer parses is logged and the last good rules
    stay (a typo must not blank the wall)."""
    if not settings.kpi_file:
        return settings.kpi.tv
    path = Path(settings.kpi_file)
    try:
        stat = path.stat()
    except OSError:
        return settings.kpi.tv
    mtime = (stat.st_mtime_ns, stat.st_size)
    with _tv_rules_lock:
        known = _tv_rules.get(settings.kpi_file)
    if known is not None and known[0] == mtime:
        return known[1]
    try:
        rules = load_kpi_rules(path).tv
    except ConfigError as exc:
        log.error("%s; the TVs keep the rotation they had", exc)
        rules = known[1] if known else settings.kpi.tv
    with _tv_rules_lock:
        _tv_rules[settings.kpi_file] = (mtime, rules)
    return rules


class _TomlReader:
    """Typed access to kpi.toml that names the offending key (e.g. `kpi.toml: sales.stages[2].points`)."""

    def __init__(self, data: dict[str, Any], filename: str) -> None:
        self.data = data
        self.filename = filename
        unknown = set(data) - {"cases", "sales", "redmine", "calendar", "tv", "digest"}
        if unknown:
            self.fail(sorted(unknown)[0], "is not a known section (calendar, cases, sales, redmine, tv, digest)")

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.filename}: {key} {problem}")

    def section(self, name: str, allowed: set[str], table: dict[str, Any] | None = None) -> dict[str, Any]:
        value = (self.data if table is None else table).get(name.rsplit(".", 1)[-1], {})
        if not isinstance(value, dict):
            self.fail(name, "must be a table")
        for key in value:
            if key not in allowed:
                self.fail(f"{name}.{key}", f"is not a known key (known: {', '.join(sorted(allowed))})")
        return value

    def strings(self, table: dict[str, Any], key: str, prefix: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            self.fail(f"{prefix}.{key}", "must be a list of non-empty strings")
        return tuple(item.strip() for item in value)

    def number(self, table: dict[str, Any], key: str, prefix: str, default: float, minimum: float = 0) -> float:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(f"{prefix}.{key}", f"must be a number of at least {minimum} (got {value!r})")
        return value

    def text(self, table: dict[str, Any], key: str, prefix: str, default: str) -> str:
        if key not in table:
            return default
        if not isinstance(table[key], str):
            self.fail(f"{prefix}.{key}", f"must be a string (got {table[key]!r})")
        return table[key].strip()

    def tv(self) -> TvRules:
        table = self.section("tv", {"reload_at", "screens"})
        reload_at = TvRules.reload_at
        if "reload_at" in table:
            try:
                reload_at = parse_clock(table["reload_at"], "tv.reload_at")
            except RotationError as exc:
                self.fail("tv.reload_at", str(exc).removeprefix("tv.reload_at "))
        try:
            screens = parse_screens(table.get("screens", {}))
        except RotationError as exc:
            raise ConfigError(f"{self.filename}: {exc}") from exc
        return TvRules(reload_at=reload_at, screens=tuple(screens.items()))

    def cases(self) -> CaseRules:
        table = self.section("cases", {"resolved_statuses", "closed_statuses", "sla"})
        defaults = CaseRules()
        return CaseRules(
            resolved_statuses=self.strings(table, "resolved_statuses", "cases", defaults.resolved_statuses),
            closed_statuses=self.strings(table, "closed_statuses", "cases", defaults.closed_statuses),
            sla=self.sla(table),
        )

    def sla(self, cases: dict[str, Any]) -> SlaRules:
        table = self.section("cases.sla", {"resolve_hours", "due_field"}, cases)
        defaults = SlaRules()
        hours = table.get("resolve_hours", dict(defaults.resolve_hours))
        if not isinstance(hours, dict) or not hours:
            self.fail("cases.sla.resolve_hours", "must be a table such as { Urgent = 4, High = 8, Medium = 24 }")
        for priority, target in hours.items():
            if isinstance(target, bool) or not isinstance(target, int | float) or target <= 0:
                self.fail(f"cases.sla.resolve_hours.{priority}", f"must be a positive number of hours (got {target!r})")
        return SlaRules(
            resolve_hours=tuple((str(name), float(target)) for name, target in hours.items()),
            due_field=self.text(table, "due_field", "cases.sla", defaults.due_field),
        )

    def calendar(self) -> CalendarRules:
        from metrics.business_time import parse_days, parse_hours

        table = self.section("calendar", {"hours", "days", "holidays_country", "holidays_subdivision"})
        defaults = CalendarRules()
        hours = self.text(table, "hours", "calendar", defaults.hours)
        days = self.text(table, "days", "calendar", defaults.days)
        for key, value, parse in (("hours", hours, parse_hours), ("days", days, parse_days)):
            try:
                parse(value)
            except ValueError as exc:
                self.fail(f"calendar.{key}", str(exc))
        # The holidays moved here from [sales]; an old kpi.toml that sets them there is still read.
        sales = self.data.get("sales", {}) if isinstance(self.data.get("sales", {}), dict) else {}
        old_country = self.text(sales, "holidays_country", "sales", defaults.holidays_country)
        old_subdivision = self.text(sales, "holidays_subdivision", "sales", defaults.holidays_subdivision)
        country = self.text(table, "holidays_country", "calendar", old_country)
        subdivision = self.text(table, "holidays_subdivision", "calendar", old_subdivision)
        _check_holidays(country, subdivision, self.filename, "calendar")
        return CalendarRules(hours=hours, days=days, holidays_country=country, holidays_subdivision=subdivision)

    def redmine(self) -> RedmineRules:
        table = self.section("redmine", {"rejected_statuses", "reconcile_every_hours"})
        defaults = RedmineRules()
        return RedmineRules(
            rejected_statuses=self.strings(table, "rejected_statuses", "redmine", defaults.rejected_statuses),
            reconcile_every_hours=self.number(
                table, "reconcile_every_hours", "redmine", defaults.reconcile_every_hours, minimum=0.1
            ),
        )

    def sales(self) -> SalesRules:
        allowed = {
            "groups", "call_points", "call_statuses", "stages", "closed_stages", "excluded_stages",
            "stage_time_format", "stage_time_zone", "daily_goal", "holidays_country", "holidays_subdivision",
            "qualified_by_field", "demo_stage", "currency",
        }  # fmt: skip
        table = self.section("sales", allowed)
        defaults = SalesRules(stages=DEFAULT_STAGES)
        time_zone = self.text(table, "stage_time_zone", "sales", "")
        if time_zone:
            _time_zone(time_zone, f"{self.filename}: sales.stage_time_zone")
        country = self.text(table, "holidays_country", "sales", defaults.holidays_country)
        subdivision = self.text(table, "holidays_subdivision", "sales", defaults.holidays_subdivision)
        _check_holidays(country, subdivision, self.filename)
        return SalesRules(
            groups=self.strings(table, "groups", "sales", defaults.groups),
            call_points=self.number(table, "call_points", "sales", defaults.call_points),
            call_statuses=self.strings(table, "call_statuses", "sales", defaults.call_statuses),
            stages=self.stages(table.get("stages"), defaults.stages),
            closed_stages=self.strings(table, "closed_stages", "sales", defaults.closed_stages),
            excluded_stages=self.strings(table, "excluded_stages", "sales", defaults.excluded_stages),
            stage_time_format=self.time_format(table, defaults.stage_time_format),
            stage_time_zone=time_zone,
            daily_goal=self.number(table, "daily_goal", "sales", defaults.daily_goal, minimum=1),
            holidays_country=country,
            holidays_subdivision=subdivision,
            qualified_by_field=self.text(table, "qualified_by_field", "sales", defaults.qualified_by_field)
            or defaults.qualified_by_field,
            demo_stage=self.text(table, "demo_stage", "sales", defaults.demo_stage),
            currency=self.currency(table, defaults.currency),
        )

    def currency(self, table: dict[str, Any], default: str) -> str:
        code = self.text(table, "currency", "sales", default).upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            self.fail("sales.currency", f'must be a three-letter ISO 4217 code such as "EUR" (got {code!r})')
        return code

    def time_format(self, table: dict[str, Any], default: str) -> str:
        fmt = self.text(table, "stage_time_format", "sales", default)
        if "%p" in fmt and "%H" in fmt:
            self.fail("sales.stage_time_format", "mixes %H with %p; use %I for a 12-hour clock")
        return fmt

    def stages(self, raw: Any, default: tuple[StageRule, ...]) -> tuple[StageRule, ...]:
        if raw is None:
            return default
        if not isinstance(raw, list):
            self.fail("sales.stages", "must be an array of tables ([[sales.stages]])")
        rules = []
        for index, entry in enumerate(raw):
            prefix = f"sales.stages[{index}]"
            if not isinstance(entry, dict):
                self.fail(prefix, "must be a table")
            for key in entry:
                if key not in {"name", "points", "credit", "changed_at_field", "once_per_deal"}:
                    self.fail(
                        f"{prefix}.{key}", "is not a known key (name, points, credit, changed_at_field, once_per_deal)"
                    )
            name = self.text(entry, "name", prefix, "")
            if not name:
                self.fail(f"{prefix}.name", "is required")
            once = entry.get("once_per_deal", True)
            if not isinstance(once, bool):
                self.fail(f"{prefix}.once_per_deal", "must be true or false")
            rules.append(
                StageRule(
                    name=name,
                    points=self.number(entry, "points", prefix, 0),
                    credit=self.text(entry, "credit", prefix, "assignee") or "assignee",
                    changed_at_field=self.text(entry, "changed_at_field", prefix, ""),
                    once_per_deal=once,
                )
            )
        names = [rule.name for rule in rules]
        duplicate = next((name for name in names if names.count(name) > 1), None)
        if duplicate:
            self.fail("sales.stages", f"names the stage {duplicate!r} twice")
        return tuple(rules)

    def digest(self) -> DigestRules:
        table = self.section("digest", {"time", "days", "recipients", "chat", "catch_up_hours"})
        defaults = DigestRules()
        recipients = table.get("recipients", [])
        if not isinstance(recipients, list):
            self.fail("digest.recipients", "must be an array of tables ([[digest.recipients]])")
        chat = self.section("digest.chat", {"groups", "projects", "pages"}, table)
        return DigestRules(
            time=self.clock_time(table, defaults.time),
            days=self.weekdays(table, defaults.days),
            recipients=tuple(self.recipient(entry, index) for index, entry in enumerate(recipients)),
            chat=self.audience(chat, "digest.chat"),
            catch_up_hours=self.number(table, "catch_up_hours", "digest", defaults.catch_up_hours),
        )

    def clock_time(self, table: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
        raw = self.text(table, "time", "digest", "")
        if not raw:
            return default
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw)
        if not match:
            self.fail("digest.time", f'must be a local time of day such as "07:30" (got {raw!r})')
        return int(match.group(1)), int(match.group(2))

    def weekdays(self, table: dict[str, Any], default: tuple[int, ...]) -> tuple[int, ...]:
        names = self.strings(table, "days", "digest", ())
        if "days" not in table:
            return default
        full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        wrong = [name for name in names if name.lower() not in (*WEEKDAYS, *full)]
        if wrong or not names:
            self.fail("digest.days", f'must list days of the week such as ["mon", "fri"] (got {names!r})')
        return tuple(sorted({WEEKDAYS.index(name.lower()[:3]) for name in names}))

    def recipient(self, entry: Any, index: int) -> DigestRecipient:
        prefix = f"digest.recipients[{index}]"
        if not isinstance(entry, dict):
            self.fail(prefix, "must be a table with email, groups, projects and pages")
        for key in entry:
            if key not in {"email", "groups", "projects", "pages"}:
                self.fail(f"{prefix}.{key}", "is not a known key (email, groups, projects, pages)")
        email = self.text(entry, "email", prefix, "")
        if not EMAIL_PATTERN.fullmatch(email):
            self.fail(f"{prefix}.email", f"must be an e-mail address such as manager@example.com (got {email!r})")
        return DigestRecipient(email, self.audience(entry, prefix))

    def audience(self, table: dict[str, Any], prefix: str) -> DigestAudience:
        pages = self.strings(table, "pages", prefix, DIGEST_PAGES)
        unknown = [page for page in pages if page not in DIGEST_PAGES]
        if unknown or not pages:
            self.fail(f"{prefix}.pages", f"must list pages among {', '.join(DIGEST_PAGES)} (got {list(pages)!r})")
        projects = self.strings(table, "projects", prefix, ())
        if projects and "redmine" not in pages:
            self.fail(
                f"{prefix}.projects",
                f'names Redmine projects but pages leaves out redmine (got pages {list(pages)!r}): add "redmine" '
                "to pages or remove projects",
            )
        return DigestAudience(groups=self.strings(table, "groups", prefix, ()), pages=pages, projects=projects)


def _check_holidays(country: str, subdivision: str, filename: str, section: str = "sales") -> None:
    if not country:
        return
    import holidays

    try:
        holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError as exc:
        raise ConfigError(f"{filename}: {section}.holidays_country {country!r} is not a known country code") from exc
    except ValueError as exc:
        raise ConfigError(
            f"{filename}: {section}.holidays_subdivision {subdivision!r} is not valid for {country}"
        ) from exc

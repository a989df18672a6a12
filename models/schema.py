"""The database tables (SQLAlchemy Core). Names are stable: analysts query them directly.

Conventions every source table follows:
- `source_id` is the record's id at the source (VTiger ws id such as "39x916810", Redmine issue id), unique.
- Every timestamp is naive UTC (`DateTime` without zone), so both SQLite and PostgreSQL index and compare it the
  same way; metrics/ converts to TIMEZONE.
- Names of people and groups are resolved at sync time and stored beside their ids.
- `deleted_at` is set when the record disappears at the source; reads exclude such rows.
- `raw` is the record exactly as the API returned it.
Changing anything here needs a migration in migrations/versions.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _source_columns() -> list[Column]:
    """Columns every mirrored source record has."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("source_id", String(64), nullable=False, unique=True),
        Column("created_at", DateTime, nullable=True),
        Column("updated_at", DateTime, nullable=True),
        Column("deleted_at", DateTime, nullable=True),
        Column("first_seen_at", DateTime, nullable=True),  # when sync first stored the row
        Column("raw", JSON, nullable=False, default=dict),
    ]


vtiger_users = Table(
    "vtiger_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(64), nullable=False, unique=True),
    Column("user_name", String(255), nullable=False, default=""),
    Column("first_name", String(255), nullable=False, default=""),
    Column("last_name", String(255), nullable=False, default=""),
    Column("full_name", String(255), nullable=False, default=""),
    Column("email", String(255), nullable=False, default=""),
    Column("status", String(32), nullable=False, default=""),
    Column("primary_group_id", String(64), nullable=False, default=""),
    Column("raw", JSON, nullable=False, default=dict),
)

vtiger_groups = Table(
    "vtiger_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False, default=""),
    Column("raw", JSON, nullable=False, default=dict),
)

cases = Table(
    "cases",
    metadata,
    *_source_columns(),
    Column("case_no", String(64), nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("status", String(64), nullable=False, default=""),
    Column("priority", String(64), nullable=False, default=""),
    Column("assignee_id", String(64), nullable=False, default=""),
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("group_id", String(64), nullable=False, default=""),
    Column("group_name", String(255), nullable=False, default=""),
    Column("modified_by_id", String(64), nullable=False, default=""),
    Column("modified_by_name", String(255), nullable=False, default=""),
    Column("resolved_at", DateTime, nullable=True),  # sla_actual_closureon, else when sync first saw it resolved
    Column("time_spent_hours", Float, nullable=True),
    Column("satisfaction", String(64), nullable=False, default=""),
    Column("reopen_count", Integer, nullable=True),  # VTiger's own count, when the instance sends it
    Column("source_due_at", DateTime, nullable=True),  # the `[cases.sla] due_field` time, when one is configured
    Index(None, "created_at"),
    Index(None, "updated_at"),
    Index(None, "resolved_at"),
    Index(None, "status"),
)

# One row per status change of a case that sync observed (the stored status differed from the new one), at the
# case's modification time; and one row (origin "reopen_count") per reopen VTiger's `reopen_count` reports that
# no observed change explains (reopened and resolved again between two syncs). Reopens are read from here.
case_status_changes = Table(
    "case_status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_source_id", String(64), nullable=False),
    Column("from_status", String(64), nullable=False, default=""),
    Column("to_status", String(64), nullable=False, default=""),
    Column("changed_at", DateTime, nullable=False),
    Column("origin", String(16), nullable=False, default="observed"),  # "observed" or "reopen_count"
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("group_name", String(255), nullable=False, default=""),
    Column("deleted_at", DateTime, nullable=True),
    UniqueConstraint("case_source_id", "changed_at", "to_status", "origin"),
    Index(None, "changed_at"),
)

deals = Table(
    "deals",
    metadata,
    *_source_columns(),
    Column("deal_no", String(64), nullable=False, default=""),
    Column("name", Text, nullable=False, default=""),
    Column("stage", String(128), nullable=False, default=""),
    Column("pipeline", String(128), nullable=False, default=""),
    Column("amount", Float, nullable=True),
    Column("closing_date", Date, nullable=True),
    Column("assignee_id", String(64), nullable=False, default=""),
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("group_id", String(64), nullable=False, default=""),
    Column("group_name", String(255), nullable=False, default=""),
    Column("qualified_by_id", String(64), nullable=False, default=""),
    Column("qualified_by_name", String(255), nullable=False, default=""),
    Column("modified_by_id", String(64), nullable=False, default=""),
    Column("modified_by_name", String(255), nullable=False, default=""),
    Column("stage_entered_at", DateTime, nullable=True),
    Index(None, "created_at"),
    Index(None, "updated_at"),
    Index(None, "stage"),
)

# One row per time a deal entered a stage. Filled from the configured "stage changed at" custom fields and from
# transitions sync observes. The credited people are copied at the time of the change, so a later reassignment
# does not rewrite history.
deal_stage_changes = Table(
    "deal_stage_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deal_source_id", String(64), nullable=False),
    Column("deal_no", String(64), nullable=False, default=""),
    Column("stage", String(128), nullable=False),
    Column("previous_stage", String(128), nullable=False, default=""),
    Column("changed_at", DateTime, nullable=False),
    Column("origin", String(16), nullable=False),  # "field" (custom field) or "observed" (sync saw the change)
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("group_name", String(255), nullable=False, default=""),
    Column("qualified_by_name", String(255), nullable=False, default=""),
    Column("deleted_at", DateTime, nullable=True),
    UniqueConstraint("deal_source_id", "stage", "changed_at"),
    Index(None, "changed_at"),
)

phone_calls = Table(
    "phone_calls",
    metadata,
    *_source_columns(),
    Column("status", String(64), nullable=False, default=""),
    Column("direction", String(32), nullable=False, default=""),
    Column("started_at", DateTime, nullable=True),
    Column("ended_at", DateTime, nullable=True),
    Column("duration_seconds", Integer, nullable=True),
    Column("assignee_id", String(64), nullable=False, default=""),
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("group_id", String(64), nullable=False, default=""),
    Column("group_name", String(255), nullable=False, default=""),
    Column("modified_by_id", String(64), nullable=False, default=""),
    Column("modified_by_name", String(255), nullable=False, default=""),
    Column("customer_number", String(64), nullable=False, default=""),
    Column("recording_url", Text, nullable=False, default=""),
    Index(None, "started_at"),
    Index(None, "updated_at"),
)

redmine_issues = Table(
    "redmine_issues",
    metadata,
    *_source_columns(),
    Column("subject", Text, nullable=False, default=""),
    Column("project_id", Integer, nullable=True),
    Column("project_name", String(255), nullable=False, default=""),
    Column("tracker_name", String(128), nullable=False, default=""),
    Column("status_id", Integer, nullable=True),
    Column("status_name", String(128), nullable=False, default=""),
    Column("is_closed", Boolean, nullable=False, default=False),
    Column("priority_name", String(128), nullable=False, default=""),
    Column("author_name", String(255), nullable=False, default=""),
    Column("assignee_id", Integer, nullable=True),
    Column("assignee_name", String(255), nullable=False, default=""),
    Column("closed_at", DateTime, nullable=True),
    Column("done_ratio", Integer, nullable=True),
    Column("estimated_hours", Float, nullable=True),
    Column("due_date", Date, nullable=True),
    Index(None, "created_at"),
    Index(None, "updated_at"),
    Index(None, "closed_at"),
)

redmine_statuses = Table(
    "redmine_statuses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # Redmine's own status id
    Column("name", String(128), nullable=False),
    Column("is_closed", Boolean, nullable=False, default=False),
)

# The incremental position per source and module. `watermark` is the source's own value (VTiger unix seconds,
# Redmine an ISO timestamp); it only moves after the rows it covers are committed.
sync_state = Table(
    "sync_state",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("module", String(64), primary_key=True),
    Column("watermark", String(64), nullable=False, default=""),
    Column("updated_at", DateTime, nullable=True),
    Column("extra", JSON, nullable=False, default=dict),  # e.g. when ids were last reconciled
)

# One row per run of one module's sync (a microblog-style task table): the status page reads it.
sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("module", String(64), nullable=False),
    Column("trigger", String(32), nullable=False, default=""),  # cron, manual, embedded, cli, demo
    Column("job_id", String(64), nullable=False, default=""),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("status", String(16), nullable=False),  # running, success, failed
    Column("rows_inserted", Integer, nullable=False, default=0),
    Column("rows_updated", Integer, nullable=False, default=0),
    Column("rows_deleted", Integer, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),
    Column("error", Text, nullable=False, default=""),
    Index(None, "source", "module", "started_at"),
)

# A cross-process lock per source: one sync per source at a time, whichever process or machine runs it.
sync_locks = Table(
    "sync_locks",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

kiosk_tokens = Table(
    "kiosk_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Column("last_used_at", DateTime, nullable=True),
    # The screen's rotation set with `kiosk set` (views.tv_rotation, as JSON); NULL: kpi.toml's or the URL's.
    Column("rotation", Text, nullable=True),
)

# What each TV on a kiosk token last reported (web/screens.py): one row per kiosk, written by the page every minute
# or so. A screen is "online" while its last sign of life (this report, or kiosk_tokens.last_used_at) is recent.
screens = Table(
    "screens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kiosk_id", Integer, ForeignKey("kiosk_tokens.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("reported_at", DateTime, nullable=False),
    Column("slide", String(200), nullable=False, default=""),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("app_version", String(64), nullable=False, default=""),
    Column("error_count", Integer, nullable=False, default=0),  # page errors since the page was loaded
    Column("last_error", String(500), nullable=False, default=""),
    Column("last_error_at", DateTime, nullable=True),
)

# One secret per source for the webhooks that trigger a sync (web/webhooks.py): only its SHA-256 is kept.
webhook_tokens = Table(
    "webhook_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Column("last_called_at", DateTime, nullable=True),
)

# Signed-in sessions, so that signing out (or `sessions revoke EMAIL`) ends a session on the server: the session
# cookie carries a random id whose SHA-256 is stored here, and a cookie whose row is ended or gone is refused.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("email", String(320), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=True),
)

# The morning digest, once per schedule slot and recipient: a row is claimed (inserted) before the message is sent,
# so a second worker, a restart or a retried job finds it and does not send again (digest/runs.py).
digest_runs = Table(
    "digest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slot_at", DateTime, nullable=False),  # naive UTC: the scheduled moment, or the minute of a manual send
    Column("trigger", String(16), nullable=False),  # schedule, manual
    Column("recipient", String(320), nullable=False),  # an e-mail address, or "chat" (the webhook)
    Column("digest_date", Date, nullable=False),  # the day the figures are of (the slot's yesterday)
    Column("status", String(16), nullable=False),  # sending, sent, failed, missed
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(128), nullable=False, default=""),
    Column("claimed_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("error", Text, nullable=False, default=""),
    UniqueConstraint("slot_at", "trigger", "recipient"),
    Index(None, "claimed_at"),
)

# Roll-ups of cases and Redmine issues, kept by sync in the transaction that writes the rows (models/rollups.py):
# how many rows count in each local day / week / month window per KPI and group or project, split by person and
# status where a page needs it (kind "now": live rows per group/project, person and status, for "open now").
# They are a cache of the source tables: `rollup_state` says for which TIMEZONE and counting rules a source's
# roll-ups were built.
rollup_counts = Table(
    "rollup_counts",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("kpi", String(16), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("selector", String(255), primary_key=True),
    Column("person", String(255), primary_key=True),
    Column("status", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)

rollup_state = Table(
    "rollup_state",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("tz_name", String(64), nullable=False),
    Column("built_at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False, default=0),
    # TIMEZONE and the catalogue's counting rules the counts were built for (models.rollups.fingerprint); a page
    # whose fingerprint differs shows them as being recomputed while a rebuild runs (since `rebuilding_since`).
    Column("fingerprint", String(64), nullable=False, server_default=""),
    Column("rebuilding_since", DateTime, nullable=True),
    Column("rebuild_counted", Integer, nullable=False, server_default="0"),  # rows counted so far ...
    Column("rebuild_of", Integer, nullable=False, server_default="0"),  # ... of this many
)

# The sales roll-ups (models/sales_rollups.py), derived from deal_stage_changes under the sales rules and TIMEZONE:
# one row per passage (a live change that is not a second record of the same passage) with its score, and the
# passages counted per local day, group, stage, credited person and (for the demo stage) qualifier.
sales_passages = Table(
    "sales_passages",
    metadata,
    Column("change_id", Integer, primary_key=True, autoincrement=False),  # deal_stage_changes.id
    Column("deal_source_id", String(64), nullable=False, index=True),
    Column("changed_at", DateTime, nullable=False, index=True),
    Column("day", Date, nullable=False, index=True),  # the local day in TIMEZONE
    Column("stage", String(128), nullable=False),
    Column("group_name", String(255), nullable=False, default=""),
    Column("person", String(255), nullable=False, default=""),  # the credited person ("" for nobody)
    Column("qualifier", String(255), nullable=False, default=""),  # the demo stage's qualified-by person
    Column("repeat", Boolean, nullable=False, default=False),  # the deal entered this stage before
    Column("counted", Boolean, nullable=False, default=False),
    Column("points", Float, nullable=False, default=0.0),
    Column("note", Text, nullable=False, default=""),
)

sales_day_counts = Table(
    "sales_day_counts",
    metadata,
    Column("day", Date, primary_key=True),
    Column("group_name", String(255), primary_key=True),
    Column("stage", String(128), primary_key=True),
    Column("person", String(255), primary_key=True),
    Column("qualifier", String(255), primary_key=True),
    Column("passages", Integer, nullable=False),
    Column("counted", Integer, nullable=False),
    Column("points", Float, nullable=False),
)

# sales_day_counts summed per whole local week and month (`kind`, `start`: the window's first day), so a month is a
# few hundred rows to read rather than every day's (models/sales_rollups.py keeps both).
sales_window_counts = Table(
    "sales_window_counts",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("group_name", String(255), primary_key=True),
    Column("stage", String(128), primary_key=True),
    Column("person", String(255), primary_key=True),
    Column("qualifier", String(255), primary_key=True),
    Column("passages", Integer, nullable=False),
    Column("counted", Integer, nullable=False),
    Column("points", Float, nullable=False),
)

# The open pipeline as it stands: live deals' count and amount per owner, group and stage (every stage: which are
# closed is a setting, applied when read). Kept by sync's store step from the rows it replaces (models/sales_rollups.py
# `track`), so the chart reads a few hundred sums instead of grouping every deal.
sales_pipeline = Table(
    "sales_pipeline",
    metadata,
    Column("assignee_name", String(255), primary_key=True),
    Column("group_name", String(255), primary_key=True),
    Column("stage", String(128), primary_key=True),
    Column("deals", Integer, nullable=False),
    Column("amount", Float, nullable=False),
)

sales_rollup_state = Table(
    "sales_rollup_state",
    metadata,
    Column("name", String(16), primary_key=True),  # "sales"
    Column("fingerprint", String(64), nullable=False),  # of the sales rules and TIMEZONE the rows were derived under
    Column("built_at", DateTime, nullable=False),
    Column("passages", Integer, nullable=False, default=0),
)


# The help-desk figures' roll-ups (models/support_rollups.py): per local day / week / month window, group and person,
# a measure's count and its histogram (fixed bins, packed as little-endian int32 (bin, count) pairs). The state row
# holds the rules they were counted with (TIMEZONE, [calendar], [cases.sla], resolved statuses) and their
# fingerprint; the page reads them only when that fingerprint is the configured one.
support_rollups = Table(
    "support_rollups",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("selector", String(255), primary_key=True),
    Column("person", String(255), primary_key=True),
    Column("measure", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("bins", LargeBinary, nullable=False),
)

support_rollup_state = Table(
    "support_rollup_state",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("rules", Text, nullable=False),
    Column("built_at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False, default=0),
)

# Covering indexes on live rows for the pages' tables (models/recent_rows.py): the ids and times of the rows behind
# a card come from the index alone, so only the shown rows are read from the table. deleted_at is listed although
# the index holds only NULLs there: SQLite's planner otherwise reads every row to check it.
LIVE_ROW_INDEXES: dict[str, dict[str, tuple[str, ...]]] = {
    "cases": {
        "ix_cases_live_created": ("created_at", "group_name", "updated_at", "id", "deleted_at"),
        "ix_cases_live_resolved": ("resolved_at", "status", "group_name", "updated_at", "id", "deleted_at"),
        "ix_cases_live_updated": ("updated_at", "status", "group_name", "id", "deleted_at"),
    },
    "redmine_issues": {
        "ix_redmine_issues_live_created": ("created_at", "project_name", "updated_at", "id", "deleted_at"),
        "ix_redmine_issues_live_closed": ("closed_at", "is_closed", "project_name", "updated_at", "id", "deleted_at"),
        "ix_redmine_issues_live_updated": ("updated_at", "project_name", "is_closed", "id", "deleted_at"),
    },
    # The sales page counts a window's calls per person and status from this one alone (models.sales, 0003).
    "phone_calls": {
        "ix_phone_calls_live_started": ("started_at", "group_name", "assignee_name", "status", "deleted_at"),
    },
}
for _table in (cases, redmine_issues, phone_calls):
    for _name, _columns in LIVE_ROW_INDEXES[_table.name].items():
        _live = _table.c.deleted_at.is_(None)
        Index(_name, *(_table.c[column] for column in _columns), sqlite_where=_live, postgresql_where=_live)

# The open issues (/support's overdue list and Redmine backlog age) without scanning every issue: a partial index
# of the live open ones only, so it never offers itself for a window's closed issues (migration 0011_i).
Index(
    "ix_redmine_issues_live_open",
    redmine_issues.c.project_name,
    redmine_issues.c.created_at,
    sqlite_where=text("deleted_at IS NULL AND is_closed = 0"),
    postgresql_where=text("deleted_at IS NULL AND is_closed = false"),
)

SOURCE_TABLES = {"cases": cases, "deals": deals, "phone_calls": phone_calls, "redmine_issues": redmine_issues}

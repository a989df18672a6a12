"""roll-ups of cases and Redmine issues (models/rollups.py), covering indexes on live rows (models/recent_rows.py)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As they were when this revision was written (models/schema.py keeps the current ones).
LIVE_ROW_INDEXES = {
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
}


def upgrade() -> None:
    op.create_table(
        "rollup_counts",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("kpi", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("selector", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "kind", "kpi", "start", "selector", "person", "status", name="pk_rollup_counts"
        ),
    )
    op.create_table(
        "rollup_state",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("tz_name", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_rollup_state"),
    )

    for table, indexes in LIVE_ROW_INDEXES.items():
        for name, columns in indexes.items():
            live = sa.text("deleted_at IS NULL")
            op.create_index(name, table, list(columns), sqlite_where=live, postgresql_where=live)


def downgrade() -> None:
    for table, indexes in LIVE_ROW_INDEXES.items():
        for name in indexes:
            op.drop_index(name, table_name=table)
    op.drop_table("rollup_state")
    op.drop_table("rollup_counts")

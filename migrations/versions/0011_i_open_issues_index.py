"""a partial index of the live open Redmine issues (/support's overdue issues and backlog age)

Revision ID: 0011_i
Revises: 0010_i
"""

from alembic import op
from sqlalchemy import text

revision = "0011_i"
down_revision = "0010_i"
branch_labels = None
depends_on = None

NAME = "ix_redmine_issues_live_open"


# Partial, so it only answers "open now": an index that starts with the flag would also offer itself for the closed
# issues of a window, and SQLite, without statistics for it, would walk every closed issue instead of the window's.
SQLITE_WHERE = "deleted_at IS NULL AND is_closed = 0"
POSTGRESQL_WHERE = "deleted_at IS NULL AND is_closed = false"


def upgrade() -> None:
    op.create_index(
        NAME,
        "redmine_issues",
        ["project_name", "created_at"],
        sqlite_where=text(SQLITE_WHERE),
        postgresql_where=text(POSTGRESQL_WHERE),
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="redmine_issues")

"""an index of live Redmine issues by their open/closed flag (/support's overdue issues and backlog age)

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


def upgrade() -> None:
    live = text("deleted_at IS NULL")
    op.create_index(NAME, "redmine_issues", ["is_closed", "project_name"], sqlite_where=live, postgresql_where=live)


def downgrade() -> None:
    op.drop_index(NAME, table_name="redmine_issues")

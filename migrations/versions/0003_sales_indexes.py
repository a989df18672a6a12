"""covering index of live phone calls for the sales page's call counts (models.sales.read_call_counts)

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The page counts a window's calls per assignee and status (and group) without reading the rows: with every
# column it needs in the index, SQLite and PostgreSQL (index-only scan) never touch the 2M-row table.
NAME = "ix_phone_calls_live_started"
COLUMNS = ["started_at", "group_name", "assignee_name", "status", "deleted_at"]  # deleted_at: SQLite covers the WHERE


def upgrade() -> None:
    live = text("deleted_at IS NULL")
    op.create_index(NAME, "phone_calls", COLUMNS, sqlite_where=live, postgresql_where=live)


def downgrade() -> None:
    op.drop_index(NAME, table_name="phone_calls")

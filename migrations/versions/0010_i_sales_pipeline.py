"""the open pipeline per owner, group and stage, and the sales day counts per week and month, kept by sync
(models/sales_rollups.py)

Revision ID: 0010_i
Revises: 0009_h
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_i"
down_revision = "0009_h"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_pipeline",
        sa.Column("assignee_name", sa.String(length=255), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=128), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("assignee_name", "group_name", "stage"),
    )
    op.create_table(
        "sales_window_counts",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=128), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("qualifier", sa.String(length=255), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "start", "group_name", "stage", "person", "qualifier"),
    )
    # Stored day counts get their weeks and months at the next rebuild: a fingerprint no sales rules have.
    op.execute("UPDATE sales_rollup_state SET fingerprint = ''")
    # The deals already stored: from now on sync keeps the sums as it writes deals.
    op.execute(
        "INSERT INTO sales_pipeline (assignee_name, group_name, stage, deals, amount) "
        "SELECT assignee_name, group_name, stage, count(*), coalesce(sum(amount), 0) FROM deals "
        "WHERE deleted_at IS NULL GROUP BY assignee_name, group_name, stage"
    )


def downgrade() -> None:
    op.drop_table("sales_pipeline")
    op.drop_table("sales_window_counts")

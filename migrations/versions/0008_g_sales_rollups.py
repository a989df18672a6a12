"""sales roll-ups: each stage passage scored under the sales rules, and the passages counted per local day

Revision ID: 0008_g
Revises: 0006_d

The tables start empty; `db upgrade` (cli.py) and start-up derive them from deal_stage_changes
(models/sales_rollups.py), sync keeps them as it stores stage changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_g"
down_revision = "0006_d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_passages",
        sa.Column("change_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("deal_source_id", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=128), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("qualifier", sa.String(length=255), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_sales_passages")),
    )
    for column in ("deal_source_id", "changed_at", "day"):
        op.create_index(op.f(f"ix_sales_passages_{column}"), "sales_passages", [column], unique=False)
    op.create_table(
        "sales_day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("stage", sa.String(length=128), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("qualifier", sa.String(length=255), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "group_name", "stage", "person", "qualifier", name=op.f("pk_sales_day_counts")),
    )
    op.create_table(
        "sales_rollup_state",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sales_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("sales_rollup_state")
    op.drop_table("sales_day_counts")
    for column in ("day", "changed_at", "deal_source_id"):
        op.drop_index(op.f(f"ix_sales_passages_{column}"), table_name="sales_passages")
    op.drop_table("sales_passages")

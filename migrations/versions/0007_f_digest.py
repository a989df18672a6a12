"""the morning digest's runs: one row per schedule slot and recipient, claimed before sending (digest/runs.py)

Revision ID: 0007_f
Revises: 0005_c
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_f"
down_revision = "0005_c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot_at", sa.DateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint("slot_at", "trigger", "recipient", name=op.f("uq_digest_runs_slot_at_trigger_recipient")),
    )
    op.create_index(op.f("ix_digest_runs_claimed_at"), "digest_runs", ["claimed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_digest_runs_claimed_at"), table_name="digest_runs")
    op.drop_table("digest_runs")

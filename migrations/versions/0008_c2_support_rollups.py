"""the help-desk figures' roll-ups (models/support_rollups.py): histograms of resolution times and SLA outcomes
per local day / week / month, group and person, with the rules they were counted with

Revision ID: 0008_c2
Revises: 0006_d
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_c2"
down_revision = "0008_g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_rollups",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("start", sa.Date(), primary_key=True),
        sa.Column("selector", sa.String(255), primary_key=True),
        sa.Column("person", sa.String(255), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("bins", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "support_rollup_state",
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("support_rollup_state")
    op.drop_table("support_rollups")

"""roll-up fingerprints (TIMEZONE + the catalogue's counting rules) and a background rebuild's start and progress

Revision ID: 0009_h
Revises: 0008_g
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_h"
down_revision = "0008_c2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rollup_state") as batch:
        # Empty for roll-ups built before: they do not match any fingerprint, so they are rebuilt once.
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("rebuilding_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("rebuild_counted", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("rebuild_of", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("rollup_state") as batch:
        batch.drop_column("rebuild_of")
        batch.drop_column("rebuild_counted")
        batch.drop_column("rebuilding_since")
        batch.drop_column("fingerprint")

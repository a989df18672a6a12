"""a screen's own rotation, set with `kiosk set NAME --slides ... --seconds ...` (kiosk.py, views/tv_rotation.py)

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kiosk_tokens") as batch:
        batch.add_column(sa.Column("rotation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kiosk_tokens") as batch:
        batch.drop_column("rotation")

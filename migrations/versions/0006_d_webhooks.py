"""webhook secrets per source (web/webhooks.py) and what each kiosk screen last reported (web/screens.py)

Revision ID: 0006_d
Revises: 0006 (0006_e_screens)
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_d"
down_revision = "0007_f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_called_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_tokens")),
        sa.UniqueConstraint("source", name=op.f("uq_webhook_tokens_source")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_webhook_tokens_token_hash")),
    )
    op.create_table(
        "screens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("slide", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("app_version", sa.String(length=64), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosk_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screens")),
        sa.UniqueConstraint("kiosk_id", name=op.f("uq_screens_kiosk_id")),
    )


def downgrade() -> None:
    op.drop_table("screens")
    op.drop_table("webhook_tokens")

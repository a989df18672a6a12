"""case status changes (reopens), VTiger's reopen_count and due time, Redmine due dates

Revision ID: 0005_c
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_c"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_source_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=64), nullable=False),
        sa.Column("to_status", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("assignee_name", sa.String(length=255), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_status_changes")),
        sa.UniqueConstraint(
            "case_source_id",
            "changed_at",
            "to_status",
            "origin",
            name=op.f("uq_case_status_changes_case_source_id_changed_at_to_status_origin"),
        ),
    )
    op.create_index(op.f("ix_case_status_changes_changed_at"), "case_status_changes", ["changed_at"], unique=False)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reopen_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source_due_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("redmine_issues") as batch:
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redmine_issues") as batch:
        batch.drop_column("due_date")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("source_due_at")
        batch.drop_column("reopen_count")
    op.drop_index(op.f("ix_case_status_changes_changed_at"), table_name="case_status_changes")
    op.drop_table("case_status_changes")

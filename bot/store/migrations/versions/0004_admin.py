"""The admin channel's reports, one row per problem (DESIGN §3.10); a refused login
remembered for every process (RELIABILITY R7)

Revision ID: 0004_admin
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_admin"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = bot.store.schema.UTCDateTime(timezone=True)
    op.create_table(
        "admin_reports",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("opened_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("resolved_at", when, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("admin_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_reports_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_admin_reports_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    op.create_table(
        "login_refusals",
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.PrimaryKeyConstraint("identity"),
    )


def downgrade() -> None:
    op.drop_table("login_refusals")
    with op.batch_alter_table("admin_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_reports_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_admin_reports_state"))
    op.drop_table("admin_reports")

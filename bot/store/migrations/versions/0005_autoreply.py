"""Auto reply: missed calls a route answers with a text, one per caller per day, and the
numbers texts must not go to (DESIGN §3.12)

Revision ID: 0005_autoreply
Revises: 0004_workflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0005_autoreply"
down_revision = "0005_remind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = bot.store.schema.UTCDateTime(timezone=True)
    op.create_table(
        "auto_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item", sa.String(length=128), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=True),
        sa.Column("caller_extension", sa.String(length=16), nullable=True),
        sa.Column("called", sa.String(length=32), nullable=True),
        sa.Column("called_at", when, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=True),
        sa.Column("outbound_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item"),
        sa.UniqueConstraint("caller", "day"),
    )
    with op.batch_alter_table("auto_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auto_replies_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auto_replies_next_attempt_at"), ["next_attempt_at"], unique=False
        )
    op.create_table(
        "untextable",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("why", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("at", when, nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("untextable")
    with op.batch_alter_table("auto_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auto_replies_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_auto_replies_state"))
    op.drop_table("auto_replies")

"""Reminders (DESIGN §3.12): each channel's reminder pace, the reminder messages to post and
the posts each one lists

Revision ID: 0005_remind
Revises: 0004_workflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0005_remind"
down_revision = "0004_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = bot.store.schema.UTCDateTime(timezone=True)
    op.create_table(
        "reminder_channels",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("last_at", when, nullable=True),
        sa.Column("here_at", when, nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("here", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminders_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminders_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reminders_next_attempt_at"), ["next_attempt_at"], unique=False
        )
    op.create_table(
        "reminder_items",
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"]),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"]),
        sa.PrimaryKeyConstraint("reminder_id", "post_id"),
    )
    with op.batch_alter_table("reminder_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_items_post_id"), ["post_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminder_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_items_post_id"))
    op.drop_table("reminder_items")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminders_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_reminders_state"))
        batch_op.drop_index(batch_op.f("ix_reminders_channel"))
    op.drop_table("reminders")
    op.drop_table("reminder_channels")

"""No poison rows, fenced leases, updates retried (issue #9): voicemail follow-ups are
claimed work with a state and a reason, and message updates get their own table; Slack's
per-channel pace shared by every process (issue #10)

Revision ID: 0004_s9_pipe
Revises: 0004_links
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_s9_pipe"
down_revision = "0004_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_pace",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("next_slot", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.create_table(
        "updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", bot.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id"),
    )
    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_updates_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_updates_state"), ["state"], unique=False)
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=8), nullable=False, server_default="pending")
        )
        batch_op.add_column(
            sa.Column("claimed_until", bot.store.schema.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_followups_state"), ["state"], unique=False)
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.alter_column("state", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followups_state"))
        batch_op.drop_column("error")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("state")
    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_updates_state"))
        batch_op.drop_index(batch_op.f("ix_updates_next_attempt_at"))
    op.drop_table("updates")
    op.drop_table("channel_pace")

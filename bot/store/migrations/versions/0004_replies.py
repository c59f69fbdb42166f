"""Thread replies stored before their ack (DESIGN §3.8, §4 `slack_events`)

Revision ID: 0004_replies
Revises: 0004_admin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_replies"
down_revision = "0004_s9_pipe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = bot.store.schema.UTCDateTime(timezone=True)
    op.create_table(
        "slack_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("client_msg_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("told", sa.Boolean(), nullable=False),
        sa.Column("ringcentral_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_msg_id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.create_index("ix_slack_events_message", ["channel", "ts"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_slack_events_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_slack_events_state"), ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("slack_events")

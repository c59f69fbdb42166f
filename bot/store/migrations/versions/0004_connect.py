"""Personal RingCentral connections: who is connected as which extension, and the
authorize requests in flight (DESIGN §3.9, issue #12)

Revision ID: 0004_connect
Revises: 0004_s9_pipe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_connect"
down_revision = "0004_replies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_connections",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("extension_id", sa.String(length=32), nullable=False),
        sa.Column("extension_number", sa.String(length=16), nullable=True),
        sa.Column("extension_name", sa.String(length=128), nullable=False),
        sa.Column("ringout_from", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("told_at", bot.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    op.create_table(
        "connect_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("expires_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bot.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    with op.batch_alter_table("connect_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connect_states_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connect_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connect_states_expires_at"))
    op.drop_table("connect_states")
    op.drop_table("personal_connections")

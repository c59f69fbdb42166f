"""RingCentral events over the WebSocket: the session's `wsc` token and state, and the
inbox's content key (DESIGN §3.11)

Revision ID: 0003
Revises: 0002_catchup
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0003"
down_revision = "0002_check"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ws_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("wsc_token", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("changed_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_key", sa.String(length=160), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_inbox_content_key"), ["content_key"])


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_inbox_content_key"), type_="unique")
        batch_op.drop_column("content_key")
    op.drop_table("ws_sessions")

"""SMS that tells the truth: the texts the bridge sent, their status and receipts
(DESIGN §3.8, §4 `outbound`)

Revision ID: 0004_status
Revises: 0004_admin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_status"
down_revision = "0004_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = bot.store.schema.UTCDateTime(timezone=True)
    op.create_table(
        "outbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("extension_id", sa.String(length=64), nullable=True),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_numbers", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("slack_user", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("shown", sa.String(length=24), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("claimed_until", when, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbound", schema=None) as batch_op:
        for column in ("extension_id", "text_hash", "message_id", "state", "next_attempt_at"):
            batch_op.create_index(batch_op.f(f"ix_outbound_{column}"), [column], unique=False)


def downgrade() -> None:
    op.drop_table("outbound")

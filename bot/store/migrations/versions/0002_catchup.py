"""catch-up cursors (DESIGN §3.10)

Revision ID: 0002_catchup
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0002_catchup"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("frame", sa.String(length=64), nullable=True),
        sa.Column("synced_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("floors", sa.Text(), nullable=False),
        sa.Column("updated_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("cursors")

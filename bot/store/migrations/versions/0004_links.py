"""user_links: Slack people linked to RingCentral extensions by email or by bridge.toml
(issue #12, DESIGN §3.9)

Revision ID: 0004_links
Revises: 0004_admin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_links"
down_revision = "0004_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("extension_id", sa.String(length=32), nullable=False),
        sa.Column("extension_number", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("direct_number", sa.String(length=32), nullable=True),
        sa.Column("slack_user", sa.String(length=32), nullable=True),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("dm_channel", sa.String(length=32), nullable=True),
        sa.Column("updated_at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_links_extension_id"), ["extension_id"])
        batch_op.create_index(batch_op.f("ix_user_links_slack_user"), ["slack_user"])


def downgrade() -> None:
    with op.batch_alter_table("user_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_links_slack_user"))
        batch_op.drop_index(batch_op.f("ix_user_links_extension_id"))
    op.drop_table("user_links")

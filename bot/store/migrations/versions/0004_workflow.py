"""Team workflow: who took a notification ("Take it", DESIGN §3.12)

Revision ID: 0004_workflow
Revises: 0004_s9_pipe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0004_workflow"
down_revision = "0004_connect"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_by", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("taken_at", bot.store.schema.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("taken_at")
        batch_op.drop_column("taken_by")

"""token claims and the app's token-request window (issue #9: no network I/O inside the
token store's transaction; RingCentral's token endpoint paced per app)

Revision ID: 0002_check
Revises: 0002_catchup
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.schema

revision = "0002_check"
down_revision = "0002_catchup"  # chained after the catch-up migration main has
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_claims",
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("until", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity"),
    )
    op.create_table(
        "token_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("at", bot.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("token_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_token_requests_app"), ["app"], unique=False)
        batch_op.create_index(batch_op.f("ix_token_requests_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("token_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_token_requests_at"))
        batch_op.drop_index(batch_op.f("ix_token_requests_app"))
    op.drop_table("token_requests")
    op.drop_table("token_claims")

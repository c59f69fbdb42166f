"""Alembic environment: migrations run on a connection the bridge hands over
(`bot.store.migrate`), never on a URL read here."""

from __future__ import annotations

from alembic import context

from bot.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

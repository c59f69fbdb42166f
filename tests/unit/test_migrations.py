"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import Base, connect
from bot.store.migrate import (
    SchemaOutOfDate,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_the_database_is_at_the_head_revision_and_upgrading_again_is_harmless(
    engine: AsyncEngine,
) -> None:
    assert await current_revision(engine) == head_revision()
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_serve_refuses_an_old_postgresql_schema(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite is upgraded at start (the next test)")
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM alembic_version"))

    with pytest.raises(SchemaOutOfDate, match="run `python -m bot db upgrade`"):
        await ensure_schema(engine)


async def test_serve_upgrades_a_new_sqlite_file_itself(tmp_path: Path) -> None:
    fresh = connect(f"sqlite+aiosqlite:///{tmp_path}/fresh.db")
    try:
        await ensure_schema(fresh)  # one process owns a SQLite file: it migrates itself
        assert await current_revision(fresh) == head_revision()
    finally:
        await fresh.dispose()

"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import Base, connect
from bot.store.migrate import (
    SchemaOutOfDate,
    _head_from_scripts,
    current_revision,
    ensure_schema,
    head_revision,
    require_schema,
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


def test_the_scripts_name_the_head_alembic_finds() -> None:
    # `serve` compares the stored revision with this head before it would import Alembic:
    # a migration written (or re-chained) so that the two disagree fails here, not at a start.
    assert _head_from_scripts() == head_revision()


CHECK_WITHOUT_ALEMBIC = """
import asyncio, sys
from bot.store import connect
from bot.store.migrate import ensure_schema, require_schema

async def main(url):
    engine = connect(url)
    try:
        await ensure_schema(engine)
        await require_schema(engine)
    finally:
        await engine.dispose()

asyncio.run(main(sys.argv[1]))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako")))
"""


async def test_a_start_on_a_database_at_its_head_does_not_load_alembic(
    engine: AsyncEngine,
) -> None:
    # A restart's schema check, in a fresh interpreter: Alembic (a third of a second of
    # `serve`'s start) is loaded only when there is a migration to run.
    url = engine.url.render_as_string(hide_password=False)
    run = subprocess.run(  # noqa: ASYNC221, S603 - our own code in a fresh interpreter
        [sys.executable, "-c", CHECK_WITHOUT_ALEMBIC, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


async def test_a_database_one_revision_behind_is_still_seen_as_behind(
    engine: AsyncEngine,
) -> None:
    # The check without Alembic only ever says "at the head"; anything else goes to Alembic.
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))

    with pytest.raises(SchemaOutOfDate, match="at 0001"):
        await require_schema(engine)

"""Databases for tests: SQLite by default, PostgreSQL when RINGBRIDGE_TEST_POSTGRES is set.

The schema is built by Alembic once per test process, not once per test: on SQLite into a
template file that each test copies; on PostgreSQL into the process's own database, whose
tables are emptied before each test. Under pytest-xdist each worker has its own PostgreSQL
databases, named after RINGBRIDGE_TEST_POSTGRES's with the worker's id (`test_gw0`), made
here when missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import Base, connect, create_schema
from bot.store.migrate import head_revision

_template: tempfile.TemporaryDirectory[str] | None = None  # the SQLite template's directory
_postgres_ready: set[str] = set()  # databases given the schema by this process


def postgres_url() -> str | None:
    """RINGBRIDGE_TEST_POSTGRES (e.g. postgresql+asyncpg://postgres@127.0.0.1/test), with
    this xdist worker's id appended to its database name; None when it is not set."""
    base = os.environ.get("RINGBRIDGE_TEST_POSTGRES")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not base or not worker:
        return base or None
    url = make_url(base)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


def database_url(tmp_path: Path) -> str:
    """SQLite in the test's temporary directory, or this process's PostgreSQL database."""
    return postgres_url() or f"sqlite+aiosqlite:///{tmp_path}/t.db"


async def postgres_database(name: str, *, fresh: bool = True) -> str:
    """The URL of the database `name` of this test process (RINGBRIDGE_TEST_POSTGRES's name,
    then `name`): made if missing; emptied (dropped and made again) when `fresh`."""
    base = postgres_url()
    assert base, "RINGBRIDGE_TEST_POSTGRES is not set"
    url = make_url(base)
    own = f"{url.database}_{name}" if name else str(url.database)
    admin = connect(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            if fresh:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{own}"'))
    finally:
        await admin.dispose()
    return url.set(database=own).render_as_string(hide_password=False)


async def fresh_database(tmp_path: Path) -> str:
    """The URL of an empty database at the latest schema (see `database_url`)."""
    if postgres_url():
        return await _emptied_postgres()
    target = tmp_path / "t.db"
    shutil.copyfile(await _sqlite_template(), target)
    return f"sqlite+aiosqlite:///{target}"


async def _sqlite_template() -> Path:
    global _template
    if _template is None:
        made = tempfile.TemporaryDirectory(prefix="ringbridge-schema-")
        engine = connect(f"sqlite+aiosqlite:///{made.name}/template.db")
        try:
            await create_schema(engine)
        finally:
            await engine.dispose()  # the last connection closed: the WAL is checkpointed
        _template = made
    path = Path(_template.name) / "template.db"
    assert not path.with_name("template.db-wal").exists(), "the template is not one file"
    return path


async def _emptied_postgres() -> str:
    url = postgres_url()
    assert url
    first = url not in _postgres_ready
    if first:
        await postgres_database("", fresh=False)  # made if missing (an xdist worker's)
    engine = connect(url)
    try:
        if first:
            await _rebuild(engine)
            _postgres_ready.add(url)
        else:
            try:
                await _empty(engine)
            except DBAPIError:  # a test left the schema broken: build it again
                await _rebuild(engine)
    finally:
        await engine.dispose()
    return url


async def _empty(engine: AsyncEngine) -> None:
    """Every table emptied, and Alembic's version the head again (a test may change it)."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await conn.execute(text("DELETE FROM alembic_version"))
        await conn.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
            {"head": _head()},
        )


@cache
def _head() -> str:
    return head_revision()


async def _rebuild(engine: AsyncEngine) -> None:
    """The public schema dropped with all it holds, then migrated: a worker's database
    outlives the run, and what an earlier run left in it (a test's trigger function, a
    table of an older head) must not meet this one."""
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await create_schema(engine)


@asynccontextmanager
async def refusing(
    engine: AsyncEngine, table: str, when: str, *, on: str = "UPDATE"
) -> AsyncIterator[None]:
    """While inside: the database refuses any `on` (UPDATE, INSERT) of a row of `table`
    that matches `when` (a condition on NEW, and on OLD for an UPDATE, written the same
    for SQLite and PostgreSQL), as a full disk or a broken constraint would. The trigger
    is dropped on the way out, whatever happened inside, so the next test in this
    database meets none."""
    name = f"refuse_{table}"
    if engine.dialect.name == "postgresql":
        made = [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            f"CREATE TRIGGER {name} BEFORE {on} ON {table} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION {name}()",
        ]
        dropped = [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    else:
        made = [
            f"CREATE TRIGGER {name} BEFORE {on} ON {table} WHEN {when} "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
        dropped = [f"DROP TRIGGER IF EXISTS {name}"]
    async with engine.begin() as conn:
        for statement in made:
            await conn.execute(text(statement))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            for statement in dropped:
                await conn.execute(text(statement))

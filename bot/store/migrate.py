"""Schema migrations (Alembic), run on the bridge's own async engine.

`python -m bot db upgrade` applies them (Heroku: the Procfile's `release:` line). `serve`
checks the schema at start: on SQLite, one process owns the file, so it upgrades itself;
on PostgreSQL, several processes share the database, so it refuses to start on an old
schema and says to run the upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "SchemaOutOfDate",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "require_schema",
    "upgrade",
]

_HERE = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships its migrations
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    config = _config()

    def run(connection: Connection, *_: Any) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


class SchemaOutOfDate(Exception):
    """The database is not at this version's schema (`current`: its revision, None when it
    has none); `python -m bot db upgrade` fixes it."""

    def __init__(self, current: str | None) -> None:
        self.current = current
        super().__init__(
            f"the database schema is at {current or 'nothing'}, this version needs "
            f"{head_revision()}: run `python -m bot db upgrade`"
        )


async def require_schema(engine: AsyncEngine) -> None:
    """Raise SchemaOutOfDate unless the database is at this version's schema; reads only."""
    current = await current_revision(engine)
    if current != head_revision():
        raise SchemaOutOfDate(current)


async def ensure_schema(engine: AsyncEngine) -> None:
    """At `serve` start: upgrade SQLite (one process owns it); on PostgreSQL, where several
    processes share the schema and a release step migrates it, refuse an old one."""
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
        return
    await require_schema(engine)

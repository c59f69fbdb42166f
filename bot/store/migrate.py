"""Schema migrations (Alembic), run on the bridge's own async engine.

`python -m bot db upgrade` applies them (Heroku: the Procfile's `release:` line). `serve`
checks the schema at start: on SQLite, one process owns the file, so it upgrades itself;
on PostgreSQL, several processes share the database, so it refuses to start on an old
schema and says to run the upgrade.

Alembic is imported only when it has work: importing it (its DDL for every dialect, Mako)
took about a third of a second of `serve`'s start (`python -X importtime`), to find out
that the database is already at this version's head, as it is at nearly every start. So
that check comes first, without Alembic: the stored revision against the head named by the
migration scripts themselves (`_head_from_scripts`). Anything else (no table yet, another
revision, a script it cannot read) goes to Alembic, which decides.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


@functools.cache  # the migrations ship with the code: they cannot change while it runs
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships its migrations
    return head


@functools.cache
def _head_from_scripts() -> str | None:
    """The head revision as the scripts in versions/ name it: each one's `revision` and
    `down_revision` literals, the head being the one revision no script names as its
    parent. None, for Alembic to decide, unless every script reads plainly and there is
    exactly one head (tests/unit/test_migrations.py: the same head as Alembic's)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_HERE / "versions").glob("*.py"):
        if path.name.startswith(("__init__", ".#")):  # what Alembic skips too
            continue
        found: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            if (
                value is not None
                and isinstance(target, ast.Name)
                and target.id in ("revision", "down_revision")
            ):
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or "down_revision" not in found:
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else list(down or ()))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def _surely_at_head(engine: AsyncEngine) -> bool:
    """True only when the database is at the head `_head_from_scripts` names; False also
    whenever that cannot be told without Alembic."""
    head = _head_from_scripts()
    if head is None:
        return False

    def stored(connection: Connection) -> list[str] | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return [str(v) for v in rows.scalars()]

    async with engine.connect() as conn:
        return await conn.run_sync(stored) == [head]


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

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
    if await _surely_at_head(engine):
        return
    current = await current_revision(engine)
    if current != head_revision():
        raise SchemaOutOfDate(current)


async def ensure_schema(engine: AsyncEngine) -> None:
    """At `serve` start: upgrade SQLite (one process owns it); on PostgreSQL, where several
    processes share the schema and a release step migrates it, refuse an old one."""
    if await _surely_at_head(engine):
        return
    if engine.dialect.name == "sqlite":
        # Read first: an upgrade that has nothing to do still loads every migration script.
        if await current_revision(engine) != head_revision():
            await upgrade(engine)
        return
    await require_schema(engine)

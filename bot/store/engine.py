from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def connect(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for an async SQLAlchemy URL (`sqlite+aiosqlite://…`, `postgresql+asyncpg://…`).

    `hide_parameters`: an SQL error's text names the statement but not its values, which
    are stored tokens, verification tokens and SMS text (RELIABILITY R19)."""
    options: dict[str, Any] = {"hide_parameters": True, **kwargs}
    if url.startswith("sqlite+aiosqlite") and "module" not in options:
        options["module"] = _one_trip_module()
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # aiosqlite logs every statement with its parameters at DEBUG: the stored tokens
        # and verification tokens must not follow a DEBUG log level into the log.
        quiet = logging.getLogger("aiosqlite")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.INFO)
    return engine


def _one_trip_module() -> Any:
    """SQLite's driver with a statement in one trip to its thread (`bot.store._sqlite`), or
    None: SQLAlchemy's own, where this SQLAlchemy's adapter is not the one it is written
    against (its insides may not even import)."""
    try:
        from bot.store._sqlite import module
    except ImportError:
        return None
    return module()


def insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """The `INSERT … ON CONFLICT` construct of `dialect` ("postgresql" or "sqlite") for
    `table` (a mapped class or a Table). The dialect module is imported here: a server on
    SQLite never loads PostgreSQL's, nor one on PostgreSQL SQLite's (start-up time)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout waits for the lock instead of
    # failing at once; NORMAL sync is durable across process crashes in WAL mode. 20 s, not
    # 5: on a starved machine (load 20 on 2 cores) the coroutine holding the write lock can
    # wait seconds for its turn to commit, and a write that waits is better than one that
    # fails and is retried (every failure path retries anyway).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=20000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """The schema at its latest migration (tests; SQLite at `serve` start)."""
    from bot.store.migrate import upgrade

    await upgrade(engine)

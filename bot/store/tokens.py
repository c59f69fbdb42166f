"""The RingCentral session in the database, shared by every process (DESIGN §4 `tokens`).

`DatabaseTokenStore` keeps one identity's session as the text it is given (the RingCentral
client's JSON; `bot.ringcentral.JsonTokenStore` converts, so nothing here knows what a
token is). It has the shape of `bot.ringcentral.TokenTextStore`: the token manager holds
`lock()` around every token request and re-reads the store after taking it
(RELIABILITY §3), so with this store several processes use one RingCentral session and
never refresh it twice:

- PostgreSQL: `lock()` opens a transaction, inserts the identity's row if it is missing
  (`INSERT … ON CONFLICT DO NOTHING`) and takes its row lock (`SELECT … FOR UPDATE`);
  another process's `lock()` waits there until the first commits its new tokens.
- SQLite (one process, but several clients may share the file): the same insert is a
  write, which takes the database's write lock at once (SQLAlchemy's aiosqlite
  transactions begin deferred), so it is the `BEGIN IMMEDIATE` of this transaction.

While the lock is held by the current task, `load()` and `save()` run in its transaction;
otherwise each runs in a short transaction of its own. The text holds the secret values;
nothing here logs it, and `repr` shows none of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock, SystemClock
from bot.store.schema import Token

__all__ = ["DatabaseTokenStore"]


class DatabaseTokenStore:
    """One identity's session text in the `tokens` table; see the module docstring."""

    def __init__(self, engine: AsyncEngine, identity: str, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self.identity = identity
        self._clock: Clock = clock or SystemClock()
        # The connection whose transaction holds the row lock, and the task holding it.
        self._held: tuple[asyncio.Task[Any] | None, AsyncConnection] | None = None

    def __repr__(self) -> str:
        return f"DatabaseTokenStore(identity={self.identity!r})"

    # -- TokenTextStore ------------------------------------------------------------------

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self._locked()

    async def load(self) -> str | None:
        conn = self._connection()
        if conn is not None:
            return await self._read(conn)
        async with self._engine.connect() as own:
            return await self._read(own)

    async def save(self, text: str) -> None:
        await self._write(text)

    async def clear(self) -> None:
        await self._write(None)

    # -- inside ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        if self._connection() is not None:
            raise RuntimeError("DatabaseTokenStore.lock() is not re-entrant")
        async with self._engine.connect() as conn, conn.begin():
            # The write takes SQLite's write lock; on PostgreSQL it makes sure there is
            # a row to lock (a concurrent insert of the same row waits for ours).
            await conn.execute(self._insert_missing(conn))
            if conn.dialect.name != "sqlite":
                await conn.execute(
                    select(Token.identity).where(Token.identity == self.identity).with_for_update()
                )
            self._held = (asyncio.current_task(), conn)
            try:
                yield
            finally:
                self._held = None

    def _connection(self) -> AsyncConnection | None:
        held = self._held
        if held is not None and held[0] is asyncio.current_task():
            return held[1]
        return None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def _insert_missing(self, conn: AsyncConnection) -> Any:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        values = {"identity": self.identity, "tokens": None, "updated_at": self._now()}
        return insert(Token).values(**values).on_conflict_do_nothing()

    async def _read(self, conn: AsyncConnection) -> str | None:
        stored: str | None = await conn.scalar(
            select(Token.tokens).where(Token.identity == self.identity)
        )
        return stored or None

    async def _write(self, stored: str | None) -> None:
        conn = self._connection()
        if conn is not None:  # the row exists: lock() made sure of it
            await conn.execute(
                update(Token)
                .where(Token.identity == self.identity)
                .values(tokens=stored, updated_at=self._now())
            )
            return
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(Token).values(
            identity=self.identity, tokens=stored, updated_at=self._now()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Token.identity],
            set_={"tokens": statement.excluded.tokens, "updated_at": statement.excluded.updated_at},
        )
        async with self._engine.begin() as own:
            await own.execute(statement)

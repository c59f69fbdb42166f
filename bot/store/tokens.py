"""The RingCentral session in the database, shared by every process (DESIGN §4 `tokens`).

`DatabaseTokenStore` keeps one identity's session as the text it is given (the RingCentral
client's JSON; `bot.ringcentral.JsonTokenStore` converts, so nothing here knows what a
token is). It has the shape of `bot.ringcentral.TokenTextStore`, so several processes use
one RingCentral session and never renew it twice — without holding a database transaction
across the token request (issue #9: on SQLite a transaction holds the write lock, and
webhook deliveries could not be stored while a token request waited for its turn):

1. take the claim: one short write in `token_claims` — insert the identity's claim, or
   take over one whose lease has run out — answered by whether we hold it now;
   otherwise poll every `poll` seconds (another process is renewing: it will be done
   soon, and polling holds nothing);
2. read the session (a plain read), and leave the database: the token manager renews
   the session over the network; meanwhile a task renews the lease every third of it,
   so a holder that waits long for its rate-limit slot keeps the claim, and one that died
   loses it within `lease` seconds;
3. write the renewed session with a compare (`Refresh.replace`): one short transaction
   that updates the row only if it still holds what was read in 2 (`IS NOT DISTINCT
   FROM`), else answers what another process stored; then release the claim.

The lease is measured on the wall clock of the machines, not the injected clock: it says
whether a holder is still alive, which a fake clock that jumps ahead must not decide.
Plain `load()`, `save()` and `clear()` are one short statement each. The text holds the
secret values; nothing here logs it, and `repr` shows none of it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock, SystemClock
from bot.store.engine import insert
from bot.store.schema import Token, TokenClaim

__all__ = ["LEASE", "DatabaseTokenStore"]

log = logging.getLogger("bot.store.tokens")

LEASE = 15.0  # seconds a claim lasts unless its holder renews it (every LEASE / 3)
POLL = 0.05  # seconds between a waiting process's looks at the claim


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DatabaseTokenStore:
    """One identity's session text in the `tokens` table; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        identity: str,
        *,
        clock: Clock | None = None,
        lease: float = LEASE,
        poll: float = POLL,
    ) -> None:
        self._engine = engine
        self.identity = identity
        self._clock: Clock = clock or SystemClock()
        self.lease = lease
        self.poll = poll

    def __repr__(self) -> str:
        return f"DatabaseTokenStore(identity={self.identity!r})"

    # -- TokenTextStore ------------------------------------------------------------------

    async def load(self) -> str | None:
        async with self._engine.connect() as conn:
            return await self._read(conn)

    async def save(self, text: str) -> None:
        await self._write(text)

    async def clear(self) -> None:
        await self._write(None)

    def refreshing(self) -> AbstractAsyncContextManager[_Claim]:
        return self._refreshing()

    # -- the claim -------------------------------------------------------------------------

    @asynccontextmanager
    async def _refreshing(self) -> AsyncIterator[_Claim]:
        holder = secrets.token_hex(8)
        # Polled: the holder may be another process, which no asyncio.Event can hear.
        while not await self._try_claim(holder):  # noqa: ASYNC110
            await asyncio.sleep(self.poll)  # real time: another process's network I/O
        keeper = asyncio.create_task(self._keep(holder), name=f"token claim {self.identity}")
        try:
            yield _Claim(self, await self.load())
        finally:
            keeper.cancel()
            try:
                await self._release(holder)
            finally:
                await asyncio.wait([keeper])  # never raises the keeper's cancellation

    async def _try_claim(self, holder: str) -> bool:
        now = time.time()
        statement = insert(self._engine.dialect.name, TokenClaim).values(
            identity=self.identity, holder=holder, until=_wall(now + self.lease)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[TokenClaim.identity],
            set_={"holder": statement.excluded.holder, "until": statement.excluded.until},
            where=TokenClaim.until < _wall(now),  # only a lease that has run out
        ).returning(TokenClaim.holder)
        async with self._engine.begin() as conn:
            taken = (await conn.execute(upsert)).scalar_one_or_none()
        return taken == holder

    async def _keep(self, holder: str) -> None:
        """Renew the lease while the holder works (a token request may wait its turn)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            statement = (
                update(TokenClaim)
                .where(TokenClaim.identity == self.identity, TokenClaim.holder == holder)
                .values(until=_wall(time.time() + self.lease))
            )
            try:
                async with self._engine.begin() as conn:
                    kept = (await conn.execute(statement)).rowcount
            except SQLAlchemyError as exc:  # tried again at the next beat
                log.warning("the token claim of %s was not renewed: %s", self.identity,
                            type(exc).__name__)  # fmt: skip
                continue
            if not kept:
                log.warning("the token claim of %s ran out while it was held", self.identity)
                return

    async def _release(self, holder: str) -> None:
        statement = delete(TokenClaim).where(
            TokenClaim.identity == self.identity, TokenClaim.holder == holder
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        except SQLAlchemyError as exc:  # the session is stored; the lease runs out by itself
            log.warning("the token claim of %s was not released: %s", self.identity,
                        type(exc).__name__)  # fmt: skip

    async def compare_and_set(self, expected: str | None, text: str | None) -> str | None:
        """`text` stored if the row still holds `expected`; what it holds afterwards."""
        async with self._engine.begin() as conn:
            await conn.execute(self._insert_missing(conn))  # SQLite: the write lock, at once
            changed = await conn.execute(
                update(Token)
                .where(Token.identity == self.identity, Token.tokens.is_not_distinct_from(expected))
                .values(tokens=text, updated_at=self._now())
            )
            if changed.rowcount:
                return text
            return await self._read(conn)

    # -- inside ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _wall(self._clock.now())

    def _insert_missing(self, conn: AsyncConnection) -> Any:
        values = {"identity": self.identity, "tokens": None, "updated_at": self._now()}
        return insert(conn.dialect.name, Token).values(**values).on_conflict_do_nothing()

    async def _read(self, conn: AsyncConnection) -> str | None:
        stored: str | None = await conn.scalar(
            select(Token.tokens).where(Token.identity == self.identity)
        )
        return stored or None

    async def _write(self, stored: str | None) -> None:
        statement = insert(self._engine.dialect.name, Token).values(
            identity=self.identity, tokens=stored, updated_at=self._now()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Token.identity],
            set_={"tokens": statement.excluded.tokens, "updated_at": statement.excluded.updated_at},
        )
        async with self._engine.begin() as own:
            await own.execute(statement)


class _Claim:
    """The claim's holder: the session read after taking it, and the compare-and-set."""

    def __init__(self, store: DatabaseTokenStore, current: str | None) -> None:
        self._store = store
        self._current = current

    def __repr__(self) -> str:
        return f"_Claim({self._store!r})"

    @property
    def current(self) -> str | None:
        return self._current

    async def replace(self, text: str | None) -> str | None:
        return await self._store.compare_and_set(self._current, text)

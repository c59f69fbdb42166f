"""The app's recent requests to RingCentral's token endpoint, shared by every process
(`bot.ringcentral.TokenRequestLog`; RELIABILITY R27).

`take()` is one short transaction, serialised per app: on PostgreSQL by a transaction-level
advisory lock on the app (`pg_advisory_xact_lock`, released at commit), on SQLite by the
write lock its first statement (an insert) takes. Inside it the request is recorded,
the window counted, and the record taken back when the window was already full. The
caller waits outside the transaction. Rows are kept for an hour (`KEEP`), who asked the
token endpoint when (a few hundred rows at most), and deleted as it goes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.schema import TokenRequest

__all__ = ["KEEP", "DatabaseTokenRequestLog"]

KEEP = 3600.0  # seconds a request stays on record


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _lock_key(app: str) -> int:
    """A signed 64-bit advisory-lock key of its own for each app."""
    digest = hashlib.sha256(f"ringbridge.token_requests:{app}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class DatabaseTokenRequestLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "DatabaseTokenRequestLog()"

    async def take(
        self, app: str, identity: str, *, now: float, window: float, limit: int
    ) -> float | None:
        since = _wall(now - window)
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(select(func.pg_advisory_xact_lock(_lock_key(app))))
            mine = (
                await conn.execute(
                    insert(TokenRequest)
                    .values(app=app, identity=identity, at=_wall(now))
                    .returning(TokenRequest.id)
                )
            ).scalar_one()
            in_window = (TokenRequest.app == app, TokenRequest.at > since, TokenRequest.id != mine)
            others = (
                await conn.scalars(
                    select(TokenRequest.at)
                    .where(*in_window)
                    .order_by(TokenRequest.at, TokenRequest.id)
                )
            ).all()
            forgotten = _wall(now - max(window, KEEP))
            await conn.execute(
                delete(TokenRequest).where(TokenRequest.app == app, TokenRequest.at <= forgotten)
            )
            if len(others) < limit:
                return None
            await conn.execute(delete(TokenRequest).where(TokenRequest.id == mine))
        return others[len(others) - limit].timestamp() + window

    async def requests(self, app: str) -> list[tuple[str, float]]:
        """(identity, time) of the app's requests of the last hour, oldest first."""
        query = (
            select(TokenRequest.identity, TokenRequest.at)
            .where(TokenRequest.app == app)
            .order_by(TokenRequest.at, TokenRequest.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(identity, at.timestamp()) for identity, at in rows]

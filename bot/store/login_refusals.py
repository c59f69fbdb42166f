"""An identity's refused RingCentral login, shared by the processes of one bridge (the
shape of `bot.ringcentral.LoginGate`; RELIABILITY R7: at most one JWT attempt per 5
minutes, from all of them together). Plain values in and out."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import LoginRefusal as Row

__all__ = ["DatabaseLoginGate"]


class DatabaseLoginGate:
    def __init__(self, engine: AsyncEngine, identity: str) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._identity = identity

    async def refusal(self) -> tuple[str, str, float] | None:
        """(error, errorCode, when as a timestamp), or None."""
        async with self._sessions() as session:
            row = await session.get(Row, self._identity)
            return (row.error, row.error_code, row.at.timestamp()) if row is not None else None

    async def refused(self, error: str, error_code: str, at: float) -> None:
        when = datetime.fromtimestamp(at, UTC)
        async with self._sessions.begin() as session:
            await session.merge(
                Row(identity=self._identity, error=error[:64], error_code=error_code[:32],
                    at=when)
            )  # fmt: skip

    async def cleared(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Row).where(Row.identity == self._identity))

"""An identity's refused RingCentral login, shared by the processes of one bridge
(`bot.ringcentral.LoginGate`, RELIABILITY R7: at most one JWT attempt per 5 minutes, from
all of them together)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.ringcentral import LoginRefusal
from bot.store.schema import LoginRefusal as Row

__all__ = ["DatabaseLoginGate"]


class DatabaseLoginGate:
    def __init__(self, engine: AsyncEngine, identity: str) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._identity = identity

    async def refusal(self) -> LoginRefusal | None:
        async with self._sessions() as session:
            row = await session.get(Row, self._identity)
            if row is None:
                return None
            return LoginRefusal(error=row.error, error_code=row.error_code, at=row.at.timestamp())

    async def refused(self, refusal: LoginRefusal) -> None:
        at = datetime.fromtimestamp(refusal.at, UTC)
        async with self._sessions.begin() as session:
            await session.merge(
                Row(identity=self._identity, error=refusal.error[:64],
                    error_code=refusal.error_code[:32], at=at)
            )  # fmt: skip

    async def cleared(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Row).where(Row.identity == self._identity))

"""RingCentral rate-limit penalties in the database, shared by every process.

`DatabasePenaltyStore` implements `bot.ringcentral.PenaltyStore`: one row per (identity,
throttling group) holding the wall-clock time the penalty ends. A save never shortens a
penalty (RingCentral restarts it on every request during it, it never ends it early), so
two processes recording 429s at once keep the later end.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import insert
from bot.store.schema import Penalty, UTCDateTime

__all__ = ["DatabasePenaltyStore"]


class DatabasePenaltyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "DatabasePenaltyStore()"

    async def load(self, identity: str, group: str) -> float | None:
        query = select(Penalty.until).where(Penalty.identity == identity, Penalty.group == group)
        async with self._engine.connect() as conn:
            until = await conn.scalar(query)
        return until.timestamp() if until is not None else None

    async def save(self, identity: str, group: str, until: float) -> None:
        postgres = self._engine.dialect.name == "postgresql"
        statement = insert(self._engine.dialect.name, Penalty).values(
            identity=identity, group=group, until=datetime.fromtimestamp(until, UTC)
        )
        # GREATEST on PostgreSQL; SQLite's two-argument max() (its datetimes are text in
        # one fixed format, which orders as time does).
        later = func.greatest if postgres else func.max
        statement = statement.on_conflict_do_update(
            index_elements=[Penalty.identity, Penalty.group],
            set_={"until": later(Penalty.until, statement.excluded.until, type_=UTCDateTime)},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

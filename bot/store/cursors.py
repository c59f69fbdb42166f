"""Catch-up's cursors, one per RingCentral source (DESIGN §3.10, §4 `cursors`): plain
data in and out. `write()` saves one in the caller's transaction, so the posts a sync
found and the cursor past them commit together (a crash between loses nothing: the next
pass reads the same records again, and their posts are deduplicated)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store.schema import Cursor

__all__ = ["CursorRecord", "Cursors"]


@dataclass(frozen=True, slots=True)
class CursorRecord:
    source: str
    token: str | None
    frame: str | None
    synced_at: datetime
    floors: Mapping[str, datetime] = field(default_factory=dict)

    def __repr__(self) -> str:  # a sync token is RingCentral's business, not a log's
        return f"CursorRecord(source={self.source!r}, synced_at={self.synced_at.isoformat()})"


class Cursors:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get(self, source: str) -> CursorRecord | None:
        async with self._sessions() as session:
            row = await session.get(Cursor, source)
            return _record(row) if row else None

    async def all(self) -> list[CursorRecord]:
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(select(Cursor))]

    async def save(self, record: CursorRecord, *, now: datetime) -> None:
        async with self._sessions.begin() as session:
            await self.write(session, record, now=now)

    @staticmethod
    async def write(session: AsyncSession, record: CursorRecord, *, now: datetime) -> None:
        """Insert or replace `record` in the caller's transaction."""
        await session.merge(
            Cursor(
                source=record.source,
                token=record.token,
                frame=record.frame,
                synced_at=record.synced_at,
                floors=json.dumps({k: v.isoformat() for k, v in sorted(record.floors.items())}),
                updated_at=now,
            )
        )


def _record(row: Cursor) -> CursorRecord:
    floors = {k: datetime.fromisoformat(v) for k, v in json.loads(row.floors).items()}
    return CursorRecord(row.source, row.token, row.frame, row.synced_at, floors)

"""What the Slack actions read and change of posted notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Post, Thread


@dataclass(frozen=True, slots=True)
class PostedNotice:
    id: int
    channel: str
    ts: str | None
    notice: str  # JSON, bot.notices.load_notice
    handled_by: str | None
    handled_at: datetime | None
    taken_by: str | None = None
    taken_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    company_number: str
    other_number: str  # a group MMS: its key (`group:…`); the parties are in the notice
    parent_notice: str | None = None  # the thread parent's notice (JSON)
    parent_post_id: int | None = None  # the post that started its thread


class Posts:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def find(self, kind: str, item: str, channel: str) -> PostedNotice | None:
        return await self._one(Post.kind == kind, Post.item == item, Post.channel == channel)

    async def get(self, post_id: int) -> PostedNotice | None:
        return await self._one(Post.id == post_id)

    async def _one(self, *where: ColumnElement[bool]) -> PostedNotice | None:
        async with self._sessions() as session:
            row = (await session.scalars(select(Post).where(*where))).one_or_none()
        if row is None:
            return None
        return PostedNotice(
            row.id,
            row.channel,
            row.ts,
            row.notice,
            row.handled_by,
            row.handled_at,
            row.taken_by,
            row.taken_at,
        )

    async def mark_handled(self, post_id: int, user_id: str, at: datetime) -> bool:
        """Record the handler unless someone was first; True when this call did."""
        return await self._first(post_id, "handled", user_id, at)

    async def take(self, post_id: int, user_id: str, at: datetime) -> bool:
        """Record who took it ("Take it") unless someone was first; True when this call did."""
        return await self._first(post_id, "taken", user_id, at)

    async def _first(
        self, post_id: int, what: Literal["handled", "taken"], user_id: str, at: datetime
    ) -> bool:
        by = getattr(Post, f"{what}_by")
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Post)
                .where(Post.id == post_id, by.is_(None))
                .values({f"{what}_by": user_id, f"{what}_at": at})
            )
        return bool(getattr(result, "rowcount", 0))

    async def conversation(self, channel: str, thread_ts: str) -> Conversation | None:
        """The SMS conversation whose Slack thread this is, if it is one."""
        async with self._sessions() as session:
            thread = (
                await session.scalars(
                    select(Thread).where(Thread.channel == channel, Thread.thread_ts == thread_ts)
                )
            ).first()
            if thread is None:
                return None
            parent = await session.get(Post, thread.parent_post_id)
        notice = parent.notice if parent is not None else None
        return Conversation(
            thread.company_number, thread.other_number, notice, thread.parent_post_id
        )

"""What the Slack actions read and change of posted notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
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


@dataclass(frozen=True, slots=True)
class Conversation:
    company_number: str
    other_number: str  # a group MMS: its key (`group:…`); the parties are in the notice
    parent_notice: str | None = None  # the thread parent's notice (JSON)


@dataclass(frozen=True, slots=True)
class KindCount:
    kind: str
    total: int
    open: int  # not marked handled


class Posts:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def find(self, kind: str, item: str, channel: str) -> PostedNotice | None:
        async with self._sessions() as session:
            row = (
                await session.scalars(
                    select(Post).where(
                        Post.kind == kind, Post.item == item, Post.channel == channel
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return PostedNotice(row.id, row.channel, row.ts, row.notice, row.handled_by, row.handled_at)

    async def mark_handled(self, post_id: int, user_id: str, at: datetime) -> bool:
        """Record the handler unless someone was first; True when this call did."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Post)
                .where(Post.id == post_id, Post.handled_by.is_(None))
                .values(handled_by=user_id, handled_at=at)
            )
        return bool(getattr(result, "rowcount", 0))

    async def conversation(self, channel: str, thread_ts: str) -> Conversation | None:
        """The SMS conversation whose Slack thread this is, if it is one."""
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(Thread, Post.notice)
                    .outerjoin(Post, Post.id == Thread.parent_post_id)
                    .where(Thread.channel == channel, Thread.thread_ts == thread_ts)
                )
            ).first()
        if found is None:
            return None
        thread, notice = found
        return Conversation(thread.company_number, thread.other_number, notice)

    async def find_item(self, kind: str, item: str) -> PostedNotice | None:
        """The first post of this notice in any channel (a click from App Home carries no
        channel)."""
        async with self._sessions() as session:
            row = (
                await session.scalars(
                    select(Post)
                    .where(Post.kind == kind, Post.item == item, Post.ts.is_not(None))
                    .order_by(Post.id)
                )
            ).first()
        if row is None:
            return None
        return PostedNotice(row.id, row.channel, row.ts, row.notice, row.handled_by, row.handled_at)

    async def unhandled(
        self, kinds: tuple[str, ...], since: datetime, limit: int = 500
    ) -> list[PostedNotice]:
        """Posted notices of these kinds nobody marked handled, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Post)
                .where(
                    Post.kind.in_(kinds),
                    Post.handled_by.is_(None),
                    Post.ts.is_not(None),
                    Post.created_at >= since,
                )
                .order_by(Post.created_at.desc(), Post.id.desc())
                .limit(limit)
            )
            return [
                PostedNotice(r.id, r.channel, r.ts, r.notice, r.handled_by, r.handled_at)
                for r in rows
            ]

    async def counts_since(self, since: datetime) -> list[KindCount]:
        """Notices posted since `since`, per kind (each notice once, whatever its channels),
        and how many of them are not marked handled."""
        async with self._sessions() as session:
            per_item = (
                select(
                    Post.kind,
                    Post.item,
                    func.max(func.coalesce(Post.handled_by, "")).label("handler"),
                )
                .where(Post.created_at >= since)
                .group_by(Post.kind, Post.item)
                .subquery()
            )
            still_open = case((per_item.c.handler == "", 1), else_=0)
            rows = await session.execute(
                select(per_item.c.kind, func.count(), func.sum(still_open)).group_by(
                    per_item.c.kind
                )
            )
            return [KindCount(kind, int(total), int(open_ or 0)) for kind, total, open_ in rows]

"""What the Slack actions read and change of posted notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Post, Thread, Update
from bot.store.updates import queue_update

# A click's chat.update is made by the action at once; the dispatcher makes it after this
# long if the action could not (Slack failed, the process died): retried like a post.
HANDLED_GRACE = timedelta(seconds=15)
# The kind of the bridge's own daily digest (bot.bridge.digest): a post, not a notification.
DIGEST = "digest"


def thread_id(thread_key: str, channel: str) -> dict[str, str]:
    """The primary key of a conversation's thread in `channel` (a `Thread` row), from its
    posts' `thread_key` ("company number|other party")."""
    company, other = thread_key.split("|", 1)
    return {"company_number": company, "other_number": other, "channel": channel}


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


@dataclass(frozen=True, slots=True)
class KindCount:
    kind: str
    total: int
    open: int  # not marked handled


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
        return _posted(row)

    async def take(self, post_id: int, user_id: str, at: datetime) -> bool:
        """Record who took it ("Take it") unless someone was first; True when this call did."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Post)
                .where(Post.id == post_id, Post.taken_by.is_(None))
                .values(taken_by=user_id, taken_at=at)
            )
        return bool(getattr(result, "rowcount", 0))

    async def mark_handled(self, post_id: int, user_id: str, at: datetime) -> int | None:
        """Record the handler unless someone was first; None when someone was, else the
        revision of the message's update, which the dispatcher makes after HANDLED_GRACE
        unless the clicking person's own chat.update showed it first (`shown`)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Post)
                .where(Post.id == post_id, Post.handled_by.is_(None))
                .values(handled_by=user_id, handled_at=at)
            )
            if not getattr(result, "rowcount", 0):
                return None
            await queue_update(session, post_id, at, delay=HANDLED_GRACE)
            return await session.scalar(select(Update.revision).where(Update.post_id == post_id))

    async def shown(self, post_id: int, revision: int) -> None:
        """The message was updated by the action itself: its queued update (of that
        revision, not yet claimed) is not needed."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Update)
                .where(
                    Update.post_id == post_id,
                    Update.revision == revision,
                    Update.state == "pending",
                    Update.claimed_until.is_(None),
                )
                .values(state="done")
            )

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
        return Conversation(
            thread.company_number, thread.other_number, notice, thread.parent_post_id
        )

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
        return _posted(row)

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
            return [_posted(r) for r in rows]

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
                .where(Post.created_at >= since, Post.kind != DIGEST)
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


def _posted(row: Post) -> PostedNotice:
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

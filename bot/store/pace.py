"""Slack's per-channel pace, shared by every process (`channel_pace`): one post a second
per channel, and a 429's Retry-After for the whole channel (RELIABILITY R5).

A process takes a channel's slot with one conditional upsert — the row is written only
when the channel's next slot has come — so two processes never both post into one channel
within the pace, whichever claimed which post.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.schema import ChannelPace, Post
from bot.store.work import Row, extend, write_back


async def take_slot(
    session: AsyncSession, channel: str, now: datetime, pace: timedelta
) -> datetime | None:
    """Take `channel`'s slot for now (the next one is `now + pace`): None when taken, else
    when the channel may next be posted to."""
    insert = _insert(session)
    statement = insert(ChannelPace).values(channel=channel, next_slot=now + pace)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelPace.channel],
        set_={"next_slot": now + pace},
        where=ChannelPace.next_slot <= now,
    )
    result = await session.execute(statement)
    if getattr(result, "rowcount", 0):
        return None
    return await session.scalar(select(ChannelPace.next_slot).where(ChannelPace.channel == channel))


async def mark_sending(
    sessions: async_sessionmaker[AsyncSession],
    row: Row,
    channel: str,
    now: datetime,
    pace: timedelta,
    until: datetime,
) -> bool | None:
    """Take `channel`'s slot and mark the claimed `row` (a post, a reminder) `sending`,
    its lease stretched to `until` (past the Slack call's longest time), in one
    transaction committed before the call. True: send it now. False: the channel's slot
    is not free yet (the row waits for it). None: the lease is no longer ours (nothing
    written, the slot left as it was): another process has the row."""
    try:
        async with sessions.begin() as session:
            busy = await take_slot(session, channel, now, pace)
            if busy is not None:
                await write_back(session, row, next_attempt_at=busy)
                return False
            if not await extend(session, row, until, state="sending"):
                raise _LeaseLost  # rolls the slot back too
    except _LeaseLost:
        return None
    return True


class _LeaseLost(Exception):
    """Our lease on a row ran out before its sending was committed."""


async def hold(session: AsyncSession, channel: str, until: datetime) -> None:
    """Nothing to `channel` before `until` (a 429's Retry-After), from any process."""
    insert = _insert(session)
    statement = insert(ChannelPace).values(channel=channel, next_slot=until)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelPace.channel],
        set_={"next_slot": func.max(ChannelPace.next_slot, until)}
        if session.get_bind().dialect.name == "sqlite"
        else {"next_slot": func.greatest(ChannelPace.next_slot, until)},
    )
    await session.execute(statement)


def channel_open(now: datetime, channel: Any = Post.channel) -> ColumnElement[bool]:
    """A claim condition: the row's channel (a mapped column: a post's, a reminder's) may
    be posted to now."""
    return ~exists().where(and_(ChannelPace.channel == channel, ChannelPace.next_slot > now))


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert

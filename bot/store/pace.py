"""Slack's per-channel pace, shared by every process (`channel_pace`): one post a second
per channel, and a 429's Retry-After for the whole channel (RELIABILITY R5).

The pace counts where Slack counts it, between the posts' arrivals at Slack. A process
that takes a channel's slot holds the channel for the pace plus its call's longest time
(the client's timeout), since its post may reach Slack at any moment of that; when Slack
answers, the slot is settled to the answer's time plus the pace (the post arrived before
the answer). A call without an answer (a timeout, a dropped connection) leaves the long
hold: Slack may still act on it. So no two posts reach a channel closer than the pace,
whichever process made them, and a process that dies mid-call holds its channel at most
the call's timeout plus the pace.

Taking a slot is one conditional upsert (the row is written only when the channel's next
slot has come). Settling one writes only over the value its taker wrote, which no one else
writes (a later take writes a later time; a 429's hold only lengthens): a late answer never
shortens a slot that another process, or a 429, has taken since.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.schema import ChannelPace, Post


async def take_slot(
    session: AsyncSession, channel: str, now: datetime, hold: timedelta
) -> datetime | None:
    """Take `channel`'s slot for now, holding the channel until `now + hold` (a settle
    shortens it): None when taken, else when the channel may next be posted to."""
    insert = _insert(session)
    statement = insert(ChannelPace).values(channel=channel, next_slot=now + hold)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelPace.channel],
        set_={"next_slot": now + hold},
        where=ChannelPace.next_slot <= now,
    )
    result = await session.execute(statement)
    if getattr(result, "rowcount", 0):
        return None
    return await session.scalar(select(ChannelPace.next_slot).where(ChannelPace.channel == channel))


async def settle_slot(
    session: AsyncSession, channel: str, held: datetime, next_slot: datetime
) -> bool:
    """Slack answered the call made in the slot held until `held`: the channel's next
    slot is `next_slot` (the answer's time plus the pace), if no one has moved it since.
    True when settled."""
    result = await session.execute(
        update(ChannelPace)
        .where(ChannelPace.channel == channel, ChannelPace.next_slot == held)
        .values(next_slot=next_slot)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


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


def channel_open(now: datetime) -> ColumnElement[bool]:
    """A claim condition: the post's channel may be posted to now."""
    return ~exists().where(and_(ChannelPace.channel == Post.channel, ChannelPace.next_slot > now))


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert

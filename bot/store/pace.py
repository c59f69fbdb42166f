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

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.schema import ChannelPace, Post
from bot.store.work import Row, extend, write_back

log = logging.getLogger("bot.store.pace")


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


@dataclass
class Slot:
    """A channel's slot taken for one Slack call: held until `held` (database clock: the
    process's); the call is cut at `deadline` (event-loop time), so that it never reaches
    Slack after the hold's pace begins. `answered` when Slack answers; `settle` then moves
    the channel's next slot to the answer plus the pace."""

    channel: str
    held: datetime
    deadline: float
    pace: timedelta
    answered_at: datetime | None = None

    @classmethod
    def taken(cls, channel: str, now: datetime, pace: timedelta, call_timeout: timedelta) -> Slot:
        """The slot `take_slot(…, now, pace + call_timeout)` just took."""
        deadline = asyncio.get_running_loop().time() + call_timeout.total_seconds()
        return cls(channel, now + pace + call_timeout, deadline, pace)

    def answered(self, at: datetime) -> None:
        self.answered_at = at

    async def settle(self, session: AsyncSession) -> None:
        if self.answered_at is not None:
            await settle_slot(session, self.channel, self.held, self.answered_at + self.pace)


async def mark_sending(
    sessions: async_sessionmaker[AsyncSession],
    row: Row,
    channel: str,
    now: datetime,
    *,
    pace: timedelta,
    call_timeout: timedelta,
    until: datetime,
) -> Slot | None:
    """Take `channel`'s slot (held for the pace and the call's longest time) and mark the
    claimed `row` (a post, a reminder) `sending`, its lease stretched to `until` (past the
    call's longest time), in one transaction committed before the call. The slot: send it
    now, within the slot's deadline. None when nothing may be sent: the channel's slot is
    not free yet (the row waits for it, its next attempt moved) or the lease is no longer
    ours (nothing written, the slot left as it was: another process has the row)."""
    try:
        async with sessions.begin() as session:
            busy = await take_slot(session, channel, now, pace + call_timeout)
            if busy is not None:
                # Held by a call in flight: its answer usually frees the channel within the
                # pace, long before the hold ends.
                await write_back(session, row, next_attempt_at=min(busy, now + pace))
                return None
            if not await extend(session, row, until, state="sending"):
                raise _LeaseLost  # rolls the slot back too
    except _LeaseLost:
        log.info("%s: lease lost before sending; another process has it", _name(row))
        return None
    return Slot.taken(channel, now, pace, call_timeout)


def _name(row: Row) -> str:
    return f"{type(row).__tablename__} {getattr(row, 'id', '?')}"


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

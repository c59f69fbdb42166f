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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.engine import insert
from bot.store.gate import Sessions
from bot.store.schema import ChannelPace, Post
from bot.store.work import Row, write_back, write_back_many

log = logging.getLogger("bot.store.pace")


async def take_slots(
    session: AsyncSession, channels: Collection[str], now: datetime, hold: timedelta
) -> set[str]:
    """Take the slot of each of `channels` that is free now, holding each until
    `now + hold` (a settle shortens it), in one statement: an upsert whose update applies
    only where the channel's next slot has come. The channels taken.

    The rows are written in the channels' order (sorted), the same in every process: on
    PostgreSQL the upsert locks each row it meets, and two processes taking the same
    channels in different orders (a set's order differs between processes) deadlock."""
    if not channels:
        return set()
    connection = await session.connection()
    taken = await connection.execute(
        _take(connection.dialect.name),
        [{"slot_channel": channel, "slot_next": now + hold, "slot_now": now}
         for channel in sorted(channels)],
    )  # fmt: skip
    return set(taken.scalars().all())


@cache
def _take(dialect: str) -> Any:
    """`take_slots`' upsert, built once: one parameter set a channel (SQLAlchemy sends them
    as one multi-row statement, "insertmanyvalues", RETURNING the channels taken)."""
    statement = insert(dialect, ChannelPace).values(
        channel=bindparam("slot_channel"), next_slot=bindparam("slot_next")
    )
    return statement.on_conflict_do_update(
        index_elements=[ChannelPace.channel],
        set_={"next_slot": statement.excluded.next_slot},
        where=ChannelPace.next_slot <= bindparam("slot_now"),
    ).returning(ChannelPace.channel)


async def take_slot(
    session: AsyncSession, channel: str, now: datetime, hold: timedelta
) -> datetime | None:
    """`take_slots` for one channel: None when taken, else when the channel may next be
    posted to."""
    if await take_slots(session, [channel], now, hold):
        return None
    return await session.scalar(select(ChannelPace.next_slot).where(ChannelPace.channel == channel))


# Built once, executed on the session's connection with one parameter set per slot (a
# Core executemany, not the ORM's bulk update by primary key).
_SETTLE = (
    update(ChannelPace)
    .where(
        ChannelPace.channel == bindparam("slot_channel"),
        ChannelPace.next_slot == bindparam("slot_held"),
    )
    .values(next_slot=bindparam("slot_next"))
)


async def settle_slots(session: AsyncSession, slots: Iterable[Slot]) -> None:
    """Slack answered the calls made in `slots` (those with `answered_at`): each
    channel's next slot is the answer's time plus the pace, if no one has moved it since
    the slot was taken. A slot without an answer keeps its long hold. In the channels'
    order, as `take_slots` takes them (the rows locked in one order: no deadlock)."""
    answered = [
        {"slot_channel": s.channel, "slot_held": s.held, "slot_next": s.answered_at + s.pace}
        for s in sorted(slots, key=lambda slot: slot.channel)
        if s.answered_at is not None
    ]
    if answered:
        await (await session.connection()).execute(_SETTLE, answered)


async def _give_back(
    session: AsyncSession, channels: Collection[str], held: datetime, now: datetime
) -> None:
    """Slots taken for rows that will not be sent after all: free at once (their next
    slot was due when taken, so `now` keeps the pace)."""
    if channels:
        params = [
            {"slot_channel": c, "slot_held": held, "slot_next": now} for c in sorted(channels)
        ]
        await (await session.connection()).execute(_SETTLE, params)


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
        """The slot `take_slots(…, now, pace + call_timeout)` just took."""
        deadline = asyncio.get_running_loop().time() + call_timeout.total_seconds()
        return cls(channel, now + pace + call_timeout, deadline, pace)

    def answered(self, at: datetime) -> None:
        self.answered_at = at

    async def settle(self, session: AsyncSession) -> None:
        await settle_slots(session, [self])


async def take_for_sending(
    session: AsyncSession,
    rows: Sequence[tuple[Row, str]],
    now: datetime,
    *,
    pace: timedelta,
    call_timeout: timedelta,
    until: datetime,
) -> list[tuple[Row, Slot]]:
    """For each claimed row and its channel (at most one row a channel), take the
    channel's slot (held for the pace and the call's longest time) and mark the row
    `sending`, its lease stretched to `until` (past the call's longest time): a handful of
    statements for the whole batch, in the caller's transaction, to commit before the
    calls. The rows that may be sent now, each with its slot. The others: a row whose
    channel's slot is not free yet waits for it (its next attempt moved); one whose lease
    is no longer ours is left alone (another process has it) and its slot given back."""
    channels = {channel for _, channel in rows}
    assert len(channels) == len(rows), "one row a channel: Slack's pace is per channel"
    hold = pace + call_timeout
    taken = await take_slots(session, channels, now, hold)
    sending = await write_back_many(
        session, [row for row, channel in rows if channel in taken], claimed_until=until,
        state="sending",
    )  # fmt: skip
    ours = {id(row) for row in sending}
    lost = [(row, channel) for row, channel in rows if channel in taken and id(row) not in ours]
    for row, _ in lost:
        log.info("%s: lease lost before sending; another process has it", _name(row))
    await _give_back(session, [channel for _, channel in lost], now + hold, now)
    busy = [(row, channel) for row, channel in rows if channel not in taken]
    if busy:
        held = await session.execute(
            select(ChannelPace.channel, ChannelPace.next_slot).where(
                ChannelPace.channel.in_([channel for _, channel in busy])
            )
        )
        slots = dict(held.all())
        for row, channel in busy:
            # Held by a call in flight: its answer usually frees the channel within the
            # pace, long before the hold ends.
            await write_back(session, row, next_attempt_at=min(slots.get(channel, now), now + pace))
    by_id = {id(row): channel for row, channel in rows}
    return [(row, Slot.taken(by_id[id(row)], now, pace, call_timeout)) for row in sending]


async def mark_sending(
    sessions: Sessions,
    row: Row,
    channel: str,
    now: datetime,
    *,
    pace: timedelta,
    call_timeout: timedelta,
    until: datetime,
) -> Slot | None:
    """`take_for_sending` for one row, in a transaction of its own committed here: its
    slot, or None when nothing may be sent."""
    async with sessions.begin() as session:
        taken = await take_for_sending(
            session, [(row, channel)], now, pace=pace, call_timeout=call_timeout, until=until
        )
    return taken[0][1] if taken else None


def _name(row: Row) -> str:
    return f"{type(row).__tablename__} {getattr(row, 'id', '?')}"


async def hold(session: AsyncSession, channel: str, until: datetime) -> None:
    """Nothing to `channel` before `until` (a 429's Retry-After), from any process."""
    dialect = session.get_bind().dialect.name
    statement = insert(dialect, ChannelPace).values(channel=channel, next_slot=until)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelPace.channel],
        set_={"next_slot": func.max(ChannelPace.next_slot, until)}
        if dialect == "sqlite"
        else {"next_slot": func.greatest(ChannelPace.next_slot, until)},
    )
    await session.execute(statement)


def channel_open(
    now: datetime | ColumnElement[datetime], channel: Any = Post.channel
) -> ColumnElement[bool]:
    """A claim condition: the row's channel (a mapped column: a post's, a reminder's) may
    be posted to `now` (a moment, or a claim's bound parameter: `bot.store.work.Claim`)."""
    return ~exists().where(and_(ChannelPace.channel == channel, ChannelPace.next_slot > now))

"""Channels' slots taken for a whole pass in one statement (`take_slots`), by several
processes at once: each takes the rows in one order, so two never deadlock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.pace import Slot, settle_slots, take_slots
from bot.store.schema import ChannelPace

pytestmark = pytest.mark.slow

CHANNELS = [f"C0PACE{i:03d}" for i in range(30)]
ROUNDS = 200


async def test_two_processes_taking_the_same_channels_in_other_orders_never_deadlock(
    engine: AsyncEngine,
) -> None:
    """Each process builds its pass's channels as a set, whose order differs from one
    process to another (string hashing is salted per process): here the two orders are
    opposite. On PostgreSQL an upsert locks each row it meets, in the statement's order."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: its transactions never wait for each other's rows")
    sessions = async_sessionmaker(engine)

    async def take(channels: list[str]) -> set[str]:
        async with sessions.begin() as session:
            now = datetime.now(UTC)
            taken = await take_slots(session, channels, now, timedelta(0))
            await asyncio.sleep(0.001)  # the rest of the pass's transaction (its posts)
        return taken

    for _ in range(ROUNDS):  # a deadlock fails one of the two with an error
        one, other = await asyncio.gather(take(CHANNELS), take(CHANNELS[::-1]))
        assert one | other <= set(CHANNELS)


async def test_a_pass_settling_its_slots_and_another_taking_them_never_deadlock(
    engine: AsyncEngine,
) -> None:
    """One process records its pass (its channels' slots settled, in the order of its
    posts) while another takes slots of the same channels for its own pass."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: its transactions never wait for each other's rows")
    sessions = async_sessionmaker(engine)
    held = datetime.now(UTC) - timedelta(minutes=1)

    async def settle() -> None:
        answered = datetime.now(UTC)
        slots = [Slot(c, held, 0.0, timedelta(0), answered) for c in reversed(CHANNELS)]
        async with sessions.begin() as session:
            await settle_slots(session, slots)
            await asyncio.sleep(0.001)  # the rest of the record (its posts `done`)

    async def take() -> None:
        async with sessions.begin() as session:
            await take_slots(session, CHANNELS, datetime.now(UTC), timedelta(0))
            await asyncio.sleep(0.001)

    for _ in range(ROUNDS):  # a deadlock fails one of the two with an error
        async with sessions.begin() as session:  # every slot as the settling pass took it
            await session.execute(delete(ChannelPace))
            await session.execute(
                insert(ChannelPace), [{"channel": c, "next_slot": held} for c in CHANNELS]
            )
        await asyncio.gather(settle(), take())

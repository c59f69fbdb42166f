"""Channels' slots taken for a whole pass in one statement (`take_slots`), by several
processes at once: each takes the rows in one order, so two never deadlock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.pace import take_slots

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

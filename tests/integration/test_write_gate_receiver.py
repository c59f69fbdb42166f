"""On SQLite the receiver's group commit and the dispatcher's writers share the database's
one writer through the write gate: the receiver's commit waits for the dispatcher's
transaction in hand, not for the dispatcher's writers queued behind it (issue #10)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge._batch import GroupWriter
from bot.store.gate import GatedSessions, write_gate
from bot.store.pace import take_slots
from bot.store.schema import Delivery

DISPATCHER_WRITERS = 4  # lanes writing at once, each one transaction after another
RECEIVED = 20


def delivery(uuid: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"uuid": uuid, "received_at": now, "body": "{}", "state": "pending", "attempts": 0,
            "next_attempt_at": now, "error": None}  # fmt: skip


async def test_the_receivers_commit_is_not_queued_behind_the_dispatchers_writers(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no write gate: its writers do not queue for one lock")
    log: list[str] = []  # the database's writes, in order: "d" dispatcher, "r" receiver

    # The receiver's commit is seen where it gets the gate (on SQLite it runs its INSERT on
    # aiosqlite itself: no SQLAlchemy cursor event to watch).
    gate = write_gate(engine)
    assert gate is not None
    gate_first = gate.first

    @contextlib.asynccontextmanager
    async def first() -> AsyncIterator[None]:
        async with gate_first():
            log.append("r")
            yield

    gate.first = first  # type: ignore[method-assign]

    sessions = GatedSessions(engine)
    stop = asyncio.Event()
    committed = [0] * DISPATCHER_WRITERS
    wrote = asyncio.Event()

    async def dispatcher_writer(n: int) -> None:
        while not stop.is_set():
            async with sessions.begin() as session:
                now = datetime.now(UTC)
                await take_slots(session, [f"C{n}"], now - timedelta(days=1), timedelta(0))
                log.append("d")
            committed[n] += 1
            wrote.set()
            await asyncio.sleep(0)  # and queues again at once, as a busy lane

    receiver = GroupWriter(engine, Delivery, "uuid", max_rows=1, max_wait=0)
    # Its first write opens the pool's connection (not the gate's doing): before the count.
    assert await receiver.write(delivery("warm-up")) is True
    writers = [asyncio.create_task(dispatcher_writer(n)) for n in range(DISPATCHER_WRITERS)]
    waited: list[int] = []  # dispatcher writes between each receipt and its commit
    try:
        for i in range(RECEIVED):
            while sum(committed) < (i + 1) * DISPATCHER_WRITERS:  # the writers busy, queued
                wrote.clear()
                await wrote.wait()
            start = len(log)
            assert await asyncio.wait_for(receiver.write(delivery(f"d-{i}")), 10) is True
            waited.append(log[start : log.index("r", start)].count("d"))
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*writers), 10)
        await receiver.close()

    assert max(waited) <= 1, waited  # the transaction in hand only
    assert all(committed) and sum(committed) >= RECEIVED * DISPATCHER_WRITERS  # both progress
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count(Delivery.id))) == RECEIVED + 1

"""Group commit never acknowledges what is not stored (DESIGN §6, RELIABILITY promise).

The receiver writes concurrent deliveries in shared transactions (bot/bridge/_batch.py).
Here `python -m bot serve` (SQLite) receives deliveries from 32 concurrent senders and is
SIGKILLed the moment it has answered a number of 200s, with more requests in flight; every
delivery it acknowledged must be in its database, read directly and after a restart. Then
the writer itself: rows share transactions, duplicates inside and across batches, a failed
transaction fails every request of its batch, and `close()` drains the queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge._batch import GroupWriter, NotStored
from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import SMS_EVENT, Delivered, ServerProcess, Simulators, WebhookSender, sms_envelope
from bot.store import SubscriptionRecord, SubscriptionStore, connect
from bot.store.schema import Delivery

TOKEN = "durability-token-" + "x" * 24
SENDERS = 32
DELIVERIES = 1200  # more than are sent before the kill
KILL_AFTER = 400  # 200s received, then SIGKILL at once


async def add_webhook_token(database: Path, token: str) -> None:
    """Make the server at `database` accept `token`: a subscription row, as `subscriptions
    sync` writes it (the receiver re-reads tokens within a second of an unknown one)."""
    from datetime import UTC, datetime

    engine = connect(f"sqlite+aiosqlite:///{database}")
    try:
        await SubscriptionStore(engine).save(
            SubscriptionRecord(
                id="durability",
                address="http://127.0.0.1/ringcentral/webhook",
                verification_token=token,
                filters=(SMS_EVENT,),
                expires_at=None,
                status="Active",
                created_at=datetime.now(UTC),
            )
        )
    finally:
        await engine.dispose()


async def stored_uuids(database: Path) -> set[str]:
    """The uuid of every delivery in the server's database (read beside the server)."""
    engine = connect(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(select(Delivery.uuid))).scalars())
    finally:
        await engine.dispose()


@pytest.fixture
async def server() -> AsyncIterator[ServerProcess]:
    sims = Simulators()
    proc: ServerProcess | None = None
    try:
        info = await sims.start()
        proc = ServerProcess(info)  # no routes: deliveries are stored and stay pending
        await proc.start()
        await add_webhook_token(proc.database_path, TOKEN)
        yield proc
    finally:
        if proc is not None:
            await proc.close()
        await sims.close()


async def _token_accepted(sender: WebhookSender) -> None:
    """The receiver re-reads tokens at most once a second: wait until ours is known."""
    for i in range(50):
        if (await sender.send(f"probe-{i}", sms_envelope(f"probe-{i}"))).status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the server never accepted the token")


@pytest.mark.slow
async def test_every_delivery_acknowledged_before_a_sigkill_is_stored(
    server: ServerProcess,
) -> None:
    url = server.url + WEBHOOK_PATH
    # Some uuids twice: a duplicate's 200 also means "stored" (by its first copy).
    uuids = [f"kill-{i}" for i in range(DELIVERIES)]
    uuids[1::10] = uuids[0::10][: len(uuids[1::10])]
    bodies = [(u, sms_envelope(u)) for u in uuids]
    acked: list[Delivered] = []
    answered: list[Delivered] = []
    pid = server.pid
    assert pid is not None

    async with WebhookSender(url, TOKEN, connections=SENDERS) as sender:
        await _token_accepted(sender)
        items = iter(bodies)
        killed = asyncio.Event()

        async def worker() -> None:
            for uuid, body in items:
                if killed.is_set():
                    return
                result = await sender.send(uuid, body)
                answered.append(result)
                if result.status == 200 and not killed.is_set():
                    acked.append(result)
                    if len(acked) >= KILL_AFTER:
                        os.kill(pid, signal.SIGKILL)  # at once: the others are in flight
                        killed.set()

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(SENDERS))), 60)
    await server.kill()  # reaps it

    assert killed.is_set()
    assert len(acked) == KILL_AFTER
    assert {d.status for d in answered} <= {200, 0}, "only 200s, or no answer after the kill"
    stored = await stored_uuids(server.database_path)
    missing = {d.uuid for d in acked} - stored
    assert not missing, f"{len(missing)} acknowledged deliveries lost: {sorted(missing)[:5]}"

    # And the restarted server has them, and goes on storing.
    await server.start()
    async with WebhookSender(url, TOKEN, connections=4) as sender:
        again = await sender.send(acked[0].uuid, sms_envelope(acked[0].uuid))
        fresh = await sender.send("after-restart", sms_envelope("after-restart"))
    assert (again.status, fresh.status) == (200, 200)
    _, health = await server.health()
    assert health["queue_depth"] >= len({d.uuid for d in acked}) + 1
    stored = await stored_uuids(server.database_path)
    assert {d.uuid for d in acked} | {"after-restart"} <= stored


# -- the writer --------------------------------------------------------------------------------


# `engine`: tests/conftest.py's (SQLite, or PostgreSQL with RINGBRIDGE_TEST_POSTGRES).


def _row(uuid: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return {
        "uuid": uuid,
        "received_at": now,
        "body": "{}",
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "error": None,
    }


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count(Delivery.id)))).scalar_one())


async def test_concurrent_rows_share_transactions_and_duplicates_are_reported(
    engine: AsyncEngine,
) -> None:
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=100, max_wait=0.002)
    first = await writer.write(_row("a"))
    # 250 at once: "b-0" four times in the same wave, "a" again (stored before).
    keys = ["a", *(["b-0"] * 4), *(f"b-{i}" for i in range(1, 246))]
    results = await asyncio.gather(*(writer.write(_row(k)) for k in keys))

    assert first is True
    assert results[0] is False  # stored by an earlier batch
    assert results[1:5] == [True, False, False, False]  # the first copy in the queue is new
    assert all(results[5:])
    assert await _count(engine) == 247
    assert writer.stats.largest == 100  # bounded
    assert writer.stats.batches < 1 + len(keys) / 10  # grouped, not one per row
    await writer.close()


async def test_a_failed_transaction_fails_every_request_of_its_batch(
    engine: AsyncEngine,
) -> None:
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=100, max_wait=0.002)
    bad = _row("poison")
    bad["state"] = None  # NOT NULL: the whole INSERT fails

    outcomes = await asyncio.gather(
        *(writer.write(_row(f"ok-{i}")) for i in range(9)),
        writer.write(bad),
        return_exceptions=True,
    )

    assert all(isinstance(o, NotStored) for o in outcomes), outcomes
    assert await _count(engine) == 0  # nothing half-written, nothing acknowledged
    assert writer.stats.failed_batches == 1
    assert await writer.write(_row("next")) is True  # the next batch is tried afresh
    await writer.close()


async def test_close_drains_the_queue_and_refuses_new_rows(engine: AsyncEngine) -> None:
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=10, max_wait=0.002)
    pending = [asyncio.ensure_future(writer.write(_row(f"q-{i}"))) for i in range(35)]
    await asyncio.sleep(0)  # queued, not yet written

    await writer.close()

    assert all(p.done() and p.result() is True for p in pending)
    assert await _count(engine) == 35
    with pytest.raises(NotStored):
        await writer.write(_row("late"))


async def test_rows_are_stored_exactly_as_sqlalchemy_stores_them(engine: AsyncEngine) -> None:
    # On SQLite the writer runs SQLAlchemy's compiled INSERT on aiosqlite itself: each
    # value must go through its column's type (times as SQLAlchemy writes them, so that
    # comparisons in SQL hold) and a column left out must get its default, as with Core.
    from datetime import UTC, datetime

    at = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
    row = {"received_at": at, "body": "é ✓", "next_attempt_at": at}  # no state, attempts
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=100, max_wait=0.002)
    assert await writer.write({"uuid": "by-writer", **row}) is True
    await writer.close()
    async with engine.begin() as conn:
        await conn.execute(Delivery.__table__.insert(), {"uuid": "by-core", **row})
        raw = {
            uuid: rest
            for uuid, *rest in await conn.exec_driver_sql(
                "SELECT uuid, content_key, received_at, body, state, attempts, "
                "next_attempt_at, claimed_until, error FROM inbox"
            )
        }
        read = (await conn.execute(select(Delivery.received_at, Delivery.state))).all()

    assert raw["by-writer"] == raw["by-core"]
    assert set(read) == {(at, "pending")}


async def test_one_connection_while_rows_keep_coming(engine: AsyncEngine) -> None:
    from sqlalchemy import event

    checkouts: list[object] = []
    checkins: list[object] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: checkouts.append(1))
    event.listen(engine.sync_engine.pool, "checkin", lambda *_: checkins.append(1))
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=10, max_wait=0.002)

    assert all(await asyncio.gather(*(writer.write(_row(f"c-{i}")) for i in range(95))))
    await writer.close()

    assert writer.stats.batches >= 10
    assert len(checkouts) == 1  # not one per batch
    assert len(checkins) == 1  # given back before close() returns


async def test_a_row_after_a_batch_is_not_held_back_for_more(engine: AsyncEngine) -> None:
    # Rows join a batch only while they are arriving; the writer never waits for rows that
    # nobody has sent (its clients wait for this batch's answers before sending more).
    writer = GroupWriter(engine, Delivery, "uuid", max_rows=100, max_wait=600)
    first = [asyncio.ensure_future(writer.write(_row(f"w-{i}"))) for i in range(5)]
    await asyncio.sleep(0)  # queued: the writer takes them as one batch
    late = asyncio.ensure_future(writer.write(_row("late")))  # while that batch commits

    assert await asyncio.wait_for(late, 60) is True
    assert all(await asyncio.gather(*first))
    await writer.close()

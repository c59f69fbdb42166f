"""The texts the bridge sent: recorded before the send, known again by id or by (from, to,
text hash), woken by a mailbox's change, and a claimed row written back only under its
lease (a worker that lost it changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.bridge.receipts import Receipts
from bot.clock import FakeClock
from bot.store.outbound import FIRST_CHECK, OutboundLog, OutboundSend, wake_mailbox
from bot.store.schema import Outbound
from bot.store.work import claim

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SEND = OutboundSend("reply", "+16505550100", ("+14155550123",), "See you at 5")


async def test_a_text_is_known_by_its_id_and_by_its_words(engine: AsyncEngine) -> None:
    log = OutboundLog(engine)
    row_id = await log.before_send(SEND, NOW)
    await log.accepted(row_id, message_id="77", extension_id="11", status="Queued")

    assert set(await log.known(["77", "78"])) == {"77"}
    assert await log.ours("+16505550100", ["+14155550123"], "See you at 5", NOW) is not None
    assert await log.ours("+16505550100", ["+14155550123"], "See you at 6", NOW) is None


async def test_a_change_of_the_mailbox_brings_the_read_forward(engine: AsyncEngine) -> None:
    log = OutboundLog(engine)
    row_id = await log.before_send(SEND, NOW)
    await log.accepted(row_id, message_id="77", extension_id="11", status="Queued")
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async with sessions.begin() as session:
        await wake_mailbox(session, "12", at=NOW + timedelta(seconds=2))  # another mailbox
    async with sessions() as session:
        untouched = await session.get(Outbound, row_id)
    assert untouched is not None and untouched.next_attempt_at == NOW + FIRST_CHECK
    async with sessions.begin() as session:
        await wake_mailbox(session, "11", at=NOW + timedelta(seconds=2))
    async with sessions() as session:
        row = await session.get(Outbound, row_id)
    assert row is not None and row.next_attempt_at == NOW + timedelta(seconds=2)


async def test_a_write_back_after_the_lease_was_lost_changes_nothing(engine: AsyncEngine) -> None:
    log = OutboundLog(engine)
    row_id = await log.before_send(SEND, NOW)
    await log.accepted(row_id, message_id="77", extension_id="11", status="Queued")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    later = NOW + FIRST_CHECK
    async with sessions.begin() as session:
        (mine,) = await claim(session, Outbound, now=later, lease=timedelta(seconds=60), limit=9)
    async with sessions.begin() as session:  # the lease ran out; another worker holds it
        await session.execute(update(Outbound).values(claimed_until=later + timedelta(minutes=5)))
    # Only the write-back is exercised: no RingCentral, no Slack.
    worker = Receipts(engine, cast(Any, None), cast(Any, None), FakeClock(), cast(Any, None),
                      cast(Any, None))  # fmt: skip

    await worker._write(mine, status="Delivered", state="done")

    async with sessions() as session:
        row = (await session.scalars(select(Outbound))).one()
    assert (row.status, row.state) == ("Queued", "pending")

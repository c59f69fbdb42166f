"""The lease fence of claimed work (bot.store.work.write_back), on whichever database the
suite runs (SQLite by default, PostgreSQL with RINGBRIDGE_TEST_POSTGRES): a holder whose
lease ran out and was taken over writes nothing back; the new holder's writes stand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Delivery
from bot.store.work import claim, extend, write_back

LEASE = timedelta(seconds=30)


async def test_a_holder_whose_lease_was_taken_over_writes_nothing(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Delivery).values(
                uuid="u1",
                received_at=start,
                body="{}",
                state="pending",
                attempts=0,
                next_attempt_at=start,
            )
        )
    async with sessions.begin() as session:
        (slow,) = await claim(session, Delivery, now=start, lease=LEASE, limit=5)
    later = start + LEASE + timedelta(seconds=1)  # the slow holder's lease ran out
    async with sessions.begin() as session:
        (quick,) = await claim(session, Delivery, now=later, lease=LEASE, limit=5)

    async with sessions.begin() as session:
        assert not await write_back(session, slow, state="dead", error="stale")
        assert not await extend(session, slow, later + LEASE)
        assert await write_back(session, quick, state="done")
    async with sessions.begin() as session:
        assert not await write_back(session, slow, state="dead", error="stale, again")

    async with engine.connect() as conn:
        row = (await conn.execute(select(Delivery))).one()
    assert (row.state, row.error, row.claimed_until) == ("done", None, None)
    assert (slow.state, quick.state) == ("pending", "done")  # the copies say what happened

"""The lease fence of claimed work (bot.store.work.write_back; the deliveries lane's batch
writes, bot.store.inbox), on whichever database the suite runs (SQLite by default,
PostgreSQL with RINGBRIDGE_TEST_POSTGRES): a holder whose lease ran out and was taken over
writes nothing back; the new holder's writes stand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.inbox import finish_ours, lock_ours, release_ours
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


async def test_the_deliveries_lane_writes_only_the_deliveries_still_ours(
    engine: AsyncEngine,
) -> None:
    """bot.store.inbox, the deliveries lane's batch writes: each checks the lease in its
    own statement (one per batch, not `write_back` per row)."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Delivery),
            [
                {"uuid": uuid, "received_at": start, "body": "{}", "state": "pending",
                 "attempts": 0, "next_attempt_at": start}
                for uuid in ("ours", "theirs")
            ],
        )  # fmt: skip
    async with sessions.begin() as session:
        held = await claim(session, Delivery, now=start, lease=LEASE, limit=5)
    ours, theirs = sorted(held, key=lambda d: d.uuid != "ours")
    # Our lease ran out while we read RingCentral; another process claimed one of them.
    their_lease = start + 2 * LEASE
    async with engine.begin() as conn:
        await conn.execute(
            update(Delivery).where(Delivery.id == theirs.id).values(claimed_until=their_lease)
        )

    async with sessions.begin() as session:
        assert await lock_ours(session, held) == {ours.id}
    async with sessions.begin() as session:
        assert await finish_ours(session, held) == {ours.id}
    async with sessions.begin() as session:
        assert await release_ours(session, held) == 0  # done, and theirs: nothing to free

    async with engine.connect() as conn:
        found = {r.uuid: r for r in (await conn.execute(select(Delivery))).all()}
    assert (found["ours"].state, found["ours"].claimed_until) == ("done", None)
    assert (found["theirs"].state, found["theirs"].claimed_until) == ("pending", their_lease)


async def test_released_deliveries_are_no_longer_ours(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Delivery).values(uuid="u1", received_at=start, body="{}", state="pending",
                                    attempts=0, next_attempt_at=start)
        )  # fmt: skip
    async with sessions.begin() as session:
        held = await claim(session, Delivery, now=start, lease=LEASE, limit=5)
    async with sessions.begin() as session:
        assert await release_ours(session, held) == 1
    async with sessions.begin() as session:
        assert await finish_ours(session, held) == set()  # due again, for whoever claims it
    async with engine.connect() as conn:
        row = (await conn.execute(select(Delivery))).one()
    assert (row.state, row.claimed_until) == ("pending", None)

"""The deliveries lane stores a batch of deliveries in one transaction of a few statements,
whatever its size (issue 10: PostgreSQL's bound was the statements a delivery cost), on
whichever database the suite runs; and the rows of the calls a batch is about are locked
so that two processes storing events of one call take turns, while other calls go on.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.bridge.dispatcher import DELIVERIES
from bot.bridge.inbox import Inbox
from bot.bridge.ingest import lock_calls
from bot.clock import FakeClock
from bot.sim import RingCentralSimulator, sms_envelope
from bot.store.schema import CallState, Delivery, Post
from bot.store.work import claim
from tests.bridge import TEXTS, running_bridge
from tests.conftest import fresh_database

LEASE = timedelta(seconds=30)
STRANGER = "+14155550123"  # in no directory nor address book: a name to look up


async def _statements_storing(
    rc_sim: RingCentralSimulator, clock: FakeClock, url: str, texts: int
) -> int:
    """Statements in the transactions that store the deliveries of `texts` inbound texts
    (from the one that locks the deliveries' rows and marks them done to its commit), all
    posted."""
    async with running_bridge(rc_sim, clock, database_url=url) as bridge:
        await bridge.subscribe()
        for i in range(texts):
            await rc_sim.incoming_sms(rc_sim.extension_id, f"+1650555{i:04d}", f"text {i}")
        storing: set[int] = set()  # connections in such a transaction
        counted: list[str] = []

        def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
            if sql.startswith("UPDATE inbox SET state"):
                storing.add(id(conn))
            if id(conn) in storing:
                counted.append(sql)

        def ended(conn: Any) -> None:
            storing.discard(id(conn))

        engine = bridge.engine.sync_engine
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)
        await bridge.dispatch()
        assert len([m for m in bridge.channel(TEXTS) if "text" in str(m)]) == texts
        return len(counted)


async def test_a_batch_of_deliveries_costs_the_same_statements_whatever_its_size(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    # Each text is two deliveries (the instant event and the message-store change): 4
    # and 40 deliveries, one batch each.
    counts = []
    for texts in (2, 20):
        (tmp_path / str(texts)).mkdir()
        url = await fresh_database(tmp_path / str(texts))
        counts.append(await _statements_storing(rc_sim, clock, url, texts))
    few, many = counts
    assert many == few
    # Lock the deliveries still ours and mark them done, insert their posts (before:
    # the lock and the mark apart, 3; before that 6 and 42).
    assert few == 2


@pytest.fixture
async def two_calls(engine: AsyncEngine) -> AsyncEngine:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(CallState),
            [{"session_id": s, "state": "{}", "updated_at": at, "open": True} for s in "ab"],
        )
    return engine


async def test_a_call_being_stored_waits_for_the_other_holder_others_do_not(
    two_calls: AsyncEngine,
) -> None:
    sessions = async_sessionmaker(two_calls, expire_on_commit=False)
    async with sessions.begin() as first:
        held = await lock_calls(first, ["b", "a", None])
        assert sorted(held) == ["a", "b"]
        async with sessions.begin() as other:
            # Another call, and one not stored yet: at once.
            assert list(await lock_calls(other, ["c"])) == []

        async def same_call() -> list[str]:
            async with sessions.begin() as second:
                return list(await lock_calls(second, ["a"]))

        waiting = asyncio.create_task(same_call())
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the call's row is held by the first transaction
    assert await asyncio.wait_for(waiting, 10) == ["a"]  # and taken once it committed


@pytest.mark.parametrize("with_call", [False, True], ids=["at_once", "one_by_one"])
async def test_a_delivery_another_process_took_over_meanwhile_is_left_to_it(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path, with_call: bool
) -> None:
    """The lease is checked where a batch is stored: a delivery whose lease ran out while
    RingCentral was read, and which another process has claimed since, is neither stored
    (its posts) nor ended here, whether the batch is stored at once or a savepoint each
    (a call whose caller's name is not known yet sends it that way)."""
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url) as bridge:
        await bridge.subscribe()
        await rc_sim.incoming_sms(rc_sim.extension_id, "+16505550199", "left to the other")
        if with_call:
            await rc_sim.call("missed", caller=STRANGER, extension_id=rc_sim.extension_id,
                              pace=False)  # fmt: skip
        sessions = async_sessionmaker(bridge.engine, expire_on_commit=False)
        now = datetime.fromtimestamp(clock.now(), UTC)
        async with sessions.begin() as session:
            held = await claim(session, Delivery, now=now, lease=LEASE, limit=100)
        texts = {d.id for d in held if "telephony" not in d.body}
        assert texts and (len(held) > len(texts)) == with_call
        their_lease = now + 2 * LEASE  # claimed by the other process once ours ran out
        async with bridge.engine.begin() as conn:
            await conn.execute(
                update(Delivery).where(Delivery.id.in_(texts)).values(claimed_until=their_lease)
            )

        await bridge.notifications.dispatcher._dispatch_batch(held)

        async with bridge.engine.connect() as conn:
            kinds = list((await conn.execute(select(Post.kind))).scalars())
            inbox = {r.id: r for r in (await conn.execute(select(Delivery))).all()}
        assert "sms" not in kinds
        assert bool(kinds) == with_call  # the call's notice, stored one by one
        for id_, row in inbox.items():
            if id_ in texts:
                assert (row.state, row.claimed_until) == ("pending", their_lease)
            else:
                assert (row.state, row.claimed_until) == ("done", None)


async def test_after_a_pass_that_took_every_due_delivery_the_lane_waits_for_a_wake(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    """The deliveries lane's loop (`run`): a claim of less than a batch took every delivery
    due, so the lane does not claim again at once (an empty claim is a transaction of its
    own); a delivery stored afterwards wakes it."""
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url) as bridge:
        dispatcher = bridge.notifications.dispatcher
        dispatcher.idle_wait = 60.0  # only a wake sends the lane round
        (lane,) = [lane for lane in dispatcher._lanes() if lane.name == DELIVERIES]
        dispatcher._wakes = {DELIVERIES: asyncio.Event(), "posts": asyncio.Event()}
        claimed: list[int] = []
        claims = dispatcher._claims

        async def counted(session: Any, **kwargs: Any) -> Any:
            rows = await claims(session, **kwargs)
            claimed.append(len(rows))
            return rows

        dispatcher._claims = counted  # type: ignore[assignment]
        inbox = Inbox(bridge.engine, clock)

        async def store(uuid: str) -> None:
            assert await inbox.store(sms_envelope(uuid)) == "stored"  # as the receiver does

        async def dispatched() -> None:
            async with bridge.engine.connect() as conn:
                for _ in range(250):
                    states = (await conn.execute(select(Delivery.state))).scalars().all()
                    if set(states) == {"done"}:
                        break
                    await asyncio.sleep(0.02)
            assert set(states) == {"done"}
            await asyncio.sleep(0.1)  # time enough for another claim at once

        await store("first")
        await store("second")
        loop = asyncio.create_task(dispatcher._loop(lane))
        try:
            await dispatched()
            assert claimed == [2]
            await store("third")
            dispatcher.delivered()
            await dispatched()
            assert claimed == [2, 1]
        finally:
            dispatcher.stop()
            await loop
            await inbox.close()

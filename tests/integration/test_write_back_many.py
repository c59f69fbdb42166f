"""`write_back_many`: many claimed rows written at once, each fenced by its own lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Post
from bot.store.work import PerRow, claim, write_back_many

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def add_posts(engine: AsyncEngine, count: int) -> None:
    rows = [
        {"rc_uuid": f"u{i}", "kind": "internal_message", "item": f"m{i}", "channel": f"C{i}",
         "notice": "{}", "state": "pending", "attempts": 0, "created_at": T0,
         "next_attempt_at": T0}
        for i in range(count)
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(Post), rows)


async def test_rows_of_two_leases_take_their_own_values_and_a_row_taken_over_is_not_written(
    engine: AsyncEngine,
) -> None:
    await add_posts(engine, 4)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions.begin() as session:  # two claims: two leases
        early = await claim(session, Post, now=T0, lease=LEASE, limit=2)
        late = await claim(session, Post, now=T0 + timedelta(seconds=1), lease=LEASE, limit=2)
    rows = early + late
    assert len(rows) == 4 and len({row.claimed_until for row in rows}) == 2
    taken = late[0]  # another process took it over after its lease ran out
    theirs = T0 + timedelta(minutes=5)
    async with engine.begin() as conn:
        await conn.execute(update(Post).where(Post.id == taken.id).values(claimed_until=theirs))

    async with sessions.begin() as session:
        written = await write_back_many(
            session, rows, state="done", ts=PerRow({row.id: f"ts-{row.id}" for row in rows})
        )

    assert sorted(row.id for row in written) == sorted(row.id for row in rows if row is not taken)
    for row in written:  # the detached copies take what was written
        assert (row.state, row.ts, row.claimed_until) == ("done", f"ts-{row.id}", None)
    assert (taken.state, taken.ts) == ("pending", None)
    async with sessions() as session:
        stored = {post.id: post for post in await session.scalars(select(Post))}
    for row in written:
        assert (stored[row.id].state, stored[row.id].ts) == ("done", f"ts-{row.id}")
        assert stored[row.id].claimed_until is None
    left = stored[taken.id]
    assert (left.state, left.ts) == ("pending", None)
    assert left.claimed_until is not None
    assert left.claimed_until.replace(tzinfo=UTC) == theirs  # its holder's lease, untouched


async def test_a_per_row_value_leaves_rows_it_does_not_name_as_they_were(
    engine: AsyncEngine,
) -> None:
    await add_posts(engine, 2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions.begin() as session:
        first, second = await claim(session, Post, now=T0, lease=LEASE, limit=2)
        await write_back_many(session, [first, second], error=PerRow({first.id: "why"}))
    async with sessions() as session:
        stored = {post.id: post for post in await session.scalars(select(Post))}
    assert (stored[first.id].error, stored[second.id].error) == ("why", None)
    assert (first.error, second.error) == ("why", None)

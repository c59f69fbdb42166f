"""One pass of the posts lane over many channels, its database work batched (issue #10):
what happens to one post of the batch (its lease lost, its channel's slot held, its
thread's first message not in Slack yet, the batch's record failing) does not stop or
double the others.

The bridge's `Poster` on a fake clock, over loopback to the Slack simulator; the test
plays the other process (or the reminder) by writing the database between the claim and
the slots: the post it acts on is a `sending` one being looked for in Slack (a slow
conversations.history), which gives that moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.bridge.poster import THREAD_WAIT, Poster
from bot.clock import FakeClock
from bot.notices import PagerNotice, Party, SmsNotice, dump_notice
from bot.observe import Metrics
from bot.ringcentral import AccountFacts, RingCentralClient
from bot.sim import SlackSimulator
from bot.sim.ringcentral import RingCentralSimulator
from bot.store.pace import hold
from bot.store.schema import ChannelPace, Post
from tests.databases import refusing

CHANNELS = ["C0BATCH1", "C0BATCH2", "C0BATCH3", "C0BATCH4", "C0BATCH5"]
COMPANY = "+16505550100"
CALLER = "+14155550123"
HISTORY_LATENCY = 1.0  # the look for a `sending` post in Slack: the test's moment to act
PACE = timedelta(seconds=1)  # the poster's default


async def region() -> str:
    return "US"


async def timezone() -> tzinfo:
    return UTC


@pytest.fixture
async def slack() -> AsyncIterator[SlackSimulator]:
    simulator = SlackSimulator()
    for channel in CHANNELS:
        simulator.add_channel(channel, channel.lower(), member=True)
    async with simulator.serve():
        yield simulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())


@pytest.fixture
def poster(engine: AsyncEngine, slack: SlackSimulator, clock: FakeClock) -> Poster:
    # As the dispatcher's client: no retries of its own (bot.server._dispatch_slack).
    client = AsyncWebClient(
        token=slack.tokens[0], base_url=slack.api_url, timeout=10, retry_handlers=[]
    )
    return Poster(engine, client, clock, Metrics(), region=region, timezone=timezone)


def now_of(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


async def add_post(
    engine: AsyncEngine,
    clock: FakeClock,
    channel: str,
    item: str,
    *,
    state: str = "pending",
    attempts: int = 0,
    sms: bool = False,
    caller: str = CALLER,
) -> int:
    """A due post to `channel`: an internal message, or a text of one conversation
    (COMPANY and `caller`: one thread a channel). Its id."""
    at = now_of(clock) - timedelta(seconds=1)
    notice: Any
    if sms:
        notice = SmsNotice(
            kind="sms", message_id=item, sender=Party(number=caller), company_number=COMPANY,
            text=f"text {item}", at=at,
        )  # fmt: skip
    else:
        notice = PagerNotice(
            kind="internal_message", message_id=item,
            sender=Party(name="Dana", extension_number="101"), to=(), text=f"note {item}", at=at,
        )  # fmt: skip
    row = {
        "rc_uuid": f"u-{item}", "kind": notice.kind, "item": notice.item, "channel": channel,
        "thread_key": f"{COMPANY}|{caller}" if sms else None, "notice": dump_notice(notice),
        "state": state, "attempts": attempts, "created_at": at, "next_attempt_at": at,
    }  # fmt: skip
    async with engine.begin() as conn:
        return int((await conn.execute(insert(Post).values(row).returning(Post.id))).scalar_one())


async def row(engine: AsyncEngine, post_id: int) -> Post:
    async with async_sessionmaker(engine)() as session:
        return (await session.scalars(select(Post).where(Post.id == post_id))).one()


async def when_claimed(engine: AsyncEngine, post_id: int) -> None:
    """Until the post's claim is committed (the pass is then looking for it in Slack)."""
    leased = select(Post.claimed_until).where(Post.id == post_id)
    while True:
        async with engine.connect() as conn:
            if await conn.scalar(leased) is not None:
                return
        await asyncio.sleep(0.01)


async def meanwhile(pass_: Awaitable[int], act: Awaitable[None]) -> int:
    """Run a pass and, at the same time, `act` (the other process): the pass's count."""
    handled, _ = await asyncio.wait_for(asyncio.gather(pass_, act), 30)
    return handled


def posted_items(slack: SlackSimulator, channel: str) -> list[str]:
    return [m["metadata"]["event_payload"]["item"] for m in slack.messages(channel)]


async def drain(poster: Poster, clock: FakeClock, *, step: float = 1.0, passes: int = 400) -> None:
    """Passes until nothing is pending or sending, the clock moving `step` between them."""
    left = select(Post.id).where(Post.state.in_(("pending", "sending")))
    for _ in range(passes):
        await poster.run_once()
        async with poster.engine.connect() as conn:
            if not (await conn.execute(left)).first():
                return
        clock.advance(step)
    raise AssertionError("posts left after every pass")


async def test_a_post_whose_lease_is_lost_in_a_pass_is_left_alone_while_the_others_go(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    lost = await add_post(engine, clock, CHANNELS[0], "lost", state="sending", attempts=1)
    others = [await add_post(engine, clock, channel, channel) for channel in CHANNELS[1:]]
    slack.latency["conversations.history"] = HISTORY_LATENCY
    theirs = now_of(clock) + timedelta(minutes=5)  # the lease of the process that took it

    async def take_over() -> None:
        await when_claimed(engine, lost)
        async with engine.begin() as conn:
            await conn.execute(update(Post).where(Post.id == lost).values(claimed_until=theirs))

    assert await meanwhile(poster.run_once(), take_over()) == len(CHANNELS)

    assert slack.messages(CHANNELS[0]) == []
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")].count(CHANNELS[0]) == 0
    for channel in CHANNELS[1:]:
        assert posted_items(slack, channel) == [channel]  # each once
    left = await row(engine, lost)
    assert (left.state, left.attempts, left.ts) == ("sending", 1, None)  # as its holder has it
    assert left.claimed_until == theirs.replace(tzinfo=left.claimed_until.tzinfo)
    for post_id in others:
        done = await row(engine, post_id)
        assert done.state == "done" and done.ts and done.claimed_until is None
    pace = select(ChannelPace.next_slot).where(ChannelPace.channel == CHANNELS[0])
    async with engine.connect() as conn:  # the slot taken for it is given back at once
        slot = await conn.scalar(pace)
    assert slot is None or slot.replace(tzinfo=UTC) <= now_of(clock)


async def test_a_channel_whose_slot_is_taken_in_a_pass_waits_for_it_while_the_others_go(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    waiting = await add_post(engine, clock, CHANNELS[0], "held", state="sending", attempts=1)
    for channel in CHANNELS[1:]:
        await add_post(engine, clock, channel, channel)
    slack.latency["conversations.history"] = HISTORY_LATENCY
    held_until = now_of(clock) + timedelta(seconds=5)

    async def remind() -> None:  # a reminder (or another process) takes the channel's slot
        await when_claimed(engine, waiting)
        async with async_sessionmaker(engine).begin() as session:
            await hold(session, CHANNELS[0], held_until)

    await meanwhile(poster.run_once(), remind())

    assert slack.messages(CHANNELS[0]) == []
    for channel in CHANNELS[1:]:
        assert posted_items(slack, channel) == [channel]
    post = await row(engine, waiting)
    assert post.claimed_until is None and post.ts is None
    # due again within the pace (a call in flight frees its channel sooner than its hold)
    assert post.next_attempt_at.replace(tzinfo=UTC) == now_of(clock) + PACE

    clock.advance(PACE.total_seconds())
    await poster.run_once()  # the slot is still held: not claimed, not posted
    assert slack.messages(CHANNELS[0]) == []

    slack.latency.clear()
    clock.advance((held_until - now_of(clock)).total_seconds())
    await drain(poster, clock)
    assert posted_items(slack, CHANNELS[0]) == ["held"]  # once, after the slot freed
    assert all(len(slack.messages(channel)) == 1 for channel in CHANNELS)


async def test_a_reply_waits_for_its_threads_first_message_while_the_other_channels_post(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    channel = CHANNELS[0]
    first = await add_post(engine, clock, channel, "first", sms=True)
    reply = await add_post(engine, clock, channel, "reply", sms=True)
    slack.fail("chat.postMessage", status=503, channel=channel)  # the first message: a 5xx
    for other in CHANNELS[1:]:
        await add_post(engine, clock, other, f"{other}-a")
    await poster.run_once()
    assert slack.messages(channel) == []
    async with engine.begin() as conn:  # its retry (jittered backoff) made a minute away
        retry = now_of(clock) + timedelta(minutes=1)
        await conn.execute(update(Post).where(Post.id == first).values(next_attempt_at=retry))

    for other in CHANNELS[1:]:
        await add_post(engine, clock, other, f"{other}-b")
    clock.advance(PACE.total_seconds())
    await poster.run_once()  # the first message is not due: this pass claims the reply

    assert slack.messages(channel) == []  # the reply did not go before its thread's parent
    waiting = await row(engine, reply)
    assert (waiting.state, waiting.attempts, waiting.claimed_until) == ("pending", 0, None)
    assert waiting.next_attempt_at.replace(tzinfo=UTC) == now_of(clock) + THREAD_WAIT
    for other in CHANNELS[1:]:
        assert posted_items(slack, other) == [f"{other}-a", f"{other}-b"]

    await drain(poster, clock)
    (parent,) = slack.messages(channel)
    assert parent["metadata"]["event_payload"]["item"] == "first"
    thread = slack.thread(channel, parent["ts"])
    assert [m["metadata"]["event_payload"]["item"] for m in thread] == ["first", "reply"]


async def test_a_pass_whose_record_fails_leaves_its_posts_sending_and_finds_them_in_slack(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    ids = {channel: await add_post(engine, clock, channel, channel) for channel in CHANNELS}
    async with refusing(engine, "posts", "NEW.state = 'done'"):
        await poster.run_once()  # Slack takes every post; recording them fails

        for channel, post_id in ids.items():
            assert posted_items(slack, channel) == [channel]
            post = await row(engine, post_id)
            assert (post.state, post.ts, post.attempts) == ("sending", None, 1)

    clock.advance(60)  # past the retry's backoff and the slots' long hold (no answer settled)
    await drain(poster, clock)

    assert len(slack.calls("chat.postMessage")) == len(CHANNELS)  # nothing posted twice
    for channel, post_id in ids.items():
        (message,) = slack.messages(channel)
        post = await row(engine, post_id)
        assert (post.state, post.ts) == ("done", message["ts"])  # reconciled by its metadata
    assert len(slack.calls("conversations.history")) == len(CHANNELS)


async def test_a_post_whose_record_keeps_failing_is_counted_each_time_then_a_dead_letter(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    """The record fails after the post's row was written in it (its thread's first ts
    refused): rolled back, the failure still counts against the post (its lease is the one
    it had before), so a post that can never be recorded ends as a dead letter rather than
    coming back every lease forever."""
    poison = await add_post(engine, clock, CHANNELS[0], "poison", sms=True)
    async with refusing(engine, "threads", "NEW.thread_ts IS NOT NULL"):
        await poster.run_once()

        post = await row(engine, poison)
        assert (post.state, post.attempts) == ("sending", 1)
        assert post.error and "(_record)" in post.error  # the step that failed
        await drain(poster, clock, step=60)
    post = await row(engine, poison)
    assert post.state == "dead"
    assert posted_items(slack, CHANNELS[0]) == ["poison"]  # found each time, never again


async def test_a_post_whose_thread_cannot_be_stored_is_a_dead_letter_and_the_others_go(
    engine: AsyncEngine, slack: SlackSimulator, poster: Poster, clock: FakeClock
) -> None:
    """One conversation's thread row is refused: the pass's one transaction fails, and
    the pass in steps finds each post's place on its own when the batch's fails, so the
    failure is the refused post's alone. The texts of the other channels are posted
    without an attempt counted against them; the refused one ends as a dead letter."""
    poison = await add_post(engine, clock, CHANNELS[0], "poison", sms=True, caller=STRANGER)
    others = {c: await add_post(engine, clock, c, c, sms=True) for c in CHANNELS[1:]}
    async with refusing(engine, "threads", f"NEW.other_number = '{STRANGER}'", on="INSERT"):
        await drain(poster, clock, step=60)

    post = await row(engine, poison)
    assert post.state == "dead" and post.error and "(_places)" in post.error  # the step
    assert posted_items(slack, CHANNELS[0]) == []
    for channel, post_id in others.items():
        assert posted_items(slack, channel) == [channel]
        post = await row(engine, post_id)
        assert (post.state, post.attempts) == ("done", 0)


STRANGER = "+14155550999"  # a conversation whose thread the database refuses


async def test_posts_wait_for_the_accounts_facts_with_a_line_a_minute_not_a_traceback(
    engine: AsyncEngine,
    slack: SlackSimulator,
    clock: FakeClock,
    rc_sim: RingCentralSimulator,
    rc_client: RingCentralClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RingCentral down before the account's facts were ever read (a fresh start): no
    post is claimed or counted, the posts lane says so in one line a minute, and the
    posts go once RingCentral answers."""
    facts = AccountFacts(rc_client.account, clock, ttl=3600)
    client = AsyncWebClient(
        token=slack.tokens[0], base_url=slack.api_url, timeout=10, retry_handlers=[]
    )
    poster = Poster(engine, client, clock, Metrics(), region=facts.region, timezone=facts.timezone)
    post_id = await add_post(engine, clock, CHANNELS[0], "m1")
    rc_sim.fail(r"/restapi/v1.0/account/~/extension/~$", method="GET", status=503, times=None)

    with caplog.at_level(logging.WARNING, logger="bot"):
        for _ in range(5):  # a pass a second, as the lane looks
            assert await poster.run_once() == 0
            clock.advance(1.0)
        stored = await row(engine, post_id)
        assert (stored.state, stored.attempts, stored.claimed_until) == ("pending", 0, None)
        said = [r for r in caplog.records if r.name.startswith("bot.bridge") or r.exc_info]
        assert len(said) == 1 and said[0].exc_info is None
        assert "time zone cannot be read from RingCentral" in said[0].getMessage()
        clock.advance(60.0)
        await poster.run_once()
        assert len([r for r in caplog.records if r.name.startswith("bot.bridge")]) == 2

    rc_sim.clear_faults()
    assert await poster.run_once() == 1
    assert posted_items(slack, CHANNELS[0]) == ["m1"]

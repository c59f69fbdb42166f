"""Slack's pace per channel, shared by several posters through the database (issue #10),
counted where Slack counts it: when Slack acts on each post.

Slack (the simulator) takes a different time for each chat.postMessage here, so a post
sent after another can reach Slack first. Three posters share one database, as three
processes do; each is the bridge's `Poster` on the wall clock.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.poster import Poster
from bot.clock import SystemClock
from bot.notices import PagerNotice, Party, dump_notice
from bot.observe import Metrics
from bot.sim import SLACK_CHANNEL_PACE, SlackSimulator
from bot.store.schema import Post

pytestmark = pytest.mark.slow

CHANNELS = ["C0PACE1", "C0PACE2", "C0PACE3"]
PER_CHANNEL = 5
DEADLINE = 60.0


async def region() -> str:
    return "US"


async def timezone() -> tzinfo:
    return UTC


def poster(engine: AsyncEngine, slack: SlackSimulator, *, timeout: float = 10) -> Poster:
    # As the dispatcher's client: no retries of its own (bot.server._dispatch_slack).
    client = AsyncWebClient(
        token=slack.tokens[0], base_url=slack.api_url, timeout=timeout, retry_handlers=[]
    )
    return Poster(engine, client, SystemClock(), Metrics(), region=region, timezone=timezone)


async def add_posts(engine: AsyncEngine, channels: list[str], per_channel: int) -> None:
    """`per_channel` posts to each channel, due (internal messages: nothing to look up)."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    rows = []
    for i in range(per_channel * len(channels)):
        notice = PagerNotice(
            kind="internal_message", message_id=f"m{i}",
            sender=Party(name="Dana", extension_number="101"), to=(), text=f"note {i}", at=now,
        )  # fmt: skip
        post = {"rc_uuid": f"u{i}", "kind": notice.kind, "item": notice.item}
        rows.append(
            post | {"channel": channels[i % len(channels)], "notice": dump_notice(notice)}
            | {"state": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now}
        )  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(Post), rows)


async def post_all(engine: AsyncEngine, posters: list[Poster]) -> None:
    """Each poster in a loop of its own (as its process's dispatcher) until nothing is left."""
    left = select(func.count()).where(Post.state.in_(("pending", "sending")))

    async def loop(p: Poster) -> None:
        while True:
            if await p.run_once():
                continue
            async with engine.connect() as conn:
                if not await conn.scalar(left):
                    return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(asyncio.gather(*(loop(p) for p in posters)), DEADLINE)


async def test_three_posters_and_a_slack_of_varying_speed_never_post_faster_than_its_pace(
    engine: AsyncEngine,
) -> None:
    slack = SlackSimulator(channel_pace=SLACK_CHANNEL_PACE)
    for channel in CHANNELS:
        slack.add_channel(channel, channel.lower(), member=True)
    slack.latency["chat.postMessage"] = (0.0, 0.8)
    await add_posts(engine, CHANNELS, PER_CHANNEL)
    async with slack.serve():
        await post_all(engine, [poster(engine, slack) for _ in range(3)])

        for channel in CHANNELS:
            items = [m["metadata"]["event_payload"]["item"] for m in slack.messages(channel)]
            assert len(items) == len(set(items)) == PER_CHANNEL  # each once
            times = slack.post_times(channel)
            gaps = [round(b - a, 3) for a, b in pairwise(times)]
            assert min(gaps) >= 1.0, (channel, gaps)  # when Slack acted, not when we sent
            assert max(gaps) < 2.5, (channel, gaps)  # paced, not held: one call's time late
        assert all(c.ok for c in slack.calls("chat.postMessage"))  # no 429, no refusal


async def test_a_call_without_an_answer_holds_its_channel_for_the_call_timeout_and_pace_only(
    engine: AsyncEngine,
) -> None:
    """Slack drops the connection instead of answering: the post may be in the channel, so
    nothing more goes there for the call's longest time (the client's timeout) and the
    pace; then the channel's other posts go on (a crashed process holds it no longer)."""
    timeout = 2.0
    slack = SlackSimulator(channel_pace=SLACK_CHANNEL_PACE)
    slack.add_channel(CHANNELS[0], "pace", member=True)
    await add_posts(engine, CHANNELS[:1], 3)
    async with slack.serve():
        slack.fail("chat.postMessage", status=500, disconnect=True)
        await post_all(engine, [poster(engine, slack, timeout=timeout)])

        calls = slack.calls("chat.postMessage")
        dropped, first_after = calls[0].time, next(c.time for c in calls if c.ok)
        assert not calls[0].ok
        # (the hold starts when the slot is taken, a moment before Slack saw the call)
        assert timeout + 1.0 - 0.2 <= first_after - dropped < timeout + 1.0 + 1.5, calls
        assert len(slack.messages(CHANNELS[0])) == 3

"""Fenced leases (issue #9 item 3): the real poster in 3 processes on one PostgreSQL
database, with leases much shorter than a Slack call, posts every notification exactly once.

Slack (the simulator, in this process) takes SLACK_CALL seconds to act on each
chat.postMessage, far past LEASE: a post's lease runs out while its message is on the way,
and its other claimed posts' leases run out while they wait their turn. Before, another
process then took the `sending` post over, found nothing in the channel yet and posted it
again; and a process whose lease had run out still wrote its results back. Now a post's
lease covers its Slack call before it is sent, and every write-back checks the lease.

The workers are OS processes running this file as a script (`poster_loop` below).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("RINGBRIDGE_TEST_POSTGRES")
NO_POSTGRES = (
    "several processes need PostgreSQL: RINGBRIDGE_TEST_POSTGRES is not set "
    "(e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"
)
PROCESSES = 3
POSTS = 30
CHANNELS = [f"C0FENCE{i:02d}" for i in range(6)]
LEASE = 0.4  # seconds: a claim's lease
SLACK_CALL = 1.5  # seconds Slack takes to post each message
DEADLINE = 120.0


# -- the worker (run as `python tests/e2e/test_fenced_posts.py post …`) ---------------------


async def poster_loop(url: str, slack_url: str, token: str, lease: float) -> None:
    """The bridge's Poster, until no post is left to send."""
    from slack_sdk.web.async_client import AsyncWebClient
    from sqlalchemy import func, select

    from bot.bridge.poster import Poster
    from bot.clock import SystemClock
    from bot.observe import Metrics
    from bot.store import connect
    from bot.store.schema import Post

    async def region() -> str:
        return "US"

    async def timezone() -> tzinfo:
        return UTC

    engine = connect(url)
    slack = AsyncWebClient(token=token, base_url=slack_url, timeout=10)
    poster = Poster(
        engine, slack, SystemClock(), Metrics(), region=region, timezone=timezone,
        lease=timedelta(seconds=lease), batch=5,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while loop.time() < deadline:
        if await poster.run_once():
            continue
        async with engine.connect() as conn:
            left = await conn.scalar(
                select(func.count()).where(Post.state.in_(("pending", "sending")))
            )
        if not left:
            break
        await asyncio.sleep(0.05)
    await engine.dispose()


def _worker_main(argv: list[str]) -> None:
    _, url, slack_url, token, lease = argv
    asyncio.run(poster_loop(url, slack_url, token, float(lease)))


# -- the test --------------------------------------------------------------------------------


async def posts_database() -> str:
    """A new PostgreSQL database with POSTS pending internal-message posts over CHANNELS."""
    from sqlalchemy import insert

    from bot.notices import PagerNotice, Party, dump_notice
    from bot.store import connect, create_schema
    from bot.store.schema import Post
    from tests.databases import postgres_database

    url = await postgres_database("rb_fenced_posts")
    engine = connect(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    try:
        await create_schema(engine)
        rows = []
        for i in range(POSTS):
            notice = PagerNotice(
                kind="internal_message", message_id=f"m{i}",
                sender=Party(name="Dana", extension_number="101"), to=(),
                text=f"note {i}", at=now,
            )  # fmt: skip
            rows.append(
                {
                    "rc_uuid": f"u{i}",
                    "kind": notice.kind,
                    "item": notice.item,
                    "channel": CHANNELS[i % len(CHANNELS)],
                    "notice": dump_notice(notice),
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(Post), rows)
    finally:
        await engine.dispose()
    return url


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603 - this file


@pytest.mark.skipif(not POSTGRES, reason=NO_POSTGRES)
@pytest.mark.slow
async def test_three_posters_with_leases_shorter_than_a_slack_call_post_each_once() -> None:
    from sqlalchemy import func, select

    from bot.sim import SlackSimulator
    from bot.store import connect
    from bot.store.schema import Post

    url = await posts_database()
    slack = SlackSimulator()
    for channel in CHANNELS:
        slack.add_channel(channel, channel.lower(), member=True)
    slack.latency["chat.postMessage"] = SLACK_CALL
    async with slack.serve():
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, __file__, "post", url, slack.api_url, slack.tokens[0], str(LEASE)]
        procs = [start(argv, env) for _ in range(PROCESSES)]
        try:
            codes = [await asyncio.to_thread(p.wait, DEADLINE + 30) for p in procs]
        finally:
            for proc in procs:
                proc.kill()
        assert codes == [0] * PROCESSES

        per_item: Counter[str] = Counter()
        for channel in CHANNELS:
            for message in slack.messages(channel):
                per_item[message["metadata"]["event_payload"]["item"]] += 1
        assert {f"m{i}" for i in range(POSTS)} == set(per_item)  # none lost
        doubled = {item: n for item, n in per_item.items() if n > 1}
        assert doubled == {}, f"posted twice: {doubled}"
        assert (
            len(slack.calls("chat.postMessage")) == POSTS
        )  # not even a second attempt that Slack refused

    engine = connect(url)
    try:
        async with engine.connect() as conn:
            states = dict(
                (await conn.execute(select(Post.state, func.count()).group_by(Post.state))).all()
            )
    finally:
        await engine.dispose()
    assert states == {"done": POSTS}


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "post":
    _worker_main(sys.argv[1:])

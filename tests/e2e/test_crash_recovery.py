"""A crash (SIGKILL) while a notification is being posted, and a restart on the same
database: the message reaches Slack exactly once (RELIABILITY R1, R2; DESIGN §3.6, §3.7).

`python -m bot serve` runs as a subprocess, as deployed, configured by environment variables
only; the RingCentral and Slack simulators run in a child process of their own
(`bot.sim.Simulators`), driven through its pipe. Everything is on loopback, every wait has a
deadline, and every process is ended in `finally`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import CHANNEL, ServerProcess, Simulators

pytestmark = pytest.mark.slow

BRIDGE_CONFIG = f'[[routes]]\nevents = ["sms"]\nchannel = "{CHANNEL}"\n'
SENDER = "+16505550199"
SUBSCRIBED_WITHIN = 20.0  # seconds for the server's own subscription at start
TRIED_WITHIN = 15.0  # for the first chat.postMessage after the SMS
POSTED_WITHIN = 30.0  # after the restart: the first retry is due within backoff(1) ≤ 2 s
SETTLE = 1.0  # seconds to keep watching for a second post after the first

T = TypeVar("T")


async def until(
    what: str, probe: Callable[[], Awaitable[T | None]], within: float, every: float = 0.05
) -> T:
    """Poll `probe` until it returns something other than None (or False); bounded."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within} s")
        await asyncio.sleep(every)


@dataclass
class PostRow:
    state: str
    attempts: int
    next_attempt_at: str
    claimed_until: str | None
    error: str | None


def _read_post(database: Path, item: str) -> PostRow | None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
        found = conn.execute(
            "SELECT state, attempts, next_attempt_at, claimed_until, error FROM posts "
            "WHERE kind = 'sms' AND item = ?",
            (item,),
        ).fetchone()
    return PostRow(*found) if found else None


@dataclass
class Crash:
    """The simulators, and the server that will be killed and restarted."""

    sims: Simulators
    server: ServerProcess

    async def post_row(self, item: str) -> PostRow | None:
        return await asyncio.to_thread(_read_post, self.server.database_path, item)

    async def subscribed(self) -> None:
        """The server made its webhook subscription at start, and knows it."""
        address = self.server.url + WEBHOOK_PATH

        async def active_at_rc() -> bool:
            subs = await self.sims.rc_subscriptions()
            return any(s["address"] == address and s["status"] == "Active" for s in subs)

        async def active_in_health() -> bool:
            _, health = await self.server.health()
            return health.get("subscription") == "Active"

        await until("subscription at RingCentral", active_at_rc, SUBSCRIBED_WITHIN)
        await until("subscription recorded by the server", active_in_health, SUBSCRIBED_WITHIN)

    async def messages_of(self, item: str) -> list[dict[str, Any]]:
        """Messages in the channel whose metadata names `item`."""
        return [
            m
            for m in await self.sims.slack_messages(CHANNEL)
            if (m.get("metadata") or {}).get("event_payload", {}).get("item") == item
        ]

    async def exactly_one_message(self, item: str) -> dict[str, Any]:
        async def posted() -> list[dict[str, Any]] | None:
            found = await self.messages_of(item)
            return found or None

        await until("the message in Slack after the restart", posted, POSTED_WITHIN)

        async def recorded() -> bool:
            row = await self.post_row(item)
            return row is not None and row.state == "done"

        await until("the post recorded as done", recorded, POSTED_WITHIN)
        await asyncio.sleep(SETTLE)  # a duplicate would come now, if at all
        found = await self.messages_of(item)
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
async def crash() -> AsyncIterator[Crash]:
    sims = Simulators()
    server: ServerProcess | None = None
    try:
        info = await sims.start()
        server = ServerProcess(
            info,
            public_url=True,
            extra_env={"BRIDGE_CONFIG": BRIDGE_CONFIG, "LOG_LEVEL": "INFO"},
        )
        await server.start()
        yield Crash(sims, server)
    finally:
        if server is not None:
            await server.kill()  # a graceful stop is not what this file tests: no waiting
            await server.close()
        await sims.close()


async def _first_try_then_kill(crash: Crash, item: str) -> PostRow:
    """Wait for the server's first chat.postMessage and for it to record the outcome, then
    SIGKILL it; the post row as the dead process left it."""

    async def tried() -> bool:
        return len(await crash.sims.slack_calls("chat.postMessage")) >= 1

    await until("a first chat.postMessage", tried, TRIED_WITHIN)

    async def failure_recorded() -> PostRow | None:
        row = await crash.post_row(item)
        if row and row.state == "sending" and row.attempts >= 1 and row.claimed_until is None:
            return row
        return None

    # Killed while the answer was still on its way, the post would keep its 60 s lease.
    await until("the failure recorded", failure_recorded, TRIED_WITHIN, every=0.01)
    await crash.server.kill()
    row = await crash.post_row(item)
    assert row is not None and row.state == "sending", row
    return row


async def test_killed_while_slack_fails_then_restarted_posts_exactly_once(
    crash: Crash,
) -> None:
    await crash.subscribed()
    await crash.sims.slack_fail("chat.postMessage", status=500, times=None)
    sms = await crash.sims.rc_incoming_sms(SENDER, "crash test: killed while Slack fails")
    item = sms["id"]

    left = await _first_try_then_kill(crash, item)
    assert await crash.messages_of(item) == []
    calls_before = len(await crash.sims.slack_calls("chat.postMessage"))
    assert all(c.status == 500 for c in await crash.sims.slack_calls("chat.postMessage"))

    await crash.sims.slack_clear_faults()
    restarted = time.monotonic()
    await crash.server.start()
    message = await crash.exactly_one_message(item)

    took = time.monotonic() - restarted
    calls = await crash.sims.slack_calls("chat.postMessage")
    assert [c.ok for c in calls[calls_before:]] == [True], (calls, left)
    assert message["metadata"]["event_type"] == "ringcentral_sms"
    assert "crash test: killed while Slack fails" in message["text"]
    # Nothing was in Slack, so the restarted server looked (by metadata) and found nothing.
    assert "reconciled=found" not in crash.server.log_tail(1000)
    assert took < POSTED_WITHIN, took


async def test_killed_after_slack_stored_but_answered_500_reconciles_without_reposting(
    crash: Crash,
) -> None:
    """The post→commit window (R2) from outside: Slack keeps the message and answers 500, so
    the server cannot know it was posted; it is killed before it can find out (history
    lookups fail until then), and the restarted server must find it, not post again."""
    await crash.subscribed()
    await crash.sims.slack_fail("chat.postMessage", status=500, store=True)
    await crash.sims.slack_fail("conversations.history", status=500, times=None)
    await crash.sims.slack_fail("conversations.replies", status=500, times=None)
    sms = await crash.sims.rc_incoming_sms(SENDER, "crash test: stored, then 500")
    item = sms["id"]

    await _first_try_then_kill(crash, item)
    assert len(await crash.messages_of(item)) == 1  # Slack has it; the server does not know

    await crash.sims.slack_clear_faults()
    await crash.server.start()
    await crash.exactly_one_message(item)

    posts = await crash.sims.slack_calls("chat.postMessage")
    assert [(c.status, c.ok) for c in posts] == [(500, False)], posts  # never posted again
    history = await crash.sims.slack_calls("conversations.history")
    assert any(c.ok for c in history), history
    assert "reconciled=found" in crash.server.log_tail(1000)
    # What an operator sees of it on the restarted server's /metrics.
    assert 'ringbridge_slack_posts_total{outcome="reconciled"} 1.0' in await crash.server.metrics()

"""RELIABILITY R22: Slack's Events API retries a thread reply (`X-Slack-Retry-Num` 1-3) to
another process and across a restart, and a process is killed (SIGKILL) after an ack and
before its send: each reply is texted exactly once.

Two `serve` processes share one PostgreSQL database (each test makes its own and drops it).
Each reply goes to one process and its retries to the other; halfway through, the process
that just acked a reply is killed, the next replies and retries go to the other, and the
killed one is started again and gets the retries of what it had acked.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from bot.sim import ServerProcess, Simulators
from tests.e2e.test_crash_recovery import BRIDGE_CONFIG

from ._kit import create_postgres_database, drop_postgres_database, postgres_available, until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

WITHIN = 60.0
SETTLE = 2.0  # seconds to keep watching for a second text after the last one


def _sender(index: int) -> str:
    return f"+1415555{7000 + index:04d}"


async def _parent_ts(sims: Simulators, item: str) -> str | None:
    for message in await sims.slack_messages():
        if (message.get("metadata") or {}).get("event_payload", {}).get("item") == item:
            return str(message["ts"])
    return None


async def _subscribed(sims: Simulators) -> bool:
    return any(s["status"] == "Active" for s in await sims.rc_subscriptions())


async def test_r22_retried_and_killed_thread_replies_are_texted_exactly_once(
    soak: bool, figures: dict[str, Any]
) -> None:
    if not await postgres_available():
        pytest.skip("no PostgreSQL at RINGBRIDGE_SOAK_POSTGRES")
    count = 50 if soak else 10
    rng = random.Random(22)
    sims = Simulators()
    url = ""
    servers: list[ServerProcess] = []
    try:
        info = await sims.start()
        url = await create_postgres_database()
        env = {"BRIDGE_CONFIG": BRIDGE_CONFIG, "DATABASE_URL": url}
        servers = [ServerProcess(info, public_url=True, extra_env=env) for _ in range(2)]
        for server in servers:
            await server.start()
        await until("a subscription", lambda: _subscribed(sims), WITHIN)

        threads: list[str] = []
        for i in range(count):
            sms = await sims.rc_incoming_sms(_sender(i), f"question {i}")

            async def posted(item: str = sms["id"]) -> str | None:
                return await _parent_ts(sims, item)

            threads.append(await until(f"SMS {i} posted", posted, WITHIN))

        replies = [f"answer {i}" for i in range(count)]
        retries = 0
        killed_at = count // 2
        pending_retries: list[tuple[int, dict[str, Any], int]] = []  # (server, envelope, n)
        for i, (ts, text) in enumerate(zip(threads, replies, strict=True)):
            first = i % 2 if servers[i % 2].running else 1 - i % 2
            sent = await sims.slack_thread_reply(servers[first].url + "/slack/events", ts, text)
            assert sent["status"] == 200, sent
            other = 1 - first
            for n in range(1, rng.randint(1, 3) + 1):
                if servers[other].running:
                    status = await sims.slack_resend_event(
                        servers[other].url + "/slack/events", sent["envelope"], retry=n
                    )
                    assert status == 200
                    retries += 1
                else:  # Slack retries later, when the process is back
                    pending_retries.append((other, sent["envelope"], n))
            if i == killed_at:  # acked (stored), then killed before or while it sends
                await servers[first].kill()
                for n in range(1, 3):
                    pending_retries.append((first, sent["envelope"], n))
            if i == killed_at + 2:
                for server in servers:
                    if not server.running:
                        await server.start()
        for index, envelope, n in pending_retries:
            status = await sims.slack_resend_event(
                servers[index].url + "/slack/events", envelope, retry=n
            )
            assert status == 200
            retries += 1

        async def all_texted() -> bool:
            sent = {t["json"]["text"] for t in await sims.rc_texts_sent() if t["status"] == 200}
            return set(replies) <= sent

        await until("every reply texted", all_texted, WITHIN * 2)
        await asyncio.sleep(SETTLE)  # a second text of any would come now
        texts = Counter(t["json"]["text"] for t in await sims.rc_texts_sent() if t["status"] == 200)
        figures.update(
            replies=count,
            retries_delivered=retries,
            kills=1,
            texted_once=sum(1 for r in replies if texts[r] == 1),
            texted_twice_or_more=sum(1 for r in replies if texts[r] > 1),
            lost=sum(1 for r in replies if texts[r] == 0),
        )
        assert [r for r in replies if texts[r] != 1] == [], texts
    finally:
        for server in servers:
            await server.kill()
            await server.close()
        if url:
            await drop_postgres_database(url)
        await sims.close()

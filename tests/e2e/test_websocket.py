"""`python -m bot serve` with no PUBLIC_URL: RingCentral events over its WebSocket
(DESIGN §3.11), the server as a deployment runs it, the simulators in a child process.

- One process on SQLite: the connection is up (/healthz says so), an SMS reaches Slack,
  and no token of the WebSocket (its access token, the session's `wsc`) reaches the log.
- Two processes on PostgreSQL: one holds the WebSocket; killed with SIGKILL, the other
  takes it over within 30 s, recovers the session with the `wsc` the database kept, and
  every SMS sent meanwhile is posted exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from bot.sim import CHANNEL, ServerProcess, Simulators

T = TypeVar("T")
POSTGRES = os.environ.get("RINGBRIDGE_TEST_POSTGRES")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="RINGBRIDGE_TEST_POSTGRES is not set (two processes need PostgreSQL)"
)
TAKEOVER_WITHIN = 30.0  # DESIGN §3.11


async def until(what: str, probe: Callable[[], Awaitable[T | None]], within: float) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(0.1)


def sender(i: int) -> str:
    return f"+1415555{3000 + i:04d}"  # a conversation each: one top-level post each


async def posts_per_text(sims: Simulators) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in await sims.slack_messages(CHANNEL):
        for text in re.findall(r"ws-sms-\d+", str(message.get("text", ""))):
            found[text] += 1
    return found


async def connected(server: ServerProcess) -> bool:
    status, body = await server.health()
    return status == 200 and body.get("websocket") == "connected"


async def ws_connections(server: ServerProcess) -> Counter[str]:
    """This server's WebSocket connections by how they were made (its /metrics)."""
    found: Counter[str] = Counter()
    for how, value in re.findall(
        r'^ringbridge_ringcentral_ws_connections_total\{how="(\w+)"\} ([0-9.e+]+)$',
        await server.metrics(),
        re.MULTILINE,
    ):
        found[how] += int(float(value))
    return found


@pytest.mark.slow
async def test_serve_without_a_public_url_takes_events_over_the_websocket() -> None:
    async with Simulators() as sims:
        server = ServerProcess(sims.info, extra_env={"DEFAULT_CHANNEL": CHANNEL})
        try:
            await server.start()
            await until("connected", lambda: connected(server), 20)
            _, body = await server.health()
            assert body["status"] == "ok" and "subscription" not in body
            (sub,) = await sims.rc_subscriptions()
            assert sub["status"] == "Active" and sub["address"] == ""  # a WebSocket one
            await sims.rc_incoming_sms(sender(0), "ws-sms-0 hello")
            await until("posted", lambda: _posted(sims, {"ws-sms-0"}), 20)
            gateway = await sims.rc_websocket()
            assert gateway["live_connections"] == 1
            assert (await ws_connections(server)) == {"new": 1}
            log = server.log_text()
            for secret in await sims.secrets():
                assert secret not in log
        finally:
            await server.close()


async def _posted(sims: Simulators, texts: set[str]) -> bool:
    counts = await posts_per_text(sims)
    return texts <= set(counts)


@needs_postgres
@pytest.mark.slow
async def test_killing_the_holder_moves_the_websocket_within_30_s() -> None:
    from bot.store import connect, create_schema
    from tests.databases import postgres_database

    url = await postgres_database("rb_ws_takeover")
    engine = connect(url)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()
    env = {"DEFAULT_CHANNEL": CHANNEL, "DATABASE_URL": url}
    async with Simulators() as sims:
        servers = [ServerProcess(sims.info, extra_env=env) for _ in range(2)]
        try:
            for server in servers:
                await server.start()

            async def holder() -> ServerProcess | None:
                held = [s for s in servers if s.running and (await ws_connections(s))]
                return held[0] if len(held) == 1 else None

            first = await until("one holder", holder, 30)
            other = next(s for s in servers if s is not first)
            await until("connected", lambda: connected(other), 30)  # /healthz: any process
            for i in range(5):
                await sims.rc_incoming_sms(sender(i), f"ws-sms-{i} before")
            await until("posted", lambda: _posted(sims, {f"ws-sms-{i}" for i in range(5)}), 30)

            await first.kill()
            killed_at = time.monotonic()
            for i in range(5, 10):  # while nobody holds the connection: kept by the gateway
                await sims.rc_incoming_sms(sender(i), f"ws-sms-{i} during")
            took = await until("taken over", lambda: _took_over(other), TAKEOVER_WITHIN + 5)
            elapsed = time.monotonic() - killed_at
            assert elapsed < TAKEOVER_WITHIN, f"took {elapsed:.1f} s"
            assert took == {"recovered": 1}  # the session the database kept, not a new one
            for i in range(10, 13):
                await sims.rc_incoming_sms(sender(i), f"ws-sms-{i} after")
            wanted = {f"ws-sms-{i}" for i in range(13)}
            await until("all posted", lambda: _posted(sims, wanted), 60)
            await asyncio.sleep(1.0)  # a duplicate would have arrived by now
            counts = await posts_per_text(sims)
            assert counts == dict.fromkeys(wanted, 1), counts  # none lost, none doubled
            gateway = await sims.rc_websocket()
            assert gateway["connections"].get("recovered") == 1
            assert gateway["live_connections"] == 1
            assert await connected(other)
        finally:
            for server in servers:
                await server.close()


async def _took_over(server: ServerProcess) -> dict[str, Any] | None:
    found = await ws_connections(server)
    return dict(found) if found else None

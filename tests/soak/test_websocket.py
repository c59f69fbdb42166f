"""RELIABILITY R26: RingCentral events over the WebSocket, with no PUBLIC_URL (DESIGN §3.11).

`python -m bot serve` processes against the simulators (a child process); the simulated
account's SMS flow over the gateway while the connection is dropped inside the recovery
window, dropped past it, dropped while more than `recoveryBufferSize` events arrive, left
idle with only heartbeats, crosses its absolute timeout (overlapping connections), and
while its holder is killed (PostgreSQL, two processes). What RingCentral itself drops (a
session past its recovery window, a buffer that overflowed) is posted late by catch-up.
Each case ends with every SMS posted exactly once (counted from the Slack simulator's
messages) and the connection never closed for idleness.

The gateway announces short timeouts here (as RingCentral announces its own), so the
cases take seconds, not the 30 minutes and 24 hours of the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.sim import ServerProcess, Simulators

from ._kit import (
    bridge_config,
    channels,
    company_number,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
    until,
)

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

POSTED_WITHIN = 120.0
TAKEOVER_WITHIN = 30.0
_TEXT = re.compile(r"r26-[a-z]+-\d{4}\.")


@dataclass
class Run:
    sims: Simulators
    servers: list[ServerProcess]
    channel_ids: list[str]
    sent: list[str]

    async def send(self, case: str, count: int, rate: float) -> None:
        """`count` SMS at `rate` a second, each from its own number (a top-level post
        each), spread over the channels by the company number they were sent to."""
        start = len(self.sent)
        for n in range(start, start + count):
            text = f"r26-{case}-{n:04d}."
            await self.sims.rc_incoming_sms(
                f"+1415{4000000 + n:07d}", text, to_number=company_number(n % len(self.channel_ids))
            )
            self.sent.append(text)
            await asyncio.sleep(1 / rate)

    async def counts(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for post in await self.sims.slack_posts():
            found.update(_TEXT.findall(str(post.get("text") or "")))
        return found

    async def exactly_once(self, figures: dict[str, Any]) -> None:
        started = time.monotonic()

        async def all_there() -> Counter[str] | None:
            counts = await self.counts()
            return counts if set(self.sent) <= set(counts) else None

        try:
            await until("every SMS posted", all_there, POSTED_WITHIN, every=0.5)
        finally:
            counts = await self.counts()
            figures["sent"] = len(self.sent)
            figures["lost"] = sorted(set(self.sent) - set(counts))
            figures["doubled"] = {t: c for t, c in counts.items() if c > 1}
            figures["settle_s"] = round(time.monotonic() - started, 1)
        await asyncio.sleep(2.0)  # a duplicate would be there by now
        counts = await self.counts()
        assert not [t for t in self.sent if counts[t] != 1], figures
        gateway = await self.sims.rc_websocket()
        figures["gateway"] = {k: v for k, v in gateway.items() if k != "sessions"}
        assert gateway["closes"].get("WSG-902", 0) == 0  # never closed for idleness


async def connected(server: ServerProcess) -> bool:
    status, body = await server.health()
    return status == 200 and body.get("websocket") == "connected"


@contextlib.asynccontextmanager
async def running(
    *, processes: int = 1, channel_count: int = 8, **options: float
) -> AsyncIterator[Run]:
    """The simulators (the gateway announcing `options`) and `processes` servers without
    PUBLIC_URL (PostgreSQL for more than one), connected."""
    sims = Simulators()
    servers: list[ServerProcess] = []
    database_url = ""
    try:
        info = await sims.start()
        if options:
            await sims.rc_websocket_options(**options)
        channel_ids = channels(channel_count)
        await sims.slack_add_channels(channel_ids)
        env = {"BRIDGE_CONFIG": bridge_config(channel_ids), "LOG_LEVEL": "INFO"}
        if processes > 1:
            database_url = await create_postgres_database()
            env["DATABASE_URL"] = database_url
        servers = [ServerProcess(info, extra_env=env) for _ in range(processes)]
        for server in servers:
            await server.start()
        await until("connected", lambda: connected(servers[0]), 30)
        yield Run(sims, servers, channel_ids, [])
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if database_url:
            with contextlib.suppress(Exception):
                await drop_postgres_database(database_url)
        await sims.close()


async def test_r26_dropped_inside_the_recovery_window(soak: bool, figures: dict[str, Any]) -> None:
    drops = 6 if soak else 3
    async with running() as run:
        sending = asyncio.create_task(run.send("drop", 40 * drops, rate=8))
        for _ in range(drops):
            await asyncio.sleep(4.0)
            assert await run.sims.rc_websocket_drop() == 1
        await sending
        await run.exactly_once(figures)
        gateway = await run.sims.rc_websocket()
        assert gateway["connections"].get("recovered", 0) >= drops
        assert "failed" not in gateway["connections"]


async def test_r26_dropped_past_the_recovery_window(soak: bool, figures: dict[str, Any]) -> None:
    """RingCentral drops the session and its events: a new subscription, and the
    catch-up the listener asks for posts what was lost, late, once."""
    drops = 3 if soak else 1
    async with running(recovery_timeout=1.0) as run:
        await asyncio.sleep(2.0)  # catch-up's first pass at start set its cursors
        sending = asyncio.create_task(run.send("past", 40 * drops + 16, rate=8))
        for _ in range(drops):
            await asyncio.sleep(4.0)
            await run.sims.rc_throttle("Auth", retry_after=2)  # no wstoken in the window
            assert await run.sims.rc_websocket_drop() == 1
        await sending
        await run.exactly_once(figures)
        gateway = await run.sims.rc_websocket()
        assert gateway["connections"].get("failed", 0) >= drops


async def test_r26_more_events_than_the_recovery_buffer_during_a_drop(
    soak: bool, figures: dict[str, Any]
) -> None:
    """The session comes back ("Successful") without the oldest events: the listener
    sees the gap in the sequence, and the catch-up posts them."""
    async with running(recovery_buffer_size=5) as run:
        await asyncio.sleep(2.0)  # catch-up's first pass at start set its cursors
        sending = asyncio.create_task(run.send("buffer", 96 if soak else 48, rate=8))
        await asyncio.sleep(2.0)
        await run.sims.rc_throttle("Auth", retry_after=2.0)  # 16 SMS, 32 events, meanwhile
        assert await run.sims.rc_websocket_drop() == 1
        await sending
        await run.exactly_once(figures)
        gateway = await run.sims.rc_websocket()
        assert gateway["dropped_from_buffer"] > 0
        assert gateway["connections"].get("recovered", 0) >= 1


async def test_r26_idle_with_only_heartbeats(soak: bool, figures: dict[str, Any]) -> None:
    idle = 60.0 if soak else 8.0
    async with running(idle_timeout=1.5) as run:
        await asyncio.sleep(idle)  # five idle timeouts and more, without an event
        gateway = await run.sims.rc_websocket()
        figures["heartbeats"] = gateway["heartbeats"]
        assert gateway["heartbeats"] >= idle / 0.5 - 2  # one every third of 1.5 s
        assert gateway["connections"] == {"new": 1}
        await run.send("idle", 16, rate=8)
        await run.exactly_once(figures)
        assert (await run.sims.rc_websocket())["connections"] == {"new": 1}


async def test_r26_absolute_timeout_with_overlapping_connections(
    soak: bool, figures: dict[str, Any]
) -> None:
    seconds = 60 if soak else 15
    async with running(absolute_timeout=4.0) as run:
        await run.send("absolute", seconds * 8, rate=8)
        await run.exactly_once(figures)
        gateway = await run.sims.rc_websocket()
        assert gateway["connections"].get("new", 0) >= seconds // 4  # a handover each time
        assert gateway["closes"].get("WSG-903", 0) == 0  # always a new one in time
        assert gateway["live_connections"] == 1


async def test_r26_the_holder_killed(soak: bool, figures: dict[str, Any]) -> None:
    if not await postgres_available():
        pytest.skip("no PostgreSQL at RINGBRIDGE_SOAK_POSTGRES")
    kills = 3 if soak else 1
    async with running(processes=2) as run:
        sending = asyncio.create_task(run.send("killed", 48 * kills + 24, rate=8))
        moved: list[float] = []
        for _ in range(kills):
            await asyncio.sleep(5.0)
            holder = await _holder(run)
            await holder.kill()
            killed_at = time.monotonic()
            survivor = next(s for s in run.servers if s is not holder)
            await until("taken over", lambda s=survivor: _holds(s), TAKEOVER_WITHIN + 5)
            moved.append(round(time.monotonic() - killed_at, 1))
            await holder.start()  # back, as a follower
        await sending
        figures["takeover_s"] = moved
        assert max(moved) < TAKEOVER_WITHIN
        await run.exactly_once(figures)


async def _holder(run: Run) -> ServerProcess:
    async def probe() -> ServerProcess | None:
        held = [s for s in run.servers if s.running and await _holds(s)]
        return held[0] if len(held) == 1 else None

    return await until("one holder", probe, 30)


async def _holds(server: ServerProcess) -> bool:
    """Whether the server's listener is connected now: its last connection was made after
    its last close (read from its /metrics)."""
    text = await server.metrics()
    made = sum(_counter(text, "ringbridge_ringcentral_ws_connections_total"))
    ended = sum(_counter(text, "ringbridge_ringcentral_ws_closes_total"))
    return made > ended


def _counter(text: str, name: str) -> list[float]:
    return [float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.M)]

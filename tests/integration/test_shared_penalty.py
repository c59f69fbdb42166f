"""A RingCentral 429 penalty honoured by every process (DESIGN §3.7, RELIABILITY R8).

Two "processes" (RingCentralClients with their own engine, rate limiter and
DatabasePenaltyStore, same identity) on one database and one RingCentral simulator.
The limiter reads the shared store at most once a second per group, and always right
before sending while a penalty is known, so the other process is silent from one second
after the 429 at the latest (the window a per-second read leaves) until the penalty ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.ringcentral import (
    Credentials,
    JsonTokenStore,
    RateLimited,
    RateLimiter,
    RingCentralClient,
)
from bot.sim.ringcentral import RingCentralSimulator
from bot.store import DatabasePenaltyStore, DatabaseTokenStore, connect
from tests.integration.test_shared_tokens import BACKENDS, database_for

EXT = "/restapi/v1.0/account/~/extension/~"
CALL_LOG = "/restapi/v1.0/account/~/extension/~/call-log"  # Heavy
IDENTITY = "service:test"


class CountingPenaltyStore(DatabasePenaltyStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.loads = 0

    async def load(self, identity: str, group: str) -> float | None:
        self.loads += 1
        return await super().load(identity, group)


class Process:
    def __init__(self, url: str, sim: RingCentralSimulator, clock: FakeClock) -> None:
        self.engine = connect(url)
        self.penalties = CountingPenaltyStore(self.engine)
        self.client = RingCentralClient(
            http=httpx.AsyncClient(),
            server_url=sim.server_url,
            media_url=sim.media_url,
            credentials=Credentials(
                client_id=sim.client_id, client_secret=sim.client_secret, jwt=sim.jwt
            ),
            token_store=JsonTokenStore(DatabaseTokenStore(self.engine, IDENTITY, clock=clock)),
            rate_limiter=RateLimiter(clock, penalty_store=self.penalties),
            clock=clock,
            identity=IDENTITY,
        )

    async def close(self) -> None:
        await self.client.close()
        await self.engine.dispose()


@pytest.fixture(params=BACKENDS)
async def pair(
    request: pytest.FixtureRequest,
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[tuple[Process, Process]]:
    url = await database_for(request.param, tmp_path, "rb_shared_penalty")
    first, second = Process(url, rc_sim, clock), Process(url, rc_sim, clock)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def heavy(sim: RingCentralSimulator, start: float) -> list[tuple[float, int]]:
    return [(r.time - start, r.status) for r in sim.requests if r.path == CALL_LOG]


async def test_a_429_seen_by_one_process_silences_the_group_in_the_other_for_60_s(
    pair: tuple[Process, Process], rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    first, second = pair
    await first.client.request("GET", CALL_LOG)
    await second.client.request("GET", CALL_LOG)  # the second has read the store: no penalty
    rc_sim.requests.clear()
    start = clock.now()
    rc_sim.throttle("Heavy", retry_after=60)
    with pytest.raises(RateLimited) as info:
        await first.client.request("GET", CALL_LOG)
    assert info.value.sent is True and info.value.retry_after == 60
    clock.advance(1.0)  # the most a process goes before reading the store again
    second.client.rate_limiter.max_wait = 5
    for left in (59, 49, 39):
        with pytest.raises(RateLimited) as refused:
            await second.client.request("GET", CALL_LOG)
        assert refused.value.sent is False
        assert refused.value.retry_after == pytest.approx(left)
        clock.advance(10)
    assert (await second.client.request("GET", EXT)).status_code == 200  # Light is free
    second.client.rate_limiter.max_wait = 120
    # Waits for the end of the penalty, and sends then: the simulator answers 200.
    assert (await second.client.request("GET", CALL_LOG)).status_code == 200
    assert heavy(rc_sim, start) == [(0, 429), (60, 200)]


async def test_a_penalty_extended_by_another_process_is_read_right_before_sending(
    pair: tuple[Process, Process], rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    """The second waits for the penalty it knows (to 60 s); meanwhile another process met
    a new 429 that runs to 90 s. The second reads the store again before sending and
    keeps waiting, though it read the store less than a second earlier."""
    first, second = pair
    await second.client.request("GET", EXT)  # logged in
    start = clock.now()
    rc_sim.throttle("Heavy", retry_after=60)
    with pytest.raises(RateLimited):
        await first.client.request("GET", CALL_LOG)
    clock.advance(1.0)
    second.client.rate_limiter.max_wait = 5
    with pytest.raises(RateLimited):
        await second.client.request("GET", CALL_LOG)  # now knows: until 60 s
    await DatabasePenaltyStore(first.engine).save(IDENTITY, "Heavy", start + 90)
    second.client.rate_limiter.max_wait = 120
    assert (await second.client.request("GET", CALL_LOG)).status_code == 200
    assert heavy(rc_sim, start) == [(0, 429), (90, 200)]


async def test_the_shared_store_is_read_at_most_once_a_second_without_a_penalty(
    pair: tuple[Process, Process], rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    rc_sim.set_limit("Light", 10_000)
    _, second = pair
    second.client.rate_limiter.status("Light", identity=IDENTITY).limit = 10_000
    await second.client.request("GET", EXT)
    before = second.penalties.loads
    for _ in range(20):
        await second.client.request("GET", EXT)  # all in the same (fake) second
    assert second.penalties.loads == before
    clock.advance(1.0)
    await second.client.request("GET", EXT)
    assert second.penalties.loads == before + 1


async def test_a_save_never_shortens_a_penalty(
    pair: tuple[Process, Process], clock: FakeClock
) -> None:
    first, second = pair
    now = clock.now()
    await first.penalties.save(IDENTITY, "Heavy", now + 90)
    await second.penalties.save(IDENTITY, "Heavy", now + 60)
    assert await second.penalties.load(IDENTITY, "Heavy") == pytest.approx(now + 90)
    assert await second.penalties.load(IDENTITY, "Medium") is None
    assert await second.penalties.load("someone-else", "Heavy") is None

"""RingCentralClient against the RingCentral simulator over real loopback HTTP.

The simulator and the client share one FakeClock. FakeClock jumps as soon as a coroutine
sleeps, so `SettlingClock` first waits (real time) until the client's requests in flight
have been answered: otherwise the simulator would stamp them with the later time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    Credentials,
    MemoryTokenStore,
    RateLimited,
    RingCentralClient,
    UnsafeURLError,
)
from bot.sim.ringcentral import RingCentralSimulator

EXT = "/restapi/v1.0/account/~/extension/~"
CALL_LOG = f"{EXT}/call-log"
TOKEN = "/restapi/oauth/token"


class CountingTransport(httpx.AsyncBaseTransport):
    """The real loopback transport, counting requests in flight."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.idle.clear()
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()

    async def aclose(self) -> None:
        await self._inner.aclose()


class SettlingClock(FakeClock):
    transport: CountingTransport | None = None

    async def sleep_until(self, deadline: float) -> None:
        if self.transport is not None:
            await self.transport.idle.wait()  # let loopback answers land first
        await super().sleep_until(deadline)


@pytest.fixture
def clock() -> FakeClock:  # overrides the suite's: rc_sim runs on this one too
    return SettlingClock()


@pytest.fixture
async def client(
    rc_sim: RingCentralSimulator, clock: SettlingClock
) -> AsyncIterator[RingCentralClient]:
    transport = CountingTransport()
    clock.transport = transport
    async with RingCentralClient(
        http=httpx.AsyncClient(transport=transport),
        server_url=rc_sim.server_url,
        media_url=rc_sim.media_url,
        credentials=Credentials(
            client_id=rc_sim.client_id, client_secret=rc_sim.client_secret, jwt=rc_sim.jwt
        ),
        token_store=MemoryTokenStore(),
        clock=clock,
    ) as rc:
        yield rc


def token_requests(sim: RingCentralSimulator) -> list[str]:
    return [(r.form or {}).get("grant_type", "") for r in sim.requests if r.path == TOKEN]


async def test_50_concurrent_calls_with_an_expired_token_make_one_token_request(
    rc_sim: RingCentralSimulator, client: RingCentralClient, clock: FakeClock
) -> None:
    await client.auth.login()
    clock.advance(3600)  # the access token has expired
    await asyncio.gather(*(client.request("GET", EXT) for _ in range(50)))
    assert token_requests(rc_sim) == [
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "refresh_token",
    ]
    api = [r for r in rc_sim.requests if r.path == EXT]
    assert len(api) == 50 and {r.status for r in api} == {200}


async def test_a_401_mid_run_costs_one_refresh_and_one_retry_each(
    rc_sim: RingCentralSimulator, client: RingCentralClient
) -> None:
    await client.request("GET", EXT)
    rc_sim.requests.clear()
    rc_sim.expire_access_tokens()
    await asyncio.gather(*(client.request("GET", EXT) for _ in range(20)))
    assert token_requests(rc_sim) == ["refresh_token"]
    statuses = [r.status for r in rc_sim.requests if r.path == EXT]
    assert statuses.count(200) == 20
    assert len(statuses) <= 40  # at most one retry per call


async def test_429_retry_after_60_silences_that_group_only(
    rc_sim: RingCentralSimulator, client: RingCentralClient, clock: FakeClock
) -> None:
    await client.auth.login()
    rc_sim.throttle("Heavy", retry_after=60)
    start = clock.now()
    with pytest.raises(RateLimited) as info:
        await client.request("GET", CALL_LOG)
    assert (info.value.group, info.value.retry_after) == ("Heavy", 60)
    clock.advance(5)
    await client.request("GET", EXT)  # Light is not penalised
    await client.request("GET", CALL_LOG)  # waits for the penalty, then succeeds
    heavy = [(r.time - start, r.status) for r in rc_sim.requests if r.path == CALL_LOG]
    assert heavy == [(0, 429), (60, 200)]


async def test_45_sms_at_once_draw_no_429(
    rc_sim: RingCentralSimulator, client: RingCentralClient, clock: FakeClock
) -> None:
    sender = rc_sim.world.numbers_with_feature(rc_sim.extension_id, "SmsSender")[0]
    body = {"from": {"phoneNumber": sender}, "to": [{"phoneNumber": "+14155550123"}], "text": "x"}
    await client.auth.login()
    start = clock.now()
    await asyncio.gather(*(client.request("POST", f"{EXT}/sms", json=body) for _ in range(45)))
    sms = [r for r in rc_sim.requests if r.path.endswith("/sms")]
    assert [r.status for r in sms] == [200] * 45
    times = sorted(r.time - start for r in sms)
    assert times[:40] == [0] * 40 and times[40:] == [60] * 5


async def test_foreign_download_is_refused_and_nothing_sent(
    rc_sim: RingCentralSimulator, client: RingCentralClient
) -> None:
    server = httpx.URL(rc_sim.server_url)
    foreign = [
        f"http://127.0.0.1:{(server.port or 80) + 1}/restapi/v1.0/x",
        f"http://{server.host}:{server.port}@127.0.0.2:{server.port}/x",
        f"https://{server.host}:{server.port}/x",
        "https://evil.example/x",
    ]
    for url in foreign:
        with pytest.raises(UnsafeURLError):
            await client.download(url)
    assert rc_sim.requests == []


async def test_no_secret_in_logs(
    rc_sim: RingCentralSimulator, client: RingCentralClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx's and httpcore's loggers included
    await client.request("GET", EXT)
    first = await client.auth.access_token()
    rc_sim.expire_access_tokens()
    await client.request("GET", EXT)
    second = await client.auth.access_token()
    pair = f"{rc_sim.client_id}:{rc_sim.client_secret}".encode()
    secrets = [first, second, rc_sim.jwt, rc_sim.client_secret, base64.b64encode(pair).decode()]
    refresh = [(r.form or {}).get("refresh_token") for r in rc_sim.requests if r.path == TOKEN]
    secrets += [s for s in refresh if s]
    assert first != second and len(caplog.records) > 0
    texts = [r.getMessage() for r in caplog.records] + [repr(client), repr(client.auth)]
    for text in texts:
        for secret in secrets:
            assert secret not in text, text

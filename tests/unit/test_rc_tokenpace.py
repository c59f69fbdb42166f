"""RingCentral's token endpoint is one per app: token requests of every identity take
their turn in one window, one slot kept for the service user (DESIGN §3.9, R27)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import MemoryTokenRequestLog, RateLimited, TokenPacer
from tests.unit.test_rc_client import EXT_INFO, FakeRingCentral, make_client

APP = "client-id-1"
WINDOW = 62.0  # RingCentral's minute and the margin


def pacer(log: MemoryTokenRequestLog, clock: FakeClock, *, service: bool) -> TokenPacer:
    return TokenPacer(log, clock, app=APP, service=service)


async def test_a_person_takes_four_slots_of_five_and_the_service_user_the_fifth(
    clock: FakeClock,
) -> None:
    log = MemoryTokenRequestLog()
    person, service = pacer(log, clock, service=False), pacer(log, clock, service=True)
    for _ in range(4):
        await person.acquire("person:1")
    assert clock.monotonic() == 0  # no wait yet
    await service.acquire("service")  # the kept slot: at once
    assert clock.monotonic() == 0
    await person.acquire("person:2")  # waits for the first request to leave the window
    assert WINDOW <= clock.monotonic() < WINDOW + 0.1


async def test_the_service_user_waits_only_when_five_are_in_the_window(clock: FakeClock) -> None:
    log = MemoryTokenRequestLog()
    service = pacer(log, clock, service=True)
    for _ in range(5):
        await service.acquire("service")
    assert clock.monotonic() == 0
    await service.acquire("service")
    assert WINDOW <= clock.monotonic() < WINDOW + 0.1


async def test_the_window_never_holds_more_than_five_whoever_asks(clock: FakeClock) -> None:
    log = MemoryTokenRequestLog()
    times: list[float] = []

    async def ask(identity: str, service: bool) -> None:
        await pacer(log, clock, service=service).acquire(identity)
        times.append(clock.now())

    await asyncio.gather(ask("service", True), *(ask(f"person:{i}", False) for i in range(20)))
    times.sort()
    assert len(times) == 21
    assert all(later - earlier >= WINDOW for earlier, later in zip(times, times[5:], strict=False))


async def test_a_wait_longer_than_max_wait_is_refused_unsent(clock: FakeClock) -> None:
    log = MemoryTokenRequestLog()
    person = TokenPacer(log, clock, app=APP, service=False, max_wait=30.0)
    for _ in range(4):
        await person.acquire("person:1")
    with pytest.raises(RateLimited) as refused:
        await person.acquire("person:1")
    assert refused.value.sent is False and refused.value.group == "Auth"
    assert refused.value.error_code == "CLIENT-PACING"
    assert clock.monotonic() == 0  # refused at once, not after waiting


async def test_clients_sharing_a_log_share_the_apps_window(clock: FakeClock) -> None:
    """Two identities' clients on one log: their sixth login waits for the window; the
    token requests also count their rate limits for the app, not the user."""
    fake = FakeRingCentral(clock)
    log = MemoryTokenRequestLog()
    clients = [
        make_client(
            fake, clock, identity=f"person:{i}", token_pacer=pacer(log, clock, service=False)
        )
        for i in range(2)
    ]
    for i in range(4):
        await clients[i % 2].auth.login(force=True)
    assert clock.monotonic() == 0
    await clients[0].request("GET", EXT_INFO)  # a valid token: no token request
    await clients[1].auth.login(force=True)
    assert clock.monotonic() >= WINDOW
    assert len(fake.token_requests()) == 5
    assert clients[0].rate_limiter.status("Auth", identity=f"app:{APP}").sent


async def test_a_websocket_token_takes_the_apps_turn_like_a_token_grant(clock: FakeClock) -> None:
    """`wstoken` carries a Bearer, yet RingCentral counts it with the token endpoint's
    requests for the app (DESIGN §3.9): with the window full, it waits its turn."""
    fake = FakeRingCentral(clock)
    fake.answers["/restapi/oauth/wstoken"] = httpx.Response(
        200, json={"ws_access_token": "ws-1", "uri": "wss://ws.example/ws", "expires_in": 30}
    )
    log = MemoryTokenRequestLog()
    person = make_client(
        fake, clock, identity="person:1", token_pacer=pacer(log, clock, service=False)
    )
    await person.auth.login(force=True)  # one slot
    others = pacer(log, clock, service=False)
    for _ in range(3):
        await others.acquire("person:2")  # the window now holds the 4 a person may use
    assert clock.monotonic() == 0
    await person.ws_token()
    assert clock.monotonic() >= WINDOW  # it waited for the first request to leave
    assert len(fake.api_requests("/restapi/oauth/wstoken")) == 0  # not an API request…
    assert [r.url.path for r in fake.requests][-1] == "/restapi/oauth/wstoken"  # …but sent

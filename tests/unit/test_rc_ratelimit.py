"""Pacing under RingCentral's limits, 429 penalties, learning from X-Rate-Limit-*."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    MemoryPenaltyStore,
    RateLimited,
    RateLimiter,
    group_of,
    without_waiting,
)
from tests.unit.test_rc_client import (
    CALL_LOG,
    EXT_INFO,
    SMS_PATH,
    FakeRingCentral,
    make_client,
)

EXT = "/restapi/v1.0/account/~/extension/~"


@pytest.fixture
def fake(clock: FakeClock) -> FakeRingCentral:
    return FakeRingCentral(clock)


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/restapi/oauth/token", "Auth"),
        ("GET", "/restapi/oauth/authorize", "Auth"),
        ("POST", "/restapi/oauth/revoke", "Auth"),
        ("POST", "/restapi/v1.0/subscription", "Medium"),
        ("GET", "/restapi/v1.0/subscription", "Light"),
        ("GET", "/restapi/v1.0/subscription/6a8e1bde-1b5a-4d51-b2f3-0b5e6d9d1c2a", "Light"),
        ("PUT", "/restapi/v1.0/subscription/6a8e", "Medium"),
        ("DELETE", "/restapi/v1.0/subscription/6a8e", "Medium"),
        ("POST", "/restapi/v1.0/subscription/6a8e/renew", "Light"),
        ("POST", f"{EXT}/sms", "Medium"),
        ("POST", "/restapi/v1.0/account/123/extension/456/company-pager", "Medium"),
        ("GET", f"{EXT}/phone-number", "Light"),
        ("POST", f"{EXT}/ring-out", "Heavy"),
        ("GET", f"{EXT}/ring-out/234", "Light"),
        ("DELETE", f"{EXT}/ring-out/234", "Heavy"),
        ("GET", f"{EXT}/call-log", "Heavy"),
        ("GET", f"{EXT}/call-log/Abc123", "Heavy"),
        ("GET", "/restapi/v1.0/account/~/call-log", "Heavy"),
        ("GET", "/restapi/v1.0/account/~/call-log/Abc", "Heavy"),
        ("GET", f"{EXT}/message-store", "Light"),
        ("GET", f"{EXT}/message-store/315", "Light"),
        ("GET", f"{EXT}/message-store/315/content/316", "Medium"),
        ("GET", EXT, "Light"),
        ("GET", "/restapi/v1.0/account/~/directory/entries", "Medium"),
        ("GET", "/restapi/v1.0/account/~/directory/entries/77", "Medium"),
        ("POST", "/restapi/v1.0/account/~/directory/entries/search", "Heavy"),
        ("GET", f"{EXT}/address-book/contact", "Heavy"),
        ("GET", "/restapi/v1.0/unknown/thing", "Light"),
        ("PATCH", "/restapi/v1.0/unknown/thing", "Medium"),
    ],
)
def test_groups_follow_the_reference_table(method: str, path: str, group: str) -> None:
    assert group_of(method, path) == group


async def test_45_sms_at_once_the_41st_waits_for_the_window(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock, sync=True)
    await client.auth.login()
    start = clock.monotonic()
    results = await asyncio.gather(
        *(client.request("POST", SMS_PATH, json={"text": str(i)}) for i in range(45))
    )
    assert all(r.status_code == 200 for r in results)
    times = sorted(r.at - start for r in fake.api_requests(SMS_PATH))
    assert times[:40] == [0.0] * 40
    assert times[40:] == [60.0] * 5  # 60 s after the first: RingCentral's window frees
    assert not [r for r in fake.requests if r.at > start and r.url.path == "/restapi/oauth/token"]


async def test_wait_time_tells_how_long_a_command_is_queued(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock)
    await client.auth.login()
    assert client.wait_time("POST", SMS_PATH) == 0
    await asyncio.gather(*(client.request("POST", SMS_PATH, json={}) for _ in range(40)))
    clock.advance(15)
    assert client.wait_time("POST", SMS_PATH) == pytest.approx(45)
    assert client.wait_time("GET", EXT_INFO) == 0


async def test_429_with_retry_after_silences_the_group_only(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock)
    await client.auth.login()
    fake.throttle("Heavy", retry_after=60)
    start = clock.monotonic()
    with pytest.raises(RateLimited) as info:
        await client.request("GET", CALL_LOG)
    assert (info.value.retry_after, info.value.group, info.value.sent) == (60, "Heavy", True)
    assert len(fake.api_requests(CALL_LOG)) == 1  # not retried

    clock.advance(10)
    await client.request("GET", EXT_INFO)  # Light is not penalised
    await client.request("POST", SMS_PATH, json={})  # nor is Medium
    assert [r.at - start for r in fake.api_requests(EXT_INFO)] == [10]
    assert client.wait_time("GET", CALL_LOG) == pytest.approx(50)

    await client.request("GET", CALL_LOG)  # waits its turn (≤ max_wait), then goes
    heavy = [r.at - start for r in fake.api_requests(CALL_LOG)]
    assert heavy == [0, 60]  # nothing in between: the penalty never restarted
    assert [r for r in fake.requests if r.url.path == CALL_LOG and 0 < r.at - start < 60] == []


async def test_429_without_retry_after_means_30_s(fake: FakeRingCentral, clock: FakeClock) -> None:
    client = make_client(fake, clock)
    await client.auth.login()
    fake.throttle("Heavy", retry_after=None)
    with pytest.raises(RateLimited) as info:
        await client.request("GET", CALL_LOG)
    assert info.value.retry_after == 30
    start = clock.monotonic()
    await client.request("GET", CALL_LOG)
    assert fake.api_requests(CALL_LOG)[-1].at - start == 30


async def test_a_wait_beyond_max_wait_is_refused_without_sending(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock, max_wait=20)
    await client.auth.login()
    fake.throttle("Heavy", retry_after=60)
    with pytest.raises(RateLimited):
        await client.request("GET", CALL_LOG)
    before = len(fake.requests)
    with pytest.raises(RateLimited) as info:
        await client.request("GET", CALL_LOG)
    assert info.value.sent is False and info.value.retry_after == pytest.approx(60)
    assert len(fake.requests) == before


async def test_without_waiting_side_by_side_requests_take_the_free_slots_and_no_more(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    """Ten Heavy slots a minute, fifteen requests at once that may not wait: ten are sent,
    five refused at once (nothing sent, nothing reserved), and no time passed for any."""
    client = make_client(fake, clock)
    await client.auth.login()
    start = clock.monotonic()

    async def nice_to_have() -> bool:
        with without_waiting():
            try:
                await client.request("GET", CALL_LOG)
            except RateLimited as exc:
                assert exc.sent is False and exc.group == "Heavy"
                return False
        return True

    sent = await asyncio.gather(*(nice_to_have() for _ in range(15)))
    assert sent.count(True) == 10 and len(fake.api_requests(CALL_LOG)) == 10
    assert clock.monotonic() == start
    # The refused reserved nothing: the next request (which may wait) has the first slot
    # of the next window.
    await client.request("GET", CALL_LOG)
    assert clock.monotonic() - start == pytest.approx(60, abs=1)


async def test_penalties_are_shared_through_the_store(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    shared = MemoryPenaltyStore()
    first = make_client(fake, clock, rate_limiter=RateLimiter(clock, penalty_store=shared))
    second = make_client(
        fake, clock, rate_limiter=RateLimiter(clock, penalty_store=shared, max_wait=5)
    )
    fake.throttle("Heavy", retry_after=60)
    with pytest.raises(RateLimited):
        await first.request("GET", CALL_LOG)
    sent = len(fake.api_requests(CALL_LOG))
    with pytest.raises(RateLimited) as info:
        await second.request("GET", CALL_LOG)  # "by any process"
    assert info.value.sent is False
    assert len(fake.api_requests(CALL_LOG)) == sent


async def test_the_group_is_learned_from_the_response(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, max_wait=1000)
    path = "/restapi/v1.0/account/~/a-new-endpoint/42"
    assert limiter.group("GET", path) == "Light"
    said = httpx.Response(
        200,
        headers={
            "X-Rate-Limit-Group": "heavy",
            "X-Rate-Limit-Limit": "10",
            "X-Rate-Limit-Remaining": "9",
            "X-Rate-Limit-Window": "60",
        },
    )
    await limiter.acquire("GET", path)
    assert await limiter.record("GET", path, said) == "Heavy"
    assert limiter.group("GET", "/restapi/v1.0/account/~/a-new-endpoint/43") == "Heavy"
    for _ in range(9):
        await limiter.acquire("GET", path)
    assert limiter.wait_time("GET", path) == pytest.approx(60)


async def test_raised_limits_are_learned(clock: FakeClock) -> None:
    limiter = RateLimiter(clock)
    said = httpx.Response(
        200,
        headers={
            "X-Rate-Limit-Group": "light",
            "X-Rate-Limit-Limit": "1000",
            "X-Rate-Limit-Remaining": "999",
        },
    )
    await limiter.acquire("GET", EXT_INFO)
    await limiter.record("GET", EXT_INFO, said)
    start = clock.monotonic()
    for _ in range(200):
        await limiter.acquire("GET", EXT_INFO)
    assert clock.monotonic() == start


async def test_fewer_remaining_than_we_counted_means_another_sender(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, limits={"Heavy": 10})
    said = httpx.Response(
        200, headers={"X-Rate-Limit-Group": "heavy", "X-Rate-Limit-Remaining": "0"}
    )
    await limiter.acquire("GET", CALL_LOG)
    await limiter.record("GET", CALL_LOG, said)
    assert limiter.wait_time("GET", CALL_LOG) == pytest.approx(60)


@pytest.mark.parametrize(
    ("value", "expected"), [("60", 60), ("0", 0), ("abc", 30), ("-5", 30), ("nan", 30)]
)
async def test_retry_after_values(clock: FakeClock, value: str, expected: float) -> None:
    limiter = RateLimiter(clock)
    await limiter.record("GET", EXT_INFO, httpx.Response(429, headers={"Retry-After": value}))
    assert limiter.wait_time("GET", EXT_INFO) == pytest.approx(expected)


async def test_a_429_during_a_wait_restarts_the_wait(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, limits={"Heavy": 1})
    await limiter.acquire("GET", CALL_LOG)
    waiter = asyncio.ensure_future(limiter.acquire("GET", CALL_LOG))
    await limiter.record("GET", CALL_LOG, httpx.Response(429, headers={"Retry-After": "90"}))
    assert await waiter == "Heavy"
    assert clock.monotonic() >= 90

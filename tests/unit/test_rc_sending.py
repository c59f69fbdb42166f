"""Every request the client sends is paced and observed — the retry after a 401 and the
token requests included — and `BearerAuth` is an `httpx.Auth` httpx itself can drive."""

from __future__ import annotations

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    ApiError,
    BearerAuth,
    Credentials,
    Exchange,
    MemoryTokenStore,
    RateLimiter,
    TokenManager,
    TransportError,
)
from tests.unit.test_rc_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    EXT_INFO,
    JWT,
    SERVER,
    FakeRingCentral,
    make_client,
    tokens,
)

TOKEN = "/restapi/oauth/token"


@pytest.fixture
def fake(clock: FakeClock) -> FakeRingCentral:
    return FakeRingCentral(clock)


def timeline(fake: FakeRingCentral, start: float) -> list[tuple[str, float]]:
    return [(r.url.path, r.at - start) for r in fake.requests]


async def test_the_retry_after_a_401_takes_its_own_slot_and_is_observed(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    seen: list[Exchange] = []
    limiter = RateLimiter(clock, limits={"Light": 2}, learn_limits=False)
    client = make_client(fake, clock, sync=True, rate_limiter=limiter, on_exchange=seen.append)
    start = clock.monotonic()
    await client.request("GET", EXT_INFO)  # JWT login, then Light 1 of 2
    fake.expire_access_tokens()
    response = await client.request("GET", EXT_INFO)  # Light 2: 401 → refresh → retry
    assert response.status_code == 200
    # The retry is the third Light request in the window: it waits for the window to free.
    assert timeline(fake, start) == [
        (TOKEN, 0.0),
        (EXT_INFO, 0.0),
        (EXT_INFO, 0.0),
        (TOKEN, 0.0),
        (EXT_INFO, 60.0),
    ]
    assert [(e.path, e.group, e.status, e.error_code) for e in seen] == [
        (TOKEN, "Auth", 200, ""),
        (EXT_INFO, "Light", 200, ""),
        (EXT_INFO, "Light", 401, "TokenInvalid"),
        (TOKEN, "Auth", 200, ""),
        (EXT_INFO, "Light", 200, ""),
    ]


async def test_token_requests_are_paced_in_the_auth_group(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    limiter = RateLimiter(clock, limits={"Auth": 1}, learn_limits=False)
    client = make_client(fake, clock, sync=True, rate_limiter=limiter)
    start = clock.monotonic()
    await client.auth.login()
    await client.auth.login(force=True)
    # The app's window of token requests (its limit as the limiter knows it) counts a
    # request from when it was let go, so it is a little longer than RingCentral's minute.
    assert timeline(fake, start) == [(TOKEN, 0.0), (TOKEN, pytest.approx(62.0, abs=0.01))]


async def test_the_token_is_taken_after_the_wait_for_the_slot(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    """A request queued for its slot asks for the token when its turn comes: a token that
    was fresh when it queued but is near its end by then is refreshed first."""
    fake.access.add("at-seed")
    fake.refresh.add("rt-seed")
    store = MemoryTokenStore(tokens(clock, "at-seed", expires_in=100, refresh="rt-seed"))
    limiter = RateLimiter(clock, limits={"Light": 1}, learn_limits=False)
    client = make_client(fake, clock, sync=True, store=store, rate_limiter=limiter)
    start = clock.monotonic()
    await client.request("GET", EXT_INFO)
    await client.request("GET", EXT_INFO)  # waits 60 s; the token has 40 s left by then
    assert timeline(fake, start) == [(EXT_INFO, 0.0), (TOKEN, 60.0), (EXT_INFO, 60.0)]
    assert [r.headers["Authorization"] for r in fake.api_requests()] == [
        "Bearer at-seed",
        "Bearer at-SECRET-1",
    ]


async def test_a_request_without_an_answer_counts_in_its_window_and_is_observed(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    seen: list[Exchange] = []
    broken = {"on": False}

    def app(request: httpx.Request) -> httpx.Response:
        if broken["on"]:
            raise httpx.ConnectError("connection refused", request=request)
        return fake(request)

    limiter = RateLimiter(clock, limits={"Light": 1}, learn_limits=False)
    client = make_client(fake, clock, app=app, rate_limiter=limiter, on_exchange=seen.append)
    await client.auth.login()
    broken["on"] = True
    with pytest.raises(TransportError, match=r"GET /restapi/v1\.0/account/~/extension/~"):
        await client.request("GET", EXT_INFO)
    assert (seen[-1].path, seen[-1].group, seen[-1].status, seen[-1].error_code) == (
        EXT_INFO,
        "Light",
        0,
        "ConnectError",
    )
    assert client.wait_time("GET", EXT_INFO) == pytest.approx(60)


async def test_a_transport_error_of_the_token_request_is_a_transport_error(
    clock: FakeClock,
) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(FakeRingCentral(clock), clock, app=app)
    with pytest.raises(TransportError, match=r"POST /restapi/oauth/token \(ReadTimeout\)"):
        await client.request("GET", EXT_INFO)


def manager(fake: FakeRingCentral, clock: FakeClock) -> TokenManager:
    plain = httpx.AsyncClient(transport=httpx.MockTransport(fake))

    async def send(request: httpx.Request) -> httpx.Response:
        return await plain.send(request)

    return TokenManager(
        credentials=Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT),
        store=MemoryTokenStore(),
        clock=clock,
        send=send,
        server_url=httpx.URL(SERVER),
    )


async def test_bearer_auth_in_a_plain_httpx_client_refreshes_once_and_retries_once(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    auth = BearerAuth(manager(fake, clock))
    async with httpx.AsyncClient(
        base_url=SERVER, transport=httpx.MockTransport(fake), auth=auth
    ) as http:
        assert (await http.get(EXT_INFO)).status_code == 200
        fake.expire_access_tokens()
        response = await http.post(EXT_INFO, json={"a": 1})
        assert response.status_code == 200
        first, retry = fake.api_requests()[-2:]
        assert (first.headers["Authorization"], retry.headers["Authorization"]) == (
            "Bearer at-SECRET-1",
            "Bearer at-SECRET-2",
        )
        assert retry.body == first.body == b'{"a":1}'  # the body is sent again
        fake.refuse_every_token = True
        fake.requests.clear()
        assert (await http.get(EXT_INFO)).status_code == 401  # a second 401 is the answer
        assert len(fake.api_requests()) == 2 and len(fake.token_requests()) == 1


def test_bearer_auth_refuses_a_sync_client(fake: FakeRingCentral, clock: FakeClock) -> None:
    with (
        httpx.Client(
            transport=httpx.MockTransport(fake), auth=BearerAuth(manager(fake, clock))
        ) as http,
        pytest.raises(RuntimeError, match="AsyncClient"),
    ):
        http.get(f"{SERVER}{EXT_INFO}")
    assert fake.requests == []


async def test_a_401_of_the_retry_is_an_api_error(fake: FakeRingCentral, clock: FakeClock) -> None:
    seen: list[Exchange] = []
    client = make_client(fake, clock, on_exchange=seen.append)
    await client.auth.login()
    fake.refuse_every_token = True
    with pytest.raises(ApiError) as info:
        await client.request("GET", EXT_INFO)
    assert info.value.status == 401
    assert [(e.path, e.status) for e in seen[1:]] == [
        (EXT_INFO, 401),
        (TOKEN, 200),
        (EXT_INFO, 401),
    ]

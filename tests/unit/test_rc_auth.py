"""Tokens: JWT login, proactive refresh, single flight, 401 retry, failure memory, PKCE."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    ApiError,
    AuthError,
    Credentials,
    MemoryTokenStore,
    Refresh,
    TokenSet,
    authorize_url,
    make_pkce,
)
from tests.unit.test_rc_client import (
    BASIC,
    CLIENT_ID,
    EXT_INFO,
    JWT,
    SMS_PATH,
    FakeRingCentral,
    make_client,
    tokens,
)


@pytest.fixture
def fake(clock: FakeClock) -> FakeRingCentral:
    return FakeRingCentral(clock)


async def test_first_call_logs_in_with_the_jwt(fake: FakeRingCentral, clock: FakeClock) -> None:
    store = MemoryTokenStore()
    client = make_client(fake, clock, store=store)
    await client.request("GET", EXT_INFO)
    (token,) = fake.token_requests()
    assert token.headers["Authorization"] == f"Basic {BASIC}"
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": JWT,
    }
    saved = await store.load()
    assert saved is not None and saved.owner_id == "256440016"
    assert saved.expires_at == clock.now() + 3600
    assert saved.refresh_token is not None
    assert fake.api_requests()[0].headers["Authorization"] == "Bearer at-SECRET-1"


@pytest.mark.parametrize("seeded", [False, True])
async def test_50_concurrent_calls_with_an_expired_token_make_one_token_request(
    fake: FakeRingCentral, clock: FakeClock, seeded: bool
) -> None:
    store = MemoryTokenStore()
    if seeded:  # an expired access token with a live refresh token: one refresh
        fake.refresh.add("rt-seed")
        await store.save(tokens(clock, "at-old", expires_in=-5, refresh="rt-seed"))
    client = make_client(fake, clock, store=store)
    await asyncio.gather(*(client.request("GET", EXT_INFO) for _ in range(50)))
    (token,) = fake.token_requests()
    assert token.form["grant_type"] == (
        "refresh_token" if seeded else "urn:ietf:params:oauth:grant-type:jwt-bearer"
    )
    assert len(fake.api_requests()) == 50
    assert {r.headers["Authorization"] for r in fake.api_requests()} == {"Bearer at-SECRET-1"}


async def test_refresh_happens_before_expiry_not_after_a_401(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.access.add("at-soon")
    fake.refresh.add("rt-seed")
    store = MemoryTokenStore(tokens(clock, "at-soon", expires_in=59, refresh="rt-seed"))
    client = make_client(fake, clock, store=store)  # margin 60 s
    await client.request("GET", EXT_INFO)
    assert [r.form["grant_type"] for r in fake.token_requests()] == ["refresh_token"]
    assert [r.headers["Authorization"] for r in fake.api_requests()] == ["Bearer at-SECRET-1"]


async def test_refresh_tokens_rotate(fake: FakeRingCentral, clock: FakeClock) -> None:
    client = make_client(fake, clock)
    await client.request("GET", EXT_INFO)
    for _ in range(2):
        clock.advance(3600)
        await client.request("GET", EXT_INFO)
    refreshes = [r.form.get("refresh_token") for r in fake.token_requests()[1:]]
    assert refreshes == ["rt-SECRET-1", "rt-SECRET-2"]


async def test_expired_refresh_token_goes_straight_to_the_jwt(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.refresh.add("rt-old")
    store = MemoryTokenStore(
        tokens(clock, "at-old", expires_in=-1, refresh="rt-old", refresh_expires_in=30)
    )
    client = make_client(fake, clock, store=store)
    await client.request("GET", EXT_INFO)
    assert [r.form["grant_type"] for r in fake.token_requests()] == [
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ]


async def test_a_401_mid_run_costs_one_refresh_and_one_retry_each(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock)
    await client.request("GET", EXT_INFO)
    fake.requests.clear()
    fake.expire_access_tokens()  # RingCentral ended the token early (someone refreshed)
    results = await asyncio.gather(*(client.request("GET", EXT_INFO) for _ in range(50)))
    assert all(r.status_code == 200 for r in results)
    (token,) = fake.token_requests()
    assert token.form["grant_type"] == "refresh_token"
    auths = [r.headers["Authorization"] for r in fake.api_requests()]
    assert auths.count("Bearer at-SECRET-1") == 50  # the first try of each call
    assert auths.count("Bearer at-SECRET-2") == 50  # exactly one retry each


async def test_a_second_401_is_not_retried_again(fake: FakeRingCentral, clock: FakeClock) -> None:
    client = make_client(fake, clock)
    await client.request("GET", EXT_INFO)
    fake.requests.clear()
    fake.refuse_every_token = True
    with pytest.raises(ApiError) as info:
        await client.request("GET", EXT_INFO)
    assert info.value.status == 401 and info.value.error_code == "TokenInvalid"
    assert len(fake.api_requests()) == 2 and len(fake.token_requests()) == 1


async def test_invalid_grant_on_refresh_logs_in_with_the_jwt(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    client = make_client(fake, clock)
    await client.request("GET", EXT_INFO)
    fake.refresh.clear()  # the session ended at RingCentral (admin, password change…)
    fake.expire_access_tokens()
    await client.request("GET", EXT_INFO)
    assert [r.form["grant_type"].split(":")[-1] for r in fake.token_requests()] == [
        "jwt-bearer",
        "refresh_token",
        "jwt-bearer",
    ]


async def test_jwt_failure_raises_auth_error_once_per_interval(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.jwt_error = "invalid_grant"
    client = make_client(fake, clock)
    for _ in range(20):
        with pytest.raises(AuthError) as info:
            await client.request("GET", EXT_INFO)
        assert (info.value.error, info.value.error_code) == ("invalid_grant", "OAU-123")
    assert len(fake.token_requests()) == 1 and fake.api_requests() == []
    assert client.auth.failure is info.value
    clock.advance(299)
    with pytest.raises(AuthError):
        await client.request("GET", EXT_INFO)
    assert len(fake.token_requests()) == 1
    clock.advance(2)  # R7: one more attempt after 5 minutes
    fake.jwt_error = None
    await client.request("GET", EXT_INFO)
    assert len(fake.token_requests()) == 2 and client.auth.failure is None


async def test_concurrent_calls_share_one_failed_login(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.jwt_error = "invalid_client"
    client = make_client(fake, clock)
    results = await asyncio.gather(
        *(client.request("GET", EXT_INFO) for _ in range(30)), return_exceptions=True
    )
    assert all(isinstance(r, AuthError) for r in results)
    assert len(fake.token_requests()) == 1


async def test_no_refresh_token_and_no_jwt_is_an_auth_error(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    store = MemoryTokenStore(tokens(clock, "at-old", expires_in=-1))
    client = make_client(fake, clock, store=store, jwt=None)
    with pytest.raises(AuthError, match="no JWT"):
        await client.request("GET", EXT_INFO)
    assert fake.requests == []


async def test_server_errors_of_the_token_endpoint_are_not_remembered(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.answers["/restapi/oauth/token"] = httpx.Response(503, json={"errorCode": "CMN-201"})

    def app(request: httpx.Request) -> httpx.Response:
        if request.url.path in fake.answers:
            fake.requests.append(request)  # type: ignore[arg-type]
            return fake.answers.pop(request.url.path)
        return fake(request)

    client = make_client(fake, clock, app=app)
    with pytest.raises(ApiError) as info:
        await client.request("GET", EXT_INFO)
    assert info.value.error_code == "CMN-201"
    assert client.auth.failure is None
    await client.request("GET", EXT_INFO)  # the next call tries again at once


async def test_malformed_token_response_is_an_auth_error_without_the_body(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    body = {"access_token": "at-SECRET-bad", "expires_in": "soon"}

    def app(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    client = make_client(fake, clock, app=app)
    with pytest.raises(AuthError) as info:
        await client.request("GET", EXT_INFO)
    assert info.value.error == "invalid_response"
    assert "SECRET" not in str(info.value) and info.value.__cause__ is None


class RotatedElsewhereStore(MemoryTokenStore):
    """A store shared with 'another process' that rotates the token while we wait for
    the claim: the manager must re-read under the claim and use it."""

    def __init__(self, initial: TokenSet, rotated: TokenSet) -> None:
        super().__init__(initial)
        self.rotated = rotated
        self.armed = False
        self.claims = 0

    def refreshing(self) -> AbstractAsyncContextManager[Refresh]:
        @asynccontextmanager
        async def held() -> AsyncIterator[Refresh]:
            self.claims += 1
            if self.armed:
                await self.save(self.rotated)
            async with super(RotatedElsewhereStore, self).refreshing() as claim:
                yield claim

        return held()


async def test_store_claim_and_re_read_avoid_a_second_refresh(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.access.update({"at-stale", "at-elsewhere"})
    store = RotatedElsewhereStore(
        tokens(clock, "at-stale"), tokens(clock, "at-elsewhere", refresh="rt-x")
    )
    client = make_client(fake, clock, store=store)
    await client.request("GET", EXT_INFO)  # first use: a fresh token read from the store
    fake.access.discard("at-stale")  # another process refreshed: RingCentral killed it
    store.armed = True
    await client.request("GET", EXT_INFO)  # 401 → claim, re-read → at-elsewhere, no refresh
    assert fake.token_requests() == []
    assert [r.headers["Authorization"] for r in fake.api_requests()] == [
        "Bearer at-stale",
        "Bearer at-stale",
        "Bearer at-elsewhere",
    ]
    assert store.claims == 1


# -- auth code + PKCE ------------------------------------------------------------------


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = make_pkce()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == expected.rstrip(b"=").decode()
    assert make_pkce()[0] != verifier


def test_authorize_url() -> None:
    url = httpx.URL(
        authorize_url("cid", "https://bot.example/cb?x=1", "st&ate", "chal", scope="SMS")
    )
    assert (url.scheme, url.host, url.path) == (
        "https",
        "platform.ringcentral.com",
        "/restapi/oauth/authorize",
    )
    assert dict(url.params) == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "https://bot.example/cb?x=1",
        "state": "st&ate",
        "code_challenge": "chal",
        "code_challenge_method": "S256",
        "scope": "SMS",
    }


@pytest.mark.parametrize("secret", [None, "cs-SECRET-0001"])
async def test_exchange_code(fake: FakeRingCentral, clock: FakeClock, secret: str | None) -> None:
    store = MemoryTokenStore()
    client = make_client(fake, clock, store=store, secret=secret, jwt=None)
    assert "code_challenge=c" in client.authorize_url("https://bot/cb", "s", "c")
    saved = await client.exchange_code("the-code", "https://bot/cb", "verifier-1")
    (token,) = fake.token_requests()
    expected = {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://bot/cb",
        "code_verifier": "verifier-1",
    }
    if secret is None:  # public PKCE client: no Basic header, client_id in the body
        assert "Authorization" not in token.headers
        assert token.form == {**expected, "client_id": CLIENT_ID}
    else:
        assert token.headers["Authorization"] == f"Basic {BASIC}"
        assert token.form == expected
    assert await store.load() == saved
    await client.request("POST", SMS_PATH, json={})


async def test_revoke_forgets_the_session(fake: FakeRingCentral, clock: FakeClock) -> None:
    store = MemoryTokenStore()
    client = make_client(fake, clock, store=store)
    await client.request("GET", EXT_INFO)
    await client.auth.revoke()
    assert fake.requests[-1].url.path == "/restapi/oauth/revoke"
    assert fake.requests[-1].form == {"token": "at-SECRET-1"}
    assert await store.load() is None


def test_token_set_and_credentials_hide_secrets(clock: FakeClock) -> None:
    token_set = tokens(clock, "at-SECRET-1", refresh="rt-SECRET-1")
    creds = Credentials(client_id="cid", client_secret="cs-SECRET", jwt="jwt-SECRET")
    for text in (
        repr(token_set),
        str(token_set),
        str(token_set.model_dump(mode="json")),
        repr(creds),
        str(creds),
    ):
        assert "SECRET" not in text
    assert token_set.access_token.get_secret_value() == "at-SECRET-1"

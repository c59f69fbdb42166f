"""RingCentralClient over httpx.MockTransport: requests, errors, downloads, secrets.

`FakeRingCentral` is the stateful fake app the three test_rc_* modules share: it issues
and rotates tokens, enforces RingCentral's rate limits (penalty restarted by every request
sent during it), and records every request it sees.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    ApiError,
    AuthError,
    Credentials,
    MemoryTokenStore,
    RateLimited,
    RingCentralClient,
    TokenSet,
    TransportError,
    UnsafeURLError,
)

SERVER = "https://platform.ringcentral.com"
MEDIA = "https://media.ringcentral.com"
CLIENT_ID = "client-id-1"
CLIENT_SECRET = "cs-SECRET-0001"
JWT = "jwt-SECRET-assertion"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
SMS_PATH = "/restapi/v1.0/account/~/extension/~/sms"
CALL_LOG = "/restapi/v1.0/account/~/extension/~/call-log"
EXT_INFO = "/restapi/v1.0/account/~/extension/~"
LIMITS = {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}


@dataclass
class Seen:
    method: str
    url: httpx.URL
    headers: httpx.Headers
    body: bytes
    at: float

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    penalty_until: float = -1.0


class FakeRingCentral:
    """A small stateful RingCentral: OAuth, Bearer checks, rate limits, canned answers."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[Seen] = []
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.issued = 0
        self.jwt_error: str | None = None  # e.g. "invalid_grant": refuse JWT logins
        self.refresh_error: str | None = None
        self.expires_in = 3600
        self.throttled: dict[str, float | None] = {}  # group -> Retry-After of next 429
        self.buckets: dict[str, _Bucket] = {}
        self.answers: dict[str, httpx.Response] = {}  # path -> canned answer
        self.media = b"RIFF-audio"
        self.refuse_every_token = False  # API answers 401 whatever the token

    # -- what tests look at --------------------------------------------------------------

    def token_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.url.path == "/restapi/oauth/token"]

    def api_requests(self, path: str | None = None) -> list[Seen]:
        return [
            r
            for r in self.requests
            if not r.url.path.startswith("/restapi/oauth") and (path is None or r.url.path == path)
        ]

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def throttle(self, group: str, retry_after: float | None = 60) -> None:
        self.throttled[group] = retry_after

    # -- the app -------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """The async app: it yields once, as a real server would, so concurrent calls
        are all in flight together."""
        await asyncio.sleep(0)
        return self(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(
            request.method,
            request.url,
            httpx.Headers(request.headers),  # a copy: the client re-sends the same request
            request.read(),
            self.clock.monotonic(),
        )
        self.requests.append(seen)
        group = self._group(request)
        limited = self._limit(group, sms=request.url.path.endswith("/sms"))
        if limited is not None:
            return limited
        if request.url.path == "/restapi/oauth/token":
            return self._token(seen)
        auth = request.headers.get("Authorization", "")
        if self.refuse_every_token or not auth.startswith("Bearer ") or auth[7:] not in self.access:
            body = {"errorCode": "TokenInvalid", "message": "Token not found", "errors": []}
            return httpx.Response(401, json=body, headers=self._rl(group))
        if request.url.path in self.answers:
            answer = self.answers[request.url.path]
            return httpx.Response(
                answer.status_code,
                content=answer.content,
                headers={**answer.headers, **self._rl(group)},
            )
        if request.url.host == "media.ringcentral.com":
            headers = {
                "Content-Type": "audio/x-wav",
                "Content-Disposition": 'attachment;filename="7.wav"',
            }
            return httpx.Response(200, content=self.media, headers=headers)
        return httpx.Response(200, json={"path": request.url.path}, headers=self._rl(group))

    @staticmethod
    def _group(request: httpx.Request) -> str:
        path = request.url.path
        if path.startswith("/restapi/oauth"):
            return "Auth"
        if "/call-log" in path:
            return "Heavy"
        if request.method == "POST" or "/content/" in path:
            return "Medium"
        return "Light"

    def _rl(self, group: str) -> dict[str, str]:
        bucket = self.buckets.setdefault(group, _Bucket())
        return {
            "X-Rate-Limit-Group": group.lower(),
            "X-Rate-Limit-Limit": str(LIMITS[group]),
            "X-Rate-Limit-Remaining": str(max(0, LIMITS[group] - len(bucket.hits))),
            "X-Rate-Limit-Window": "60",
        }

    def _refuse(self, group: str, bucket: _Bucket, retry_after: float | None) -> httpx.Response:
        now = self.clock.monotonic()
        bucket.penalty_until = now + (30 if retry_after is None else retry_after)
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        body = {"errorCode": "CMN-301", "message": "Request rate exceeded", "errors": []}
        return httpx.Response(429, json=body, headers=headers)

    def _limit(self, group: str, *, sms: bool) -> httpx.Response | None:
        now = self.clock.monotonic()
        for name, limit in ((group, LIMITS[group]), *((("SMS", 40),) if sms else ())):
            bucket = self.buckets.setdefault(name, _Bucket())
            while bucket.hits and bucket.hits[0] <= now - 60:
                bucket.hits.popleft()
            if name in self.throttled:
                return self._refuse(name, bucket, self.throttled.pop(name))
            if bucket.penalty_until > now or len(bucket.hits) >= limit:
                # RingCentral: every request during the penalty restarts it.
                return self._refuse(name, bucket, 60)
        for name in (group, "SMS") if sms else (group,):
            self.buckets[name].hits.append(now)
        return None

    def _token(self, seen: Seen) -> httpx.Response:
        form = seen.form
        grant = form.get("grant_type")
        basic = seen.headers.get("Authorization") == f"Basic {BASIC}"
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if not basic or form.get("assertion") != JWT or self.jwt_error:
                return self._oauth_error(self.jwt_error or "invalid_client", "OAU-123")
        elif grant == "refresh_token":
            token = form.get("refresh_token", "")
            if self.refresh_error or token not in self.refresh:
                return self._oauth_error(self.refresh_error or "invalid_grant", "OAU-211")
            self.refresh.discard(token)  # single use
            self.access.clear()  # RingCentral: the previous access token dies at once
        elif grant == "authorization_code":
            if form.get("code") != "the-code" or not form.get("code_verifier"):
                return self._oauth_error("invalid_grant", "OAU-109")
        else:
            return self._oauth_error("unsupported_grant_type", "OAU-250")
        self.issued += 1
        access, refresh = f"at-SECRET-{self.issued}", f"rt-SECRET-{self.issued}"
        self.access.add(access)
        self.refresh.add(refresh)
        body = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": 604800,
            "scope": "SMS ReadMessages",
            "owner_id": 256440016,
            "session_id": "s-1",
        }
        return httpx.Response(200, json=body, headers=self._rl("Auth"))

    def _oauth_error(self, error: str, code: str) -> httpx.Response:
        body = {
            "error": error,
            "error_description": f"{error} refused",
            "errors": [{"errorCode": code, "message": "refused"}],
        }
        return httpx.Response(400, json=body, headers=self._rl("Auth"))


def make_client(
    fake: FakeRingCentral,
    clock: FakeClock,
    *,
    store: MemoryTokenStore | None = None,
    secret: str | None = CLIENT_SECRET,
    jwt: str | None = JWT,
    sync: bool = False,
    app: Callable[[httpx.Request], httpx.Response] | None = None,
    **kwargs: Any,
) -> RingCentralClient:
    """`sync=True`: the fake answers without yielding, so a request is done before the
    next coroutine runs (FakeClock jumps when a sleeper sleeps: with requests still in
    flight, the fake would stamp them with the later time). `app` answers instead of the
    fake."""
    handler = app or (fake if sync else fake.handle)
    return RingCentralClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        server_url=SERVER,
        media_url=MEDIA,
        credentials=Credentials(client_id=CLIENT_ID, client_secret=secret, jwt=jwt),
        token_store=store,
        clock=clock,
        **kwargs,
    )


def tokens(
    clock: FakeClock,
    access: str,
    *,
    expires_in: float = 3600,
    refresh: str | None = None,
    refresh_expires_in: float = 604800,
) -> TokenSet:
    return TokenSet(
        access_token=access,
        expires_at=clock.now() + expires_in,
        refresh_token=refresh,
        refresh_expires_at=clock.now() + refresh_expires_in if refresh else None,
    )


@pytest.fixture
def fake(clock: FakeClock) -> FakeRingCentral:
    return FakeRingCentral(clock)


@pytest.fixture
def client(fake: FakeRingCentral, clock: FakeClock) -> RingCentralClient:
    return make_client(fake, clock)


# -- requests --------------------------------------------------------------------------


async def test_params_repeat_keys_drop_none_and_spell_booleans(
    client: RingCentralClient, fake: FakeRingCentral
) -> None:
    await client.request(
        "GET",
        CALL_LOG,
        params={
            "direction": ["Inbound", "Outbound"],
            "view": None,
            "showBlocked": False,
            "withRecording": True,
            "perPage": 20,
            "phoneNumber": "16505550100",
        },
    )
    url = fake.api_requests()[0].url
    assert url.params.multi_items() == [
        ("direction", "Inbound"),
        ("direction", "Outbound"),
        ("showBlocked", "false"),
        ("withRecording", "true"),
        ("perPage", "20"),
        ("phoneNumber", "16505550100"),
    ]


async def test_json_body_and_bearer(client: RingCentralClient, fake: FakeRingCentral) -> None:
    response = await client.request("POST", SMS_PATH, json={"text": "héllo"})
    assert response.json() == {"path": SMS_PATH}
    seen = fake.api_requests()[0]
    assert json.loads(seen.body) == {"text": "héllo"}
    assert seen.headers["Authorization"] == "Bearer at-SECRET-1"
    assert seen.headers["Content-Type"] == "application/json"


async def test_multipart_keeps_part_order_with_json_first(
    client: RingCentralClient, fake: FakeRingCentral
) -> None:
    files = [
        ("attachment", ("b.png", b"PNG-B", "image/png")),
        ("attachment", ("a.gif", b"GIF-A", "image/gif")),
    ]
    await client.request("POST", SMS_PATH, json={"text": "hi"}, files=files)
    seen = fake.api_requests()[0]
    assert seen.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = seen.body
    positions = [body.index(x) for x in (b'{"text":"hi"}', b"PNG-B", b"GIF-A")]
    assert positions == sorted(positions)
    assert b'name="json"; filename="request.json"' in body


async def test_caller_cannot_override_authorization(
    client: RingCentralClient, fake: FakeRingCentral
) -> None:
    await client.request("GET", EXT_INFO, headers={"Authorization": "Bearer mine", "X-A": "1"})
    seen = fake.api_requests()[0]
    assert seen.headers["Authorization"] == "Bearer at-SECRET-1"
    assert seen.headers["X-A"] == "1"


async def test_absolute_urls_on_our_hosts_keep_their_query(
    client: RingCentralClient, fake: FakeRingCentral
) -> None:
    await client.request("GET", f"{SERVER}{EXT_INFO}?page=2", params={"perPage": 5})
    await client.request("GET", f"{MEDIA}/restapi/v1.0/a/content/1?contentDisposition=Inline")
    first, second = fake.api_requests()
    assert first.url.params.multi_items() == [("page", "2"), ("perPage", "5")]
    assert (second.url.host, second.url.params["contentDisposition"]) == (
        "media.ringcentral.com",
        "Inline",
    )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {
                "errorCode": "CMN-102",
                "message": "Resource for parameter [messageId] is not found",
                "errors": [{"errorCode": "CMN-102", "message": "x", "parameterName": "messageId"}],
                "parameterName": "messageId",
            },
            "CMN-102",
            "Resource for parameter [messageId] is not found",
        ),
        (
            {"errors": [{"errorCode": "MSG-245", "message": "from is not yours"}]},
            "MSG-245",
            "from is not yours",
        ),
        (
            {"errorCode": "AGW-404", "message": "Resource not found", "errors": []},
            "AGW-404",
            "Resource not found",
        ),
        ({"errors": "not-a-list", "message": 5}, "HTTP-404", "Not Found"),
        ({"errors": [None, 3, {"errorCode": 7}]}, "HTTP-404", "Not Found"),
        (["a", "list"], "HTTP-404", "Not Found"),
        ("<html>gateway</html>", "HTTP-404", "Not Found"),
        (None, "HTTP-404", "Not Found"),
    ],
)
async def test_api_errors_are_read_leniently(
    client: RingCentralClient, fake: FakeRingCentral, body: Any, code: str, message: str
) -> None:
    content = (
        body.encode()
        if isinstance(body, str)
        else b""
        if body is None
        else json.dumps(body).encode()
    )
    fake.answers[EXT_INFO] = httpx.Response(404, content=content)
    with pytest.raises(ApiError) as info:
        await client.request("GET", EXT_INFO)
    assert (info.value.status, info.value.error_code, info.value.message) == (404, code, message)
    assert code in str(info.value)


async def test_parameter_name_is_kept(client: RingCentralClient, fake: FakeRingCentral) -> None:
    body = {
        "errorCode": "CMN-101",
        "message": "bad",
        "errors": [{"errorCode": "CMN-101", "message": "bad", "parameterName": "to"}],
    }
    fake.answers[SMS_PATH] = httpx.Response(400, json=body)
    with pytest.raises(ApiError) as info:
        await client.request("POST", SMS_PATH, json={})
    assert info.value.errors[0].parameter_name == "to"


async def test_transport_failure_is_a_transport_error(clock: FakeClock) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = RingCentralClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(broken)),
        credentials=Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT),
        token_store=MemoryTokenStore(tokens(clock, "at-SECRET-x")),
        clock=clock,
    )
    with pytest.raises(TransportError) as info:
        await client.request("GET", EXT_INFO)
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(info.value)


# -- downloads -------------------------------------------------------------------------


async def test_download_from_media_host(client: RingCentralClient, fake: FakeRingCentral) -> None:
    url = f"{MEDIA}/restapi/v1.0/account/1/extension/2/message-store/3/content/7"
    download = await client.download(url)
    assert (download.content, download.content_type, download.filename) == (
        b"RIFF-audio",
        "audio/x-wav",
        "7.wav",
    )
    assert fake.api_requests()[0].headers["Authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    "url",
    [
        "https://MEDIA.RingCentral.com/restapi/v1.0/x",
        "https://media.ringcentral.com:443/restapi/v1.0/x",
        "/restapi/v1.0/account/~/extension/~",
        "restapi/v1.0/account/~/extension/~",
    ],
)
async def test_same_origin_spellings_are_accepted(
    client: RingCentralClient, fake: FakeRingCentral, url: str
) -> None:
    await client.download(url)
    assert fake.api_requests()[0].url.host in ("media.ringcentral.com", "platform.ringcentral.com")


FOREIGN = [
    "https://evil.com/restapi/v1.0/x",
    "https://platform.ringcentral.com@evil.com/x",
    "https://user:pw@platform.ringcentral.com/x",
    "https://platform.ringcentral.com:8443/x",
    "http://platform.ringcentral.com/x",
    "http://media.ringcentral.com/x",
    "https://platform.ringcentral.com.evil.com/x",
    "https://evil.com\\@platform.ringcentral.com/x",
    "//evil.com/x",
    "ftp://platform.ringcentral.com/x",
    "https://media.ringcentral.com\t.evil.com/x",
    "https://media.ringcentral.co/x",
]


@pytest.mark.parametrize("url", FOREIGN)
async def test_foreign_download_is_refused_and_nothing_sent(
    client: RingCentralClient, fake: FakeRingCentral, url: str
) -> None:
    with pytest.raises(UnsafeURLError) as info:
        await client.download(url)
    assert fake.requests == []  # not even a token request
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize("url", FOREIGN)
async def test_foreign_absolute_request_is_refused(
    client: RingCentralClient, fake: FakeRingCentral, url: str
) -> None:
    with pytest.raises(UnsafeURLError):
        await client.request("GET", url)
    assert fake.requests == []


async def test_no_authorization_header_ever_reaches_a_foreign_host(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    everywhere: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        everywhere.append(request)
        return fake(request)

    client = RingCentralClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(app)),
        server_url=SERVER,
        media_url=MEDIA,
        clock=clock,
        credentials=Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT),
    )
    await client.download(f"{MEDIA}/restapi/v1.0/a/content/1")
    for url in FOREIGN:
        with pytest.raises(UnsafeURLError):
            await client.download(url)
    assert {r.url.host for r in everywhere} <= {"platform.ringcentral.com", "media.ringcentral.com"}
    assert all(r.url.scheme == "https" and r.url.port is None for r in everywhere)


def test_bad_base_urls_are_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="server_url"):
        RingCentralClient(
            http=httpx.AsyncClient(),
            server_url="https://u:p@x.com",
            clock=clock,
            credentials=Credentials(client_id=CLIENT_ID),
        )


# -- lifecycle and secrets -------------------------------------------------------------


async def test_close_and_context_manager(fake: FakeRingCentral, clock: FakeClock) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    async with RingCentralClient(
        http=http, clock=clock, credentials=Credentials(client_id=CLIENT_ID, jwt=JWT)
    ):
        pass
    assert http.is_closed


async def test_no_secret_in_logs_reprs_or_errors(
    fake: FakeRingCentral, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx's and httpcore's loggers too
    store = MemoryTokenStore()
    client = make_client(fake, clock, store=store)
    errors: list[BaseException] = []
    await client.request("POST", SMS_PATH, json={"text": "x"})  # JWT login
    fake.expire_access_tokens()
    await client.request("GET", EXT_INFO)  # 401 → refresh → retry
    fake.throttle("Heavy", 60)
    for call in (
        lambda: client.request("GET", CALL_LOG),
        lambda: client.download("https://evil.com/x"),
    ):
        try:
            await call()
        except Exception as exc:
            errors.append(exc)
    fake.refresh_error, fake.jwt_error = "invalid_grant", "invalid_grant"
    fake.expire_access_tokens()
    clock.advance(3600)
    try:
        await client.request("GET", EXT_INFO)
    except AuthError as exc:
        errors.append(exc)
    assert [type(e) for e in errors] == [RateLimited, UnsafeURLError, AuthError]
    loaded = await store.load()
    assert loaded is not None
    texts = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [
        repr(client),
        str(client),
        repr(client.auth),
        repr(store),
        repr(loaded),
        str(loaded),
        repr(client.rate_limiter),
        str(loaded.model_dump(mode="json")),
    ]
    texts += [repr(Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, jwt=JWT))]
    assert caplog.records, "the scenario logs something"
    for text in texts:
        for secret in ("SECRET", BASIC):
            assert secret not in text, text

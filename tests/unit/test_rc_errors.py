"""Lower-level errors leave the client as RingCentralErrors: an answer of the wrong shape is
a DecodingError from every resource family (naming the endpoint and the model, never the
body), a connection failure a TransportError."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.clock import FakeClock
from bot.ringcentral import (
    AccountFacts,
    DecodingError,
    MemoryTokenStore,
    RingCentralClient,
    RingCentralError,
    TransportError,
)
from tests.unit.test_rc_client import EXT_INFO, FakeRingCentral, make_client, tokens

EXT = EXT_INFO
SUB = "/restapi/v1.0/subscription"

Call = Callable[[RingCentralClient, FakeClock], Awaitable[Any]]


async def _facts(rc: RingCentralClient, clock: FakeClock) -> Any:
    return await AccountFacts(rc.account, clock).extension()


# (family, what is called, the path it reads, the model it reads into)
CALLS: list[tuple[str, Call, str, str]] = [
    ("messages", lambda rc, _: rc.messages.send_sms("+16505550100", "+16505550111", "hi"),
     f"{EXT}/sms", "MessageRecord"),
    ("messages", lambda rc, _: rc.messages.list(), f"{EXT}/message-store", "MessageList"),
    ("messages", lambda rc, _: rc.messages.get("7"), f"{EXT}/message-store/7", "MessageRecord"),
    ("ringout", lambda rc, _: rc.ringout.create("+16505550111", "+16505550100"),
     f"{EXT}/ring-out", "RingOutStatus"),
    ("ringout", lambda rc, _: rc.ringout.status("9"), f"{EXT}/ring-out/9", "RingOutStatus"),
    ("call log", lambda rc, _: rc.call_log.list(), f"{EXT}/call-log", "CallLogList"),
    ("call log", lambda rc, _: rc.call_log.get("5"), f"{EXT}/call-log/5", "CallLogRecord"),
    ("account", lambda rc, _: rc.account.extension(), EXT, "ExtensionInfo"),
    ("account", lambda rc, _: rc.account.phone_numbers(), f"{EXT}/phone-number",
     "PhoneNumberList"),
    ("account", lambda rc, _: rc.account.search_directory("Ann"),
     "/restapi/v1.0/account/~/directory/entries/search", "DirectoryList"),
    ("subscriptions", lambda rc, _: rc.subscriptions.create(["/x"], "https://bot/hook"), SUB,
     "SubscriptionInfo"),
    ("subscriptions", lambda rc, _: rc.subscriptions.list(), SUB, "SubscriptionList"),
    ("subscriptions", lambda rc, _: rc.subscriptions.renew("s1"), f"{SUB}/s1/renew",
     "SubscriptionInfo"),
    ("facts", _facts, EXT, "ExtensionInfo"),
]  # fmt: skip

# Shapes no model accepts; the values are the body's, and must never be repeated.
WRONG = {
    "a list": b'[{"phoneNumber": "+16505559999", "text": "BODY-SECRET"}]',
    "wrong field types": (
        b'{"id": {"BODY-SECRET": 1}, "records": "BODY-SECRET", "uri": ["BODY-SECRET"],'
        b' "status": ["BODY-SECRET"], "direction": 5, "creationTime": "BODY-SECRET",'
        b' "eventFilters": "BODY-SECRET", "expirationTime": 5, "phoneNumber": 5,'
        b' "navigation": "BODY-SECRET", "paging": "BODY-SECRET"}'
    ),
    "not JSON": b"<html>BODY-SECRET</html>",
}


@pytest.fixture
def fake(clock: FakeClock) -> FakeRingCentral:
    return FakeRingCentral(clock)


@pytest.mark.parametrize("body", WRONG.values(), ids=WRONG.keys())
@pytest.mark.parametrize(
    ("call", "path", "model"),
    [pytest.param(call, path, model, id=f"{family}:{path}:{model}") for family, call, path, model
     in CALLS],
)  # fmt: skip
async def test_an_answer_of_the_wrong_shape_is_a_decoding_error(
    fake: FakeRingCentral,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    call: Call,
    path: str,
    model: str,
    body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.answers[path] = httpx.Response(200, content=body)
    client = make_client(fake, clock)
    with pytest.raises(DecodingError) as info:
        await call(client, clock)
    err = info.value
    assert isinstance(err, RingCentralError)
    assert err.model == model and err.endpoint.endswith(path)
    assert path in str(err) and model in str(err)
    assert err.__cause__ is None and err.__suppress_context__  # the cause would quote the body
    texts = [str(err), repr(err), *(r.getMessage() for r in caplog.records)]
    assert not [t for t in texts if "BODY-SECRET" in t or "+16505559999" in t]


async def test_a_decoding_error_says_where_the_shape_was_wrong(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    fake.answers[f"{EXT}/message-store/7"] = httpx.Response(
        200, json={"id": 7, "type": "SMS", "segmentCount": "Sideways", "to": [{"name": 5}]}
    )
    with pytest.raises(DecodingError) as info:
        await make_client(fake, clock).messages.get("7")
    assert set(info.value.problems) == {"segmentCount: int_parsing", "to.0.name: string_type"}
    assert "Sideways" not in str(info.value)


async def test_a_broken_content_encoding_is_a_decoding_error(
    fake: FakeRingCentral, clock: FakeClock
) -> None:
    def app(request: httpx.Request) -> httpx.Response:
        if request.url.path != EXT:
            return fake(request)
        gzip = {"Content-Encoding": "gzip"}
        return httpx.Response(200, headers=gzip, stream=httpx.ByteStream(b"not gzip"))

    with pytest.raises(DecodingError, match=f"GET {EXT} could not be decoded"):
        await make_client(fake, clock, app=app).account.extension()


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.RemoteProtocolError]
)
async def test_no_answer_is_a_transport_error_from_a_resource(
    fake: FakeRingCentral, clock: FakeClock, error: type[httpx.TransportError]
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise error("no answer", request=request)

    client = make_client(fake, clock, app=down, store=MemoryTokenStore(tokens(clock, "at-x")))
    with pytest.raises(TransportError) as info:
        await client.account.extension()
    assert f"GET {EXT} ({error.__name__})" in str(info.value)
    assert isinstance(info.value.__cause__, error)

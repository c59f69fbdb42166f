"""`POST /ringcentral/webhook` under attack and abuse (DESIGN §3.3; RELIABILITY R10, R11,
R13, R14, R18, R19): the real server between both simulators, over loopback HTTP.

Forged deliveries carry a valid SMS envelope, so that had the server accepted one, it would
have been stored and posted; every test that expects nothing also dispatches, and a control
with the right token shows the same body does get through.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import json
import logging
import random
import string
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from yarl import URL

from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.store.schema import Delivery
from tests.bridge import TEXTS, Bridge
from tests.leaks import leaked

HANDSHAKE_MAX_BYTES = 1024  # RingCentral: the whole answer, status line and headers included
RAW_TIMEOUT = 10.0  # seconds for any one raw exchange
FUZZ_BODIES = 200
FUZZ_SEED = 20240611

# -- helpers ---------------------------------------------------------------------------------


class Hook:
    """The webhook of a subscribed bridge, and the token RingCentral would send."""

    def __init__(self, bridge: Bridge, subscription: str, envelope: dict[str, Any]) -> None:
        self.bridge = bridge
        self.subscription = subscription
        token = bridge.rc.subscriptions[subscription].verification_token
        assert token, "the bridge chose no verification token"
        self.token = token
        self.envelope = envelope  # a valid SMS delivery for this subscription
        self.url = str(bridge.server.make_url(WEBHOOK_PATH))

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POST exactly these headers (plus what HTTP needs) and body; the status."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=RAW_TIMEOUT),
            ) as resp,
        ):
            await resp.read()
            return resp.status

    async def deliver(self, body: bytes, **headers: str) -> int:
        """With RingCentral's delivery headers and the right token (unless overridden)."""
        sent = {
            "Content-Type": "application/json; charset=UTF-8",
            "User-Agent": "RingCentral-Webhook/8.3",
            "Verification-Token": self.token,
        }
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return await self.post(body, sent)

    def sms(self, uuid: str) -> bytes:
        envelope = copy.deepcopy(self.envelope)
        envelope["uuid"] = uuid
        envelope["subscriptionId"] = self.subscription
        # Its own message id too: the bridge also posts each message id once (DESIGN §3.7).
        envelope["body"]["id"] = str(int(hashlib.sha256(uuid.encode()).hexdigest()[:12], 16))
        return json.dumps(envelope).encode()

    async def inbox(self) -> list[Delivery]:
        async with self.bridge.engine.connect() as conn:
            rows = (await conn.execute(select(Delivery).order_by(Delivery.id))).all()
        return [Delivery(**row._mapping) for row in rows]

    def posts(self) -> list[Any]:
        return self.bridge.slack.calls("chat.postMessage")

    async def healthy(self) -> bool:
        async with (
            aiohttp.ClientSession() as session,
            session.get(str(self.bridge.server.make_url("/healthz"))) as resp,
        ):
            return resp.status == 200

    async def works(self, uuid: str) -> None:
        """A normal delivery is stored, answered 200 and posted once (maybe in the
        thread of an earlier SMS from the same number)."""
        before = len(self.posted())
        assert await self.deliver(self.sms(uuid)) == 200
        await self.bridge.dispatch()
        assert self.posted()[before:] == [uuid]

    def posted(self) -> list[str]:
        """The rc_uuid of every message Slack accepted, oldest first."""
        return [
            call.params["metadata"]["event_payload"]["rc_uuid"]
            for call in self.posts()
            if call.response.get("ok")
        ]


async def raw_exchange(url: str, request: bytes) -> bytes:
    """Send `request` verbatim on a fresh connection; every byte of the answer (the request
    says `Connection: close`, so the answer ends at EOF)."""
    parsed = URL(url)
    assert parsed.host is not None and parsed.port is not None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parsed.host, parsed.port), RAW_TIMEOUT
    )
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), RAW_TIMEOUT)
    finally:
        writer.close()
        await writer.wait_closed()


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.fixture
async def hook(bridge: Bridge, examples_dir: Path) -> Hook:
    subscription = await bridge.subscribe()
    envelope = json.loads((examples_dir / "instant-sms-event.json").read_text())
    return Hook(bridge, subscription, envelope)


# -- R10: the creation handshake ----------------------------------------------------------


@pytest.mark.parametrize("token", ["a1b2c3d4" * 4, "x" * 128])
async def test_handshake_echoes_the_token_as_json_within_1024_bytes(
    bridge: Bridge, token: str
) -> None:
    url = str(bridge.server.make_url(WEBHOOK_PATH))
    host = f"{bridge.server.host}:{bridge.server.port}"
    request = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nValidation-Token: {token}\r\n"
        "User-Agent: RingCentral-Webhook/8.3\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()

    raw = await raw_exchange(url, request)

    status, headers, body = parse_response(raw)
    assert status == 200
    assert headers["validation-token"] == token
    assert headers["content-type"].split(";")[0].strip() == "application/json"
    assert len(raw) <= HANDSHAKE_MAX_BYTES, raw
    assert body == b""


async def test_handshake_stores_and_posts_nothing(hook: Hook) -> None:
    # The subscription's own handshake already happened (hook fixture); one more.
    assert await hook.post(b"", {"Validation-Token": "another-handshake"}) == 200
    await hook.bridge.dispatch()
    assert await hook.inbox() == []
    assert hook.posts() == []


# -- R11: forged deliveries ---------------------------------------------------------------


def _last_byte_changed(token: str) -> str:
    last = token[-1]
    other = next(c for c in string.ascii_letters + string.digits if c != last)
    return token[:-1] + other


FORGERIES: dict[str, Any] = {
    "no token": lambda token: {},
    "empty token": lambda token: {"Verification-Token": ""},
    "wrong token": lambda token: {"Verification-Token": "f" * len(token)},
    "last byte differs": lambda token: {"Verification-Token": _last_byte_changed(token)},
    "one byte short": lambda token: {"Verification-Token": token[:-1]},
    "one byte more": lambda token: {"Verification-Token": token + "0"},
    "token in another header": lambda token: {"Authorization": f"Bearer {token}"},
    "wrong Validation-Token": lambda token: {"Validation-Token": _last_byte_changed(token)},
    # The Verification-Token header is the one read when both are there.
    "wrong Verification-Token, right Validation-Token": lambda token: {
        "Verification-Token": _last_byte_changed(token),
        "Validation-Token": token,
    },
}


@pytest.mark.parametrize("case", list(FORGERIES))
async def test_forged_delivery_is_refused_and_leaves_no_trace(hook: Hook, case: str) -> None:
    headers = {"Content-Type": "application/json; charset=UTF-8", **FORGERIES[case](hook.token)}

    status = await hook.post(hook.sms(f"forged-{case}"), headers)

    assert status == 403
    await hook.bridge.dispatch()
    assert await hook.inbox() == []
    assert hook.posts() == []
    assert hook.bridge.channel(TEXTS) == []


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param("é".encode(), id="utf-8"),
        pytest.param(b"\xff", id="not-utf-8"),
    ],
)
async def test_token_bytes_that_are_not_ascii_are_refused_not_crashed(
    hook: Hook, tail: bytes
) -> None:
    """A header value that is not ASCII must be a 403, not a 500 from encoding it."""
    host = f"{hook.bridge.server.host}:{hook.bridge.server.port}"
    body = hook.sms("forged-non-ascii")
    request = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n".encode()
        + b"Verification-Token: "
        + hook.token[:-1].encode()
        + tail
        + f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
    )

    status, _, _ = parse_response(await raw_exchange(hook.url, request))

    assert status == 403
    await hook.bridge.dispatch()
    assert await hook.inbox() == []
    assert hook.posts() == []


async def test_right_token_in_validation_token_header_is_accepted(hook: Hook) -> None:
    """DESIGN §3.3: one RingCentral page puts the token in `Validation-Token`."""
    body = hook.sms("validation-header-1")

    status = await hook.post(
        body, {"Content-Type": "application/json", "Validation-Token": hook.token}
    )

    assert status == 200
    (row,) = await hook.inbox()
    assert (row.uuid, row.state) == ("validation-header-1", "pending")
    await hook.bridge.dispatch()
    (message,) = hook.bridge.channel(TEXTS)
    assert message["metadata"]["event_payload"]["rc_uuid"] == "validation-header-1"


async def test_the_forged_bodies_are_accepted_with_the_right_token(hook: Hook) -> None:
    """The control for the forgery tests: their body is a delivery that posts."""
    await hook.works("control-1")


# -- R14: authentic but unreadable -------------------------------------------------------

UNREADABLE: dict[str, bytes] = {
    "not JSON": b"this is not json",
    "truncated JSON": b'{"uuid": "trunc-1", "event": "/restapi/v1.0/acc',
    "binary": bytes(range(256)),
    "invalid UTF-8": b'{"uuid": "\xff\xfe"}',
    "JSON array": b'[{"uuid": "in-an-array"}]',
    "JSON string": b'"hello"',
    "JSON null": b"null",
    "JSON number": b"42",
    "empty object": b"{}",
    "uuid not a string": b'{"uuid": 12345, "event": "/x", "body": {}}',
    "uuid empty": b'{"uuid": "", "event": "/x", "body": {}}',
    "uuid too long": json.dumps({"uuid": "u" * 65, "event": "/x", "body": {}}).encode(),
    "no event": b'{"uuid": "shape-no-event", "body": {}}',
    "event not a string": b'{"uuid": "shape-event-int", "event": 7, "body": {}}',
    "body not an object": b'{"uuid": "shape-body-list", "event": "/x", "body": []}',
    "no body": b'{"uuid": "shape-no-body", "event": "/x"}',
}


@pytest.mark.parametrize("case", list(UNREADABLE))
async def test_unreadable_delivery_is_answered_200_and_kept_as_a_dead_letter(
    hook: Hook, case: str
) -> None:
    assert await hook.deliver(UNREADABLE[case]) == 200

    (row,) = await hook.inbox()
    assert row.state == "dead"
    assert row.error
    await hook.bridge.dispatch()
    (row,) = await hook.inbox()
    assert row.state == "dead"  # the dispatcher leaves it alone
    assert hook.posts() == []


@pytest.mark.parametrize(
    "case",
    [
        "unknown event filter",
        "SMS filter with a body of the wrong shape",
    ],
)
async def test_well_enveloped_nonsense_ends_as_a_dead_letter_after_dispatch(
    hook: Hook, case: str
) -> None:
    """The envelope is readable (stored pending), what it says is not: the dispatcher
    makes it a dead letter and posts nothing (R14: unknown `event` filter)."""
    envelope: dict[str, Any] = {"uuid": f"nonsense-{len(case)}", "subscriptionId": "x"}
    if case == "unknown event filter":
        envelope |= {"event": "/restapi/v1.0/account/~/no-such-thing", "body": {"a": 1}}
    else:
        envelope |= {"event": hook.envelope["event"], "body": {"id": [], "from": 3}}

    assert await hook.deliver(json.dumps(envelope).encode()) == 200
    await hook.bridge.dispatch()

    (row,) = await hook.inbox()
    assert row.state in ("dead", "done"), (row.state, row.error)
    assert hook.posts() == []


async def test_the_same_unreadable_body_twice_is_one_dead_letter(hook: Hook) -> None:
    for _ in range(2):
        assert await hook.deliver(b"not json at all") == 200
    assert [row.state for row in await hook.inbox()] == ["dead"]


# -- R18: duplicates ------------------------------------------------------------------------


async def test_the_same_uuid_three_times_is_one_inbox_row_and_one_post(hook: Hook) -> None:
    body = hook.sms("dup-1")
    statuses = [await hook.deliver(body) for _ in range(3)]
    # and three at once, as a retrying sender may overlap
    statuses += await asyncio.gather(*(hook.deliver(body) for _ in range(3)))

    assert statuses == [200] * 6
    assert [row.uuid for row in await hook.inbox()] == ["dup-1"]
    await hook.bridge.dispatch()
    assert len(hook.bridge.channel(TEXTS)) == 1


# -- R13: oversized bodies ------------------------------------------------------------------


async def test_a_5_mb_body_is_413_and_the_server_stays_healthy(hook: Hook) -> None:
    big = json.loads(hook.sms("big-1"))
    big["body"]["subject"] = "x" * (5 * 1024 * 1024)
    body = json.dumps(big).encode()

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hook.url,
            data=io.BytesIO(body),  # with its Content-Length
            headers={"Verification-Token": hook.token, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=RAW_TIMEOUT),
        ) as resp,
    ):
        assert resp.status == 413
        assert resp.request_info.headers.get("Content-Length") == str(len(body))

    assert await hook.inbox() == []
    assert await hook.healthy()
    await hook.works("after-big-1")


async def test_a_5_mb_chunked_body_is_413_too(hook: Hook) -> None:
    """No Content-Length: the limit must hold while reading the stream."""

    async def chunks() -> Any:
        for _ in range(80):
            yield b"x" * 65536  # 5 MiB in all

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hook.url,
            data=chunks(),
            headers={"Verification-Token": hook.token, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=RAW_TIMEOUT),
        ) as resp,
    ):
        assert resp.status == 413
    assert await hook.inbox() == []
    assert await hook.healthy()
    await hook.works("after-chunked-1")


# -- R14: fuzz ------------------------------------------------------------------------------


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null"]
    if depth < 3:
        kinds += ["list", "dict", "dict"]
    kind = rng.choice(kinds)
    if kind == "str":
        alphabet = string.printable + "é中😀\u202e\x00"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**63), 10**30, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e-308, rng.random()])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["uuid", "event", "body", "timestamp", "subscriptionId", "ownerId", "id", "from"]
    return {
        rng.choice([*keys, f"k{rng.randint(0, 99)}"]): _random_json(rng, depth + 1)
        for _ in range(rng.randint(0, 5))
    }


def _mutate(rng: random.Random, envelope: dict[str, Any], n: int) -> bytes:
    """A valid envelope, damaged one way."""
    data = copy.deepcopy(envelope)
    data["uuid"] = f"fuzz-{n}"
    how = rng.randrange(5)
    if how == 0:  # a field of the body replaced by anything
        key = rng.choice(list(data["body"]))
        data["body"][key] = _random_json(rng)
    elif how == 1:  # a field of the body removed
        data["body"].pop(rng.choice(list(data["body"])))
    elif how == 2:  # the event filter replaced
        data["event"] = rng.choice([_random_json(rng), "/restapi/v1.0/x", data["event"] + "?x"])
    raw = json.dumps(data).encode()
    if how == 3:  # truncated
        raw = raw[: rng.randrange(len(raw))]
    elif how == 4:  # one byte flipped
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]
    return raw


def fuzz_bodies(envelope: dict[str, Any]) -> list[bytes]:
    rng = random.Random(FUZZ_SEED)
    bodies: list[bytes] = []
    for n in range(FUZZ_BODIES):
        kind = n % 4
        if kind == 0:
            bodies.append(rng.randbytes(rng.randint(0, 2048)))
        elif kind == 1:
            bodies.append(json.dumps(_random_json(rng)).encode())
        elif kind == 2:
            shell = {"uuid": f"fuzz-{n}", "event": _random_json(rng), "body": _random_json(rng)}
            bodies.append(json.dumps(shell).encode())
        else:
            bodies.append(_mutate(rng, envelope, n))
    return bodies


async def test_200_fuzzed_bodies_with_the_right_token_are_all_200_and_nothing_breaks(
    hook: Hook,
) -> None:
    bodies = fuzz_bodies(hook.envelope)

    statuses = [await hook.deliver(body) for body in bodies]

    assert statuses == [200] * len(bodies)
    await hook.bridge.dispatch()  # a step that raised would fail here
    rows = await hook.inbox()
    assert rows and all(row.state in ("dead", "done") for row in rows), {
        (row.uuid, row.state, row.error) for row in rows if row.state not in ("dead", "done")
    }
    assert await hook.healthy()
    await hook.works("after-fuzz-1")


# -- R19: no token in the logs -------------------------------------------------------------


async def test_no_verification_token_in_any_log_record(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = hook.token
    # the subscription again (the handshake and the token's creation), then every path
    await hook.bridge.notifications.subscriptions.sync()
    assert await hook.post(b"", {"Validation-Token": token}) == 200
    for forged in FORGERIES.values():
        await hook.post(hook.sms("forged-log"), forged(token))
    await hook.deliver(b"not json")
    await hook.deliver(b'{"uuid": "log-shape", "event": 1, "body": 2}')
    await hook.post(hook.sms("log-validation"), {"Validation-Token": token})
    await hook.bridge.dispatch()
    await hook.works("log-1")

    assert caplog.records
    # Any 16-character piece: a forged token that differs in its last byte, or a token a
    # log line cut short, would leak this much.
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.__dict__)
        assert leaked(text, [token]) == {}, text

"""RingCentral's webhook deliveries sent from outside the simulator: `WebhookSender` POSTs
envelopes as RingCentral does (its headers, a subscription's verification token) to any
address, and `sms_envelope` makes an instant-SMS delivery. For load and crash tests that
need many deliveries fast, without a subscription's handshake or the simulator's pace.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Self

import aiohttp

from ._rc_webhook import delivery_headers

SMS_EVENT = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"


def sms_envelope(
    uuid: str,
    *,
    text: str = "hello",
    sender: str = "+16505550100",
    to: str = "+16505550001",
    subscription_id: str = "sim-subscription",
) -> bytes:
    """An instant-SMS delivery (the documented shape, made-up ids) from `sender` to the
    company number `to`; `uuid` is the delivery's and the message's id."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "uuid": uuid,
            "event": SMS_EVENT,
            "timestamp": now,
            "subscriptionId": subscription_id,
            "ownerId": "1",
            "body": {
                "id": uuid,
                "to": [{"phoneNumber": to, "target": True}],
                "from": {"phoneNumber": sender},
                "type": "SMS",
                "creationTime": now,
                "lastModifiedTime": now,
                "readStatus": "Unread",
                "direction": "Inbound",
                "availability": "Alive",
                "subject": text,
                "messageStatus": "Received",
                "conversation": {"id": "1"},
                "eventType": "Create",
                "owner": {"extensionId": "1", "extensionType": "User"},
            },
        }
    ).encode()


@dataclass(frozen=True)
class Delivered:
    uuid: str
    status: int  # 0: no answer (connection error)
    sent_at: float  # time.time() when the request was sent (comparable across processes)
    seconds: float  # request sent -> response read


class WebhookSender:
    """POSTs deliveries to `url` with `token`, over at most `connections` keep-alive
    loopback connections: `async with WebhookSender(url, token) as sender:`."""

    def __init__(self, url: str, token: str, *, connections: int = 32) -> None:
        self.url = url
        self._headers = delivery_headers(token)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._connections)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, uuid: str, body: bytes) -> Delivered:
        """One POST; its status is 0 when no answer came."""
        if self._session is None:
            raise RuntimeError("use `async with WebhookSender(...)`")
        sent_at = time.time()
        started = time.perf_counter()
        try:
            async with self._session.post(self.url, data=body, headers=self._headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, OSError):
            status = 0
        return Delivered(uuid, status, sent_at, time.perf_counter() - started)

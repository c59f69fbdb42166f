"""One connection to RingCentral's WebSocket gateway (reference §2.6), over an injected
`aiohttp.ClientSession` (httpx does not speak WebSocket).

    token = await request_ws_token(rc)              # POST /restapi/oauth/wstoken, Auth group
    conn = await WsConnection.open(session, token, clock=clock, wsc=stored_wsc)
    if not conn.recovered:
        await conn.subscribe(filters)               # ONE ClientRequest; a second replaces it
    while True:
        item = await conn.receive()                 # Notification | Unreadable; WsClosed at the end

What it does by itself: waits for `ConnectionDetails` before anything else (the gateway
takes nothing earlier); sends a `Heartbeat` whenever it has sent nothing for a third of the
announced `idleTimeout` (the gateway's idle timer counts messages only, not WebSocket pings,
which aiohttp still sends to notice a dead TCP connection); answers the gateway's pings;
keeps the newest `wsc` (token and sequence) any header carries.

Errors (all RingCentralErrors, none naming a token: the access token rides in the URL, so
no aiohttp error text is ever passed on):

    WsRefused     the gateway refused the connection (an HTTP status on the upgrade, an
                  `Error` message instead of ConnectionDetails): `error_code`, `status`
    WsClosed      an open connection ended: `error_code` is the gateway's reason when it gave
                  one (WSG-902 idle timeout, WSG-903 absolute timeout), else "closed"
    ApiError      a ClientRequest answered with a non-2xx status (e.g. SUB-508)
    DecodingError a message that should have had a known shape did not
    TransportError no connection at all (refused, timed out)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, Self

import aiohttp
import httpx
from pydantic import ValidationError

from ...clock import Clock
from .._auth import WSTOKEN_PATH
from .._errors import ApiError, DecodingError, RingCentralError, TransportError, map_exceptions
from ..models._base import Outbound
from ..models.subscriptions import SubscriptionInfo, WebSocketSubscriptionRequest
from ._frames import (
    ClientRequestHeader,
    ConnectionDetails,
    FrameHeader,
    HeartbeatHeader,
    Wsc,
    WsErrorBody,
    WsToken,
    encode,
    parse_frame,
)

__all__ = [
    "Notification",
    "Unreadable",
    "WsClosed",
    "WsConnection",
    "WsRefused",
    "WsTokenRequester",
    "request_ws_token",
]

log = logging.getLogger("bot.ringcentral.ws")

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
OPEN_TIMEOUT = 15.0  # seconds for the upgrade and the ConnectionDetails that follows it
REQUEST_TIMEOUT = 30.0  # seconds for the answer to a ClientRequest
PING_INTERVAL = 30.0  # WebSocket pings: a dead TCP connection noticed within 45 s
MAX_MESSAGE = 4 * 1024**2


class WsRefused(RingCentralError):
    def __init__(self, error_code: str, *, status: int | None = None, message: str = "") -> None:
        self.error_code = error_code
        self.status = status
        detail = f": {message[:200]}" if message else ""
        super().__init__(f"RingCentral's WebSocket gateway refused us ({error_code}){detail}")


class WsClosed(RingCentralError):
    def __init__(self, error_code: str, message: str = "") -> None:
        self.error_code = error_code
        detail = f": {message[:200]}" if message else ""
        super().__init__(f"RingCentral's WebSocket connection ended ({error_code}){detail}")


@dataclass(frozen=True, slots=True)
class Notification:
    """A `ServerNotification`: its envelope as a webhook would carry it, and its place in
    the session (`wsc.sequence`, when the gateway gave one)."""

    envelope: bytes
    sequence: int | None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An authentic message that is no frame the bridge can read (kept as a dead letter)."""

    raw: bytes
    problem: str


class WsTokenRequester(Protocol):
    """What the WebSocket needs of the client: a wstoken request, which takes the app's
    turn at the token endpoint (`RingCentralClient.ws_token`)."""

    async def ws_token(self) -> httpx.Response: ...


async def request_ws_token(rc: WsTokenRequester) -> WsToken:
    """`POST /restapi/oauth/wstoken` (Bearer; paced per app with token grants and in the
    Auth group, where each reconnect costs a request)."""
    response = await rc.ws_token()
    with map_exceptions(f"POST {WSTOKEN_PATH}", model="WsToken"):
        return WsToken.model_validate_json(response.content)


class WsConnection:
    """An open connection whose `ConnectionDetails` arrived. One reader: a task calls
    `subscribe()`, then `receive()` in a loop; once that loop runs, a `request()` from
    another task waits for the loop to read its answer (which comes after every
    notification sent before it: the connection is one ordered stream)."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        header: FrameHeader,
        details: ConnectionDetails,
        *,
        clock: Clock,
        heartbeats: bool,
    ) -> None:
        self._ws = ws
        self._clock = clock
        self.details = details
        self.wsc: Wsc | None = header.wsc
        self.opened_at = clock.monotonic()
        self.heartbeats_sent = 0
        self.last_sequence: int | None = None  # of the newest notification received
        # The session's subscription: set by subscribe(), or by whoever recovered it.
        self.subscription_id: str | None = None
        self._last_sent = self.opened_at
        self._send_lock = asyncio.Lock()
        self._queued: deque[Notification | Unreadable] = deque()
        self._receiving = False  # `receive()` has been called: it reads every message
        self._waiting: dict[str, asyncio.Future[tuple[FrameHeader, Any]]] = {}
        self._error: WsErrorBody | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        if heartbeats:
            self._heartbeat = asyncio.create_task(self._beat(), name="ringcentral-ws-heartbeat")

    def __repr__(self) -> str:
        return f"WsConnection(recovered={self.recovered}, closed={self.closed})"

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        token: WsToken,
        *,
        clock: Clock,
        wsc: str | None = None,
        heartbeats: bool = True,
        ping_interval: float | None = PING_INTERVAL,
        within: float = OPEN_TIMEOUT,
    ) -> Self:
        """Connect with the single-use `token` (and `wsc` to recover that session) and
        wait for `ConnectionDetails`. `heartbeats=False` only for tests of the idle timeout."""
        params = {"access_token": token.ws_access_token.get_secret_value()}
        if wsc:
            params["wsc"] = wsc
        try:
            async with asyncio.timeout(within):
                ws = await session.ws_connect(
                    token.uri,
                    params=params,
                    autoping=True,
                    heartbeat=ping_interval,
                    max_msg_size=MAX_MESSAGE,
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise WsRefused(f"HTTP-{exc.status}", status=exc.status) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Never the exception's text: it carries the URL, and so the access token.
            raise TransportError(
                f"RingCentral's WebSocket gateway could not be reached ({type(exc).__name__})"
            ) from None
        try:
            async with asyncio.timeout(within):
                header, details = await _first_frame(ws)
        except TimeoutError:
            await ws.close()
            raise WsRefused("no ConnectionDetails", message=f"none within {within:.0f} s") from None
        except BaseException:
            await ws.close()
            raise
        return cls(ws, header, details, clock=clock, heartbeats=heartbeats)

    @property
    def recovered(self) -> bool:
        """The session of the `wsc` given to `open()` came back with its subscription (and
        the gateway replays what it buffered meanwhile)."""
        return self.details.recovery_state == "Successful"

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def subscribe(self, event_filters: list[str]) -> SubscriptionInfo:
        """Subscribe this session (one `ClientRequest`; a second would replace it)."""
        body = WebSocketSubscriptionRequest(event_filters=event_filters)
        _, answer = await self.request("POST", SUBSCRIPTION_PATH, body)
        with map_exceptions(f"POST {SUBSCRIPTION_PATH} (WebSocket)", model="SubscriptionInfo"):
            subscription = SubscriptionInfo.model_validate(answer)
        self.subscription_id = subscription.id
        return subscription

    async def request(
        self, method: str, path: str, body: Outbound | None = None
    ) -> tuple[FrameHeader, Any]:
        """A REST request over the connection; its answer's header and body. Notifications
        that arrive meanwhile wait for `receive()`."""
        message_id = str(uuid.uuid4())
        answer: asyncio.Future[tuple[FrameHeader, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = answer
        try:
            header = ClientRequestHeader(message_id=message_id, method=method, path=path)
            await self._send(encode(header, body))
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if self._receiving:
                    await answer  # the receive() loop reads it
                while not answer.done():
                    item = await self._read()
                    if item is not None:
                        self._queued.append(item)
        finally:
            self._waiting.pop(message_id, None)
        header_in, body_in = answer.result()
        status = header_in.status or 0
        if not 200 <= status < 300:
            error = _error_body(body_in)
            raise ApiError(status, error.error_code or f"HTTP-{status}", error.message or "")
        return header_in, body_in

    async def receive(self) -> Notification | Unreadable:
        """The next notification (or unreadable message); WsClosed once the connection
        ended, with the gateway's reason when it gave one."""
        self._receiving = True
        while True:
            if self._queued:
                return self._queued.popleft()
            item = await self._read()
            if item is not None:
                return item

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            await self._ws.close()

    # -- internals --------------------------------------------------------------------------

    async def _send(self, text: str) -> None:
        async with self._send_lock:
            try:
                await self._ws.send_str(text)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                raise WsClosed("closed", f"cannot send ({type(exc).__name__})") from None
            self._last_sent = self._clock.monotonic()

    async def _beat(self) -> None:
        """A Heartbeat whenever nothing was sent for a third of the idle timeout."""
        interval = self.details.idle_timeout / 3
        while not self._ws.closed:
            due = self._last_sent + interval
            if self._clock.monotonic() < due:
                await self._clock.sleep_until(due)
                continue
            try:
                await self._send(encode(HeartbeatHeader(message_id=str(uuid.uuid4()))))
            except WsClosed:
                return
            self.heartbeats_sent += 1

    async def _read(self) -> Notification | Unreadable | None:
        msg = await self._ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            return self._frame(msg.data.encode())
        if msg.type is aiohttp.WSMsgType.BINARY:
            return Unreadable(bytes(msg.data), "a binary WebSocket message")
        # CLOSE, CLOSING, CLOSED, ERROR: the end, with the reason the gateway gave before.
        error = self._error
        code = error.error_code if error is not None and error.error_code else "closed"
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(WsClosed(code))
        raise WsClosed(code, (error.message or "") if error is not None else "")

    def _frame(self, raw: bytes) -> Notification | Unreadable | None:
        try:
            header, body = parse_frame(raw)
        except ValueError as exc:
            return Unreadable(raw, f"unreadable WebSocket message: {exc}")
        if header.wsc is not None:
            self.wsc = header.wsc
        kind = header.type
        if kind == "ServerNotification":
            if not isinstance(body, dict):
                return Unreadable(raw, "a ServerNotification without an event envelope")
            sequence = header.wsc.sequence if header.wsc is not None else None
            if sequence is not None:
                self.last_sequence = sequence
            envelope = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            return Notification(envelope, sequence)
        waiter = self._waiting.get(header.message_id or "")
        if waiter is not None and not waiter.done():
            waiter.set_result((header, body))  # an answer (or an Error naming our request)
        elif kind == "Error":
            self._error = _error_body(body)
            log.warning(
                "RingCentral's WebSocket gateway says %s: %s",
                self._error.error_code,
                (self._error.message or "")[:200],
            )
        return None


async def _first_frame(
    ws: aiohttp.ClientWebSocketResponse,
) -> tuple[FrameHeader, ConnectionDetails]:
    msg = await ws.receive()
    if msg.type is not aiohttp.WSMsgType.TEXT:
        raise WsRefused("closed", message="the gateway closed before ConnectionDetails")
    try:
        header, body = parse_frame(msg.data)
    except ValueError as exc:
        raise DecodingError("WebSocket connect", "ConnectionDetails", (str(exc),)) from None
    if header.type == "Error":
        error = _error_body(body)
        code, message = error.error_code or "Error", error.message or ""
        raise WsRefused(code, status=header.status, message=message)
    if header.type != "ConnectionDetails" or header.wsc is None:
        first = f"first was {header.type[:40]}"
        raise DecodingError("WebSocket connect", "ConnectionDetails", (first,))
    with map_exceptions("WebSocket connect", model="ConnectionDetails"):
        return header, ConnectionDetails.model_validate(body)


def _error_body(body: Any) -> WsErrorBody:
    if isinstance(body, list) and body:  # RingCentral's REST errors come as `errors[]` too
        body = body[0]
    try:
        return WsErrorBody.model_validate(body if isinstance(body, dict) else {})
    except ValidationError:
        return WsErrorBody()

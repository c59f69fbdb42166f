"""RingCentral's WebSocket gateway, as strict as the real one (reference §2.6, the
RingCentral developer guide's WebSocket pages, the `ws-*.json` examples).

- `POST /restapi/oauth/wstoken` (Bearer, Auth group): `{ws_access_token, uri, expires_in}`;
  the token is single use and expires after `expires_in` (30 s): a second use, or a late
  one, is refused at the upgrade (401).
- `GET /ws?access_token=…[&wsc=…]`: `ConnectionDetails` first, announcing the timeouts of
  `WsOptions`; nothing the client sends before counts.
- `ClientRequest` `POST /restapi/v1.0/subscription` (`eventFilters`, and `deliveryMode`
  `{"transportType": "WebSocket"}`, SPEC `WebSocketDeliveryMode`, which the REST endpoint
  refuses): the session's one subscription; a second request replaces the first. The
  answer carries the request's type and `messageId`.
- Events reach the subscription as `ServerNotification` messages carrying the standard
  envelope, the session's `wsc` (its sequence rising by one per notification).
- `Heartbeat` is answered with itself. The idle timer (WSG-902) counts only messages the
  client sends, never WebSocket pings; the absolute timer (WSG-903) ends every connection
  `absolute_timeout` after it opened. Both send an `Error` message, then close.
- A session whose connection dropped (or timed out) stays recoverable `recovery_timeout`
  seconds: its events wait in a buffer of `recovery_buffer_size` (the oldest dropped
  silently when it overflows, as RingCentral does) and are replayed, in order, after the
  `ConnectionDetails` of a connection made with its `wsc` (`recoveryState: Successful`).
  Past the window, or with an unknown `wsc`: `recoveryState: Failed`, a new session with
  no subscription; the old one and its subscription are gone.

The gateway keeps real time (its timers run on real sockets): tests announce short
timeouts instead of moving a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid as uuidlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ._rc_auth import Bearer
from ._rc_http import SimRequest, SimResponse, api_error, invalid_param
from ._rc_messaging import BadRequest
from ._rc_state import Call, SimState, json_ok
from ._rc_subscriptions import (
    MAX_PER_EXTENSION,
    Subscription,
    Subscriptions,
    iso,
    resolve_filters,
)

WS_PATH = "/ws"
SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
WS_SUBSCRIPTION_TTL = 86400  # shown as expiresIn; RingCentral renews it while the session lives


@dataclass
class WsOptions:
    """What `ConnectionDetails` announces, in seconds (RingCentral's values by default)."""

    idle_timeout: float = 1800
    absolute_timeout: float = 86400
    recovery_timeout: float = 180
    recovery_buffer_size: int = 100
    token_ttl: int = 30
    max_connections_per_session: int = 50
    max_active_requests: int = 10


@dataclass
class _Token:
    owner_id: str
    client_id: str
    expires_at: float
    used: bool = False


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    opened_at: float
    last_message_at: float
    ended: str | None = None  # why the gateway closed it (WSG-902, WSG-903, replaced)


@dataclass
class _Session:
    wsc: str
    owner_id: str
    client_id: str
    created_at: float
    sequence: int = 1
    subscription: Subscription | None = None
    conn: _Conn | None = None
    lost_at: float | None = None
    buffer: deque[str] = field(default_factory=deque)


@dataclass
class WsStats:
    """What the gateway saw, for tests: connections by how they began, closes by why."""

    connections: Counter[str] = field(default_factory=Counter)  # new, recovered, failed
    closes: Counter[str] = field(default_factory=Counter)  # WSG-902, WSG-903, client, dropped
    heartbeats: int = 0
    subscriptions: int = 0
    notifications: int = 0
    buffered: int = 0
    dropped_from_buffer: int = 0
    refused_tokens: int = 0


class WsGateway:
    def __init__(self, state: SimState, subs: Subscriptions) -> None:
        self._state = state
        self._subs = subs
        self.options = WsOptions()
        self.stats = WsStats()
        self._tokens: dict[str, _Token] = {}
        self._sessions: dict[str, _Session] = {}
        self._timers: set[asyncio.Task[Any]] = set()

    # -- the REST side ----------------------------------------------------------------------

    def issue_token(self, bearer: Bearer) -> SimResponse:
        token = secrets.token_urlsafe(24)
        ttl = self.options.token_ttl
        self._tokens[token] = _Token(bearer.owner_id, bearer.client_id, time.monotonic() + ttl)
        base = self._state.server_url.replace("http", "ws", 1)
        return json_ok({"ws_access_token": token, "uri": f"{base}{WS_PATH}", "expires_in": ttl})

    def secrets(self) -> set[str]:
        return set(self._tokens) | set(self._sessions)

    # -- test controls ----------------------------------------------------------------------

    @property
    def live_connections(self) -> int:
        return sum(1 for s in self._sessions.values() if s.conn is not None)

    def sessions(self) -> list[dict[str, Any]]:
        """Each session: its subscription id, whether connected, buffered count."""
        return [
            {
                "subscription_id": s.subscription.id if s.subscription else None,
                "connected": s.conn is not None,
                "buffered": len(s.buffer),
                "sequence": s.sequence,
            }
            for s in self._sessions.values()
        ]

    async def drop(self) -> int:
        """Cut every connection without a word (a network failure): each session stays
        recoverable for `recovery_timeout`. How many were cut."""
        cut = 0
        for session in list(self._sessions.values()):
            conn = session.conn
            if conn is None:
                continue
            conn.ended = "dropped"
            self._lose(session, conn)
            cut += 1
            if isinstance(conn.transport, asyncio.WriteTransport):
                conn.transport.abort()  # no close frame: as a cut cable looks to the client
        return cut

    async def send_raw(self, subscription_id: str, text: str) -> bool:
        """Send `text` as it is on the connection of that subscription's session (a
        message the client cannot read); False when it has no connection."""
        for session in self._sessions.values():
            sub = session.subscription
            if sub is not None and sub.id == subscription_id and session.conn is not None:
                await session.conn.ws.send_str(text)
                return True
        return False

    async def close(self) -> None:
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        for session in self._sessions.values():
            if session.conn is not None:
                with contextlib.suppress(Exception):
                    await session.conn.ws.close()

    # -- events -----------------------------------------------------------------------------

    async def deliver(self, sub: Subscription, envelope: bytes) -> int | None:
        """200 when sent on the session's connection, 0 when buffered for a recovery, None
        when the session is gone (nothing sent)."""
        session = next((s for s in self._sessions.values() if s.subscription is sub), None)
        if session is None or self._expired(session):
            self._purge()
            return None
        session.sequence += 1
        header = {
            "type": "ServerNotification",
            "messageId": str(uuidlib.uuid4()),
            "status": 200,
            "headers": {"RCRequestId": str(uuidlib.uuid4())},
            "wsc": {"token": session.wsc, "sequence": session.sequence},
        }
        frame = f"[{json.dumps(header)},{envelope.decode()}]"
        self.stats.notifications += 1
        conn = session.conn
        if conn is not None:
            try:
                await conn.ws.send_str(frame)
                return 200
            except (ConnectionError, RuntimeError):
                self._lose(session, conn)
        if len(session.buffer) >= self.options.recovery_buffer_size:
            self.stats.dropped_from_buffer += 1  # RingCentral keeps only the newest
        session.buffer.append(frame)
        while len(session.buffer) > self.options.recovery_buffer_size:
            session.buffer.popleft()
        self.stats.buffered += 1
        return 0

    # -- the WebSocket side -----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = self._tokens.get(request.query.get("access_token", ""))
        now = time.monotonic()
        if token is None or token.used or token.expires_at <= now:
            self.stats.refused_tokens += 1
            body = {"errorCode": "WSG-401", "message": "Access token is invalid or expired"}
            return web.json_response(body, status=401)
        token.used = True  # RingCentral: good for a single connection
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws, request.transport, now, now)
        session, recovery, replay = self._attach(token, request.query.get("wsc"), conn)
        await ws.send_str(json.dumps(self._details(session, recovery)))
        for frame in replay:
            await ws.send_str(frame)
        watchdog = asyncio.create_task(self._watch(session, conn), name="sim-ws-watchdog")
        self._timers.add(watchdog)
        watchdog.add_done_callback(self._timers.discard)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.last_message_at = time.monotonic()
                    await self._message(session, conn, msg.data)
        finally:
            watchdog.cancel()
            if conn.ended is None:
                conn.ended = "client"
            self.stats.closes[conn.ended] += 1
            self._lose(session, conn)
        return ws

    def _attach(
        self, token: _Token, wsc: str | None, conn: _Conn
    ) -> tuple[_Session, str | None, list[str]]:
        """The session this connection serves: (session, recoveryState or None, replay)."""
        self._purge()
        if wsc is not None:
            old = self._sessions.get(wsc)
            if old is not None and old.owner_id == token.owner_id and not self._expired(old):
                if old.conn is not None:  # the session moves to the new connection
                    old.conn.ended = "replaced"
                    stale = old.conn.ws
                    task = asyncio.create_task(stale.close(), name="sim-ws-replaced")
                    self._timers.add(task)
                    task.add_done_callback(self._timers.discard)
                old.conn, old.lost_at = conn, None
                replay = list(old.buffer)
                old.buffer.clear()
                self.stats.connections["recovered"] += 1
                return old, "Successful", replay
            self.stats.connections["failed"] += 1
            return self._new_session(token, conn), "Failed", []
        self.stats.connections["new"] += 1
        return self._new_session(token, conn), None, []

    def _new_session(self, token: _Token, conn: _Conn) -> _Session:
        wsc = secrets.token_urlsafe(24)
        session = _Session(wsc, token.owner_id, token.client_id, time.monotonic(), conn=conn)
        self._sessions[wsc] = session
        return session

    def _details(self, session: _Session, recovery: str | None) -> list[dict[str, Any]]:
        # shape of examples/ws-connection-details.json (+ recoveryState after a `wsc`)
        o = self.options
        limits: dict[str, Any] = {
            "creationTime": iso(self._state.clock.now()),
            "maxConnectionsPerSession": o.max_connections_per_session,
            "recoveryBufferSize": o.recovery_buffer_size,
            "recoveryTimeout": o.recovery_timeout,
            "idleTimeout": o.idle_timeout,
            "absoluteTimeout": o.absolute_timeout,
            "maxActiveRequests": o.max_active_requests,
        }
        if recovery is not None:
            limits["recoveryState"] = recovery
        message_id = str(uuidlib.uuid4())
        header = {
            "type": "ConnectionDetails",
            "messageId": message_id,
            "status": 200,
            "wsc": {"token": session.wsc, "sequence": session.sequence},
            "headers": {"RCRequestId": message_id},
        }
        return [header, limits]

    async def _watch(self, session: _Session, conn: _Conn) -> None:
        """WSG-902 after `idle_timeout` without a message from the client; WSG-903
        `absolute_timeout` after the connection opened."""
        while not conn.ws.closed:
            idle_at = conn.last_message_at + self.options.idle_timeout
            absolute_at = conn.opened_at + self.options.absolute_timeout
            now = time.monotonic()
            if now >= absolute_at:
                await self._end(session, conn, "WSG-903", "Absolute timeout expired")
                return
            if now >= idle_at:
                await self._end(session, conn, "WSG-902", "Idle timeout expired")
                return
            await asyncio.sleep(min(idle_at, absolute_at) - now)

    async def _end(self, session: _Session, conn: _Conn, code: str, message: str) -> None:
        conn.ended = code
        frame = [{"type": "Error", "messageId": str(uuidlib.uuid4()), "status": 400},
                 {"errorCode": code, "message": message}]  # fmt: skip
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(frame))
        self._lose(session, conn)
        await conn.ws.close()

    def _lose(self, session: _Session, conn: _Conn) -> None:
        if session.conn is conn:
            session.conn, session.lost_at = None, time.monotonic()

    def _expired(self, session: _Session) -> bool:
        lost = session.lost_at
        return lost is not None and time.monotonic() - lost > self.options.recovery_timeout

    def _purge(self) -> None:
        """Sessions past their recovery window are gone, with their subscriptions."""
        for wsc, session in list(self._sessions.items()):
            if self._expired(session):
                del self._sessions[wsc]
                if session.subscription is not None:
                    self._subs.by_id.pop(session.subscription.id, None)

    # -- what the client sends ----------------------------------------------------------------

    async def _message(self, session: _Session, conn: _Conn, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        header = frame[0] if isinstance(frame, list) and frame else None
        kind = header.get("type") if isinstance(header, dict) else None
        if kind == "Heartbeat" and isinstance(header, dict):
            self.stats.heartbeats += 1  # answered with itself (heart-beat-response.json)
            reply = [{"type": "Heartbeat", "messageId": header.get("messageId")}]
            await conn.ws.send_str(json.dumps(reply))
            return
        if kind == "ClientRequest" and isinstance(header, dict) and isinstance(frame, list):
            answer = self._request(session, header, frame[1] if len(frame) > 1 else None)
            meta = {
                "type": "ClientRequest",
                "messageId": header.get("messageId"),
                "status": answer.status,
                "headers": {"RCRequestId": str(uuidlib.uuid4())},
            }
            await conn.ws.send_str(f"[{json.dumps(meta)},{answer.body.decode() or 'null'}]")
            return
        error = [{"type": "Error", "messageId": str(uuidlib.uuid4()), "status": 400},
                 {"errorCode": "WSG-400", "message": "Unsupported message"}]  # fmt: skip
        await conn.ws.send_str(json.dumps(error))

    def _request(self, session: _Session, header: dict[str, Any], body: Any) -> SimResponse:
        method = str(header.get("method", "")).upper()
        path = str(header.get("path", "")).split("?")[0].rstrip("/")
        if path == SUBSCRIPTION_PATH and method == "POST":
            return self._subscribe(session, body)
        sub = session.subscription
        if sub is not None and path == f"{SUBSCRIPTION_PATH}/{sub.id}":
            now = self._state.clock.now()
            if method == "GET":
                return json_ok(sub.info(self._state.server_url, now))
            if method == "DELETE":
                self._subs.by_id.pop(sub.id, None)
                session.subscription = None
                return SimResponse.json(200, None)
        return api_error(404, "CMN-102", "Resource for parameter [path] is not found")

    def _subscribe(self, session: _Session, body: Any) -> SimResponse:
        """The REST endpoint's rules (filters, `~`, permissions: `disabledFilters`), with
        `transportType: WebSocket`, which only a connection may ask for."""
        body = body if isinstance(body, dict) else {}
        extra = set(body) - {"eventFilters", "deliveryMode"}
        if extra:
            return invalid_param(sorted(extra)[0])
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebSocket":
            return invalid_param("deliveryMode.transportType")
        request = SimRequest.build("POST", SUBSCRIPTION_PATH)
        as_owner = Call(request, {}, Bearer(session.owner_id, session.client_id, ""))
        try:
            filters, disabled = resolve_filters(self._state, as_owner, body.get("eventFilters"))
        except BadRequest as refused:
            return refused.response
        now = self._state.clock.now()
        owned = [
            s
            for s in self._subs.live(now)
            if s.owner_id == session.owner_id and s.client_id == session.client_id
        ]
        replacing = session.subscription
        if replacing is None and len(owned) >= MAX_PER_EXTENSION:
            return api_error(403, "SUB-505", "Subscriptions limit exceeded")
        if replacing is not None:  # one subscription per session: the new one replaces it
            self._subs.by_id.pop(replacing.id, None)
        sub = Subscription(
            id=str(uuidlib.uuid4()),
            owner_id=session.owner_id,
            client_id=session.client_id,
            event_filters=filters,
            address="",
            verification_token=None,
            created=now,
            expires_in=WS_SUBSCRIPTION_TTL,
            expires_at=float("inf"),
            disabled_filters=disabled,
            transport="WebSocket",
        )
        self._subs.by_id[sub.id] = sub
        session.subscription = sub
        self.stats.subscriptions += 1
        return json_ok(sub.info(self._state.server_url, now))


async def wstoken(st: SimState, call: Call) -> SimResponse:
    """`POST /restapi/oauth/wstoken` (the route; the gateway keeps the tokens)."""
    gateway = st.extras.get("websocket")
    assert isinstance(gateway, WsGateway)
    return gateway.issue_token(call.bearer)

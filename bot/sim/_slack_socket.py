"""Slack's Socket Mode (reference/slack.md §1.3), for one app: `apps.connections.open`, the
WebSocket it hands out, envelopes and their acks, and `disconnect`.

- `apps.connections.open` takes an app-level token (`xapp-…`) holding `connections:write`:
  a bot token is `not_allowed_token_type`, an app token without the scope `missing_scope`
  (the simulator's Web API front door sorts tokens; `SocketMode.open` checks the scope).
  It answers a URL for one connection (`ws://127.0.0.1:…/link/?ticket=…&app_id=…`, in
  place of Slack's `wss://wss-primary.slack.com/link/?…`); a ticket works once.
- A connection starts with `hello` (`num_connections`, `debug_info` with
  `approximate_connection_time`, `connection_info.app_id`). Slack allows an app 10 at once:
  the 11th gets `disconnect` `too_many_websockets` and is closed.
- An envelope (`events_api`, `slash_commands`, `interactive`) goes to one open connection,
  in turn, so an app's several processes share the traffic. Slack waits 3 s for
  `{"envelope_id": …}` (with a `payload` where `accepts_response_payload`). An Events API
  envelope that is not acked is sent again, up to 3 times (`retry_attempt` 1-3,
  `retry_reason` "timeout"), as Events API deliveries are over HTTP (reference §1.6), at
  once rather than minutes later; a command or a click is not (the person sees a timeout).
- `disconnect(reason)` sends `{"type": "disconnect", "reason": …}` to every connection and
  routes nothing more to them; Slack closes them a little later (`warning` comes ~10 s
  ahead, `refresh_requested` shortly before, `link_disabled` as Socket Mode is turned off).
  `drop()` loses them without a word, as a network does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sim._slack_state import SlackError
from bot.sim._slack_workspace import Identity

SCOPE = "connections:write"
MAX_CONNECTIONS = 10  # Slack's limit per app
ACK_WITHIN = 3.0  # seconds Slack waits for an envelope's ack
EVENT_RETRIES = 3
CONNECTION_TIME = 18060  # seconds `hello` announces until Slack refreshes the connection
# Seconds from a `disconnect` to Slack closing the connection itself.
CLOSE_AFTER = {"warning": 10.0, "refresh_requested": 1.0, "link_disabled": 0.0}
# Envelope types, and whether the ack may carry the answer (slash commands and modal
# submissions answer in the ack; block actions and events do not).
ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")


@dataclass
class Connection:
    """One open Socket Mode WebSocket."""

    id: int
    ws: web.WebSocketResponse
    request: web.Request
    closing: bool = False  # a `disconnect` was sent: nothing more is routed here


@dataclass
class EnvelopeRecord:
    """One envelope sent, as a test reads it afterwards."""

    envelope_id: str
    type: str
    connection: int
    retry_attempt: int
    seconds_to_ack: float | None = None  # None: not acked within ACK_WITHIN


@dataclass(frozen=True)
class SocketDelivery:
    """What became of one envelope and its retries."""

    type: str
    acked: bool
    attempts: int
    seconds_to_ack: float | None  # of the attempt that was acked
    payload: Mapping[str, Any] | None  # the ack's `payload`, if it had one
    connected: bool = True  # False: no connection was open to send it on


@dataclass
class SocketMode:
    """Socket Mode of the simulated app; the simulator serves it (see the module docstring)."""

    identity: Identity
    app_tokens: dict[str, tuple[str, ...]]  # app-level token -> its scopes
    ack_within: float = ACK_WITHIN
    base_url: str = ""  # the simulator's http://host:port, once it listens
    connections: list[Connection] = field(default_factory=list)
    envelopes: list[EnvelopeRecord] = field(default_factory=list)
    opened: int = 0  # URLs handed out by apps.connections.open
    late_acks: list[str] = field(default_factory=list)  # acks after the deadline, or unknown
    _tickets: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _timers: set[asyncio.Task[None]] = field(default_factory=set)

    # -- apps.connections.open ------------------------------------------------------------

    def open(self, token: str) -> dict[str, Any]:
        """apps.connections.open with an app-level token (the front door checked it is one)."""
        scopes = self.app_tokens[token]
        if SCOPE not in scopes:
            raise SlackError("missing_scope", needed=SCOPE, provided=",".join(scopes))
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        self.opened += 1
        ws_base = self.base_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_base}/link/?ticket={ticket}&app_id={self.identity.app_id}"}

    # -- the WebSocket --------------------------------------------------------------------

    async def serve_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers pings on its own, as Slack does
        await ws.prepare(request)
        if len(self.open_connections()) >= MAX_CONNECTIONS:
            await ws.send_json(_disconnect("too_many_websockets", self.identity))
            await ws.close()
            return ws
        conn = Connection(next(self._ids), ws, request)
        self.connections.append(conn)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.open_connections()),
                "debug_info": {
                    "host": f"applink-sim-{conn.id}",
                    "build_number": 1,
                    "approximate_connection_time": CONNECTION_TIME,
                },
                "connection_info": {"app_id": self.identity.app_id},
            }
        )
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._read_ack(message.data)
        finally:
            self.connections.remove(conn)
            await self._notify()
        return ws

    def _read_ack(self, text: str) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            self.late_acks.append(text[:200])
            return
        envelope_id = str(ack.get("envelope_id", "")) if isinstance(ack, dict) else ""
        waiting = self._pending.get(envelope_id)
        if waiting is None or waiting.done():
            self.late_acks.append(envelope_id or text[:200])
            return
        waiting.set_result(ack)

    def open_connections(self) -> list[Connection]:
        """Connections that take envelopes (hello sent, no disconnect since)."""
        return [c for c in self.connections if not c.closing and not c.ws.closed]

    async def wait_connections(self, count: int = 1, within: float = 10.0) -> None:
        """Until at least `count` connections are open; TimeoutError after `within` s."""
        async with self._condition():
            await asyncio.wait_for(
                self._condition().wait_for(lambda: len(self.open_connections()) >= count),
                within,
            )

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        async with self._condition():
            self._condition().notify_all()

    # -- envelopes ------------------------------------------------------------------------

    async def deliver(self, type_: str, payload: Mapping[str, Any]) -> SocketDelivery:
        """Send one envelope as Slack does (see the module docstring) and wait for its fate."""
        if type_ not in ENVELOPE_TYPES:
            raise ValueError(f"not an envelope type: {type_!r}")
        accepts = type_ == "slash_commands" or payload.get("type") == "view_submission"
        tries = 1 + (EVENT_RETRIES if type_ == "events_api" else 0)
        loop = asyncio.get_running_loop()
        for attempt in range(tries):
            conn = await self._next_connection()
            if conn is None:
                return SocketDelivery(type_, False, attempt, None, None, connected=False)
            envelope_id = str(uuid.uuid4())
            record = EnvelopeRecord(envelope_id, type_, conn.id, attempt)
            self.envelopes.append(record)
            waiting: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._pending[envelope_id] = waiting
            sent = loop.time()
            try:
                await conn.ws.send_json(
                    {
                        "envelope_id": envelope_id,
                        "type": type_,
                        "payload": dict(payload),
                        "accepts_response_payload": accepts,
                        "retry_attempt": attempt,
                        "retry_reason": "timeout" if attempt else "",
                    }
                )
                ack = await asyncio.wait_for(waiting, self.ack_within)
            except (TimeoutError, ConnectionError):
                continue
            finally:
                self._pending.pop(envelope_id, None)
            record.seconds_to_ack = loop.time() - sent
            answer = ack.get("payload")
            return SocketDelivery(
                type_,
                True,
                attempt + 1,
                record.seconds_to_ack,
                answer if isinstance(answer, dict) and accepts else None,
            )
        return SocketDelivery(type_, False, tries, None, None)

    async def _next_connection(self) -> Connection | None:
        """The next open connection in turn; waits up to `ack_within` for one to open."""
        with contextlib.suppress(TimeoutError):
            await self.wait_connections(1, within=self.ack_within)
        candidates = self.open_connections()
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]

    # -- what a test makes Slack do -------------------------------------------------------

    async def disconnect(self, reason: str, *, close_after: float | None = None) -> int:
        """Send `disconnect` with `reason` on every open connection and close each one
        `close_after` s later (default by reason, CLOSE_AFTER); how many were told."""
        delay = CLOSE_AFTER.get(reason, 1.0) if close_after is None else close_after
        told = self.open_connections()
        for conn in told:
            conn.closing = True
            with contextlib.suppress(ConnectionError):
                await conn.ws.send_json(_disconnect(reason, self.identity, conn.id))
            timer = asyncio.create_task(self._close_later(conn, delay))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)
        await self._notify()
        return len(told)

    async def _close_later(self, conn: Connection, delay: float) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionError):
            await conn.ws.close()

    def drop(self) -> int:
        """Lose every connection at once, no close frame (a network failure); how many."""
        lost = list(self.connections)
        for conn in lost:
            if conn.request.transport is not None:
                conn.request.transport.abort()
        return len(lost)

    async def close(self) -> None:
        """Stop: close every connection (the simulator is shutting down)."""
        for timer in list(self._timers):
            timer.cancel()
        for conn in list(self.connections):
            with contextlib.suppress(ConnectionError):
                await conn.ws.close()


def _disconnect(reason: str, identity: Identity, conn_id: int = 0) -> dict[str, Any]:
    return {
        "type": "disconnect",
        "reason": reason,
        "debug_info": {"host": f"applink-sim-{conn_id}", "app_id": identity.app_id},
    }

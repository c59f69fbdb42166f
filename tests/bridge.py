"""The whole bridge on loopback for end-to-end tests: the real server (create_app) between
the RingCentral and Slack simulators, talking to both over real HTTP (and, in Socket Mode,
Slack's traffic over the app's WebSocket; without PUBLIC_URL, RingCentral's events over its
WebSocket, `listening()`)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.dispatcher import CALL_QUIET
from bot.bridge.listener import WebSocketListener
from bot.bridge.people import PeopleLinker
from bot.bridge.service import Notifications
from bot.clock import FakeClock
from bot.config import BridgeConfig, Route, Settings
from bot.server import DEPS, ENGINE, NOTIFICATIONS, PEOPLE, create_app
from bot.sim import SLACK_CHANNEL_PACE, Delivery, RingCentralSimulator, SlackSimulator
from bot.sim import SlackClock as SimClock
from bot.store import SubscriptionStore
from bot.store.schema import (
    AutoReply,
    CallState,
    ChannelPace,
    Followup,
    Outbound,
    Post,
    Reminder,
    SlackEvent,
    Update,
    Upload,
    UTCDateTime,
)  # fmt: skip
from bot.store.schema import Delivery as InboxRow

# Runs a test that uses the `bridge` fixture twice: Slack's traffic over HTTP (signed
# requests to /slack/events) and over Socket Mode (envelopes on the bridge's WebSocket;
# PUBLIC_URL still set, for RingCentral's webhooks).
EITHER = pytest.mark.parametrize("bridge", ["http", "socket"], indirect=True)

CHANNEL = "C0GENERAL"
USER = "U0ALICE"
CALLS = "C0CALLS"
TEXTS = "C0TEXTS"
ROUTES = BridgeConfig(
    routes=[
        Route(events=["missed_call", "answered_call", "call", "voicemail", "fax"], channel=CALLS),
        Route(events=["sms", "internal_message"], channel=TEXTS),
    ]
)


def _listening_socket() -> socket.socket:
    """A bound loopback socket for the bridge's test server, held from before the bridge is
    configured with its address until the server listens on it: a port only probed and
    released can be taken meanwhile (CI met EADDRINUSE so)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Bridge:
    server: TestServer
    rc: RingCentralSimulator
    slack: SlackSimulator
    clock: FakeClock
    socket_mode: bool = False
    listener: WebSocketListener | None = None  # running: events come over the WebSocket

    @property
    def engine(self) -> AsyncEngine:
        return self.server.app[ENGINE]

    @property
    def events_url(self) -> str:
        """Where Slack sends commands, clicks and events: the Request URL, or in Socket
        Mode the simulator's envelopes on the bridge's connection."""
        if self.socket_mode:
            return self.slack.socket_mode_url
        return str(self.server.make_url("/slack/events"))

    async def settle(self) -> None:
        """Wait until the work every acknowledged request started is finished."""
        await self.server.app[DEPS].tasks.join()

    @property
    def people(self) -> PeopleLinker:
        """Who is whom (DESIGN §3.9): `await bridge.people.refresh()` after adding Slack
        members with emails."""
        return self.server.app[PEOPLE]

    @property
    def notifications(self) -> Notifications:
        return self.server.app[NOTIFICATIONS]

    async def subscribe(self) -> str:
        """Make the webhook subscription (the RingCentral handshake included); its id."""
        await self.notifications.subscriptions.sync()
        (record,) = await SubscriptionStore(self.engine).all()
        return record.id

    async def dispatch(self, horizon: float = 300.0) -> None:
        """Run the dispatcher until nothing is due, moving the fake clock on to work that
        waits (Slack's per-channel pace, a thread's first message, a retry) by `horizon`
        seconds at most in all. Over the WebSocket, first until every notification the
        gateway sent has been stored (a webhook is stored before its POST returns).

        Only the moves made here count against `horizon`, not the time that passes while
        something sleeps on the clock meanwhile: a WebSocket listener hands over in real
        time against the gateway's short test timeouts, and each handover's token request
        waits for its turn in RingCentral's Auth group (5 a minute) on this clock. (How
        long the work itself took is for a test to assert: post times, say.)"""
        await self.arrived()
        moved = 0.0
        for _ in range(1000):
            await self.notifications.dispatcher.drain()
            due = await self._next_due()
            if due is None:
                return
            wait = max(0.0, due - self.clock.now())
            if moved + wait > horizon:
                return
            self.clock.advance(wait)
            moved += wait

    async def arrived(self, within: float = 10.0) -> None:
        """Over the WebSocket: wait (real time) until the listener has taken in as many
        notifications as the gateway sent on live connections."""
        listener = self.listener
        if listener is None:
            return
        gateway = self.rc.websocket.stats
        deadline = time.monotonic() + within
        while sum(listener.stats.events.values()) < gateway.notifications - gateway.buffered:
            assert time.monotonic() < deadline, "WebSocket notifications not stored in time"
            await asyncio.sleep(0.01)

    async def _next_due(self) -> float | None:
        times = []
        async with self.engine.connect() as conn:
            for table in (InboxRow, Upload, Outbound, Update, Followup, SlackEvent, AutoReply):
                query = select(func.min(table.next_attempt_at, type_=UTCDateTime)).where(
                    table.state.in_(("pending", "sending"))
                )
                times.append((await conn.execute(query)).scalar())
            # A post is due at its next attempt, or its channel's next slot (Slack's pace)
            # if that is later.
            slots = dict(
                (await conn.execute(select(ChannelPace.channel, ChannelPace.next_slot))).all()
            )
            for table in (Post, Reminder):  # a reminder waits for its channel's slot too
                waiting = select(table.channel, func.min(table.next_attempt_at, type_=UTCDateTime))
                waiting = waiting.where(table.state.in_(("pending", "sending")))
                for channel, due in (await conn.execute(waiting.group_by(table.channel))).all():
                    slot = slots.get(channel)
                    if slot is not None and not isinstance(slot, datetime):
                        slot = None
                    times.append(max(due, slot) if slot is not None and due is not None else due)
            # A call whose events stopped is judged after a quiet while (dispatcher).
            quiet = select(func.min(CallState.updated_at, type_=UTCDateTime)).where(CallState.open)
            last = (await conn.execute(quiet)).scalar()
            if last is not None:
                times.append(last + CALL_QUIET + timedelta(seconds=1))
        found = [t.timestamp() for t in times if t is not None]
        return min(found) if found else None

    def channel(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        return self.slack.messages(channel)

    async def command(self, command: str, text: str, **kwargs: Any) -> Delivery:
        delivery = await self.slack.send_command(self.events_url, command, text, **kwargs)
        await self.settle()
        return delivery

    def replies(self, delivery: Delivery) -> list[dict[str, Any]]:
        """What the bridge posted to that request's response_url, oldest first."""
        return [dict(p.body) for p in self.slack.responses(delivery.response_url)]

    def reply_text(self, delivery: Delivery) -> str:
        """Every reply's fallback text and block texts, joined: what the person reads."""
        return "\n".join(_texts(r) for r in self.replies(delivery))


def _texts(message: dict[str, Any]) -> str:
    parts = [str(message.get("text", ""))]
    for block in message.get("blocks", []):
        for item in [block.get("text"), *block.get("elements", []), *block.get("fields", [])]:
            if isinstance(item, dict):
                text = item.get("text")
                parts.append(text if isinstance(text, str) else str((text or {}).get("text", "")))
    return "\n".join(parts)


@asynccontextmanager
async def running_bridge(
    rc: RingCentralSimulator,
    clock: FakeClock,
    bridge_config: BridgeConfig | None = None,
    *,
    slack_clock: SimClock | None = None,
    socket_mode: bool = False,
    connected: bool = True,
    **settings: Any,
) -> AsyncIterator[Bridge]:
    """`slack_clock`: the Slack simulator's clock (default: wall time); pass the bridge's
    FakeClock to read Slack-side times (post times, message ts) in fake time. Slack's
    per-channel pace is on, counted on the bridge's clock (the time its own pacing lives
    in). `socket_mode`: Slack's traffic over Socket Mode (SLACK_APP_TOKEN, no signing
    secret; the bridge is connected when this yields, unless `connected` is False). The
    events Slack raises itself (a message deleted) reach the bridge as its subscription
    says. `settings` are added to (or replace) those pointing the bridge at both
    simulators."""
    slack = SlackSimulator(clock=slack_clock, channel_pace=SLACK_CHANNEL_PACE, pace_clock=clock)
    slack.add_channel(CHANNEL, "general", member=True)
    slack.add_channel(CALLS, "calls", member=True)
    slack.add_channel(TEXTS, "texts", member=True)
    slack.add_user(USER, "alice", real_name="Alice Example", display_name="Alice")
    sock = _listening_socket()
    port = int(sock.getsockname()[1])
    try:
        async with slack.serve():
            values: dict[str, Any] = {
                "public_url": f"http://127.0.0.1:{port}",
                "slack_bot_token": slack.tokens[0],
                "slack_signing_secret": None if socket_mode else slack.signing_secret,
                "slack_app_token": slack.app_token if socket_mode else None,
                "slack_api_url": slack.api_url,
                "ringcentral_server_url": rc.server_url,
                "ringcentral_media_url": rc.media_url,
                "ringcentral_client_id": rc.client_id,
                "ringcentral_client_secret": rc.client_secret,
                "ringcentral_jwt": rc.jwt,
            }
            config = Settings(**(values | settings))
            app = create_app(config, bridge_config or ROUTES, clock=clock, background=False)
            server = TestServer(app, host="127.0.0.1", port=port, socket_factory=lambda *_: sock)
            await server.start_server()
            try:
                if socket_mode and connected:
                    await slack.socket.wait_connections(1)
                running = Bridge(server, rc, slack, clock, socket_mode)
                slack.subscribe_events(running.events_url)
                yield running
                # Every envelope of the test was acked within Slack's 3 s, on its first try.
                assert [e for e in slack.socket.envelopes if e.seconds_to_ack is None] == []
                assert slack.socket.late_acks == []
            finally:
                await server.close()
    finally:
        sock.close()  # the server closes it too; this covers a failure before it starts


@asynccontextmanager
async def listening(bridge: Bridge, within: float = 10.0) -> AsyncIterator[WebSocketListener]:
    """Run the server's WebSocket listener (a server made with `public_url=None`): connected
    and subscribed on entry, stopped on exit."""
    listener = bridge.notifications.listener
    assert listener is not None, "the server is not in websocket mode"
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop), name="test-listener")
    deadline = time.monotonic() + within
    try:
        while listener.state != "connected":
            assert not task.done(), task
            assert time.monotonic() < deadline, f"not connected: {listener.state}"
            await asyncio.sleep(0.01)
        bridge.listener = listener
        yield listener
    finally:
        bridge.listener = None
        stop.set()
        await asyncio.wait_for(task, within)

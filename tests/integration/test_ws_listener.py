"""RingCentral events over the WebSocket with no PUBLIC_URL (DESIGN §3.11): the real server
(websocket mode) between the simulators, and what happens to its connection: a drop, a
failed recovery, an idle connection, the absolute timeout, a message it cannot read, the
same event twice, a webhook subscription left from webhook mode.

Every notification kind posting as a webhook's does is shown by tests/integration/
test_notice_flows.py, which runs each flow (golden files included) both ways. Here the
dispatcher is driven on the test's FakeClock (tests/bridge.py); the listener and the
gateway keep real time on their sockets, so the gateway announces short timeouts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.bridge.listener import WebSocketListener
from bot.clock import FakeClock
from bot.sim import RingCentralSimulator
from bot.sim.ringcentral import WsOptions
from bot.store import SubscriptionStore
from bot.store.schema import Delivery
from tests.bridge import TEXTS, Bridge, listening, running_bridge
from tests.conftest import fresh_database
from tests.databases import refusing


def caller(i: int) -> str:
    return f"+1415555{2000 + i:04d}"  # one conversation (one top-level post) each


async def until(what: str, probe: Callable[[], Any], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not probe():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def websocket_bridge(
    rc: RingCentralSimulator, clock: FakeClock, url: str, *, heartbeats: bool = True
) -> AsyncIterator[tuple[Bridge, WebSocketListener]]:
    """The server without PUBLIC_URL, its listener connected."""
    async with running_bridge(rc, clock, database_url=url, public_url=None) as bridge:
        listener = bridge.notifications.listener
        assert listener is not None
        listener.heartbeats = heartbeats
        async with listening(bridge):
            yield bridge, listener


def posted(bridge: Bridge, text: str) -> int:
    return sum(text in m["text"] for m in bridge.slack.messages(TEXTS))


class CatchUps:
    """The catch-up seam, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[bool] = []

    async def __call__(self, gap: bool) -> None:
        self.asked.append(gap)


async def test_a_dropped_socket_recovers_with_wsc_and_loses_and_doubles_nothing(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        listener.catch_up = catch_ups = CatchUps()
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "before the drop")
        await bridge.dispatch()
        assert await rc_sim.websocket.drop() == 1
        for i in range(1, 4):  # buffered by the gateway while nobody is connected
            await rc_sim.incoming_sms(rc_sim.extension_id, caller(i), f"during the drop {i}")
        assert rc_sim.websocket.stats.buffered == 6  # each: the instant SMS, a store change
        await until("recovered", lambda: listener.stats.connections["recovered"] == 1)
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(4), "after the drop")
        await bridge.dispatch()

        for text in ["before the drop", *(f"during the drop {i}" for i in (1, 2, 3))]:
            assert posted(bridge, text) == 1, text
        assert posted(bridge, "after the drop") == 1
        assert listener.stats.events == {"stored": 10}  # each SMS: two notifications
        assert dict(listener.stats.connections) == {"new": 1, "recovered": 1}
        assert len(rc_sim.subscriptions) == 1  # the same subscription all along
        assert catch_ups.asked == [False]  # a pass after every reconnect; no gap seen


async def test_a_failed_recovery_subscribes_afresh_and_asks_for_a_gap_catch_up(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.websocket.options.recovery_timeout = 0.3
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        listener.catch_up = catch_ups = CatchUps()
        (old,) = rc_sim.subscriptions
        rc_sim.throttle("Auth", retry_after=1)  # the next wstoken waits out the window
        await rc_sim.websocket.drop()
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "lost at the gateway")
        await until("resubscribed", lambda: listener.stats.connections["failed_recovery"] == 1)
        (new,) = rc_sim.subscriptions
        assert new != old
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(1), "after the new subscription")
        await bridge.dispatch()
        assert posted(bridge, "after the new subscription") == 1
        # RingCentral dropped it with the session: only the catch-up (DESIGN §3.10) finds it.
        assert posted(bridge, "lost at the gateway") == 0
        await until("catch-up asked", lambda: catch_ups.asked == [True])
        assert rc_sim.websocket.stats.connections["failed"] == 1


async def test_a_failed_recovery_catches_up_from_the_message_store(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    """The catch-up the listener asks for (DESIGN §3.10) finds what RingCentral dropped
    with the lost session, and posts it once, marked late."""
    rc_sim.websocket.options.recovery_timeout = 0.3
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        catchup = bridge.notifications.catchup
        start = await catchup.catch_up("start")  # as the leading process does at start
        assert start.sources and all(source.started for source in start.sources)
        clock.advance(60)
        rc_sim.throttle("Auth", retry_after=1)
        await rc_sim.websocket.drop()
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "lost at the gateway")
        await until("resubscribed", lambda: listener.stats.connections["failed_recovery"] == 1)
        assert listener.stats.catch_ups == [True]
        (report,) = await catchup.run_due()  # the pass the listener asked for
        assert [n.kind for n in report.recovered] == ["sms"]
        await bridge.dispatch()
        (late,) = [m for m in bridge.slack.messages(TEXTS) if "lost at the gateway" in m["text"]]
        assert late["metadata"]["event_payload"]["late"] is True
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "and the next one")
        await bridge.dispatch()
        assert posted(bridge, "lost at the gateway") == 1


async def test_an_overflowing_recovery_buffer_is_a_gap(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.websocket.options.recovery_buffer_size = 4  # two SMS (two notifications each)
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        listener.catch_up = catch_ups = CatchUps()
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "seen")
        await bridge.dispatch()
        await rc_sim.websocket.drop()
        for i in range(1, 6):
            await rc_sim.incoming_sms(rc_sim.extension_id, caller(i), f"during {i}")
        await until("recovered", lambda: listener.stats.connections["recovered"] == 1)
        await bridge.dispatch()
        assert [posted(bridge, f"during {i}") for i in range(1, 6)] == [0, 0, 0, 1, 1]
        await until("gap catch-up", lambda: True in catch_ups.asked)
        assert listener.stats.catch_ups == [False, True]


async def test_heartbeats_alone_keep_an_idle_connection_open(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.websocket.options.idle_timeout = 0.6
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        await asyncio.sleep(2.0)  # over three idle timeouts without a single event
        assert not listener.stats.closes
        assert dict(listener.stats.connections) == {"new": 1}
        assert rc_sim.websocket.stats.heartbeats >= 5
        assert rc_sim.websocket.stats.closes["WSG-902"] == 0
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "still listening")
        await bridge.dispatch()
        assert posted(bridge, "still listening") == 1


async def test_without_heartbeats_the_gateway_closes_for_idleness(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.websocket.options.idle_timeout = 0.6
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url, heartbeats=False) as (_, listener):
        await until("WSG-902", lambda: listener.stats.closes["WSG-902"] >= 1, within=5)
        await until("recovered", lambda: listener.stats.connections["recovered"] >= 1)
        assert rc_sim.websocket.stats.heartbeats == 0


async def test_the_absolute_timeout_is_crossed_by_a_new_connection_without_a_gap(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    # 10 s: the handover (at three quarters) keeps 2.5 s of margin on a loaded machine.
    rc_sim.websocket.options.absolute_timeout = 10.0
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        listener.catch_up = CatchUps()
        # Events before, during and after the handover at 7.5 s: however slow the machine,
        # until five were sent once the new connection took over.
        count, after = 0, 0
        deadline = time.monotonic() + 60
        while after < 5:
            assert time.monotonic() < deadline, "no handover"
            await rc_sim.incoming_sms(rc_sim.extension_id, caller(count), f"stream {count:03d}.")
            count += 1
            after += listener.stats.connections["handover"] > 0
            await asyncio.sleep(0.15)
        # That crossing is the one timed: from here on the gateway keeps its connections
        # for a day again, so the dispatch (long on a loaded machine, in real time) is not
        # a series of handovers each racing a busy database.
        rc_sim.websocket.options.absolute_timeout = WsOptions.absolute_timeout
        await bridge.dispatch()
        seen = (listener.stats, rc_sim.websocket.stats)
        assert [posted(bridge, f"stream {i:03d}.") for i in range(count)] == [1] * count, seen
        assert listener.stats.connections["handover"] >= 1
        assert not listener.stats.closes, seen  # the gateway never had to end one (WSG-903)
        assert rc_sim.websocket.stats.closes["WSG-903"] == 0
        assert rc_sim.websocket.live_connections == 1


async def test_a_handover_the_database_refuses_falls_back_to_recovery_without_a_stall(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The new connection's session cannot be saved (the database refuses, as a busy
    SQLite does after its busy timeout): the old connection goes on until the gateway ends
    it, then its session is recovered at once; the listener does not stop for a while."""
    rc_sim.websocket.options.absolute_timeout = 4.0  # the handover is tried at 3 s
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        listener.catch_up = CatchUps()
        # The database refuses to save a new session (another `wsc` token); a recovered
        # session's, and the holder's touches, still go.
        async with refusing(bridge.engine, "ws_sessions", NEW_WSC_TOKEN):
            await rc_sim.incoming_sms(rc_sim.extension_id, caller(0), "before")
            await until("the handover failed", lambda: "no new WebSocket" in caplog.text)
            await until("recovered", lambda: listener.stats.connections["recovered"] >= 1)
            rc_sim.websocket.options.absolute_timeout = WsOptions.absolute_timeout
        await rc_sim.incoming_sms(rc_sim.extension_id, caller(1), "after")
        await bridge.dispatch()
        assert (posted(bridge, "before"), posted(bridge, "after")) == (1, 1)
        assert set(listener.stats.closes) == {"WSG-903"}  # each handover refused: recovered
        assert "crashed" not in caplog.text


NEW_WSC_TOKEN = "NEW.wsc_token IS DISTINCT FROM OLD.wsc_token"


async def test_the_same_event_under_two_uuids_is_stored_once(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path, examples_dir: Path
) -> None:
    """As two overlapping connections deliver it: deduplicated by content, not only uuid."""
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        (sub,) = rc_sim.subscriptions
        body = json.loads((examples_dir / "instant-sms-event.json").read_text())["body"]
        event = f"/restapi/v1.0/account/{rc_sim.account_id}/extension/{rc_sim.extension_id}"
        event += "/message-store/instant?type=SMS"
        for uuid in ("first-uuid", "second-uuid", "first-uuid"):
            assert await rc_sim.deliver(sub, body, event=event, uuid=uuid) == 200
        await bridge.arrived()
        assert listener.stats.events == {"stored": 1, "duplicate": 2}
        async with bridge.engine.connect() as conn:
            rows = (await conn.execute(select(Delivery.uuid, Delivery.content_key))).all()
        assert rows == [("first-uuid", f"instant_message:{body['id']}")]


async def test_an_unreadable_message_becomes_a_dead_letter(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = await fresh_database(tmp_path)
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        (sub,) = rc_sim.subscriptions
        assert await rc_sim.websocket.send_raw(sub, '[{"type": "ServerNotification"}, "no"]')
        await until("kept", lambda: listener.stats.events["dead_letter"] == 1)
        async with bridge.engine.connect() as conn:
            (row,) = (await conn.execute(select(Delivery.state, Delivery.error))).all()
        assert row.state == "dead" and row.error == "body is not a JSON object"
        assert listener.state == "connected"  # and the connection goes on


async def test_a_webhook_subscription_left_from_webhook_mode_is_deleted(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url) as before:
        webhook = await before.subscribe()
    async with websocket_bridge(rc_sim, clock, url) as (bridge, listener):
        store = SubscriptionStore(bridge.engine)
        for _ in range(500):
            if webhook not in rc_sim.subscriptions and not await store.all():
                break
            await asyncio.sleep(0.02)
        assert webhook not in rc_sim.subscriptions and await store.all() == []
        (left,) = rc_sim.subscriptions.values()
        assert left.transport == "WebSocket"
        assert listener.state == "connected"

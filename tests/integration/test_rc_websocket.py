"""RingCentral's WebSocket protocol: the client (`bot.ringcentral.ws`) against the
simulator's gateway (`bot.sim`), over real loopback sockets.

The gateway keeps real time on its sockets, so these tests announce short timeouts (in
`ConnectionDetails`, as RingCentral would announce its own) and wait for real, briefly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from bot.clock import SystemClock
from bot.ringcentral import ApiError, Credentials, RingCentralClient
from bot.ringcentral.models import TelephonySessionEvent, parse_event
from bot.ringcentral.ws import (
    Notification,
    Unreadable,
    WsClosed,
    WsConnection,
    WsRefused,
    parse_frame,
    request_ws_token,
)
from bot.sim import RingCentralSimulator

SMS_FILTER = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"
CALLS_FILTER = "/restapi/v1.0/account/~/telephony/sessions"
CLOCK = SystemClock()


@pytest.fixture
async def sim(openapi_path: Path) -> AsyncIterator[RingCentralSimulator]:
    """The simulator on wall time (the gateway's timers are real), spec validation on."""
    simulator = RingCentralSimulator(openapi_path=openapi_path)
    async with simulator.serve():
        yield simulator


@pytest.fixture
async def rc(sim: RingCentralSimulator) -> AsyncIterator[RingCentralClient]:
    client = RingCentralClient(
        http=httpx.AsyncClient(),
        credentials=Credentials(
            client_id=sim.client_id, client_secret=sim.client_secret, jwt=sim.jwt
        ),
        server_url=sim.server_url,
        media_url=sim.media_url,
    )
    async with client:
        yield client


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as made:
        yield made


async def connect(
    rc: RingCentralClient, session: aiohttp.ClientSession, **kwargs: object
) -> WsConnection:
    token = await request_ws_token(rc)
    return await WsConnection.open(session, token, clock=CLOCK, **kwargs)  # type: ignore[arg-type]


async def next_notification(conn: WsConnection, within: float = 5.0) -> Notification:
    async with asyncio.timeout(within):
        item = await conn.receive()
    assert isinstance(item, Notification), item
    return item


async def test_the_token_is_single_use_and_short_lived(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    token = await request_ws_token(rc)
    assert token.expires_in == 30 and token.uri.startswith("ws://")
    assert sim.requests_to("/restapi/oauth/wstoken")[-1].status == 200
    assert sim.throttling_group("POST", "/restapi/oauth/wstoken") == "Auth"
    conn = await WsConnection.open(session, token, clock=CLOCK)
    await conn.close()
    with pytest.raises(WsRefused) as used:
        await WsConnection.open(session, token, clock=CLOCK)
    assert used.value.status == 401
    sim.websocket.options.token_ttl = 1
    late = await request_ws_token(rc)
    await asyncio.sleep(1.1)
    with pytest.raises(WsRefused):
        await WsConnection.open(session, late, clock=CLOCK)
    assert sim.websocket.stats.refused_tokens == 2
    # Neither the token nor anything else secret is in the error's text.
    assert late.ws_access_token.get_secret_value() not in str(used.value)


async def test_connection_details_come_first_with_the_announced_limits(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    options = sim.websocket.options
    options.idle_timeout, options.absolute_timeout = 42, 4200
    options.recovery_timeout, options.recovery_buffer_size = 17, 7
    conn = await connect(rc, session)
    try:
        details = conn.details
        assert (details.idle_timeout, details.absolute_timeout) == (42, 4200)
        assert (details.recovery_timeout, details.recovery_buffer_size) == (17, 7)
        assert details.recovery_state is None and not conn.recovered
        assert conn.wsc is not None and conn.wsc.token
        assert conn.wsc.token not in repr(conn.wsc)
    finally:
        await conn.close()


async def test_one_subscription_per_connection_a_second_replaces_the_first(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    conn = await connect(rc, session)
    try:
        first = await conn.subscribe([SMS_FILTER])
        assert first.delivery_mode.transport_type == "WebSocket"
        assert first.is_active and first.event_filters == (
            f"/restapi/v1.0/account/{sim.account_id}/extension/{sim.extension_id}"
            "/message-store/instant?type=SMS",
        )
        second = await conn.subscribe([SMS_FILTER, CALLS_FILTER])
        assert set(sim.subscriptions) == {second.id}
        # The REST list shows it, and HTTP cannot renew it (RingCentral renews it itself).
        listing = await rc.subscriptions.list()
        assert [s.id for s in listing.records] == [second.id]
        with pytest.raises(ApiError):
            await rc.subscriptions.renew(second.id)
    finally:
        await conn.close()


async def test_a_subscription_request_with_a_bad_filter_is_refused(
    rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    conn = await connect(rc, session)
    try:
        with pytest.raises(ApiError) as bad:
            await conn.subscribe(["/not/a/filter"])
        assert bad.value.status == 400 and bad.value.error_code == "SUB-508"
    finally:
        await conn.close()


async def test_events_arrive_as_server_notifications_in_the_webhook_envelope(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    conn = await connect(rc, session)
    try:
        sub = await conn.subscribe([SMS_FILTER, CALLS_FILTER])
        sms = await sim.incoming_sms(sim.extension_id, "+14155550123", "over the socket")
        first = await next_notification(conn)
        event = parse_event(first.envelope)
        assert event.subscription_id == sub.id
        assert event.body.id == sms.id  # type: ignore[union-attr]
        await sim.call("missed", caller="+14155550124", extension_id=sim.extension_id, pace=False)
        calls = [parse_event((await next_notification(conn)).envelope) for _ in range(2)]
        assert all(isinstance(c, TelephonySessionEvent) for c in calls)
        assert first.sequence is not None and conn.last_sequence == first.sequence + 2
    finally:
        await conn.close()


async def test_heartbeats_keep_an_idle_connection_and_pings_do_not(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    sim.websocket.options.idle_timeout = 0.6
    kept = await connect(rc, session)
    # No heartbeats, but WebSocket pings every 0.1 s: RingCentral counts messages only.
    idle = await connect(rc, session, heartbeats=False, ping_interval=0.1)
    try:
        with pytest.raises(WsClosed) as closed:
            async with asyncio.timeout(3):
                await idle.receive()
        assert closed.value.error_code == "WSG-902"
        await asyncio.sleep(1.5)  # well past the idle timeout, twice over
        assert not kept.closed and kept.heartbeats_sent >= 4
        assert sim.websocket.stats.closes["WSG-902"] == 1
        assert sim.websocket.stats.heartbeats == kept.heartbeats_sent
    finally:
        await kept.close()
        await idle.close()


async def test_the_absolute_timeout_ends_the_connection_with_wsg_903(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    sim.websocket.options.absolute_timeout = 0.5
    conn = await connect(rc, session)
    try:
        with pytest.raises(WsClosed) as closed:
            async with asyncio.timeout(3):
                await conn.receive()
        assert closed.value.error_code == "WSG-903"
    finally:
        await conn.close()


async def test_recovery_with_wsc_replays_what_was_buffered_in_order(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    conn = await connect(rc, session)
    sub = await conn.subscribe([SMS_FILTER])
    assert await sim.websocket.drop() == 1
    with pytest.raises(WsClosed):
        async with asyncio.timeout(3):
            await conn.receive()
    await conn.close()
    sent = [await sim.incoming_sms(sim.extension_id, "+14155550123", f"m{i}") for i in range(3)]
    assert conn.wsc is not None
    back = await connect(rc, session, wsc=conn.wsc.token)
    try:
        assert back.recovered and back.details.recovery_state == "Successful"
        got = [parse_event((await next_notification(back)).envelope) for _ in sent]
        assert [e.body.id for e in got] == [m.id for m in sent]  # type: ignore[union-attr]
        assert {e.subscription_id for e in got} == {sub.id}
        assert sim.websocket.stats.connections["recovered"] == 1
    finally:
        await back.close()


async def test_an_overflowing_buffer_drops_the_oldest_silently_and_sequences_show_it(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    sim.websocket.options.recovery_buffer_size = 2
    conn = await connect(rc, session)
    await conn.subscribe([SMS_FILTER])
    await sim.incoming_sms(sim.extension_id, "+14155550123", "seen")
    seen = await next_notification(conn)
    await sim.websocket.drop()
    await conn.close()
    sent = [await sim.incoming_sms(sim.extension_id, "+14155550123", f"m{i}") for i in range(5)]
    assert conn.wsc is not None
    back = await connect(rc, session, wsc=conn.wsc.token)
    try:
        assert back.recovered  # "Successful", and yet three events are gone
        replayed = [await next_notification(back) for _ in range(2)]
        ids = [parse_event(n.envelope).body.id for n in replayed]  # type: ignore[union-attr]
        assert ids == [m.id for m in sent[-2:]]
        assert seen.sequence is not None and replayed[0].sequence == seen.sequence + 4
        assert sim.websocket.stats.dropped_from_buffer == 3
    finally:
        await back.close()


async def test_recovery_fails_past_the_window_or_with_an_unknown_wsc(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    sim.websocket.options.recovery_timeout = 0.3
    conn = await connect(rc, session)
    sub = await conn.subscribe([SMS_FILTER])
    await sim.websocket.drop()
    await conn.close()
    await asyncio.sleep(0.5)
    assert conn.wsc is not None
    late = await connect(rc, session, wsc=conn.wsc.token)
    unknown = await connect(rc, session, wsc="no-such-session")
    try:
        for failed in (late, unknown):
            assert failed.details.recovery_state == "Failed" and not failed.recovered
        assert sub.id not in sim.subscriptions  # the lost session took its subscription
        await sim.incoming_sms(sim.extension_id, "+14155550123", "nobody listens")
        assert sim.deliveries == []
    finally:
        await late.close()
        await unknown.close()


async def test_an_unreadable_message_is_handed_over_as_such(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    conn = await connect(rc, session)
    try:
        sub = await conn.subscribe([SMS_FILTER])
        assert await sim.websocket.send_raw(sub.id, "[{not json")
        item = await conn.receive()
        assert isinstance(item, Unreadable) and item.raw == b"[{not json"
    finally:
        await conn.close()


def test_the_documented_examples_parse(examples_dir: Path) -> None:
    header, body = parse_frame((examples_dir / "ws-connection-details.json").read_bytes())
    assert header.type == "ConnectionDetails" and header.wsc is not None
    assert body["idleTimeout"] == 1800
    header, body = parse_frame((examples_dir / "message-store-event-websocket.json").read_bytes())
    assert header.type == "ServerNotification"
    assert parse_event(json.dumps(body)).uuid == "2661273919712564939"
    header, body = parse_frame((examples_dir / "ws-heartbeat.json").read_bytes())
    assert header.type == "Heartbeat" and body is None


async def test_the_token_needs_the_apps_websocket_permission(
    sim: RingCentralSimulator, rc: RingCentralClient
) -> None:
    sim.remove_app_permissions("WebSocket")
    with pytest.raises(ApiError) as refused:
        await request_ws_token(rc)
    assert refused.value.status == 403 and refused.value.has_code("CMN-401")


async def test_a_websocket_subscription_follows_the_rest_endpoints_permission_rules(
    sim: RingCentralSimulator, rc: RingCentralClient, session: aiohttp.ClientSession
) -> None:
    """An ordinary service user subscribes to its own extension only: another one's
    filter is listed in disabledFilters, as the REST endpoint would."""
    sim.service_user_admin = False
    other = next(e for e in sim.world.extension_ids() if e != sim.extension_id)
    conn = await connect(rc, session)
    try:
        sub = await conn.subscribe(
            [SMS_FILTER, f"/restapi/v1.0/account/~/extension/{other}/voicemail"]
        )
        assert [d.reason for d in sub.disabled_filters] == ["SUB-405"]
        assert len(sub.event_filters) == 1
    finally:
        await conn.close()

"""Slack over Socket Mode end to end (DESIGN §3.11): a bridge with SLACK_APP_TOKEN, no
signing secret and no PUBLIC_URL answers slash commands that arrive as envelopes on its
own WebSocket, acks them within Slack's 3 s, serves no Request URL, survives Slack's
refreshes and stops cleanly when Slack turns Socket Mode off. `python -m bot serve` does
the same from its environment, one connection per process.

(The command and button tests of tests/e2e and test_notice_flows run over Socket Mode too,
parametrized by `tests.bridge.EITHER`.)"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.clock import FakeClock
from bot.config import Settings
from bot.server import DEPS, METRICS, SETTINGS, SLACK_SOCKET, create_app
from bot.sim import ServerProcess, Simulators
from bot.sim.ringcentral import RingCentralSimulator
from bot.slack.socket import PING_INTERVAL
from tests.bridge import ROUTES, Bridge, listening, running_bridge
from tests.conftest import fresh_database
from tests.integration.test_metrics import Scrape

TO = "+14155550123"
ACK_DEADLINE = 3.0  # Slack's; the simulator gives up on an envelope after it


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    """Socket Mode and nothing inbound: no PUBLIC_URL (RingCentral's events over its
    WebSocket), no SLACK_SIGNING_SECRET."""
    async with (
        running_bridge(
            rc_sim,
            clock,
            socket_mode=True,
            public_url=None,
            database_url=await fresh_database(tmp_path),
        ) as running,
        listening(running),
    ):
        yield running


async def get(bridge: Bridge, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(bridge.server.make_url(path)) as r:
        return r.status, await (r.json() if path == "/healthz" else r.text())


async def until(check: Callable[[], Any], within: float = 10.0) -> None:
    """Wait until `check()` (or what it returns, awaited) is true."""
    deadline = time.monotonic() + within
    while True:
        done = check()
        if inspect.isawaitable(done):
            done = await done
        if done:
            return
        assert time.monotonic() < deadline, f"not so within {within} s"
        await asyncio.sleep(0.02)


def sent_sms(bridge: Bridge) -> list[Any]:
    return [r.json["text"] for r in bridge.rc.requests_to(r"/sms$", "POST")]


# -- nothing inbound -----------------------------------------------------------------------


async def test_no_request_url_is_served_without_a_signing_secret(bridge: Bridge) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(bridge.server.make_url("/slack/events"), data=b"command=%2Fsms") as answer,
    ):
        assert answer.status == 404  # never an unverified Request URL

    status, health = await get(bridge, "/healthz")
    assert status == 200
    assert health["slack_socket"] == "connected"
    assert health["websocket"] == "connected"  # RingCentral's, also an outbound socket
    assert health["status"] == "ok"
    assert bridge.server.app[SETTINGS].public_url is None


async def test_commands_are_acked_within_3_s_and_answered(bridge: Bridge) -> None:
    sms = await bridge.command("/sms", f"{TO} here is the payload, as typed")
    calllog = await bridge.command("/calllog", "7d 3")
    call = await bridge.command("/call", f"{TO} from +16505550111")
    help_ = await bridge.command("/ringcentral", "help")

    for delivery in (sms, calllog, call, help_):
        assert delivery.status == 200
        assert delivery.attempts == 1
        assert delivery.seconds_to_ack is not None and delivery.seconds_to_ack < ACK_DEADLINE
    # Socket Mode needs no payload repair: the form arrives as a dict (bot.slack.http).
    assert sent_sms(bridge) == ["here is the payload, as typed"]
    assert "Sent to *(415) 555-0123*" in bridge.reply_text(sms)
    assert "*Calls*" in bridge.reply_text(calllog)
    assert bridge.rc.requests_to(r"/ring-out$", "POST")
    assert "/calllog" in help_.json()["text"]  # answered in the ack itself


async def test_envelopes_are_counted_like_requests(bridge: Bridge) -> None:
    await bridge.command("/sms", f"{TO} counted")

    _, text = await get(bridge, "/metrics")
    metrics = Scrape(text)
    assert metrics("ringbridge_slack_requests_total", kind="command", status="200") == 1
    assert metrics("ringbridge_slack_ack_seconds_count") == 1
    assert metrics("ringbridge_slack_socket_connections_total") == 1


# -- Slack's disconnects -----------------------------------------------------------------


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_a_refresh_opens_a_new_connection_and_the_next_command_works(
    bridge: Bridge, reason: str
) -> None:
    await bridge.slack.socket.disconnect(reason)
    await until(lambda: bridge.slack.socket.opened == 2 and bridge.slack.socket.open_connections())

    delivery = await bridge.command("/sms", f"{TO} after the refresh")

    assert delivery.status == 200
    assert sent_sms(bridge) == ["after the refresh"]
    assert bridge.server.app[SLACK_SOCKET].state == "connected"


async def test_a_dropped_socket_is_replaced_and_the_next_command_works(bridge: Bridge) -> None:
    bridge.slack.socket.drop()
    await until(
        lambda: bridge.slack.socket.opened == 2 and bridge.slack.socket.open_connections(),
        within=2 * PING_INTERVAL + 2,
    )

    delivery = await bridge.command("/sms", f"{TO} after the drop")

    assert delivery.status == 200
    assert sent_sms(bridge) == ["after the drop"]


@pytest.mark.slow
async def test_link_disabled_stops_the_socket_without_a_reconnect_loop(bridge: Bridge) -> None:
    await bridge.slack.socket.disconnect("link_disabled")
    await until(lambda: not bridge.slack.socket.connections)
    await asyncio.sleep(PING_INTERVAL + 1)  # a full round of the client's reconnect check

    assert len(bridge.slack.calls("apps.connections.open")) == 1
    status, health = await get(bridge, "/healthz")
    assert status == 200  # RingCentral's side still works: degraded, not out of rotation
    assert health["status"] == "degraded"
    assert health["slack_socket"] == "stopped: link_disabled"


# -- processes -------------------------------------------------------------------------------


async def test_each_server_opens_its_own_connection_and_slack_spreads_the_envelopes(
    bridge: Bridge, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other_settings = bridge.server.app[SETTINGS].model_copy(
        update={"database_url": await fresh_database(tmp_path / "other")}
    )
    other = TestServer(create_app(other_settings, ROUTES, clock=bridge.clock, background=False))
    await other.start_server()
    try:
        await bridge.slack.socket.wait_connections(2)
        for n in range(6):
            assert (await bridge.command("/sms", f"{TO} text {n}")).status == 200
        await other.app[DEPS].tasks.join()
    finally:
        await other.close()

    answered = [
        Scrape(server.app[METRICS].render().decode())(
            "ringbridge_slack_requests_total", kind="command", status="200"
        )
        for server in (bridge.server, other)
    ]
    assert answered == [3, 3]
    assert sorted(sent_sms(bridge)) == [f"text {n}" for n in range(6)]


async def test_a_stopping_server_closes_its_connection(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    async with running_bridge(
        rc_sim, clock, socket_mode=True, database_url=await fresh_database(tmp_path)
    ) as bridge:
        assert len(bridge.slack.socket.connections) == 1
        socket = bridge.server.app[SLACK_SOCKET]
    assert socket.state == "closed"
    await until(lambda: not bridge.slack.socket.connections)


async def test_without_public_url_or_app_token_the_log_says_where_slack_must_send(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bridge(
        rc_sim, clock, public_url=None, database_url=await fresh_database(tmp_path)
    ):
        pass

    (said,) = [r.getMessage() for r in caplog.records if "Request URL" in r.getMessage()]
    assert "/slack/events" in said and "SLACK_APP_TOKEN" in said


def test_settings_refuse_a_bot_token_as_the_app_token() -> None:
    with pytest.raises(ValueError, match="app-level token"):
        Settings(slack_app_token="xoxb-not-an-app-token", _env_file=None)


@pytest.mark.slow
async def test_serve_takes_slack_over_its_own_socket_in_each_process() -> None:
    """`python -m bot serve` from its environment: SLACK_APP_TOKEN, no signing secret, no
    PUBLIC_URL. Two processes, two connections; each answers its share."""
    async with Simulators() as sims:
        servers = [ServerProcess(sims.info, socket_mode=True) for _ in range(2)]
        try:
            for server in servers:
                await server.start()

            async def both_connected() -> bool:
                return (await sims.slack_socket_state())["open"] == 2

            await until(both_connected)
            answers = [await sims.slack_socket_command("/sms", f"{TO} n{n}") for n in range(4)]
            for answer in answers:
                assert answer["status"] == 200, servers[0].log_tail()
                assert answer["seconds_to_ack"] < ACK_DEADLINE

            async def replied() -> bool:
                return all([await sims.slack_replies(a["response_url"]) for a in answers])

            await until(replied)
            for server in servers:
                status, health = await server.health()
                assert (status, health["slack_socket"]) == (200, "connected")
                metrics = Scrape(await server.metrics())
                assert metrics("ringbridge_slack_requests_total", kind="command", status="200") == 2
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(f"{server.url}/slack/events", data=b"x=1") as answer,
                ):
                    assert answer.status == 404
            await servers[0].terminate()
            assert (await sims.slack_socket_state())["open"] == 1  # closed on the way out
        finally:
            for server in servers:
                await server.close()

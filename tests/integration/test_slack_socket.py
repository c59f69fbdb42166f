"""`bot.slack.socket` against the Slack simulator's Socket Mode: a Bolt app's listeners
answer the envelopes, and each way a connection ends is met as DESIGN §3.11 says (a new
connection at once; none at all after `link_disabled` or a refused token; a later one
after `too_many_websockets`). Pings and waits are short here; the server uses the
module's defaults."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sim import SlackSimulator
from bot.slack.socket import SlackSocket

PING = 0.3  # seconds between the client's pings (its check for a dead socket)


@pytest.fixture
async def sim() -> AsyncIterator[SlackSimulator]:
    slack = SlackSimulator()
    slack.add_channel("C0GENERAL", "general", member=True)
    slack.add_user("U0ALICE", "alice")
    async with slack.serve():
        yield slack


@dataclass
class Running:
    """A SlackSocket with what it told its observers, and the Web API calls it made
    through the shared session."""

    socket: SlackSocket
    requests: list[tuple[str, int, float]]
    reports: list[tuple[str, str]]
    api_urls: list[str]


def hello_app(client: AsyncWebClient) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret="", process_before_response=True)

    @app.command("/hello")
    async def hello(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"hello {command['text']}")

    return app


@asynccontextmanager
async def running(
    sim: SlackSimulator, *, app_token: str | None = None, crowded_wait: float = 60.0
) -> AsyncIterator[Running]:
    api_urls: list[str] = []

    async def on_start(
        _s: aiohttp.ClientSession, _c: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        api_urls.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = AsyncWebClient(token=sim.tokens[0], base_url=sim.api_url, session=session)
        reports: list[tuple[str, str]] = []
        requests: list[tuple[str, int, float]] = []

        async def report(subject: str, text: str) -> None:
            reports.append((subject, text))

        socket = SlackSocket(
            hello_app(client),
            app_token=app_token or sim.app_token,
            client=client,
            on_request=lambda *seen: requests.append(seen),
            report=report,
            ping_interval=PING,
            crowded_wait=crowded_wait,
        )
        run = Running(socket, requests, reports, api_urls)
        await socket.start()
        try:
            yield run
        finally:
            await socket.close()


async def until(check: Callable[[], bool], within: float = 5.0) -> float:
    """Wait until `check()` holds; the seconds it took (AssertionError past `within`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not so within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def opens(sim: SlackSimulator) -> int:
    return len(sim.calls("apps.connections.open"))


async def test_a_command_is_answered_in_its_ack_and_observed(sim: SlackSimulator) -> None:
    async with running(sim) as run:
        await until(lambda: run.socket.state == "connected")

        delivery = await sim.send_command(sim.socket_mode_url, "/hello", "there")

        assert delivery.status == 200
        assert delivery.json() == {"text": "hello there"}
        assert delivery.seconds_to_ack is not None and delivery.seconds_to_ack < 3
        ((kind, status, seconds),) = run.requests
        assert (kind, status) == ("command", 200)
        assert 0 < seconds < 3


async def test_connections_open_through_the_shared_session(sim: SlackSimulator) -> None:
    async with running(sim) as run:
        await sim.socket.wait_connections(1)

        assert run.api_urls == [f"{sim.api_url}apps.connections.open"]
        (call,) = sim.calls("apps.connections.open")
        assert call.headers["Authorization"] == f"Bearer {sim.app_token}"


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_a_disconnect_opens_a_new_connection_at_once(
    sim: SlackSimulator, reason: str
) -> None:
    async with running(sim) as run:
        await sim.socket.wait_connections(1)

        await sim.socket.disconnect(reason, close_after=30)  # the old one stays open
        took = await until(lambda: run.socket.connections == 2 and len(sim.socket.connections) == 1)

        assert took < 1  # at once, not after a ping interval
        assert opens(sim) == 2
        assert run.socket.state == "connected"
        delivery = await sim.send_command(sim.socket_mode_url, "/hello", "again")
        assert delivery.json() == {"text": "hello again"}
        assert run.reports == []


async def test_a_dropped_connection_is_replaced_within_a_ping_interval_or_two(
    sim: SlackSimulator,
) -> None:
    async with running(sim) as run:
        await sim.socket.wait_connections(1)

        assert sim.socket.drop() == 1
        await until(lambda: run.socket.connections == 2, within=3 * PING + 1)

        assert opens(sim) == 2
        delivery = await sim.send_command(sim.socket_mode_url, "/hello", "back")
        assert delivery.json() == {"text": "hello back"}


async def test_link_disabled_stops_for_good_and_is_reported_once(
    sim: SlackSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(sim) as run:
        await sim.socket.wait_connections(1)

        await sim.socket.disconnect("link_disabled")
        await until(lambda: run.socket.state == "stopped: link_disabled")
        await until(lambda: not sim.socket.connections)
        await asyncio.sleep(5 * PING)  # several rounds of the client's reconnect check

        assert opens(sim) == 1  # no reconnect loop
        assert run.socket.connections == 1
        ((subject, text),) = run.reports
        assert subject == "slack_socket"
        assert "link_disabled" in text and "Socket Mode" in text
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.getMessage() for r in errors] == [text]
        delivery = await sim.send_command(sim.socket_mode_url, "/hello", "anyone?")
        assert delivery.status == 503  # Slack has no connection to send it on


@pytest.mark.parametrize(
    ("token", "scopes", "error"),
    [
        ("xapp-1-A0SIM-1-revoked", ("connections:write",), "invalid_auth"),
        (None, ("authorizations:read",), "missing_scope"),
        ("xoxb-sim-token", ("connections:write",), "not_allowed_token_type"),
    ],
)
async def test_a_refused_app_token_stops_at_the_first_refusal(
    token: str | None, scopes: tuple[str, ...], error: str
) -> None:
    sim = SlackSimulator(app_token_scopes=scopes)
    async with sim.serve(), running(sim, app_token=token) as run:
        await until(lambda: run.socket.state == f"stopped: {error}")
        await asyncio.sleep(5 * PING)

        assert opens(sim) == 1
        ((_, text),) = run.reports
        assert error in text and "SLACK_APP_TOKEN" in text
        assert sim.app_token not in text


async def test_too_many_websockets_waits_before_trying_again(sim: SlackSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        others = [await _raw_connection(sim, session) for _ in range(10)]
        async with running(sim, crowded_wait=1.0) as run:
            await until(lambda: run.socket.state == "waiting: too_many_websockets")
            await asyncio.sleep(0.5)
            assert opens(sim) == 11  # one try, no loop

            await others.pop().close()
            await until(lambda: run.socket.state == "connected", within=3)

            assert opens(sim) == 12
        for ws in others:
            await ws.close()


async def test_close_ends_the_connection_and_leaves_no_session_open(sim: SlackSimulator) -> None:
    async with running(sim) as run:
        await sim.socket.wait_connections(1)
        socket = run.socket
    assert socket.state == "closed"
    await until(lambda: not sim.socket.connections)


async def test_the_socket_client_logs_no_envelope_even_at_debug(
    sim: SlackSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_sdk's socket client logs every frame at DEBUG; a response_url posts as the
    app for 30 minutes."""
    caplog.set_level(logging.DEBUG)
    async with running(sim):
        await sim.socket.wait_connections(1)
        delivery = await sim.send_command(sim.socket_mode_url, "/hello", "secret words")

    client_lines = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("bot.slack.socket")
    )
    assert "established" in client_lines  # it did log, at INFO
    assert delivery.response_url and delivery.response_url not in client_lines
    assert "secret words" not in client_lines
    assert sim.app_token not in caplog.text


async def _raw_connection(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    """A connection of the app made by hand (another process of it, say)."""
    client = AsyncWebClient(base_url=sim.api_url, session=session)
    opened = await client.apps_connections_open(app_token=sim.app_token)
    ws = await session.ws_connect(str(opened["url"]))
    hello = await ws.receive_json()
    assert hello["type"] == "hello"
    return ws

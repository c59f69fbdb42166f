"""Every Slack client of the server shares one aiohttp session: its Web API calls — the
dispatcher's posts, Bolt's own calls for a slash command — reuse one TCP connection
instead of a new connection (and, against Slack, a new TLS handshake) per call; replies
to a response_url use the same session."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from bot.clock import FakeClock
from bot.server import DEPS, SLACK
from bot.sim.ringcentral import RingCentralSimulator
from tests.bridge import TEXTS, running_bridge
from tests.conftest import fresh_database


class Relay:
    """A loopback TCP relay in front of the Slack simulator that counts the connections
    made through it. `target` is set once the simulator listens."""

    def __init__(self) -> None:
        self.connections = 0
        self.target: tuple[str, int] | None = None
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen; the URL to give the bridge as SLACK_API_URL."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/"

    def point_at(self, api_url: str) -> None:
        parts = urlsplit(api_url)
        assert parts.hostname and parts.port
        self.target = (parts.hostname, parts.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        assert self.target is not None, "a Slack call before the relay had a target"
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        pipes = [
            asyncio.create_task(_copy(reader, up_writer)),
            asyncio.create_task(_copy(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)

    async def close(self) -> None:
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_slack_calls_of_every_client_reuse_one_connection(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    relay = Relay()
    url = await fresh_database(tmp_path)
    try:
        async with running_bridge(
            rc_sim, clock, database_url=url, slack_api_url=await relay.start()
        ) as bridge:
            relay.point_at(bridge.slack.api_url)
            await bridge.subscribe()
            for i in range(3):
                await bridge.rc.incoming_sms(bridge.rc.extension_id, f"+1415555010{i}", f"#{i}")
            await bridge.dispatch()  # the dispatcher's client
            await bridge.command("/calllog", "")  # Bolt's client (it checks the token)

            assert len(bridge.channel(TEXTS)) == 3
            methods = [call.method for call in bridge.slack.calls()]
            assert methods.count("chat.postMessage") == 3
            assert "auth.test" in methods
            # Replies to a response_url (another host) borrow the same session.
            app = bridge.server.app
            assert app[DEPS].session is app[SLACK].app.client.session is not None
    finally:
        await relay.close()

    assert relay.connections == 1, f"{relay.connections} connections for {methods}"

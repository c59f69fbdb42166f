"""The whole bridge on loopback for end-to-end tests: the real server (create_app) between
the RingCentral and Slack simulators, talking to both over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.config import BridgeConfig, Settings
from bot.server import DEPS, ENGINE, create_app
from bot.sim._slack_sender import Delivery
from bot.sim.ringcentral import RingCentralSimulator
from bot.sim.slack import SlackSimulator

CHANNEL = "C0GENERAL"
USER = "U0ALICE"


@dataclass
class Bridge:
    server: TestServer
    rc: RingCentralSimulator
    slack: SlackSimulator
    clock: FakeClock

    @property
    def engine(self) -> AsyncEngine:
        return self.server.app[ENGINE]

    @property
    def events_url(self) -> str:
        return str(self.server.make_url("/slack/events"))

    async def settle(self) -> None:
        """Wait until the work every acknowledged request started is finished."""
        await self.server.app[DEPS].tasks.join()

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
    **settings: Any,
) -> AsyncIterator[Bridge]:
    slack = SlackSimulator()
    slack.add_channel(CHANNEL, "general", member=True)
    slack.add_user(USER, "alice", real_name="Alice Example", display_name="Alice")
    async with slack.serve():
        config = Settings(
            slack_bot_token=slack.tokens[0],
            slack_signing_secret=slack.signing_secret,
            slack_api_url=slack.api_url,
            ringcentral_server_url=rc.server_url,
            ringcentral_media_url=rc.media_url,
            ringcentral_client_id=rc.client_id,
            ringcentral_client_secret=rc.client_secret,
            ringcentral_jwt=rc.jwt,
            **settings,
        )
        app = create_app(config, bridge_config or BridgeConfig(), clock=clock)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield Bridge(server, rc, slack, clock)
        finally:
            await server.close()

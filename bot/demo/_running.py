"""The demo's world: both simulators and the real server on loopback in this process.

Both sides run over sockets the server opens, as a bridge with no public address does
(DESIGN §3.11): the server has SLACK_APP_TOKEN and no signing secret, opens its WebSocket
to the Slack simulator, and the typed commands reach it as envelopes on it; it has no
PUBLIC_URL, so it takes RingCentral's events over the RingCentral simulator's WebSocket
gateway, subscribing there as it would at RingCentral. Its dispatcher runs in the
background on the real clock, exactly as `serve` runs it; its HTTP listener serves only
/healthz and /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import BridgeConfig, CommandsConfig, RingCentralConfig, Route, Settings
from bot.server import DEPS, create_app
from bot.sim import RingCentralSimulator, SlackSimulator

from ._digest import ShiftedClock, account_zone, with_digest

CHANNEL = "C0GENERAL"  # where the typed slash commands come from
CALLS = "C0CALLS"
TEXTS = "C0TEXTS"
CHANNELS = {CALLS: "calls", TEXTS: "texts"}
USER = "U0DEMO"
SUBSCRIBE_WITHIN = 20.0  # seconds for the server's RingCentral WebSocket to be subscribed
CONNECT_WITHIN = 10.0  # seconds for the server's Socket Mode connection to Slack

# Reminders on a shortened clock (a team would say "15m"): the replay shows one.
REMIND_AFTER = 8.0
ROUTES = [
    Route.model_validate(
        {
            "events": ["missed_call", "answered_call", "call", "voicemail", "fax"],
            "channel": CALLS,
            "remind_after": f"{REMIND_AFTER:.0f}s",
        }
    ),
    Route(events=["sms", "internal_message"], channel=TEXTS),
]


class DemoError(RuntimeError):
    """The demo could not get going (said in one line, never a traceback)."""


@dataclass
class Demo:
    rc: RingCentralSimulator
    slack: SlackSimulator
    app: web.Application
    url: str
    clock: ShiftedClock  # the bridge's: the demo fast-forwards it (`skip`)

    async def command(self, line: str) -> list[dict[str, Any]]:
        """Send one typed slash command over the bridge's Socket Mode connection; return
        what the bridge answered the person (in the ack, then at the response_url)."""
        name, _, text = line.strip().partition(" ")
        delivery = await self.slack.send_command(
            self.slack.socket_mode_url, name, text, user_id=USER, channel_id=CHANNEL
        )
        await self.app[DEPS].tasks.join()
        if delivery.status != 200:
            return [{"text": "(the bridge did not acknowledge it within Slack's 3 s)"}]
        replies = [dict(p.body) for p in self.slack.responses(delivery.response_url)]
        if delivery.body:
            replies.insert(0, delivery.json())
        return replies


def quiet_logs() -> None:
    """A clean transcript: the bridge speaks up only when something is wrong."""
    for name in ("bot", "aiohttp", "slack_bolt", "slack_sdk", "httpx", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def running_demo(workdir: Path) -> AsyncIterator[Demo]:
    rc = RingCentralSimulator(seed=7)
    slack = SlackSimulator()
    slack.add_channel(CHANNEL, "general", member=True)
    for channel_id, name in CHANNELS.items():
        slack.add_channel(channel_id, name, member=True)
    slack.add_user(USER, "you", real_name="Demo User", display_name="You")
    async with rc.serve(), slack.serve():
        sms_from = rc.world.numbers_with_feature(rc.extension_id, "SmsSender")[0]
        port = _free_port()  # /healthz and /metrics only: nothing needs to reach the bridge
        url = f"http://127.0.0.1:{port}"
        settings = Settings(
            slack_bot_token=slack.tokens[0],
            slack_app_token=slack.app_token,  # Socket Mode: no signing secret, no Request URL
            slack_api_url=slack.api_url,
            ringcentral_server_url=rc.server_url,
            ringcentral_media_url=rc.media_url,
            ringcentral_client_id=rc.client_id,
            ringcentral_client_secret=rc.client_secret,
            ringcentral_jwt=rc.jwt,
            database_url=f"sqlite:///{workdir / 'demo.db'}",
            _env_file=None,  # the demo ignores a local .env
        )
        clock = ShiftedClock()
        routes, _ = with_digest(ROUTES, account_zone(rc), clock.now())
        bridge = BridgeConfig(
            routes=routes,
            ringcentral=RingCentralConfig(extensions=_watched(rc)),
            commands=CommandsConfig(sms_from=sms_from, ringout_from=sms_from),
        )
        app = create_app(settings, bridge, clock=clock, background=True)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await _subscribed(url)
            try:
                await slack.socket.wait_connections(1, within=CONNECT_WITHIN)
            except TimeoutError:
                raise DemoError("the bridge opened no Socket Mode connection to Slack") from None
            yield Demo(rc, slack, app, url, clock)
        finally:
            await runner.cleanup()


def _watched(rc: RingCentralSimulator) -> list[str]:
    """The service user and the account's other users: with more than one extension
    watched, the bridge subscribes to the account's telephony sessions and so sees every
    leg of a call, and judges a call over as soon as it ends (DESIGN §3.7)."""
    numbers: list[str] = []
    for ext_id in [rc.extension_id, *rc.world.extension_ids()]:
        info = rc.world.extension_info(ext_id)
        number = str(info.get("extensionNumber"))
        if info.get("type") == "User" and number not in numbers:
            numbers.append(number)
    return numbers


async def _subscribed(url: str) -> None:
    """Wait until the server connected RingCentral's WebSocket and subscribed on it: its
    /healthz says connected."""
    deadline = time.monotonic() + SUBSCRIBE_WITHIN
    status: object = None
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{url}/healthz") as answer:
                status = (await answer.json()).get("websocket")
            if status == "connected":
                return
            await asyncio.sleep(0.05)
    raise DemoError(f"the bridge did not connect RingCentral's WebSocket (status: {status})")

"""`python -m bot check`'s lines for the admin channel and RingCentral's WebSocket (DESIGN
§3.4, §3.10, §3.11), as an admin runs it in process beside both simulators: the admin
channel is checked as a routed channel is (the bot must be able to post there); without
PUBLIC_URL a WebSocket test connection is made, the app's WebSocket permission checked,
and the running bridge's connection read from the database."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.config import BridgeConfig, Route
from bot.sim import RingCentralSimulator
from tests.bridge import listening, running_bridge
from tests.cli import Cli, a_minute_later
from tests.integration.test_cli_check import CALLS, ROUTES, TEXTS, bad_lines
from tests.integration.test_cli_check import cli as cli  # the fixtures
from tests.integration.test_cli_check import slack as slack
from tests.integration.test_cli_subscriptions import public_url as public_url


async def test_the_admin_channel_is_checked_like_a_routed_one(cli: Cli) -> None:
    good = await cli("check", BRIDGE_CONFIG=ROUTES + f'\n[admin]\nchannel = "{CALLS}"\n')
    bad = await cli("check", BRIDGE_CONFIG=ROUTES + '\n[admin]\nchannel = "C0NOPE"\n')

    assert good.code == 0, good.out
    assert f"✔ channel {CALLS} (routes[1])" in good.out  # one line for one channel
    assert "admin channel C0CALLS" in good.out
    assert bad.code == 1
    assert [line.split(":")[0] for line in bad_lines(bad)] == ["✘ channel C0NOPE ([admin] channel)"]


async def test_without_public_url_a_websocket_connection_is_tested_and_the_bridge_s_read(
    cli: Cli, rc_sim: RingCentralSimulator, engine: AsyncEngine
) -> None:
    alone = await cli("check", PUBLIC_URL="")

    assert alone.code == 1
    assert "✔ RingCentral WebSocket: a test connection was made" in alone.out
    assert "webhook subscription" not in alone.out
    assert [line.split(":")[0] for line in bad_lines(alone)] == [
        "✘ RingCentral WebSocket of the bridge"
    ]

    # With the bridge running (and holding the WebSocket), everything passes.
    url = cli.env["DATABASE_URL"]
    config = BridgeConfig(
        routes=[
            Route(events=["missed_call", "voicemail"], channel=CALLS),
            Route(events=["sms"], channel=TEXTS),
        ]
    )
    async with (
        running_bridge(
            rc_sim, FakeClock(time.time()), config, public_url=None, database_url=url
        ) as bridge,
        listening(bridge),
    ):
        await a_minute_later(engine)  # after two commands and the bridge's log-in
        running = await cli("check", PUBLIC_URL="")
    assert running.code == 0, running.out
    assert "✔ RingCentral WebSocket of the bridge: connected" in running.out


async def test_without_the_websocket_permission_both_lines_say_so(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.remove_app_permissions("WebSocket")

    run = await cli("check", PUBLIC_URL="")

    assert run.code == 1
    lines = bad_lines(run)
    assert lines[0].startswith(
        "✘ RingCentral app permission WebSocket: missing: every notification (RingCentral's "
        "WebSocket, without PUBLIC_URL) are off."
    )
    assert lines[1].startswith("✘ RingCentral WebSocket: RingCentral refused a WebSocket token")
    assert "WebSocketsSubscription" in lines[1]

"""The Bolt app as the server builds it: a quiet start, the App Home tab, and replies through
the shared Slack session."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.server import DEPS
from bot.sim.ringcentral import RingCentralSimulator
from tests.bridge import CHANNEL, USER, Bridge, running_bridge
from tests.conftest import fresh_database


async def test_no_bolt_warning_at_start_with_slack_bot_token_in_the_environment(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bolt reads SLACK_BOT_TOKEN even when given a client, and warned on every start."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    caplog.set_level(logging.DEBUG)
    async with running_bridge(rc_sim, clock, database_url=await fresh_database(tmp_path)) as bridge:
        reply = await bridge.command("/ringcentral", "help")
        assert reply.status == 200
    assert "token` will be unused" not in caplog.text
    assert "will be unused" not in caplog.text


async def test_app_home_shows_the_commands(bridge: Bridge) -> None:
    await bridge.slack.send_event(
        bridge.events_url,
        {"type": "app_home_opened", "user": USER, "channel": "D0ALICE", "tab": "home"},
    )
    await bridge.settle()

    view = bridge.slack.home_view(USER)
    assert view is not None and view["type"] == "home"
    assert view["blocks"][0]["text"]["text"] == "RingBridge"
    assert any(b.get("text", {}).get("text") == "RingBridge commands" for b in view["blocks"])
    shown = " ".join(str(block.get("text")) for block in view["blocks"])
    for command in ("/sms", "/call", "/calllog", "/ringcentral"):
        assert f"*{command}*" in shown


async def test_command_replies_go_through_the_shared_slack_session(bridge: Bridge) -> None:
    sent: list[str] = []

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        sent.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        bridge.server.app[DEPS].session = session
        delivery = await bridge.command("/calllog", "7d", channel_id=CHANNEL)
        assert not session.closed  # the reply borrowed it; its owner closes it

    assert bridge.replies(delivery)
    assert sent == [delivery.response_url]

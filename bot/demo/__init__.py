"""`python -m bot demo`: the bridge against the built-in simulators, no accounts needed.

Both simulators and the real server run on loopback in this process; slash commands typed
at the prompt go to the server signed as Slack signs them, and what the bridge answers is
printed in terminal form. The product imports `bot.sim` only here.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from bot.config import BridgeConfig, CommandsConfig, Route, Settings
from bot.server import DEPS, create_app
from bot.sim.ringcentral import RingCentralSimulator
from bot.sim.slack import SlackSimulator

CHANNEL = "C0DEMO"
USER = "U0DEMO"
PROMPT = "slack> "


@dataclass
class Demo:
    rc: RingCentralSimulator
    slack: SlackSimulator
    app: web.Application
    url: str

    async def command(self, line: str) -> list[dict[str, Any]]:
        """Send one typed slash command; return what the bridge answered the person."""
        name, _, text = line.strip().partition(" ")
        delivery = await self.slack.send_command(
            f"{self.url}/slack/events", name, text, user_id=USER, channel_id=CHANNEL
        )
        await self.app[DEPS].tasks.join()
        if delivery.status != 200:
            return [{"text": f"(the bridge answered HTTP {delivery.status})"}]
        replies = [dict(p.body) for p in self.slack.responses(delivery.response_url)]
        if delivery.body.strip():
            replies.insert(0, {"text": delivery.body})
        return replies


@asynccontextmanager
async def running_demo(workdir: Path) -> AsyncIterator[Demo]:
    rc = RingCentralSimulator(seed=7)
    slack = SlackSimulator()
    slack.add_channel(CHANNEL, "phones", member=True)
    slack.add_user(USER, "you", real_name="Demo User", display_name="You")
    async with rc.serve(), slack.serve():
        sms_from = rc.world.numbers_with_feature(rc.extension_id, "SmsSender")[0]
        settings = Settings(
            slack_bot_token=slack.tokens[0],
            slack_signing_secret=slack.signing_secret,
            slack_api_url=slack.api_url,
            ringcentral_server_url=rc.server_url,
            ringcentral_media_url=rc.media_url,
            ringcentral_client_id=rc.client_id,
            ringcentral_client_secret=rc.client_secret,
            ringcentral_jwt=rc.jwt,
            database_url=f"sqlite:///{workdir / 'demo.db'}",
            _env_file=None,  # the demo ignores a local .env
        )
        bridge = BridgeConfig(
            routes=[Route(events=["missed_call", "voicemail", "fax", "sms"], channel=CHANNEL)],
            commands=CommandsConfig(sms_from=sms_from, ringout_from=sms_from),
        )
        app = create_app(settings, bridge)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Demo(rc, slack, app, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()


def terminal(message: dict[str, Any]) -> str:
    """A Slack message as a person would read it, in plain terminal text."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind in ("section", "header") and block.get("text"):
            lines.append(_plain(block["text"]["text"]))
        elif kind == "context":
            lines.append("  " + " · ".join(_plain(e.get("text", "")) for e in block["elements"]))
        elif kind == "actions":
            lines.append("  " + " ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        elif kind == "divider":
            lines.append("  ───")
    if not lines:
        lines.append(_plain(str(message.get("text", ""))))
    return "\n".join(lines)


_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")


def _plain(mrkdwn: str) -> str:
    text = _DATE.sub(r"\1", mrkdwn)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


HELP = """RingBridge demo: RingCentral and Slack are simulated on this machine.
Type slash commands as you would in Slack, for example:
  /sms +1 415 555 0123 Running 10 min late
  /sms list
  /calllog 7d 5
  /call +1 415 555 0123
  /ringcentral help
End with Ctrl-D."""


async def run(stdin: TextIO = sys.stdin, out: Callable[[str], None] = print) -> int:
    with tempfile.TemporaryDirectory(prefix="ringbridge-demo-") as workdir:
        async with running_demo(Path(workdir)) as demo:
            out(HELP)
            interactive = stdin.isatty()
            loop = asyncio.get_running_loop()
            while True:
                if interactive:
                    out(PROMPT)
                line = await loop.run_in_executor(None, stdin.readline)
                if not line:
                    break
                if not line.strip().startswith("/"):
                    continue
                if not interactive:
                    out(PROMPT + line.rstrip())
                for reply in await demo.command(line):
                    out(terminal(reply))
                    out("")
    return 0

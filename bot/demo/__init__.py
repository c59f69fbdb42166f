"""`python -m bot demo`: the bridge against the built-in simulators, no accounts needed.

Both simulators and the real server run on loopback in this process. The server needs no
inbound connection: it takes RingCentral's events over the RingCentral simulator's
WebSocket (no PUBLIC_URL) and Slack's traffic over Socket Mode (its own WebSocket to the
Slack simulator, no Request URL); the demo replays one event of each kind through that
account and prints what the bridge posted in each Slack channel, then moves the bridge's
clock on to the channels' daily digest and prints it. Then slash commands typed at the
prompt reach the server as Socket Mode envelopes, as Slack sends them, and what the
bridge answers is printed in terminal form. The product imports `bot.sim` only here.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ._digest import show_digest
from ._replay import replay
from ._running import Demo, DemoError, quiet_logs, running_demo
from ._terminal import terminal

__all__ = ["Demo", "DemoError", "run", "running_demo", "terminal"]

PROMPT = "slack> "

HELP = """Now type slash commands as you would in Slack, for example:
  /sms +1 415 555 0123 Running 10 min late
  /sms list
  /calllog 7d 5
  /call +1 415 555 0123
  /ringcentral help
End with Ctrl-D."""

BANNER = """RingBridge demo: RingCentral and Slack are simulated on this machine; the bridge between
them is the real one. RingCentral's events reach it over RingCentral's WebSocket, and Slack
reaches it over Socket Mode: connections the bridge opens, no public address needed.
Slack channels: #calls (calls, voicemail, fax) and #texts (SMS, MMS, internal messages).
"""


async def run(stdin: TextIO = sys.stdin, out: Callable[[str], None] = print) -> int:
    quiet_logs()
    out(BANNER)
    with tempfile.TemporaryDirectory(prefix="ringbridge-demo-") as workdir:
        try:
            async with running_demo(Path(workdir)) as demo:
                await replay(demo, out)
                await show_digest(demo, out)
                await _prompt(demo, stdin, out)
        except DemoError as exc:
            out(f"ringbridge demo: {exc}")
            return 1
    return 0


async def _prompt(demo: Demo, stdin: TextIO, out: Callable[[str], None]) -> None:
    """Slash commands from standard input until it ends."""
    out(HELP)
    interactive = stdin.isatty()
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            out(PROMPT)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            return
        if not line.strip().startswith("/"):
            continue
        if not interactive:
            out(PROMPT + line.rstrip())
        for reply in await demo.command(line):
            out(terminal(reply))
            out("")

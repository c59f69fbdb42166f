"""`demo`: the bridge against the built-in simulators, no accounts needed."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run the bridge against built-in simulators (no accounts needed)",
        description="Start simulated RingCentral and Slack and the bridge between them; "
        "type slash commands at the prompt.",
    )
    parser.set_defaults(run=run)


async def run(_args: argparse.Namespace) -> int:
    from bot import demo  # the simulators load only for the demo

    return await demo.run()

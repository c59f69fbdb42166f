"""`python -m bot …` (also the `ringbridge` console script).

Exit codes (DESIGN §3.7): 0 success, 1 RingCentral or Slack refused (its code and message
printed), 2 bad usage or configuration (one line naming the problem, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.cli import (
    api,
    catchup,
    check,
    db,
    deadletters,
    demo,
    manifest,
    people,
    serve,
    subscriptions,
)
from bot.cli._common import EXIT_USAGE
from bot.config import ConfigError
from bot.logs import configure as configure_logging

__all__ = ["main", "main_async"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ringbridge", description="RingCentral phone traffic in Slack."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    demo.add_parser(commands)
    api.add_parser(commands)
    subscriptions.add_parser(commands)
    catchup.add_parser(commands)
    check.add_parser(commands)
    deadletters.add_parser(commands)
    people.add_parser(commands)
    manifest.add_parser(commands)
    db.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The process's entry point: logging, an event loop, Ctrl-C."""
    # One-shot commands print their own one-line outcome; the log only speaks up for
    # what went wrong unexpectedly. `serve` switches to LOG_LEVEL.
    configure_logging(logging.ERROR)
    try:
        return asyncio.run(main_async(argv))
    except KeyboardInterrupt:
        return 130


async def main_async(argv: Sequence[str] | None = None) -> int:
    """Run one command in the running event loop (tests call this beside their simulators);
    the exit status. Usage and configuration errors are one line on stderr, status 2."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage or the help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = await args.run(args)
    except ConfigError as exc:
        print(f"ringbridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return code

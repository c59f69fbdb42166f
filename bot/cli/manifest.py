"""`manifest --url https://host`: the Slack app manifest for a server at that URL."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli._common import EXIT_OK
from bot.config import ConfigError
from bot.slack.manifest import render_manifest, render_socket_manifest


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "manifest",
        help="print the Slack app manifest",
        description="Print the Slack app manifest (YAML) to paste into "
        "api.slack.com/apps → Create New App → From a manifest.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--url", help="the server's public base URL, e.g. https://bridge.example.com"
    )
    where.add_argument("--socket", action="store_true", help="the Socket Mode manifest instead")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if args.socket:
        print(render_socket_manifest(), end="")
        return EXIT_OK
    try:
        print(render_manifest(args.url), end="")
    except ValueError as exc:
        raise ConfigError(f"--url: {exc}") from None
    return EXIT_OK

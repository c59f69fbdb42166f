"""`people list` (DESIGN §3.4, §3.9): which Slack person is which extension, and how —
by email, by `[people] links` — and who is linked to no one and why (an email several
extensions share, a guest). Read from RingCentral and Slack as they are now."""

from __future__ import annotations

import argparse
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import server
from bot.bridge.people import resolve_links
from bot.cli._common import EXIT_OK, EXIT_REFUSED
from bot.config import load_bridge_config, load_settings
from bot.ringcentral import RingCentralError

__all__ = ["add_parser"]

_HOW = {
    "email": "by email",
    "config": "[people] links",
    "conflict": "CONFLICT",
    "unmatched": "not linked",
}


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "people",
        help="Slack people linked to RingCentral extensions, and how",
        description="Slack people linked to RingCentral extensions (by email or bridge.toml "
        "[people] links), and why the others are not.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="every enabled user extension and its person")
    listing.set_defaults(run=run_list)


async def run_list(args: argparse.Namespace) -> int:
    del args
    settings = load_settings()
    bridge = load_bridge_config(settings.bridge_config)
    try:
        async with server.ringcentral(settings) as rc, server.slack(settings) as slack:
            found = await resolve_links(rc, slack, bridge.people)
    except RingCentralError as exc:
        print(f"RingCentral refused: {exc}")
        return EXIT_REFUSED
    except SlackApiError as exc:
        print(f"Slack refused: {exc.response.get('error')}")
        return EXIT_REFUSED
    rows = [
        (
            f"ext. {link.extension_number or '?'}",
            link.name or "",
            link.slack_user or "-",
            _HOW.get(link.how, link.how),
            link.detail or link.email or "",
        )
        for link in found.links
    ]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    for row in rows:
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        # Names and emails come from outside: no terminal control characters.
        print("".join(ch if ch.isprintable() else "?" for ch in line))
    linked = sum(1 for link in found.links if link.linked)
    conflicts = len(found.conflicts)
    print(f"\n{linked} linked, {conflicts} conflict{'s' if conflicts != 1 else ''}.")
    if found.problem:
        print(f"Not linked by email: {found.problem}.")
    return EXIT_OK

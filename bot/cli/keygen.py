"""`keygen`: a new RINGBRIDGE_SECRET_KEY (DESIGN §3.4), the key that seals personal
RingCentral sessions at rest. To rotate, put the new key first and keep the old one after
it (comma-separated) until every stored session has been refreshed with the new one."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli._common import EXIT_OK


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "keygen",
        help="print a new RINGBRIDGE_SECRET_KEY",
        description="Print a new key for RINGBRIDGE_SECRET_KEY (Fernet), which encrypts "
        "personal RingCentral sessions in the database. To rotate keys, set "
        "RINGBRIDGE_SECRET_KEY=<new>,<old>: the first encrypts, all of them decrypt.",
    )
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    del args
    # Here, not at the top: every command imports this module (`serve` too, which without
    # RINGBRIDGE_SECRET_KEY never needs `cryptography`; see bot.store.connections.Sealer).
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))
    return EXIT_OK

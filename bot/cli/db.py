"""`db upgrade`: apply the schema migrations (Heroku: the Procfile's `release:` line)."""

from __future__ import annotations

import argparse
from typing import Any

from bot import server
from bot.cli._common import EXIT_OK
from bot.config import load_settings
from bot.store.migrate import current_revision, head_revision, upgrade


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "db", help="database schema", description="Manage the database schema."
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="apply the migrations up to this version's schema")
    parser.set_defaults(run=run)


async def run(_args: argparse.Namespace) -> int:
    async with server.database(load_settings()) as engine:
        before = await current_revision(engine)
        await upgrade(engine)
        after = await current_revision(engine)
    if before == after:
        print(f"the database schema is up to date ({after})")
    else:
        print(f"upgraded the database schema from {before or 'nothing'} to {after}")
    assert after == head_revision()
    return EXIT_OK

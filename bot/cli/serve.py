"""`serve`: the server (Procfile `web: python -m bot serve`).

SIGTERM (or SIGINT) stops it gracefully within `EXIT_WITHIN` seconds (RELIABILITY R17):
no new connection is accepted, in-flight requests get `REQUEST_GRACE` seconds to finish,
the dispatcher takes no new rows and releases the ones it holds, background work gets
what is left of `bot.server.SHUTDOWN_GRACE`, and the process exits 0. Should the cleanup
still not be done by `EXIT_WITHIN`, it is abandoned (claimed rows are leased: another
process takes them when the lease runs out) and the process exits all the same.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from aiohttp import web

from bot.cli._common import EXIT_OK
from bot.config import load_bridge_config, load_settings
from bot.logs import configure as configure_logging
from bot.server import check_settings, create_app, database

log = logging.getLogger("bot.serve")

REQUEST_GRACE = 3.0  # seconds for in-flight HTTP requests once stopping
EXIT_WITHIN = 9.0  # seconds from the signal to the end of the cleanup, at the latest


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the server", description="Run the RingBridge server."
    )
    parser.set_defaults(run=run)


async def run(_args: argparse.Namespace) -> int:
    settings = load_settings()
    # Every setting first: a missing token must not leave a new database file behind.
    check_settings(settings)
    bridge = load_bridge_config(settings.bridge_config)
    configure_logging(settings.log_level)
    async with database(settings, schema="ensure"):
        pass  # SQLite upgraded, PostgreSQL checked: a problem is one line, before we listen
    app = create_app(settings, bridge)
    if not bridge.routes and not settings.default_channel:
        log.warning(
            "no [[routes]] in bridge.toml and no DEFAULT_CHANNEL: serving slash commands only"
        )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=REQUEST_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.warning("RingBridge listening on http://%s:%d", settings.host, settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.warning("stopping")
    try:
        await asyncio.wait_for(runner.cleanup(), timeout=EXIT_WITHIN)
    except TimeoutError:
        log.error("shutdown took over %.0f s: exiting without finishing it", EXIT_WITHIN)
    log.warning("stopped")
    return EXIT_OK

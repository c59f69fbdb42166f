"""`serve`: the server (Procfile `web: python -m bot serve`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.cli._common import EXIT_OK
from bot.config import ConfigError, load_bridge_config, load_settings
from bot.server import create_app
from bot.store import connect
from bot.store.migrate import SchemaOutOfDate, ensure_schema

log = logging.getLogger("bot.serve")


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the server", description="Run the RingBridge server."
    )
    parser.set_defaults(run=run)


async def run(_args: argparse.Namespace) -> int:
    settings = load_settings()
    bridge = load_bridge_config(settings.bridge_config)
    logging.getLogger().setLevel(settings.log_level)
    engine = connect(settings.sqlalchemy_url)
    try:
        await ensure_schema(engine)
    except SchemaOutOfDate as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None
    except (OSError, SQLAlchemyError) as exc:
        raise ConfigError(f"DATABASE_URL: cannot open the database: {type(exc).__name__}") from None
    finally:
        await engine.dispose()
    app = create_app(settings, bridge)
    if not bridge.routes and not settings.default_channel:
        log.warning(
            "no [[routes]] in bridge.toml and no DEFAULT_CHANNEL: serving slash commands only"
        )
    runner = web.AppRunner(app, access_log=None)
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
    await runner.cleanup()
    return EXIT_OK

"""`check`: a checklist of the deployment, one line each with ✔ or ✘ and what to do
(DESIGN §3.4, §3.10, §3.11): the configuration, the database, RingCentral (sign-in, the
app's and the user's permissions, texting numbers and their registration, the webhook
subscription, or over the WebSocket a test connection and the bridge's own) and Slack
(sign-in, scopes, every routed channel and the admin channel).

Exit 0 when everything needed works, 1 otherwise, 2 only when the configuration cannot be
read at all. Never a traceback: a check that fails unexpectedly is one ✘ line naming the
error's type (its text could quote what it should not).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import server
from bot.bridge.checklist import (
    Checklist,
    Deployment,
    Finding,
    WebSocketHolder,
    check_people,
    check_ringcentral,
    check_slack,
    check_subscription,
    check_websocket,
)
from bot.bridge.subscriptions import webhook_address
from bot.cli._common import EXIT_OK, EXIT_REFUSED
from bot.config import ConfigError, Settings, load_bridge_config, load_settings
from bot.ringcentral import RingCentralClient
from bot.store import SubscriptionStore
from bot.store.migrate import SchemaOutOfDate
from bot.store.ws_sessions import WsSessionStore

__all__ = ["add_parser", "run"]

log = logging.getLogger("bot.cli.check")
T = TypeVar("T")

_RINGCENTRAL = ("ringcentral_client_id", "ringcentral_client_secret", "ringcentral_jwt")
_SLACK = ("slack_bot_token", "slack_signing_secret")
# Terminal control characters (escape sequences included) in text from outside.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="check the configuration, RingCentral and Slack: one line each, what to do",
        description="Check what the bridge needs, one line each with what to do: the "
        "configuration, the database, the RingCentral sign-in and permissions, the texting "
        "numbers, the Slack token's scopes, every routed channel and the webhook "
        "subscription. Exit status 0 when everything needed works, 1 otherwise.",
    )
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    del args
    settings = load_settings()  # unreadable: ConfigError, exit 2
    try:
        events = settings.events
    except ConfigError:
        events = None  # webhook without PUBLIC_URL: said by the subscription's line
    deployment = Deployment(
        bridge=load_bridge_config(settings.bridge_config),
        default_channel=settings.default_channel,
        webhook_address=webhook_address(settings.public_url),
        events=events,
    )
    out = Checklist(report=_printer())
    _configuration(settings, deployment, out)
    async with contextlib.AsyncExitStack() as stack:
        engine = await _guarded(out, "database", _database(settings, stack, out))
        if _has(settings, _RINGCENTRAL):
            await _guarded(out, "RingCentral", _ringcentral(settings, engine, deployment, out))
        if _has(settings, ("slack_bot_token",)):
            await _guarded(out, "Slack", _slack(settings, deployment, out))
    bad = sum(1 for finding in out.findings if not finding.ok)
    if bad:
        print(f"\n{bad} of {len(out.findings)} checks need attention.")
        return EXIT_REFUSED
    print(f"\nAll {len(out.findings)} checks pass.")
    return EXIT_OK


def _configuration(settings: Settings, deployment: Deployment, out: Checklist) -> None:
    # Over Socket Mode (SLACK_APP_TOKEN) Slack sends nothing to verify: no signing secret.
    slack = ("slack_bot_token",) if settings.socket_mode else _SLACK
    for name in (*slack, *_RINGCENTRAL):
        try:
            settings.require(name)
        except ConfigError as err:
            out.bad(name.upper(), str(err).removeprefix(f"{name.upper()} "))
    routes = len(deployment.bridge.routes)
    if not deployment.notifications:
        out.ok("configuration", "no routes and no DEFAULT_CHANNEL: slash commands only")
        return
    parts = [f"{routes} route{'s' if routes != 1 else ''}"]
    if deployment.default_channel:
        parts.append(f"DEFAULT_CHANNEL {deployment.default_channel}")
    if deployment.websocket:
        parts.append("events over RingCentral's WebSocket")
    else:
        parts.append(f"webhook {deployment.webhook_address or 'not set (PUBLIC_URL)'}")
    if deployment.bridge.admin.channel:
        parts.append(f"admin channel {deployment.bridge.admin.channel}")
    out.ok("configuration", "; ".join(parts))


async def _database(
    settings: Settings, stack: contextlib.AsyncExitStack, out: Checklist
) -> AsyncEngine | None:
    try:
        url = settings.sqlalchemy_url
        engine = await stack.enter_async_context(server.database(settings, schema="require"))
    except SchemaOutOfDate as err:
        if url.startswith("sqlite"):
            out.ok("database", "none yet, or an older one: `serve` makes or upgrades it")
        else:
            out.bad("database", str(err))
        return None
    except ConfigError as err:
        out.bad("database", str(err).removeprefix("DATABASE_URL: "))
        return None
    out.ok("database", f"{engine.dialect.name}, at this version's schema")
    return engine


async def _ringcentral(
    settings: Settings, engine: AsyncEngine | None, deployment: Deployment, out: Checklist
) -> None:
    shared = engine is not None and await server.holds_session(settings, engine)
    async with server.ringcentral(settings, engine=engine) as rc:
        signed_in = await check_ringcentral(rc, deployment, out, shared=shared)
        if signed_in is not None and deployment.websocket:
            holder = await _holder(settings, engine)
            async with server.websocket_session() as session:
                await check_websocket(rc, session, holder, deployment, out)
        elif signed_in is not None:
            store = SubscriptionStore(engine) if engine is not None else None
            await check_subscription(rc, store, deployment, signed_in.watch, out)
        # Who is whom needs both services: on this RingCentral session (one session).
        if signed_in is not None and _has(settings, ("slack_bot_token",)):
            await _guarded(out, "people", _people(settings, rc, deployment, out))


async def _holder(settings: Settings, engine: AsyncEngine | None) -> WebSocketHolder | None:
    if engine is None:
        return None
    record = await WsSessionStore(engine, server.service_identity(settings)).load()
    if record is None:
        return None
    return WebSocketHolder(record.state, record.seen_at, datetime.now(UTC))


async def _slack(settings: Settings, deployment: Deployment, out: Checklist) -> None:
    async with server.slack(settings) as slack:
        await check_slack(slack, deployment, out)


async def _people(
    settings: Settings, rc: RingCentralClient, deployment: Deployment, out: Checklist
) -> None:
    async with server.slack(settings) as slack:
        await check_people(rc, slack, deployment, out)


def _has(settings: Settings, names: tuple[str, ...]) -> bool:
    return all(getattr(settings, name) not in (None, "") for name in names)


async def _guarded(out: Checklist, part: str, step: Awaitable[T]) -> T | None:
    try:
        return await step
    except Exception as exc:  # one ✘ line, never a traceback
        log.debug("check of %s failed", part, exc_info=True)
        out.bad(part, f"could not be checked ({type(exc).__name__})")
        return None


def _printer() -> Callable[[Finding], None]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✔✘".encode(encoding)
        marks = {True: "✔", False: "✘"}
    except (UnicodeEncodeError, LookupError):
        marks = {True: "+", False: "x"}

    def report(finding: Finding) -> None:
        line = _CONTROL.sub("?", f"{marks[finding.ok]} {finding.subject}: {finding.detail}")
        print(line.encode(encoding, "replace").decode(encoding), flush=True)

    return report

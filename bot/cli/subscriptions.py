"""`subscriptions list | sync | delete ID`: the bridge's RingCentral webhook subscriptions
(DESIGN §3.4, §3.7) — RingCentral's view, the manager run once, or one removed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from bot import server
from bot.bridge.subscriptions import SubscriptionManager, event_filters, webhook_address
from bot.bridge.watch import resolve_watch
from bot.cli._common import EXIT_OK, EXIT_REFUSED
from bot.cli.api import describe
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_bridge_config, load_settings
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError
from bot.ringcentral.models.subscriptions import SubscriptionInfo
from bot.store import SubscriptionStore
from bot.store.migrate import SchemaOutOfDate
from bot.store.subscriptions import PENDING
from bot.store.ws_sessions import WsSessionStore


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "subscriptions",
        help="list, sync or delete the RingCentral webhook subscriptions",
        description="The RingCentral webhook subscriptions of the bridge's user and app.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "list", help="each subscription's id, status, expiry and filters; ours are marked"
    ).set_defaults(run=run_list)
    actions.add_parser(
        "sync",
        help="make sure this server has exactly one active subscription (needs PUBLIC_URL)",
    ).set_defaults(run=run_sync)
    delete = actions.add_parser("delete", help="delete a subscription at RingCentral")
    delete.add_argument("id", metavar="ID", help="the subscription id, as `list` shows it")
    delete.set_defaults(run=run_delete)


@dataclass
class _Context:
    rc: RingCentralClient
    store: SubscriptionStore


@asynccontextmanager
async def _context(settings: Settings) -> AsyncIterator[_Context]:
    """For a command that writes: the verification token lives in the database, shared
    with every running server, whose schema is checked as `serve` checks it."""
    async with (
        server.database(settings, schema="ensure") as engine,
        server.ringcentral(settings, engine=engine) as rc,
    ):
        yield _Context(rc, SubscriptionStore(engine))


def _refused(exc: RingCentralError) -> int:
    print(f"error: {describe(exc)}", file=sys.stderr)
    return EXIT_REFUSED


async def run_list(args: argparse.Namespace) -> int:
    """Reads only: it never migrates the schema (a shared PostgreSQL's is `db upgrade`'s
    to change). Without this version's schema, RingCentral's list is shown unmarked."""
    del args
    settings = load_settings()
    async with server.ringcentral(settings) as rc:
        try:
            listing = await rc.subscriptions.list()
        except RingCentralError as exc:
            return _refused(exc)
    try:
        async with server.database(settings, schema="require") as engine:
            ours = {record.id for record in await SubscriptionStore(engine).all()}
            session = await WsSessionStore(engine, server.service_identity(settings)).load()
            websocket = {session.subscription_id} if session and session.subscription_id else set()
    except SchemaOutOfDate as exc:
        ours, websocket = set(), set()
        print(f"ringbridge: {exc} (until then no subscription is marked [ours])", file=sys.stderr)
    if not listing.records:
        print("no subscriptions")
    for sub in listing.records:
        print_subscription(sub, ours=sub.id in ours | websocket)
    at_rc = {sub.id for sub in listing.records}
    for missing in sorted(i for i in ours - at_rc if not i.startswith(PENDING)):
        print(f"{missing}  in the database only: RingCentral no longer has it (sync forgets it)")
    return EXIT_OK


def print_subscription(sub: SubscriptionInfo, *, ours: bool) -> None:
    expires = (
        sub.expiration_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if sub.expiration_time
        else "unknown"
    )
    mark = "  [ours]" if ours else ""
    print(f"{sub.id}  {sub.status}  expires {expires}{mark}")
    if sub.delivery_mode.transport_type == "WebSocket":
        # DESIGN §3.11: made over a WebSocket, it lives (and is renewed) with its session.
        print("  address: its WebSocket connection (it lives as long as that session)")
    else:
        print(f"  address: {sub.delivery_mode.address or sub.delivery_mode.transport_type}")
    if sub.blacklisted_data is not None and sub.blacklisted_data.reason:
        print(f"  blacklisted: {sub.blacklisted_data.reason}")
    for event_filter in sub.event_filters:
        print(f"  filter: {event_filter}")
    for disabled in sub.disabled_filters:
        why = " ".join(p for p in (disabled.reason, disabled.message) if p)
        print(f"  disabled: {disabled.filter}" + (f" ({why})" if why else ""))


async def run_sync(args: argparse.Namespace) -> int:
    del args
    settings = load_settings()
    address = webhook_address(settings.public_url)
    if address is None:
        raise ConfigError(
            "PUBLIC_URL is not set: the webhook address is PUBLIC_URL + /ringcentral/webhook"
        )
    bridge = load_bridge_config(settings.bridge_config)
    async with _context(settings) as ctx:
        try:
            watch = await resolve_watch(bridge, ctx.rc, default_channel=settings.default_channel)
            manager = SubscriptionManager(
                ctx.rc,
                ctx.store,
                address=address,
                filters=event_filters(watch.kinds, watch.extension_ids, watch.senders),
                clock=SystemClock(),
            )
            lines = await manager.sync(progress=print)
        except RingCentralError as exc:
            return _refused(exc)
    if not lines:
        print("nothing to do")
    return EXIT_OK


async def run_delete(args: argparse.Namespace) -> int:
    subscription_id: str = args.id
    async with _context(load_settings()) as ctx:
        ours = await ctx.store.get(subscription_id) is not None
        try:
            await ctx.rc.subscriptions.delete(subscription_id)
        except RingCentralError as exc:
            if ours and isinstance(exc, ApiError) and exc.status == 404:
                await ctx.store.delete(subscription_id)
                print(f"forgot subscription {subscription_id} in the database")
            return _refused(exc)
        await ctx.store.delete(subscription_id)
    where = " and its verification token in the database" if ours else ""
    print(f"deleted subscription {subscription_id} at RingCentral{where}")
    return EXIT_OK

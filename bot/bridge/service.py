"""The notification side assembled: watch → subscription (webhook) or listener (WebSocket)
→ inbox → dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import BridgeConfig, ConfigError, RingCentralEvents
from bot.observe import Metrics
from bot.ringcentral import AccountFacts, RingCentralClient, RingCentralError
from bot.slack.personal import PersonalAccounts
from bot.store import AuditLog, Posts, SubscriptionStore
from bot.store.deadletters import DeadLetters
from bot.store.outbound import OutboundLog
from bot.store.replies import ThreadReplies
from bot.store.ws_sessions import WsSessionStore

from .admin import AdminDesk
from .auto_reply import AutoReplies
from .catchup import Catchup
from .digest import Digests
from .dispatcher import Dispatcher
from .followups import Transcripts, Updater, Uploader
from .inbox import Inbox
from .ingest import Ingest
from .listener import LEAD_RETRY, WebSocketListener
from .mms import MmsFiles
from .names import Names
from .people import PeopleLinker
from .poster import Poster
from .receipts import Receipts
from .reminders import Reminders, channel_rules, reminders_needed
from .replies import MayText, NoReceipts, ReplyReceipts, ReplySender, everyone_may_text
from .retention import Retention
from .routing import Router, with_business_hours
from .subscriptions import Leadership, SubscriptionManager, event_filters
from .watch import Watch, resolve_watch

log = logging.getLogger("bot.bridge")

SUBSCRIPTION_CHECK_INTERVAL = 15 * 60.0  # RingCentral may blacklist quietly: look often


@dataclass
class Notifications:
    watch: Watch
    dispatcher: Dispatcher
    subscriptions: SubscriptionManager
    catchup: Catchup
    listener: WebSocketListener | None = None  # websocket mode (DESIGN §3.11)
    retention: Retention | None = None  # run by the admin desk's loop (bot.bridge.admin)

    async def run(self, stop: asyncio.Event) -> None:
        """The dispatcher and, in the leading process, catch-up and the subscription upkeep
        (webhook) or the WebSocket, until `stop`; the dispatcher then finishes or releases
        what it holds."""
        tasks = [asyncio.create_task(self.dispatcher.run(stop), name="dispatcher")]
        # Without a subscription to keep, catch-up takes the lead itself (DESIGN §3.10).
        lead = self.listener is not None or not self.subscriptions.address
        tasks.append(asyncio.create_task(self.catchup.run(stop, lead=lead), name="catchup"))
        if self.listener is not None:
            tasks.append(asyncio.create_task(self.listener.run(stop), name="websocket"))
        elif self.subscriptions.address:
            tasks.append(
                asyncio.create_task(
                    self.subscriptions.run(stop, SUBSCRIPTION_CHECK_INTERVAL), name="subscriptions"
                )
            )
        else:
            log.warning(
                "PUBLIC_URL is not set: no webhook subscription, so no notifications arrive "
                "(set it to this server's public https address)"
            )
        await asyncio.gather(*tasks)


def _reminders(
    router: Router,
    zone: ZoneInfo,
    engine: AsyncEngine,
    slack: AsyncWebClient,
    clock: Clock,
    facts: AccountFacts,
) -> Reminders | None:
    """Reminders (DESIGN §3.12) where a route has `remind_after`."""
    rules = channel_rules(router.routes)
    if not rules:
        return None
    return Reminders(
        engine, slack, clock, rules, zone, region=facts.region, timezone=facts.timezone
    )


def enabled(bridge: BridgeConfig, default_channel: str | None) -> bool:
    return bool(bridge.routes or default_channel)


async def build(
    *,
    bridge: BridgeConfig,
    default_channel: str | None,
    address: str | None,
    engine: AsyncEngine,
    rc: RingCentralClient,
    slack: AsyncWebClient,
    facts: AccountFacts,
    clock: Clock,
    metrics: Metrics,
    events: RingCentralEvents = "webhook",
    websocket: aiohttp.ClientSession | None = None,
    session_key: str = "default",
    socket_clock: Clock | None = None,
    admin: AdminDesk | None = None,
    people: PeopleLinker | None = None,
    may_text: MayText = everyone_may_text,
    receipts: ReplyReceipts | None = None,
    accounts: PersonalAccounts | None = None,
) -> Notifications:
    """Everything the notifications need; raises ConfigError for a config RingCentral or
    Slack contradicts (an unknown extension, a `#channel` that does not exist).

    `address`: where RingCentral delivers events (`webhook_address(PUBLIC_URL)`), or None.
    `events="websocket"`: they come over the WebSocket instead, through `websocket` (the
    session for RingCentral's gateway), the session kept under `session_key` (the service
    identity), catch-up asked for after each reconnect; `socket_clock` times the
    connection (heartbeats, reconnects): the gateway's timers are real ones. `admin`: the
    admin channel, told what catch-up recovered and how the subscription fares.

    `slack` must retry nothing by itself: the dispatcher's retries go through the database
    with backoff and Retry-After (DESIGN §3.7, "Slack retries have one owner").

    `people`: who is linked to which extension, for `dm = "owner"` routes; their
    extensions are watched as the links stand now (a restart watches new ones).

    Thread replies (DESIGN §3.8): `may_text` says whether a person may text from a
    conversation's number on the shared session (`[permissions] sms`), `receipts` hear of
    each send (before it, and RingCentral's answer). `accounts`: connected people's own
    sessions (DESIGN §3.9), which text their replies from their numbers and read the
    status of the texts they sent."""
    owned: dict[str, str] = {}
    if people is not None and any(route.dm == "owner" for route in bridge.routes):
        owned = await _owned_extensions(people)
    watch = await resolve_watch(bridge, rc, default_channel=default_channel, owned=owned)
    routes = await with_business_hours(bridge.routes, rc)
    # The zone read apart from `facts`, whose cache stays as it was: a notice posts only
    # once RingCentral answers (what the admin channel's sign-in message promises).
    zone = await AccountFacts(rc.account, clock).timezone()
    router = Router(
        routes,
        default_channel,
        watch.extension_numbers,
        zone,
        owner_dm=people.dm_channel if people is not None else None,
        on_unowned=lambda notice: metrics.dm_unowned(notice.kind),
    )
    if router.named_channels:
        router = router.resolve(await _channel_ids(slack, router.named_channels))
    ingest = Ingest(rc, watch.watched, router, Names(rc, clock), outbound=OutboundLog(engine))
    auto_replies = None
    if any(route.auto_reply for route in routes):
        auto_replies = AutoReplies(
            engine, rc, slack, clock, facts, ingest.names, OutboundLog(engine),
            problem=admin.problem if admin is not None else None,
            resolved=admin.resolved if admin is not None else None,
        )  # fmt: skip
    dispatcher = Dispatcher(
        engine=engine,
        ingest=ingest,
        poster=Poster(engine, slack, clock, metrics, region=facts.region, timezone=facts.timezone),
        uploader=Uploader(engine, slack, rc, clock),
        transcripts=Transcripts(engine, rc, clock),
        updater=Updater(engine, slack, clock, region=facts.region, timezone=facts.timezone),
        clock=clock,
        replies=ReplySender(
            replies=ThreadReplies(engine),
            posts=Posts(engine),
            audit=AuditLog(engine),
            slack=slack,
            rc=rc,
            facts=facts,
            router=router,
            clock=clock,
            mms=MmsFiles(slack),
            may_text=may_text,
            receipts=receipts or NoReceipts(),
            accounts=accounts,
        ),
        receipts=Receipts(
            engine,
            rc,
            slack,
            clock,
            region=facts.region,
            timezone=facts.timezone,
            client_of=accounts.client_of if accounts is not None else None,
        ),
        reminders=_reminders(router, zone, engine, slack, clock, facts),
        auto_replies=auto_replies,
        digests=Digests(engine, slack, clock, router.routes, zone),
    )
    filters = event_filters(watch.kinds, watch.extension_ids, watch.senders)
    # One process maintains the subscription (or holds the WebSocket) and catches up
    # (PostgreSQL advisory lock; SQLite: this one). Over the WebSocket it is asked for
    # more often: another process takes over within 30 s (DESIGN §3.11).
    websocket_mode = events == "websocket" and bool(filters)
    leadership = Leadership(engine, retry=LEAD_RETRY) if websocket_mode else Leadership(engine)
    catchup = Catchup(
        engine=engine,
        rc=rc,
        ingest=ingest,
        watch=watch,
        clock=clock,
        leadership=leadership,
        on_posted=dispatcher.wake,
        on_report=admin.catchup_report if admin is not None else None,
    )
    ingest.on_message_change = catchup.note_message_change
    manager = SubscriptionManager(
        rc,
        SubscriptionStore(engine),
        address=address,
        filters=filters,
        clock=clock,
        leadership=leadership,
        on_change=catchup.trigger,
        reporter=admin,
    )
    listener = None
    if websocket_mode:
        if websocket is None:
            raise ValueError("websocket mode needs the session for RingCentral's gateway")

        async def catch_up(gap: bool) -> None:
            # After every reconnect one pass; after a gap, a second one later as well.
            if gap:
                catchup.trigger("the WebSocket lost events (recovery failed or overflowed)")
            else:
                catchup.trigger("the WebSocket reconnected", second_pass=False)

        listener = WebSocketListener(
            rc=rc,
            session=websocket,
            inbox=Inbox(engine, clock),
            store=WsSessionStore(engine, session_key),
            leadership=leadership,
            filters=filters,
            clock=socket_clock or clock,
            metrics=metrics,
            catch_up=catch_up,
            remove_webhooks=manager.remove_webhooks,
            on_stored=dispatcher.delivered,
            on_subscribed=manager.report_disabled,
        )
    retention = Retention(
        DeadLetters(engine), clock, bridge.retention.days, leadership,
        reminders_needed=reminders_needed(routes),
    )  # fmt: skip
    return Notifications(watch, dispatcher, manager, catchup, listener, retention)


async def _owned_extensions(people: PeopleLinker) -> dict[str, str]:
    """The linked people's extensions (id -> number), linking them first when nobody has
    yet. Slack or RingCentral failing here must not keep notifications from starting:
    the DM routes then reach the people the next refresh links (`PeopleLinker.run`)."""
    try:
        links = await people.load()
        if not links:
            links = (await people.refresh()).links
    except Exception:
        log.exception("cannot link people to extensions yet: DM routes wait for the next try")
        return {}
    return {x.extension_id: x.extension_number or "" for x in links if x.linked}


async def run_when_ready(
    build: Callable[[], Awaitable[Notifications]],
    stop: asyncio.Event,
    on_ready: Callable[[Notifications], None],
) -> None:
    """Build the notification side once RingCentral answers (retrying with backoff), hand
    it to `on_ready`, and run it until `stop`. Deliveries are stored by the receiver
    meanwhile, and dispatched when this starts. A ConfigError turns notifications off."""
    delay = 5.0
    while not stop.is_set():
        try:
            built = await build()
        except ConfigError as exc:
            log.critical("notifications are off: %s", exc)
            return
        except RingCentralError as exc:
            log.error("cannot start notifications yet (%s); retrying in %.0f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 300.0)
            continue
        on_ready(built)
        built.dispatcher.wake()  # deliveries stored before we were ready
        await built.run(stop)
        return


async def _channel_ids(slack: AsyncWebClient, names: set[str]) -> dict[str, str]:
    """`#name` → channel id, once at start (DESIGN §3.2)."""
    wanted = {name.removeprefix("#"): name for name in names}
    found: dict[str, str] = {}
    cursor: str | None = None
    try:
        for _ in range(50):  # 50 pages of 1000 channels is beyond any workspace we serve
            page = await slack.conversations_list(
                types="public_channel,private_channel", limit=1000, cursor=cursor,
                exclude_archived=True,
            )  # fmt: skip
            for channel in page.get("channels") or []:
                if channel.get("name") in wanted:
                    found[wanted[channel["name"]]] = str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as exc:
        raise ConfigError(f"bridge.toml: cannot look up channel names in Slack: {exc}") from None
    missing = sorted(names - found.keys())
    if missing:
        raise ConfigError(
            f"bridge.toml: no Slack channel named {', '.join(missing)} (or the bot cannot see "
            "it: invite it, or use the channel ID)"
        )
    return found

"""The notification side assembled: watch → subscription → receiver → dispatcher."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import BridgeConfig, ConfigError, Settings
from bot.metrics import Metrics
from bot.ringcentral import AccountFacts, RingCentralClient
from bot.store import SubscriptionStore

from .dispatcher import Dispatcher
from .followups import Transcripts, Uploader
from .ingest import Ingest
from .names import Names
from .poster import Poster
from .routing import Router
from .subscriptions import Leadership, SubscriptionManager, event_filters, webhook_address
from .watch import Watch, resolve_watch

log = logging.getLogger("bot.bridge")

SUBSCRIPTION_CHECK_INTERVAL = 15 * 60.0  # RingCentral may blacklist quietly: look often


@dataclass
class Notifications:
    watch: Watch
    dispatcher: Dispatcher
    subscriptions: SubscriptionManager

    async def run(self, stop: asyncio.Event) -> None:
        """The dispatcher and the subscription upkeep (in the leading process), until
        `stop`; the dispatcher then finishes or releases what it holds."""
        tasks = [asyncio.create_task(self.dispatcher.run(stop), name="dispatcher")]
        if self.subscriptions.address:
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


def enabled(bridge: BridgeConfig, settings: Settings) -> bool:
    return bool(bridge.routes or settings.default_channel)


async def build(
    *,
    settings: Settings,
    bridge: BridgeConfig,
    engine: AsyncEngine,
    rc: RingCentralClient,
    facts: AccountFacts,
    clock: Clock,
    metrics: Metrics,
) -> Notifications:
    """Everything the notifications need; raises ConfigError for a config RingCentral or
    Slack contradicts (an unknown extension, a `#channel` that does not exist)."""
    watch = await resolve_watch(bridge, settings, rc)
    # The dispatcher's Slack client retries nothing by itself: its retries go through the
    # database with backoff and Retry-After (DESIGN §3.7, "Slack retries have one owner").
    # Its one handler only counts calls for /metrics and never retries.
    slack = AsyncWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        retry_handlers=[metrics.slack_calls],
        timeout=10,  # well inside a claim's lease (bot.bridge.poster.LEASE)
    )
    router = Router(bridge.routes, settings.default_channel, watch.extension_numbers)
    if router.named_channels:
        router = router.resolve(await _channel_ids(slack, router.named_channels))
    ingest = Ingest(rc, watch.watched, router, Names(rc, clock))
    dispatcher = Dispatcher(
        engine=engine,
        ingest=ingest,
        poster=Poster(engine, slack, clock, metrics, region=facts.region, timezone=facts.timezone),
        uploader=Uploader(engine, slack, rc, clock),
        transcripts=Transcripts(
            engine, slack, rc, clock, region=facts.region, timezone=facts.timezone
        ),
        clock=clock,
    )
    address = webhook_address(settings.public_url)
    manager = SubscriptionManager(
        rc,
        SubscriptionStore(engine),
        address=address,
        filters=event_filters(watch.kinds, watch.extension_ids),
        clock=clock,
        # One process maintains the subscription (PostgreSQL advisory lock; SQLite: this one).
        leadership=Leadership(engine),
    )
    return Notifications(watch, dispatcher, manager)


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

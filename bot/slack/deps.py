"""What the Slack listeners need, built once by the server and passed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.config import CommandsConfig
from bot.ringcentral import AccountFacts, RingCentralClient
from bot.slack.permissions import Permissions
from bot.slack.render import Locale
from bot.store import AuditLog, Links, Posts
from bot.store.outbound import OutboundLog
from bot.tasks import Tasks


class People:
    """Slack display names by user id, for `<@U…>` in text bound for a phone (cached)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    async def names(self, client: AsyncWebClient, user_ids: Iterable[str]) -> dict[str, str]:
        missing = [u for u in set(user_ids) if u not in self._names]
        found = await asyncio.gather(*(self._lookup(client, u) for u in missing))
        self._names.update({u: n for u, n in zip(missing, found, strict=True) if n})
        return {u: self._names[u] for u in user_ids if u in self._names}

    @staticmethod
    async def _lookup(client: AsyncWebClient, user_id: str) -> str | None:
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError:
            return None  # the mention then keeps the label Slack sent, or the id
        profile = (response.get("user") or {}).get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name")
        return str(name) if name else None


@dataclass
class SlackDeps:
    rc: RingCentralClient
    facts: AccountFacts
    audit: AuditLog
    commands: CommandsConfig
    clock: Clock
    tasks: Tasks
    posts: Posts
    links: Links  # who is whom (DESIGN §3.9): /call rings a linked person's own phone
    permissions: Permissions  # `[permissions]`: the one check before the shared session
    people: People = field(default_factory=People)
    # The texts sent, followed to their end (receipts, DESIGN §3.8); None: not followed.
    outbound: OutboundLog | None = None
    cancelled_ringouts: set[str] = field(default_factory=set)
    ringout_poll_interval: float = 2.0
    ringout_give_up_after: float = 120.0
    queued_notice_after: float = 3.0  # say "queued, sending in N s" past this wait
    # The shared Slack session (the server's): replies through a response_url use its
    # connection pool. None: slack_sdk opens a connection per reply.
    session: aiohttp.ClientSession | None = None

    async def now(self) -> datetime:
        """Now in the account's time zone: what `today` and `yesterday` mean."""
        return datetime.fromtimestamp(self.clock.now(), await self.facts.timezone())

    async def locale(self) -> Locale:
        """The account's country (how numbers read) and time zone (time fallbacks)."""
        return Locale(await self.facts.region(), await self.facts.timezone())

"""What the bridge keeps asking about its own account, cached: the service user's
extension, its numbers, the home country and time zone.

RingCentral economy (DESIGN §6): these change rarely, so they cost one request an hour,
not one per command. A refresh that fails (RingCentral down, its sign-in refused) keeps
the facts last read, and asks again a minute later: every notification is rendered with
them, and one that cannot be rendered would count a failed attempt against it (RingCentral
out for a minute at the hour would make dead letters of notifications Slack could take).
Only facts never read yet raise.
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..clock import Clock
from ._errors import RingCentralError
from .models import ExtensionInfo, PhoneNumber
from .resources import Account

log = logging.getLogger("bot.ringcentral.facts")

STALE_RETRY = 60.0  # seconds between tries while a refresh fails and the last facts serve


class AccountFacts:
    def __init__(self, account: Account, clock: Clock, *, ttl: float = 3600.0) -> None:
        self._account = account
        self._clock = clock
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._fetched_at: float | None = None
        self._extension: ExtensionInfo | None = None
        self._numbers: tuple[PhoneNumber, ...] = ()

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self._ttl:
                return
            try:
                extension = await self._account.extension()
                listing = await self._account.phone_numbers(per_page=100)
            except RingCentralError as exc:
                if self._extension is None:
                    raise
                log.warning(
                    "account facts not refreshed (%s); the last ones serve, asked again in %.0f s",
                    type(exc).__name__, STALE_RETRY,
                )  # fmt: skip
                self._fetched_at = now - self._ttl + STALE_RETRY
                return
            self._extension, self._numbers = extension, tuple(listing.records)
            self._fetched_at = now

    async def extension(self) -> ExtensionInfo:
        await self._refresh()
        assert self._extension is not None  # set by _refresh or it raised
        return self._extension

    async def region(self) -> str:
        """ISO country code that national-form numbers are read in (default US)."""
        return (await self.extension()).home_country_iso or "US"

    async def timezone(self) -> ZoneInfo:
        settings = (await self.extension()).regional_settings
        name = settings.timezone.name if settings and settings.timezone else None
        try:
            return ZoneInfo(name) if name else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    async def numbers(self) -> tuple[PhoneNumber, ...]:
        await self._refresh()
        return self._numbers

    async def numbers_with(self, feature: str) -> tuple[PhoneNumber, ...]:
        return tuple(n for n in await self.numbers() if n.has_feature(feature))

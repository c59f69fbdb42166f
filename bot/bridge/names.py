"""Caller names: from the event when RingCentral sent one, else the company directory (one
listing an hour) or the service user's contacts (one lookup per unknown number a day).

RingCentral economy (DESIGN §6): at most about one request per notification on average;
a name is nice to have, so a failed lookup is logged and the notice goes out without it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from bot.clock import Clock
from bot.notices import Notice, Party
from bot.ringcentral import RateLimited, RingCentralClient, RingCentralError, without_waiting

log = logging.getLogger("bot.bridge.names")

DIRECTORY_TTL = 3600.0
CONTACT_TTL = 86400.0


class Names:
    def __init__(self, rc: RingCentralClient, clock: Clock) -> None:
        self._rc = rc
        self._clock = clock
        self._directory: dict[str, str] = {}
        self._company: frozenset[str] = frozenset()  # every number the directory lists
        self._directory_at = float("-inf")
        self._contacts: dict[str, tuple[float, str | None]] = {}

    def known(self, number: str) -> tuple[bool, str | None]:
        """(whether `number`'s name is known without asking RingCentral, that name)."""
        now = self._clock.monotonic()
        if now - self._directory_at >= DIRECTORY_TTL:
            return False, None  # the directory is to be read first
        if number in self._directory:
            return True, self._directory[number]
        cached = self._contacts.get(number)
        if cached is not None and now - cached[0] < CONTACT_TTL:
            return True, cached[1]
        return False, None

    def enrich_known(self, notice: Notice) -> tuple[Notice, str | None]:
        """`enrich` without asking RingCentral (inside a transaction): the notice with the
        name when it is known, and the number to look up when it is not."""
        field = "caller" if hasattr(notice, "caller") else "sender"
        who: Party = getattr(notice, field)
        if who.name or not who.number:
            return notice, None
        known, name = self.known(who.number)
        if not known:
            return notice, who.number
        if name is None:
            return notice, None
        return dataclasses.replace(notice, **{field: dataclasses.replace(who, name=name)}), None  # type: ignore[arg-type]

    async def look_up(self, numbers: Iterable[str]) -> None:
        """Ask for these numbers' names now (outside any transaction), so that
        `enrich_known` finds them."""
        for number in numbers:
            await self.name(number)

    async def name(self, number: str) -> str | None:
        directory = await self._company_directory()
        if number in directory:
            return directory[number]
        now = self._clock.monotonic()
        cached = self._contacts.get(number)
        if cached is not None and now - cached[0] < CONTACT_TTL:
            return cached[1]
        try:
            # The address book is in RingCentral's Heavy group (10 a minute): a burst of
            # new callers must not hold every notification for a name, so it is asked
            # only while a slot is free (taken at once: side-by-side lookups, or a call
            # log read, cannot take it between a look at the pace and the request).
            with without_waiting():
                found = await self._rc.account.contacts(phone_number=number, per_page=1)
        except RateLimited as exc:
            if exc.sent:
                log.info("contact lookup failed: %s", type(exc).__name__)
            else:
                log.info("contact lookup skipped: RingCentral's pace says wait")
            return None
        except RingCentralError as exc:
            log.info("contact lookup failed: %s", type(exc).__name__)
            return None
        name = None
        if found.records:
            contact = found.records[0]
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
            name = name or contact.company
        self._contacts[number] = (now, name)
        return name

    async def _company_directory(self) -> dict[str, str]:
        now = self._clock.monotonic()
        if now - self._directory_at < DIRECTORY_TTL:
            return self._directory
        self._directory_at = now  # a failure waits for the next hour too
        try:
            listing = await self._rc.account.directory_entries(per_page=2000)
        except RingCentralError as exc:
            log.info("directory listing failed: %s", type(exc).__name__)
            return self._directory
        directory: dict[str, str] = {}
        company: set[str] = set()
        for entry in listing.records:
            name = entry.name or " ".join(p for p in (entry.first_name, entry.last_name) if p)
            for phone in entry.phone_numbers:
                number = phone.e164 or phone.phone_number
                if number:
                    company.add(number)
                if name and number:
                    directory[number] = name
        self._directory, self._company = directory, frozenset(company)
        return directory

    async def company_numbers(self) -> frozenset[str]:
        """Every number the company directory lists (the account's own), read as names
        are (one listing an hour)."""
        await self._company_directory()
        return self._company

    async def enrich(self, notice: Notice) -> Notice:
        """The notice with the caller's or sender's name filled in when it was missing."""
        field = "caller" if hasattr(notice, "caller") else "sender"
        who: Party = getattr(notice, field)
        if who.name or not who.number:
            return notice
        name = await self.name(who.number)
        if name is None:
            return notice
        return dataclasses.replace(notice, **{field: dataclasses.replace(who, name=name)})  # type: ignore[arg-type]

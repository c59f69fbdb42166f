"""Who is whom (DESIGN §3.9): RingCentral extensions linked to Slack people by email, with
`[people] links` overriding, kept in `user_links`, refreshed daily and when RingCentral's
directory changes (looked at every `RELOAD_EVERY`; Slack-side changes wait for the day).

An extension of type User, status Enabled, whose contact email equals (ignoring case) the
profile email of exactly one Slack member who is a full member of this workspace (not a
bot, deactivated, a guest or of another organisation) is that person. An email that
several extensions share links none of them: guessing would let one person act as
another. Every extension looked at gets a row, with why it is not linked when it is not,
so `people list` and `check` can show conflicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge._people import e164
from bot.clock import Clock
from bot.config import PeopleConfig
from bot.ringcentral import RingCentralClient
from bot.ringcentral.models import DirectoryEntry
from bot.store import Link, Links

log = logging.getLogger("bot.bridge.people")

REFRESH_EVERY = timedelta(hours=24)
# Seconds between looks at the stored links (another process's refresh reaches this one's
# DM routes) and at RingCentral's directory (a change there refreshes the links).
RELOAD_EVERY = 300.0
_MAX_DIRECTORY_PAGES = 20


@dataclass(frozen=True, slots=True)
class LinkRefresh:
    links: list[Link]
    problem: str | None = None  # why email links could not be made at all (a scope)

    @property
    def conflicts(self) -> list[Link]:
        return [link for link in self.links if link.how == "conflict"]


class PeopleLinker:
    """Makes the links (`refresh`) and keeps the ones DM routes need in memory (`owner`)."""

    def __init__(
        self,
        rc: RingCentralClient,
        slack: AsyncWebClient,
        links: Links,
        config: PeopleConfig,
        clock: Clock,
        *,
        open_dms: bool = False,
    ) -> None:
        self._rc, self._slack, self._links, self._config = rc, slack, links, config
        self._clock, self._open_dms = clock, open_dms
        self._owners: dict[str, Link] = {}

    # -- reading -------------------------------------------------------------------------

    def owner(self, extension_id: str | None) -> Link | None:
        """The person linked to this extension (as of the last load), or None."""
        return self._owners.get(extension_id or "")

    def dm_channel(self, extension_id: str | None) -> str | None:
        """The DM with the person linked to this extension (DM routes), or None."""
        owner = self.owner(extension_id)
        return owner.dm_channel if owner is not None else None

    async def load(self) -> list[Link]:
        links = await self._links.all()
        self._owners = {link.extension_id: link for link in links if link.linked}
        return links

    # -- refreshing ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh when the stored links are older than a day (or absent), then daily;
        in between, reload what another process stored. A failed refresh is retried at
        the next reload; the old links stay meanwhile."""
        while not stop.is_set():
            try:
                at = await self._links.refreshed_at()
                now = datetime.fromtimestamp(self._clock.now(), UTC)
                if at is None or now - at >= REFRESH_EVERY or await self.directory_changed():
                    await self.refresh()
                else:
                    await self.load()
            except Exception:  # a worker step ends in a retry, never a stall
                log.exception("linking Slack people to extensions failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RELOAD_EVERY)

    async def directory_changed(self) -> bool:
        """Whether RingCentral's directory differs from what the stored links were made of
        (an extension added, enabled, disabled, its email or direct number changed): one
        directory read, no Slack call."""
        stored = {(x.extension_id, x.email, x.direct_number) for x in await self._links.all()}
        now = {
            (x.extension_id, x.email, x.direct_number)
            for x in map(_as_read, await _directory_users(self._rc))
        }
        return stored != now

    async def refresh(self) -> LinkRefresh:
        """Read RingCentral's directory and Slack's members, store the links."""
        found = await self.resolve()
        await self._links.replace(found.links, datetime.fromtimestamp(self._clock.now(), UTC))
        await self.load()
        if found.problem:
            log.warning("people are not linked by email: %s", found.problem)
        for link in found.conflicts:
            log.warning("ext. %s is linked to no one: %s", link.extension_number, link.detail)
        return found

    async def resolve(self) -> LinkRefresh:
        """The links as RingCentral and Slack say now (nothing stored)."""
        return await resolve_links(self._rc, self._slack, self._config, open_dms=self._open_dms)


async def resolve_links(
    rc: RingCentralClient,
    slack: AsyncWebClient,
    config: PeopleConfig,
    *,
    open_dms: bool = False,
) -> LinkRefresh:
    """The links as RingCentral and Slack say now (nothing stored): `people list`, `check`
    and each refresh. `open_dms`: each linked person's DM with the bot is opened (DM
    routes post there)."""
    team = _Team()
    users = await _directory_users(rc)
    problem: str | None = None
    links: dict[str, Link] = {}
    by_email: dict[str, list[DirectoryEntry]] = defaultdict(list)
    unmatched = "no Slack member has this email" if config.link_by_email else "not by email"
    for entry in users:
        links[entry.id] = _unmatched(entry, unmatched)
        if entry.email:
            by_email[entry.email.strip().casefold()].append(entry)
        else:
            links[entry.id] = _unmatched(entry, "no contact email")
    if config.link_by_email:
        for email, entries in by_email.items():
            if len(entries) > 1:
                numbers = ", ".join(sorted(e.extension_number or e.id for e in entries))
                for entry in entries:
                    links[entry.id] = replace(
                        _unmatched(entry, f"email {email} is shared by ext. {numbers}"),
                        how="conflict",
                    )
                continue
            try:
                member = await _member_by_email(slack, email)
            except _NoEmailScope as exc:
                problem = str(exc)
                break
            if member is None:
                continue
            (entry,) = entries
            refusal = await _not_linkable(slack, member, team)
            if refusal:
                links[entry.id] = replace(
                    _unmatched(entry, f"the Slack member {refusal}"),
                    how="conflict",
                    slack_user=None,
                )
            else:
                links[entry.id] = replace(
                    _unmatched(entry, None), slack_user=str(member["id"]), how="email"
                )
    else:
        problem = "[people] link_by_email is off"
    _apply_overrides(links, users, config.links)
    if open_dms:
        for extension_id, link in list(links.items()):
            if link.linked:
                links[extension_id] = replace(link, dm_channel=await _dm(slack, link))
    return LinkRefresh(sorted(links.values(), key=_order), problem)


async def _directory_users(rc: RingCentralClient) -> list[DirectoryEntry]:
    entries: list[DirectoryEntry] = []
    for page in range(1, _MAX_DIRECTORY_PAGES + 1):
        listing = await rc.account.directory_entries(type="User", page=page, per_page=1000)
        entries += listing.records
        paging = listing.paging
        if paging is None or not paging.total_pages or page >= paging.total_pages:
            break
    return [e for e in entries if e.type == "User" and e.status == "Enabled"]


async def _member_by_email(slack: AsyncWebClient, email: str) -> Mapping[str, Any] | None:
    try:
        response = await slack.users_lookupByEmail(email=email)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "users_not_found":
            return None
        if error == "missing_scope":
            raise _NoEmailScope(
                "the Slack token lacks users:read.email (reinstall the Slack app)"
            ) from None
        raise
    user = response.get("user")
    return user if isinstance(user, Mapping) else None


async def _not_linkable(
    slack: AsyncWebClient, member: Mapping[str, Any], team: _Team
) -> str | None:
    """Why this member may not be linked, or None for a full member of this workspace."""
    if member.get("is_bot") or member.get("is_app_user"):
        return f"{member.get('id')} is a bot"
    if member.get("deleted"):
        return f"{member.get('id')} is deactivated"
    if member.get("is_restricted") or member.get("is_ultra_restricted"):
        return f"{member.get('id')} is a guest"
    if member.get("team_id") != await team.id(slack):
        return f"{member.get('id')} is of another organisation"
    return None


async def _dm(slack: AsyncWebClient, link: Link) -> str | None:
    try:
        opened = await slack.conversations_open(users=link.slack_user)
    except SlackApiError as exc:
        log.warning("cannot open a DM with %s: %s", link.slack_user, exc.response.get("error"))
        return None
    channel = opened.get("channel") or {}
    return str(channel.get("id")) if channel.get("id") else None


class _Team:
    """This workspace's team id (`auth.test`), asked once per resolution."""

    def __init__(self) -> None:
        self._id: str | None = None

    async def id(self, slack: AsyncWebClient) -> str:
        if self._id is None:
            self._id = str((await slack.auth_test()).get("team_id") or "")
        return self._id


class _NoEmailScope(Exception):
    pass


def _unmatched(entry: DirectoryEntry, detail: str | None) -> Link:
    direct = next(
        (p.phone_number for p in entry.phone_numbers if p.usage_type == "DirectNumber"), None
    )
    return Link(
        extension_id=entry.id,
        extension_number=entry.extension_number,
        name=entry.display_name,
        email=entry.email,
        direct_number=e164(direct),
        slack_user=None,
        how="unmatched",
        detail=detail,
    )


def _as_read(entry: DirectoryEntry) -> Link:
    return _unmatched(entry, None)


def _apply_overrides(
    links: dict[str, Link], users: list[DirectoryEntry], overrides: Mapping[str, str]
) -> None:
    """`[people] links`: this person is this extension ("" none), whatever emails say;
    an extension given to someone here is nobody else's."""
    by_number = {e.extension_number: e for e in users if e.extension_number}
    for slack_user, number in overrides.items():
        for extension_id, link in list(links.items()):
            if link.slack_user == slack_user:
                links[extension_id] = replace(
                    link,
                    slack_user=None,
                    how="unmatched",
                    detail=f"[people] links: {number or 'none'}",
                )
        if not number:
            continue
        entry = by_number.get(number)
        if entry is None:
            log.warning("[people] links: no enabled user extension %s (for %s)", number, slack_user)
            continue
        links[entry.id] = replace(
            _unmatched(entry, "[people] links"), slack_user=slack_user, how="config"
        )


def _order(link: Link) -> tuple[int, str]:
    number = link.extension_number or ""
    return (int(number) if number.isdigit() else 1 << 30, number)


def link_problems(refresh: LinkRefresh) -> list[str]:
    """Sentences for `check` and the logs: what keeps someone from being linked."""
    lines = [refresh.problem] if refresh.problem else []
    lines += [f"ext. {link.extension_number}: {link.detail}" for link in refresh.conflicts]
    return lines

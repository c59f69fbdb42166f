"""`[permissions]` (DESIGN §3.2, §3.9): who may use the shared RingCentral session for what.

An entry matches when it is `"*"` and the person is a full member of this workspace (not a
guest, a bot, deactivated, or of another organisation), names the person (`U…`), one of
their user groups (`S…` or `@handle`), or the channel where they act (`C…` or `#name`: the
channel typed in, or the message's channel for buttons and thread replies). A refusal is
one sentence naming the rule, said before any RingCentral call.

`Permissions.refusal` is the one check the rest of the code calls (commands, buttons,
thread replies). What it learns from Slack (a person's membership, the user groups) is
cached briefly: a change in Slack applies within `CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.config import PermissionsConfig
from bot.slack.payloads import ChannelRef, SlashCommand

__all__ = ["CACHE_SECONDS", "ChannelRef", "Permissions", "Rule"]

log = logging.getLogger("bot.slack.permissions")

Rule = Literal["sms", "call", "company_calllog"]
CACHE_SECONDS = 300.0

_WHAT = {
    "sms": "text from the shared RingCentral numbers",
    "call": "place calls through the shared RingCentral account",
    "company_calllog": "read other extensions' calls",
}


class Permissions:
    def __init__(self, config: PermissionsConfig, client: AsyncWebClient, clock: Clock) -> None:
        self.config, self._client, self._clock = config, client, clock
        self._members: dict[str, tuple[float, str | None]] = {}  # user -> (at, why not full)
        self._groups: tuple[float, dict[str, set[str]]] | None = None  # id/@handle -> users
        self._team_id: str | None = None
        self._lock = asyncio.Lock()

    def entries(self, rule: Rule) -> list[str]:
        return list(getattr(self.config, rule))

    async def command_refusal(self, rule: Rule, command: SlashCommand) -> str | None:
        """`refusal` for a slash command; its `help` (or nothing typed) needs no permission."""
        words = command.text.split()
        if not words or words[0].lower() == "help":
            return None
        return await self.refusal(rule, command.user_id, command.channel_ref)

    async def refusal(self, rule: Rule, user_id: str, channel: ChannelRef | None) -> str | None:
        """None when `user_id` may do `rule` in `channel`; else the sentence to show."""
        entries = self.entries(rule)
        if user_id in entries:
            return None
        if channel is not None and channel.id and channel.id in entries:
            return None
        if channel is not None and channel.name and f"#{channel.name}" in entries:
            return None
        if "*" in entries:
            why_not = await self._not_full_member(user_id)
            if why_not is None:
                return None
        else:
            why_not = None
        groups = [e for e in entries if e.startswith(("S", "@"))]
        if groups and await self._in_groups(user_id, groups):
            return None
        listed = ", ".join(f"`{e}`" for e in entries) or "nobody"
        sentence = (
            f"You may not {_WHAT[rule]} here: `[permissions] {rule}` in bridge.toml allows {listed}"
        )
        if why_not:
            sentence += f' ("*" is full members of this workspace, and {why_not})'
        return sentence + ". Ask your RingBridge admin."

    async def _not_full_member(self, user_id: str) -> str | None:
        now = self._clock.now()
        cached = self._members.get(user_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            info = (await self._client.users_info(user=user_id)).get("user") or {}
            why = _why_not_full(info, await self._our_team())
        except SlackApiError as exc:
            log.warning("users.info for a permission check: %s", exc.response.get("error"))
            return "Slack did not say who you are"  # not cached: asked again next time
        self._members[user_id] = (now, why)
        return why

    async def _our_team(self) -> str:
        if self._team_id is None:
            self._team_id = str((await self._client.auth_test()).get("team_id") or "")
        return self._team_id

    async def _in_groups(self, user_id: str, entries: list[str]) -> bool:
        groups = await self._user_groups()
        return any(user_id in groups.get(entry, ()) for entry in entries)

    async def _user_groups(self) -> Mapping[str, set[str]]:
        async with self._lock:
            now = self._clock.now()
            if self._groups is not None and now - self._groups[0] < CACHE_SECONDS:
                return self._groups[1]
            found: dict[str, set[str]] = {}
            try:
                listing = await self._client.usergroups_list(include_users=True)
                for group in listing.get("usergroups") or []:
                    users = set(group.get("users") or ())
                    found[str(group["id"])] = users
                    if group.get("handle"):
                        found[f"@{group['handle']}"] = users
            except SlackApiError as exc:
                # usergroups:read missing, say: group entries match nobody (never everyone).
                log.warning("usergroups.list for a permission check: %s", exc.response.get("error"))
            self._groups = (now, found)
            return found


def _why_not_full(user: Mapping[str, Any], team_id: str) -> str | None:
    if user.get("is_bot") or user.get("is_app_user"):
        return "you are a bot"
    if user.get("deleted"):
        return "your account is deactivated"
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return "guests are not"
    if team_id and user.get("team_id") != team_id:
        return "you are of another organisation"
    return None

"""The workspace state the Web API methods read and change, and Slack's access rules.

Access rules (reference §3 error columns): a private channel the bot is not in does not
exist for it (``channel_not_found``); a public one it has not joined refuses posts
(``not_in_channel``) unless the app holds ``chat:write.public``, and refuses reads
(``not_in_channel``) whatever the scopes; an archived channel refuses posts (``is_archived``).
A method the token lacks the scope of answers ``missing_scope`` with ``needed`` and
``provided``. Events the workspace raises (a message deleted) wait in ``outbox`` until the
simulator delivers them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from bot.sim._slack_blocks import MESSAGE_MAX_TEXT
from bot.sim._slack_state import (
    Channel,
    Clock,
    SlackError,
    TsSource,
    UploadedFile,
    User,
    UserGroup,
)

# What the simulated app is granted unless a test says otherwise: the bot scopes of
# manifests/slack-app.yaml (tests/unit/test_manifests.py keeps the two equal).
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "channels:join",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "reactions:write",
    "im:write",
    "im:history",
    "files:write",
    "files:read",
)

# conversations.history / .replies need the history scope of the conversation's type.
_HISTORY_SCOPES = {
    "public_channel": "channels:history",
    "private_channel": "groups:history",
    "im": "im:history",
}


@dataclass(frozen=True)
class Identity:
    """Who the token belongs to, as auth.test tells it (Bolt uses user_id and bot_id, §1.1)."""

    team_id: str = "T0SIM"
    team: str = "RingBridge Simulated Workspace"
    domain: str = "ringbridge-sim"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    app_id: str = "A0SIM"
    bot_name: str = "ringbridge"


class Workspace:
    def __init__(
        self,
        clock: Clock,
        identity: Identity,
        scopes: tuple[str, ...],
        *,
        home_tab_enabled: bool = True,
    ) -> None:
        self.clock = clock
        self.identity = identity
        self.scopes = scopes
        self.home_tab_enabled = home_tab_enabled
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.files: dict[str, UploadedFile] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, tuple[float, bool]] = {}  # id -> (issued at, used)
        self.upload_base = ""  # set by the server once it knows its port
        self.ts = TsSource(clock)
        self._ids = itertools.count(1)
        self.outbox: list[dict[str, Any]] = []  # events to deliver (inner `event` objects)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0SIM{next(self._ids):06d}"

    # -- access ---------------------------------------------------------------------------

    def need_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(self.scopes))

    def channel(self, ref: str | None) -> Channel:
        """A channel by ID, or by name with or without ``#`` (chat.postMessage accepts both)."""
        if ref:
            if ref in self.channels:
                return self.channels[ref]
            name = ref.removeprefix("#")
            for channel in self.channels.values():
                if channel.name == name:
                    return channel
        raise SlackError("channel_not_found")

    def visible_channel(self, ref: str | None) -> Channel:
        channel = self.channel(ref)
        if channel.is_private and not channel.is_member:
            raise SlackError("channel_not_found")
        return channel

    def postable_channel(self, ref: str | None) -> Channel:
        channel = self.visible_channel(ref)
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_member and "chat:write.public" not in self.scopes:
            raise SlackError("not_in_channel")
        return channel

    def readable_channel(self, ref: str | None) -> Channel:
        channel = self.visible_channel(ref)
        self.need_scope(_HISTORY_SCOPES[channel.kind])
        if not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def open_dm(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's DM with `user_id` (opened now unless it was already): (channel, new)."""
        for channel in self.channels.values():
            if channel.im_user == user_id:
                return channel, False
        dm_id = self.new_id("D")
        channel = Channel(dm_id, dm_id, is_private=True, is_member=True, im_user=user_id)
        channel.created = int(self.clock.now())
        channel.members = {user_id, self.identity.bot_user_id}
        self.channels[dm_id] = channel
        return channel, True

    # -- shared message rules -------------------------------------------------------------

    def bot_message(self, text: str, ts: str) -> dict[str, Any]:
        ident = self.identity
        return {
            "type": "message",
            "ts": ts,
            "text": text,
            "user": ident.bot_user_id,
            "bot_id": ident.bot_id,
            "app_id": ident.app_id,
            "team": ident.team_id,
            "bot_profile": {
                "id": ident.bot_id,
                "app_id": ident.app_id,
                "name": ident.bot_name,
                "team_id": ident.team_id,
                "deleted": False,
            },
        }

    @staticmethod
    def truncate(text: str, warnings: list[str]) -> str:
        # §4.1: Slack truncates `text` past 40,000 characters and still posts, with a warning.
        if len(text) > MESSAGE_MAX_TEXT:
            warnings.append("message_truncated")
            return text[:MESSAGE_MAX_TEXT]
        return text

    def permalink(self, channel: Channel, message: dict[str, Any]) -> str:
        link = (
            f"https://{self.identity.domain}.slack.com/archives/{channel.id}/"
            f"p{message['ts'].replace('.', '')}"
        )
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return link

    def issue_trigger(self) -> str:
        trigger = f"{next(self._ids)}.{self.identity.team_id}.sim{next(self._ids):08x}"
        self.triggers[trigger] = (self.clock.now(), False)
        return trigger

    def use_trigger(self, trigger: str | None) -> None:
        # Slack: a trigger_id works once, within 3 seconds of the interaction.
        if not trigger or trigger not in self.triggers:
            raise SlackError("invalid_trigger_id")
        issued, used = self.triggers[trigger]
        if used:
            raise SlackError("exchanged_trigger_id")
        if self.clock.now() - issued > 3:
            raise SlackError("expired_trigger_id")
        self.triggers[trigger] = (issued, True)

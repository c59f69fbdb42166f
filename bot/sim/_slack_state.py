"""The simulated workspace: channels with their histories, users, files, and what was asked.

Messages are kept as the dicts Slack returns (``type``, ``ts``, ``text``, ``blocks``, …), so
``conversations.history`` can hand them out as they are. A channel's list holds its thread
replies too, ordered by ``ts``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Clock(Protocol):
    """Anything with ``now()`` in epoch seconds (duck-typed: the product's clocks fit)."""

    def now(self) -> float: ...


class WallClock:
    def now(self) -> float:
        return time.time()


class SlackError(Exception):
    """A method answers ``{"ok": false, "error": code, **extra}`` with HTTP 200 (reference §3)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = False  # whether the bot is in it (conversations.join makes it so)
    is_archived: bool = False
    members: set[str] | None = None  # users in it; None: everyone (for chat.postEphemeral)
    created: int = 1_700_000_000
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    im_user: str | None = None  # a DM between the bot and this user (conversations.open)

    @property
    def kind(self) -> str:
        """The `types` value of conversations.list, and the events' `channel_type` stem."""
        if self.im_user is not None:
            return "im"
        return "private_channel" if self.is_private else "public_channel"

    @property
    def channel_type(self) -> str:
        """An event's `channel_type`: channel, group (private) or im."""
        return {"im": "im", "private_channel": "group"}.get(self.kind, "channel")

    def info(self) -> dict[str, Any]:
        if self.im_user is not None:
            # conversations.open / conversations.list shape of a DM (reference §3)
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_member": self.is_member,
            "created": self.created,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }


@dataclass
class User:
    """A member as users.info describes it. `team_id` other than the workspace's: a person
    of another organisation (seen in a shared channel); `is_restricted`: a multi-channel
    guest, `is_ultra_restricted` too: a single-channel guest (Slack sets both)."""

    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    is_bot: bool = False
    team_id: str = "T0SIM"
    tz: str = "America/Los_Angeles"
    email: str | None = None
    deleted: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False

    def info(self, *, with_email: bool) -> dict[str, Any]:
        """`with_email`: the token holds users:read.email (without it Slack leaves
        `profile.email` out, it does not refuse)."""
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "team": self.team_id,
        }
        if with_email and self.email and not self.is_bot:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "profile": profile,
        }


@dataclass
class UserGroup:
    """A user group (`S…`, mentioned as `@handle`); disabled ones have `date_delete` set."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    team_id: str = "T0SIM"
    disabled: bool = False

    def info(self, *, with_users: bool, with_count: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": self.name,
            "description": "",
            "handle": self.handle,
            "is_external": False,
            "date_create": 1_700_000_000,
            "date_update": 1_700_000_000,
            "date_delete": 1_700_000_100 if self.disabled else 0,
            "auto_type": None,
            "created_by": "U0ADMIN",
            "updated_by": "U0ADMIN",
            "deleted_by": "U0ADMIN" if self.disabled else None,
            "prefs": {"channels": [], "groups": []},
        }
        if with_users:
            data["users"] = list(self.users)
        if with_count:
            data["user_count"] = len(self.users)
        return data


@dataclass(frozen=True)
class Call:
    """One Web API request as the simulator saw it."""

    method: str
    params: Mapping[str, Any]  # query, form and JSON merged; JSON-string arrays decoded
    headers: Mapping[str, str]
    time: float
    http_method: str
    status: int
    response: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    title: str = ""
    alt_txt: str = ""
    content: bytes | None = None  # None until the upload URL received the bytes
    channels: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.content or b""),
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response_url."""

    body: Mapping[str, Any]
    time: float
    status: int
    answer: str


@dataclass
class ResponseUrl:
    url: str
    created: float
    channel_id: str | None
    user_id: str | None
    message_ts: str | None  # the message that carried the button, for replace/delete_original
    posts: list[ResponsePost] = field(default_factory=list)


class TsSource:
    """Message timestamps: ``"<seconds>.<micro>"`` from the clock, strictly increasing.

    Slack's ts is unique per channel and orders the history; a fake clock that stands
    still must still give distinct, ordered ts values, so each one is at least 1 µs later.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> str:
        micros = max(int(self._clock.now() * 1_000_000), self._last + 1)
        self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def insert_message(channel: Channel, message: dict[str, Any]) -> None:
    """Keep `channel.messages` ordered by ts (Slack's history order)."""
    key = ts_key(message["ts"])
    i = len(channel.messages)
    while i > 0 and ts_key(channel.messages[i - 1]["ts"]) > key:
        i -= 1
    channel.messages.insert(i, message)


def find_message(channel: Channel, ts: str) -> dict[str, Any] | None:
    for message in channel.messages:
        if message["ts"] == ts:
            return message
    return None


def thread_of(channel: Channel, thread_ts: str) -> list[dict[str, Any]]:
    """Parent first, then its replies oldest first (conversations.replies order)."""
    return [m for m in channel.messages if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]


def is_top_level(message: Mapping[str, Any]) -> bool:
    """In conversations.history: unthreaded messages, thread parents and broadcasts."""
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


def add_reply(channel: Channel, parent: dict[str, Any], reply: dict[str, Any]) -> None:
    """Thread bookkeeping Slack does on the parent (reply_count, reply_users, latest_reply)."""
    parent["thread_ts"] = parent["ts"]
    parent["reply_count"] = parent.get("reply_count", 0) + 1
    users = parent.setdefault("reply_users", [])
    author = reply.get("user") or reply.get("bot_id")
    if author and author not in users:
        users.append(author)
    parent["reply_users_count"] = len(users)
    parent["latest_reply"] = reply["ts"]
    insert_message(channel, reply)

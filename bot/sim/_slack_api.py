"""The Web API's front door: the method table, argument decoding, the posting pace."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.sim import _slack_chat as chat
from bot.sim import _slack_conversations as conversations
from bot.sim import _slack_surfaces as surfaces
from bot.sim import _slack_users as users
from bot.sim._slack_params import Params
from bot.sim._slack_state import SlackError
from bot.sim._slack_workspace import Workspace

Method = Callable[[Workspace, Params], dict[str, Any]]

METHODS: dict[str, Method] = {
    "auth.test": surfaces.auth_test,
    "chat.postMessage": chat.post_message,
    "chat.update": chat.update,
    "chat.postEphemeral": chat.post_ephemeral,
    "chat.delete": chat.delete,
    "chat.getPermalink": chat.get_permalink,
    "reactions.add": chat.reactions_add,
    "reactions.remove": chat.reactions_remove,
    "conversations.history": conversations.history,
    "conversations.replies": conversations.replies,
    "conversations.join": conversations.join,
    "conversations.info": conversations.info,
    "conversations.list": conversations.list_,
    "conversations.open": conversations.open_,
    "users.info": users.users_info,
    "users.lookupByEmail": users.lookup_by_email,
    "usergroups.list": users.usergroups_list,
    "usergroups.users.list": users.usergroups_users_list,
    "views.open": surfaces.views_open,
    "views.publish": surfaces.views_publish,
    "files.getUploadURLExternal": surfaces.get_upload_url,
    "files.completeUploadExternal": surfaces.complete_upload,
}

# Arguments that form and query encodings carry as JSON strings; decoded in recorded calls.
JSON_ARGS = ("blocks", "attachments", "metadata", "view", "files")


# Slack: chat.postMessage "generally allows posting one message per second per channel",
# "short bursts >1 allowed" (reference §3.2). The size of a burst is not documented: two
# (the least that is "more than one") is the strict reading.
SLACK_CHANNEL_PACE = (1.0, 2)


class Pace:
    """Slack's per-channel posting pace as a token bucket: `rate` posts per second,
    `burst` at once; past it 429 with the Retry-After that lets the next one through."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)

    def retry_after(self, channel: str, now: float) -> int | None:
        tokens, at = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        self._buckets[channel] = (tokens - 1, now)
        return None


async def read_arguments(request: web.Request) -> dict[str, Any]:
    """Query string, form body and JSON body merged, body winning (reference §0)."""
    params: dict[str, Any] = dict(request.query)
    body = await request.read()
    if body and request.content_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(decoded, dict):
            raise SlackError("invalid_json")
        params.update(decoded)
    elif body and request.content_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif body and request.content_type.startswith("multipart/"):
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params

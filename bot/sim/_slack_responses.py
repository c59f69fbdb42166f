"""The response_url receiver: what a POST to it does to the workspace (reference §1.5).

Slack allows 5 responses per response_url within 30 minutes (§1.5, from secondary
sources). Past that it refuses; the codes used here (HTTP 404 with the plain body
``used_url`` or ``expired_url``, like the incoming-webhook error family of §1.5) are what
Slack is reported to answer, not verified against docs.slack.dev.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.sim._slack_chat import remove_message, validated_content
from bot.sim._slack_state import (
    ResponsePost,
    ResponseUrl,
    SlackError,
    add_reply,
    find_message,
    insert_message,
)
from bot.sim._slack_workspace import Workspace

MAX_RESPONSES = 5
LIFETIME_SECONDS = 30 * 60


def _apply(ws: Workspace, target: ResponseUrl, body: Mapping[str, Any]) -> None:
    channel = ws.channels.get(target.channel_id or "")
    original = find_message(channel, target.message_ts) if channel and target.message_ts else None
    if body.get("delete_original"):
        if channel is not None and original is not None:
            remove_message(ws, channel, original)  # message_deleted, as chat.delete
        return
    warnings: list[str] = []
    content = validated_content(body, warnings)
    if body.get("replace_original") and original is not None:
        original.update(content)
        if "blocks" not in content:
            original.pop("blocks", None)
        return
    if channel is None:
        return  # nowhere to show it; the post is still recorded
    message = ws.bot_message(content.pop("text"), ws.ts.next())
    message.update(content)
    if body.get("response_type") == "in_channel":
        thread_ts = body.get("thread_ts")
        parent = find_message(channel, str(thread_ts)) if thread_ts else None
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            add_reply(channel, parent, message)
        else:
            insert_message(channel, message)
    else:
        # Slack's default response_type is ephemeral: only the invoking user sees it.
        message["user"] = target.user_id or ""
        channel.ephemerals.append(message)


def respond(ws: Workspace, target: ResponseUrl, body: Any) -> tuple[int, str]:
    """Record one POST and answer it as Slack would: (HTTP status, plain-text body)."""
    now = ws.clock.now()
    status, answer = 200, "ok"
    if now - target.created > LIFETIME_SECONDS:
        status, answer = 404, "expired_url"
    elif len([p for p in target.posts if p.status == 200]) >= MAX_RESPONSES:
        status, answer = 404, "used_url"
    elif not isinstance(body, Mapping):
        status, answer = 400, "invalid_payload"
    else:
        try:
            _apply(ws, target, body)
        except SlackError as e:
            # Not verified: assumes response_url reports bad content like incoming webhooks.
            status, answer = 400, e.error
    recorded = copy.deepcopy(dict(body)) if isinstance(body, Mapping) else {"_raw": body}
    target.posts.append(ResponsePost(body=recorded, time=now, status=status, answer=answer))
    return status, answer

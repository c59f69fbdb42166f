"""chat.* and reactions.add/remove: messages in, Slack's rules enforced (reference §3, §4.1).

A reply to a thread whose parent is gone (deleted, or never there) is not refused: Slack
posts it at the channel's top level and says so only by the answer's message carrying no
`thread_ts` (issue #9; `thread_not_found` comes from conversations.replies alone).
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sim._slack_blocks import (
    MARKDOWN_MAX,
    BlocksFormatError,
    check_blocks,
    check_metadata,
    decode_json_param,
)
from bot.sim._slack_params import Params, flag, required, text_param
from bot.sim._slack_state import Channel, SlackError, add_reply, find_message, insert_message
from bot.sim._slack_workspace import Workspace


def validated_content(p: Params, warnings: list[str]) -> dict[str, Any]:
    """`text`, `blocks` and `metadata` of a message after Slack's checks (shared by chat.*)."""
    content: dict[str, Any] = {}
    text = text_param(p, "text") or ""
    blocks = p.get("blocks")
    markdown = text_param(p, "markdown_text")
    if markdown is not None:
        if text or blocks:
            raise SlackError("markdown_text_conflict")
        if len(markdown) > MARKDOWN_MAX:  # §4.1: markdown_text 12,000
            raise SlackError("invalid_arguments")
        content["text"] = markdown
        return content
    if blocks is not None and blocks != "":
        try:
            errors = check_blocks(blocks)
        except BlocksFormatError:
            raise SlackError("invalid_blocks_format") from None
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        decoded = decode_json_param(blocks)
        if decoded:
            content["blocks"] = decoded
    attachments = decode_json_param(p.get("attachments"))
    if not text and "blocks" not in content and not attachments:
        raise SlackError("no_text")  # one of text, blocks or attachments is required
    if attachments:
        if not isinstance(attachments, list) or len(attachments) > 100:
            raise SlackError("too_many_attachments")
        content["attachments"] = attachments
    content["text"] = Workspace.truncate(text, warnings)
    if p.get("metadata") not in (None, ""):
        error = check_metadata(p["metadata"])
        if error:
            raise SlackError(error)
        meta = decode_json_param(p["metadata"])
        content["metadata"] = {
            "event_type": meta["event_type"],
            "event_payload": meta["event_payload"],
        }
    return content


def _with_warnings(response: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        response["warning"] = ",".join(warnings)
        response["response_metadata"] = {"warnings": warnings}
    return response


def post_message(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("chat:write")
    channel = ws.postable_channel(text_param(p, "channel"))
    warnings: list[str] = []
    content = validated_content(p, warnings)
    message = ws.bot_message(content.pop("text"), ws.ts.next())
    message.update(content)
    thread_ts = text_param(p, "thread_ts")
    parent = find_message(channel, thread_ts) if thread_ts else None
    if parent is not None and parent.get("thread_ts") not in (None, parent["ts"]):
        parent = find_message(channel, parent["thread_ts"])  # a reply: its thread's parent
    if parent is not None:
        message["thread_ts"] = parent["ts"]
        message["parent_user_id"] = parent.get("user", "")
        if flag(p, "reply_broadcast"):
            message["subtype"] = "thread_broadcast"
        add_reply(channel, parent, message)
    else:
        insert_message(channel, message)
    return _with_warnings(
        {"ok": True, "channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)},
        warnings,
    )


def delete(ws: Workspace, p: Params) -> dict[str, Any]:
    """chat.delete of the bot's own message; the workspace raises `message_deleted`."""
    ws.need_scope("chat:write")
    channel = ws.visible_channel(text_param(p, "channel"))
    message = _named_message(channel, p, "ts")
    if message.get("bot_id") != ws.identity.bot_id:
        raise SlackError("cant_delete_message")  # a bot token deletes only its own messages
    remove_message(ws, channel, message)
    return {"ok": True, "channel": channel.id, "ts": message["ts"]}


def remove_message(ws: Workspace, channel: Channel, message: dict[str, Any]) -> None:
    """The message leaves the channel (its replies stay, orphaned: conversations.replies
    of the parent then answers thread_not_found) and `message_deleted` is raised."""
    channel.messages.remove(message)
    root = message.get("thread_ts")
    parent = find_message(channel, root) if root and root != message["ts"] else None
    if parent is not None:
        parent["reply_count"] = max(0, parent.get("reply_count", 1) - 1)
    ts = ws.ts.next()
    previous = {k: v for k, v in message.items() if k not in ("metadata", "reactions")}
    ws.outbox.append(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel.id,
            "ts": ts,
            "deleted_ts": message["ts"],
            "event_ts": ts,
            "channel_type": channel.channel_type,
            "previous_message": copy.deepcopy(previous),
        }
    )


def post_ephemeral(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("chat:write")
    channel = ws.postable_channel(text_param(p, "channel"))
    user = required(p, "user", "user_not_in_channel")
    if channel.members is not None and user not in channel.members:
        raise SlackError("user_not_in_channel")
    warnings: list[str] = []
    content = validated_content(p, warnings)
    message = ws.bot_message(content.pop("text"), ws.ts.next())
    message.update(content, user=user)  # ephemeral: `user` is the one who sees it
    if thread_ts := text_param(p, "thread_ts"):
        message["thread_ts"] = thread_ts
    channel.ephemerals.append(message)
    return _with_warnings({"ok": True, "message_ts": message["ts"]}, warnings)


def _named_message(channel: Channel, p: Params, key: str) -> dict[str, Any]:
    """The message whose ts the parameter `key` gives; Slack's `message_not_found` else."""
    message = find_message(channel, text_param(p, key) or "")
    if message is None:
        raise SlackError("message_not_found")
    return message


def _own_message(ws: Workspace, channel: Channel, ts: str | None) -> dict[str, Any]:
    message = find_message(channel, ts or "")
    if message is None:
        raise SlackError("message_not_found")
    if message.get("bot_id") != ws.identity.bot_id:
        raise SlackError("cant_update_message")  # a bot may edit only its own messages
    return message


def update(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("chat:write")
    channel = ws.visible_channel(text_param(p, "channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    message = _own_message(ws, channel, text_param(p, "ts"))
    warnings: list[str] = []
    if p.get("text") in (None, "") and p.get("blocks") is None:
        content: dict[str, Any] = {}  # chat.update may change only the metadata
        if p.get("metadata") is None:
            raise SlackError("no_text")
        if error := check_metadata(p["metadata"]):
            raise SlackError(error)
        meta = decode_json_param(p["metadata"])
        content["metadata"] = {
            "event_type": meta["event_type"],
            "event_payload": meta["event_payload"],
        }
    else:
        content = validated_content(p, warnings)
        if "blocks" not in content and p.get("blocks") is not None:
            message.pop("blocks", None)  # `blocks: []` clears them
    message.update(content)
    message["edited"] = {"user": ws.identity.bot_user_id, "ts": ws.ts.next()}
    return _with_warnings(
        {
            "ok": True,
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        },
        warnings,
    )


def get_permalink(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.visible_channel(text_param(p, "channel"))
    message = _named_message(channel, p, "message_ts")
    return {"ok": True, "channel": channel.id, "permalink": ws.permalink(channel, message)}


def reactions_add(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("reactions:write")
    channel = ws.visible_channel(text_param(p, "channel"))
    message = _named_message(channel, p, "timestamp")
    name = required(p, "name", "invalid_name").strip(":")
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ws.identity.bot_user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(ws.identity.bot_user_id)
            reaction["count"] += 1
            return {"ok": True}
    reactions.append({"name": name, "users": [ws.identity.bot_user_id], "count": 1})
    return {"ok": True}


def reactions_remove(ws: Workspace, p: Params) -> dict[str, Any]:
    """Slack: `no_reaction` when this app has not added that reaction to the message."""
    ws.need_scope("reactions:write")
    channel = ws.visible_channel(text_param(p, "channel"))
    message = _named_message(channel, p, "timestamp")
    name = required(p, "name", "invalid_name").strip(":")
    reactions: list[dict[str, Any]] = message.get("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name and ws.identity.bot_user_id in reaction["users"]:
            reaction["users"].remove(ws.identity.bot_user_id)
            reaction["count"] -= 1
            if not reaction["users"]:
                reactions.remove(reaction)
            return {"ok": True}
    raise SlackError("no_reaction")

"""conversations.* and users.info: reading the workspace back (reference §3)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from bot.sim._slack_params import Params, decode_cursor, encode_cursor, flag, integer, text_param
from bot.sim._slack_state import SlackError, find_message, is_top_level, thread_of, ts_key
from bot.sim._slack_workspace import Workspace


def _outward(message: Mapping[str, Any], with_metadata: bool) -> dict[str, Any]:
    out = copy.deepcopy(dict(message))
    if not with_metadata:
        # Metadata comes back only with include_all_metadata (the reconciliation path, §3.7).
        out.pop("metadata", None)
    return out


def _page(
    p: Params,
    messages: list[dict[str, Any]],
    *,
    newest_first: bool,
    default_limit: int,
) -> dict[str, Any]:
    """Slack's oldest/latest/inclusive window, limit and cursor over a list ordered by ts."""
    inclusive = flag(p, "inclusive")
    oldest = text_param(p, "oldest")
    latest = text_param(p, "latest")

    def within(ts: str) -> bool:
        key = ts_key(ts)
        if oldest and (key < ts_key(oldest) or (not inclusive and key == ts_key(oldest))):
            return False
        return not (latest and (key > ts_key(latest) or (not inclusive and key == ts_key(latest))))

    selected = [m for m in messages if within(m["ts"])]
    if newest_first:
        selected.reverse()
    if cursor := text_param(p, "cursor"):
        start_ts = decode_cursor(cursor)
        after: Callable[[str], bool] = (
            (lambda ts: ts_key(ts) <= ts_key(start_ts))
            if newest_first
            else (lambda ts: ts_key(ts) >= ts_key(start_ts))
        )
        selected = [m for m in selected if after(m["ts"])]
    # Slack: limit defaults differ per method, the maximum is 999 (reference §3).
    limit = integer(p, "limit", default_limit, low=1, high=999)
    page, rest = selected[:limit], selected[limit:]
    with_metadata = flag(p, "include_all_metadata")
    return {
        "ok": True,
        "messages": [_outward(m, with_metadata) for m in page],
        "has_more": bool(rest),
        "response_metadata": {"next_cursor": encode_cursor(rest[0]["ts"]) if rest else ""},
    }


def history(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.readable_channel(text_param(p, "channel"))
    top = [m for m in channel.messages if is_top_level(m)]
    response = _page(p, top, newest_first=True, default_limit=100)
    response["pin_count"] = 0
    return response


def replies(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.readable_channel(text_param(p, "channel"))
    ts = text_param(p, "ts")
    if not ts:
        raise SlackError("invalid_arguments")
    message = find_message(channel, ts)
    if message is None:
        raise SlackError("thread_not_found")
    parent_ts = message.get("thread_ts") or ts
    messages = thread_of(channel, parent_ts) if parent_ts == ts else [message]
    return _page(p, messages, newest_first=False, default_limit=1000)


def join(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("channels:join")
    channel = ws.channel(text_param(p, "channel"))
    if channel.is_private:
        # A bot cannot join a private channel by itself; it must be invited.
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    response: dict[str, Any] = {"ok": True}
    if channel.is_member:
        response["warning"] = "already_in_channel"
        response["response_metadata"] = {"warnings": ["already_in_channel"]}
    channel.is_member = True
    response["channel"] = channel.info()
    return response


def info(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.visible_channel(text_param(p, "channel"))
    ws.need_scope("groups:read" if channel.is_private else "channels:read")
    data = channel.info()
    if flag(p, "include_num_members"):
        data["num_members"] = len(channel.members or ())
    return {"ok": True, "channel": data}


def users_info(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("users:read")
    user = ws.users.get(text_param(p, "user") or "")
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.info()}

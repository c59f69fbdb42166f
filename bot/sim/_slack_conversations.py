"""conversations.*: reading the workspace back (reference §3)."""

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
        start_ts = decode_cursor(cursor, "next_ts")
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
        "response_metadata": {
            "next_cursor": encode_cursor(rest[0]["ts"], "next_ts") if rest else ""
        },
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


# conversations.list `types` and the scope each needs (reference §3; docs.slack.dev).
_LIST_SCOPES = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "mpim": "mpim:read",
    "im": "im:read",
}


def list_(ws: Workspace, p: Params) -> dict[str, Any]:
    """conversations.list: `types` (default public_channel), `exclude_archived`, `limit`
    (default 100, clamped to 999), `cursor`.

    Slack pages before it filters, so a page may hold fewer than `limit` channels, even
    none, while `next_cursor` says more follow (its pagination guide: check the cursor,
    never the page's size). The simulator does the same, to catch a client that stops at
    a short page. A private channel the bot is not in is not listed.
    """
    types = [t.strip() for t in (text_param(p, "types") or "public_channel").split(",")]
    if not types or any(t not in _LIST_SCOPES for t in types):
        raise SlackError("invalid_types")
    for kind in types:
        ws.need_scope(_LIST_SCOPES[kind])
    everything = list(ws.channels.values())
    start = 0
    if cursor := text_param(p, "cursor"):
        after = decode_cursor(cursor, "next_id")
        start = next((i for i, c in enumerate(everything) if c.id == after), len(everything))
    limit = integer(p, "limit", 100, low=1, high=999)
    window, rest = everything[start : start + limit], everything[start + limit :]
    archived_out = flag(p, "exclude_archived")
    shown = [
        c.info()
        for c in window
        if c.kind in types
        and not (archived_out and c.is_archived)
        and not (c.is_private and not c.is_member)
    ]
    next_cursor = encode_cursor(rest[0].id, "next_id") if rest else ""
    return {"ok": True, "channels": shown, "response_metadata": {"next_cursor": next_cursor}}


def open_(ws: Workspace, p: Params) -> dict[str, Any]:
    """conversations.open of a DM with one person (`users`), or by its id (`channel`)."""
    ws.need_scope("im:write")
    users = [u for u in (text_param(p, "users") or "").split(",") if u]
    if channel_id := text_param(p, "channel"):
        channel = ws.channels.get(channel_id)
        if channel is None or channel.im_user is None:
            raise SlackError("channel_not_found")
        opened = False
    elif not users:
        raise SlackError("users_list_not_supplied")
    elif len(users) > 1:
        # Group DMs (mpim:write) are not simulated: the bridge never opens one.
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] the simulator opens one-person DMs only"]},
        )
    else:
        user = ws.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        if user.deleted:
            raise SlackError("user_disabled")
        channel, opened = ws.open_dm(user.id)
    if flag(p, "return_im"):
        info: dict[str, Any] = channel.info()
    else:
        info = {"id": channel.id}
    response: dict[str, Any] = {"ok": True, "channel": info}
    if not opened:
        response.update(no_op=True, already_open=True)
    return response

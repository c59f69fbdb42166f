"""users.info, users.lookupByEmail, usergroups.list and usergroups.users.list (reference §3;
docs.slack.dev for the methods the reference does not list).

Where Slack's behaviour is not documented the simulator is strict, so the bridge must cope
with the less convenient answer: users.lookupByEmail also finds deactivated members,
guests and people of another organisation (the caller filters on `deleted`,
`is_restricted` and `team_id`); bots have no email and are never found. Emails compare
ignoring case (Slack keeps them lowercased; a lookup with capitals is not refused).
"""

from __future__ import annotations

from typing import Any

from bot.sim._slack_params import Params, flag, required, text_param
from bot.sim._slack_state import SlackError
from bot.sim._slack_workspace import Workspace


def users_info(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("users:read")
    user = ws.users.get(text_param(p, "user") or "")
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.info(with_email="users:read.email" in ws.scopes)}


def lookup_by_email(ws: Workspace, p: Params) -> dict[str, Any]:
    """users.lookupByEmail: needs users:read.email; `users_not_found` when no member has
    that email (the error Slack's method page lists, plural)."""
    ws.need_scope("users:read.email")
    email = required(p, "email").strip().casefold()
    for user in ws.users.values():
        if user.email and not user.is_bot and user.email.casefold() == email:
            return {"ok": True, "user": user.info(with_email=True)}
    raise SlackError("users_not_found")


def usergroups_list(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.need_scope("usergroups:read")
    with_disabled = flag(p, "include_disabled")
    groups = [
        g.info(with_users=flag(p, "include_users"), with_count=flag(p, "include_count"))
        for g in ws.usergroups.values()
        if with_disabled or not g.disabled
    ]
    return {"ok": True, "usergroups": groups}


def usergroups_users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    """The members of one group; a disabled one answers `no_such_subteam` unless
    `include_disabled` (not documented either way: the strict reading)."""
    ws.need_scope("usergroups:read")
    group = ws.usergroups.get(required(p, "usergroup"))
    if group is None or (group.disabled and not flag(p, "include_disabled")):
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}

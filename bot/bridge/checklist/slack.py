"""The Slack side of `check` (DESIGN §3.4, §3.10): `auth.test`, the token's scopes
(`x-oauth-scopes`) against the manifest's, and every routed channel found and the bot
able to post there — read with `conversations.info`, never by posting."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.scopes import SCOPE_FEATURES, missing_scopes

from ._model import Checklist, Deployment

__all__ = ["check_slack"]

SIGNIN = "Slack sign-in"
_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)
_PAGES = 50  # conversations.list pages of 1000: beyond any workspace the bridge serves


def _error(err: SlackApiError) -> str:
    return str(err.response.get("error") or "unknown_error")


async def check_slack(slack: AsyncWebClient, deployment: Deployment, out: Checklist) -> None:
    try:
        answer = await slack.auth_test()
    except SlackApiError as err:
        code = _error(err)
        if code in _REFUSED:
            out.bad(
                SIGNIN,
                f"SLACK_BOT_TOKEN was refused ({code}): copy the Bot User OAuth Token "
                "(xoxb-…) from the app's OAuth & Permissions page",
            )
        else:
            out.bad(SIGNIN, f"auth.test failed ({code})")
        return
    except _UNREACHABLE as err:
        out.bad(SIGNIN, f"Slack could not be reached at SLACK_API_URL ({type(err).__name__})")
        return
    out.ok(SIGNIN, f"the bot @{answer.get('user')} in {answer.get('team')}")
    header = answer.headers.get("x-oauth-scopes") or answer.headers.get("X-OAuth-Scopes") or ""
    granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
    missing = missing_scopes(granted)
    for scope in missing:
        out.bad(
            f"Slack scope {scope}",
            f"missing: {SCOPE_FEATURES[scope]} — off. Add it to the app (OAuth & Permissions "
            "→ Bot Token Scopes) and reinstall the app",
        )
    if not missing:
        out.ok("Slack scopes", "all the manifest asks for")
    await _channels(slack, deployment, granted, out)


async def _channels(
    slack: AsyncWebClient, deployment: Deployment, granted: set[str], out: Checklist
) -> None:
    written = deployment.channels()
    names = {channel for channel, _ in written if channel.startswith("#")}
    ids: dict[str, str] = {}
    if names:
        try:
            ids = await _named(slack, names)
        except SlackApiError as err:
            out.bad("channel names", f"`#name` routes could not be looked up ({_error(err)})")
            return
        except _UNREACHABLE as err:
            out.bad("channel names", f"Slack could not be reached ({type(err).__name__})")
            return
    for channel, where in written:
        subject = f"channel {channel} ({where})"
        if channel.startswith("#") and channel not in ids:
            out.bad(
                subject,
                "no channel of that name that the bot can see: create it, invite the bot to "
                "it, or write the channel ID",
            )
            continue
        await _channel(slack, ids.get(channel, channel), granted, subject, out)


async def _named(slack: AsyncWebClient, names: set[str]) -> dict[str, str]:
    """`#name` → channel id, for the names found."""
    wanted = {name.removeprefix("#"): name for name in names}
    found: dict[str, str] = {}
    cursor: str | None = None
    for _ in range(_PAGES):
        page = await slack.conversations_list(
            types="public_channel,private_channel", limit=1000, cursor=cursor
        )
        for channel in page.get("channels") or []:
            if channel.get("name") in wanted:
                found[wanted[channel["name"]]] = str(channel["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor or found.keys() == names:
            break
    return found


async def _channel(
    slack: AsyncWebClient, channel_id: str, granted: set[str], subject: str, out: Checklist
) -> None:
    try:
        answer = await slack.conversations_info(channel=channel_id)
    except SlackApiError as err:
        code = _error(err)
        if code == "channel_not_found":
            out.bad(
                subject,
                "not found, or a private channel the bot is not in: invite the bot "
                "(/invite @bot) or fix the channel in bridge.toml",
            )
        elif code == "missing_scope":
            needed = err.response.get("needed") or "channels:read / groups:read"
            out.bad(subject, f"cannot be checked without the {needed} scope")
        else:
            out.bad(subject, f"conversations.info failed ({code})")
        return
    except _UNREACHABLE as err:
        out.bad(subject, f"Slack could not be reached ({type(err).__name__})")
        return
    info: dict[str, Any] = answer.get("channel") or {}
    name = f"#{info.get('name') or channel_id}"
    if info.get("is_archived"):
        out.bad(subject, f"{name} is archived: nothing can be posted. Unarchive it or route "
                "elsewhere")  # fmt: skip
    elif info.get("is_member"):
        out.ok(subject, f"{name}: the bot is in it")
    elif info.get("is_private"):
        out.bad(subject, f"{name} is private and the bot is not in it: invite it")
    elif "channels:join" in granted:
        out.ok(subject, f"{name}: the bot joins it at its first post")
    else:
        out.bad(
            subject,
            f"{name}: the bot is not in it and may not join (channels:join): invite it",
        )

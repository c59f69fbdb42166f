"""What Slack sends the app: its text encoding, its signature, its request bodies.

Shapes follow reference §2.2 (signing), §2.3 (slash command form body), §2.4 (interaction
payloads as ``payload=<urlencoded JSON>``) and §2.5 (Events API envelope). Pure functions:
the simulator does the sending.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bot.sim._slack_workspace import Identity

_URL = r"https?://[^\s<>|]+[^\s<>|.,;:!?)\]'\"]"


def _escape(text: str) -> str:
    # §4.3: `&` first, then `<` and `>`; nothing else is entity-encoded.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_encode(
    typed: str,
    *,
    mentions: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
    autolink: bool = False,
) -> str:
    """The text a user typed, as Slack delivers it to the app.

    ``&``, ``<`` and ``>`` become ``&amp;`` ``&lt;`` ``&gt;`` (reference §4.3). Optionally,
    as the Slack client would turn them into markup: ``mentions={"@alice": "U123"}`` gives
    ``<@U123>`` (give ``"U123|alice"`` for the ``<@U123|alice>`` form that slash commands
    with ``should_escape: true`` carry); ``channels={"#general": "C123"}`` gives
    ``<#C123|general>``;
    ``links={"label": "https://x"}`` (a link the user attached to a word) gives
    ``<https://x|label>``; ``autolink=True`` turns bare URLs into ``<https://x>``.
    """
    replacements: dict[str, str] = {}
    for typed_name, user_id in (mentions or {}).items():
        replacements[typed_name] = f"<@{user_id}>"
    for typed_name, channel_id in (channels or {}).items():
        replacements[typed_name] = f"<#{channel_id}|{_escape(typed_name.lstrip('#'))}>"
    for label, url in (links or {}).items():
        replacements[label] = f"<{_escape(url)}|{_escape(label)}>"
    alternatives = [re.escape(k) for k in sorted(replacements, key=len, reverse=True)]
    if autolink:
        alternatives.append(_URL)
    if not alternatives:
        return _escape(typed)
    out: list[str] = []
    pos = 0
    for match in re.finditer("|".join(alternatives), typed):
        out.append(_escape(typed[pos : match.start()]))
        found = match.group(0)
        out.append(replacements.get(found) or f"<{_escape(found)}>")
        pos = match.end()
    out.append(_escape(typed[pos:]))
    return "".join(out)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` (reference §2.2)."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def command_body(fields: Mapping[str, str]) -> bytes:
    """A slash command as Slack posts it: form-encoded, in Slack's field order (§2.3)."""
    order = (
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    )
    ordered = [(k, fields[k]) for k in order if k in fields]
    ordered += [(k, v) for k, v in fields.items() if k not in order]
    return urlencode(ordered).encode()


def payload_body(payload: Mapping[str, Any]) -> bytes:
    """Interactivity: ``payload=<urlencoded JSON>`` as a form body (§2.4)."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def team_and_user(ident: Identity, user_id: str, user_name: str) -> dict[str, Any]:
    return {
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": ident.team_id},
        "team": {"id": ident.team_id, "domain": ident.domain},
        "api_app_id": ident.app_id,
        "token": "sim-verification-token",  # deprecated verification token Slack still sends
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_actions_payload(
    ident: Identity,
    *,
    user_id: str,
    user_name: str,
    channel: Mapping[str, str],
    message: Mapping[str, Any] | None,
    action: Mapping[str, Any],
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    payload = team_and_user(ident, user_id, user_name)
    payload.update(
        type="block_actions",
        container={
            "type": "message",
            "message_ts": action.get("message_ts", ""),
            "channel_id": channel["id"],
            "is_ephemeral": message is None,
        },
        trigger_id=trigger_id,
        channel=dict(channel),
        response_url=response_url,
        state={"values": {}},
        actions=[{k: v for k, v in action.items() if k != "message_ts"}],
    )
    if message is not None:
        # Slack sends the message but not its metadata (DESIGN §3.7: buttons carry values).
        payload["message"] = {k: v for k, v in message.items() if k != "metadata"}
    return payload


def home_action_payload(
    ident: Identity,
    *,
    user_id: str,
    user_name: str,
    view: Mapping[str, Any],
    action: Mapping[str, Any],
    trigger_id: str,
) -> dict[str, Any]:
    """A click on the Home tab: the view is its container; no channel, no message and no
    response_url (Slack gives none for a surface that is not a message)."""
    payload = team_and_user(ident, user_id, user_name)
    payload.update(
        type="block_actions",
        container={"type": "view", "view_id": view.get("id", "")},
        trigger_id=trigger_id,
        view=dict(view),
        state={"values": {}},
        actions=[dict(action)],
    )
    return payload


def view_submission_payload(
    ident: Identity,
    *,
    user_id: str,
    user_name: str,
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    trigger_id: str,
) -> dict[str, Any]:
    payload = team_and_user(ident, user_id, user_name)
    submitted = dict(view)
    submitted["state"] = {"values": dict(values)}
    payload.update(type="view_submission", trigger_id=trigger_id, view=submitted, response_urls=[])
    return payload


def event_envelope(
    ident: Identity, event: Mapping[str, Any], event_id: str, now: float
) -> dict[str, Any]:
    """The Events API ``event_callback`` wrapper (§2.5)."""
    return {
        "token": "sim-verification-token",
        "team_id": ident.team_id,
        "api_app_id": ident.app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ident.team_id,
                "user_id": ident.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-sim-{event_id}",
    }

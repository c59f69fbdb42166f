"""The Slack app manifest (reference §5), for ``python -m bot manifest --url https://host``
and ``--socket``: one definition renders both modes (Socket Mode: the same app, no
Request URLs, ``socket_mode_enabled``).

The manifest lives here as data, not as a YAML file read at run time: the wheel then needs
no data files and the product no YAML parser. ``manifests/slack-app.yaml`` and
``manifests/slack-app.socket.yaml`` are the commented copies people read and paste;
tests/unit/test_manifests.py keeps them equal to `manifest()` and valid against Slack's
manifest schema. Rendering emits YAML whose strings are JSON-quoted, which any YAML
parser (Slack's included) reads back exactly.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

EVENTS_PATH = "/slack/events"  # one Request URL for commands, interactivity and events (§3.3)

# Each scope DESIGN §2 lists, and the feature of DESIGN.md that needs it: asked for at
# install, so a feature that comes later needs no reinstall (a scope the token lacks
# disables only its feature). Deliberately absent: chat:write.public (the bot joins the
# public channels it posts to, which reading them back for reconciliation needs anyway,
# §3.7), emoji:read (shortcodes map to the standard emoji set).
BOT_SCOPES = (
    "commands",  # /sms, /call, /calllog, /ringcentral
    "chat:write",  # notifications, chat.update (transcripts, "Mark handled"), ephemerals
    "channels:join",  # conversations.join on the public channels routes post to
    "channels:history",  # message.channels (SMS thread replies) + reconciliation reads
    "groups:history",  # the same in private channels the bot is invited to
    "channels:read",  # conversations.info / resolving `#name` routes in bridge.toml
    "groups:read",  # the same for private channels
    "users:read",  # users.info: `<@U…>` in a reply becomes the person's name in the SMS
    "users:read.email",  # people linked to extensions by email (§3.9)
    "usergroups:read",  # `S…` / `@handle` user groups in [permissions] (§3.2)
    "reactions:write",  # receipts on texted replies, the lock on internal ones (§3.8)
    "im:write",  # DMs: `dm = "owner"` routes, a refused refresh, a reply's DM fallback
    "im:history",  # its DMs read back after a crash, as channels:history for channels
    "files:write",  # voicemail audio, fax PDF and MMS images uploaded in thread
    "files:read",  # files attached to a thread reply, downloaded and sent as MMS
)

BOT_EVENTS = (
    "app_home_opened",  # the Home tab
    "message.channels",  # replies in SMS threads, public channels
    "message.groups",  # the same, private channels
    "user_change",  # a deactivated person is disconnected (§3.9)
)

_COMMANDS = (
    ("/sms", "Send a text message, or list and show messages",
     "<to> <text> | list [number] [in|out] [today|<N>d] ... | show <id>"),
    ("/call", "Call a number: rings your phone first (RingOut)",
     "<to> [from <phone>] [as <caller-id>] [prompt]"),
    ("/calllog", "List and inspect calls",
     "[missed|inbound|outbound] [number] [today|yesterday|<N>d] [<N>] | <record-id>"),
    ("/ringcentral", "RingBridge help, account connection and status",
     "help | connect | disconnect | status"),
)  # fmt: skip


def check_url(url: str) -> str:
    """The public base URL, validated; raises ValueError with a sentence saying why."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        raise ValueError(f"the URL must start with https:// (Slack calls it over TLS): {url!r}")
    if not parts.hostname or parts.username or parts.password:
        raise ValueError(f"the URL needs a host name and no user or password: {url!r}")
    if parts.query or parts.fragment or any(c.isspace() for c in url.strip()):
        raise ValueError(f"the URL must not carry a query, fragment or spaces: {url!r}")
    return url.strip().rstrip("/")


def manifest(url: str | None) -> dict[str, Any]:
    """The manifest: HTTP mode with every Request URL at `url` + /slack/events, or Socket
    Mode (no Request URLs, reference §1.3) when `url` is None."""
    endpoint = check_url(url) + EVENTS_PATH if url is not None else None
    located: dict[str, str] = {"url": endpoint} if endpoint else {}
    request_url: dict[str, str] = {"request_url": endpoint} if endpoint else {}
    commands = [
        # should_escape: Slack sends mentions, channels and links in the command text as
        # the same markup as in messages (`<@U…|name>`, `<https://x|label>`), so /sms and
        # thread replies go through one Slack-markup-to-SMS conversion (§3.7).
        {"command": c, **located, "description": d, "usage_hint": u, "should_escape": True}
        for c, d, u in _COMMANDS
    ]
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "RingBridge",
            "description": "RingCentral calls, voicemail, faxes and texts in Slack.",
            "background_color": "#0d4f8b",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,  # views.publish on app_home_opened
                "messages_tab_enabled": True,  # DMs from the bot land here (§2)
                "messages_tab_read_only_enabled": True,  # people write in channels
            },
            "bot_user": {"display_name": "RingBridge", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {**request_url, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, **request_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": endpoint is None,
            "token_rotation_enabled": False,
        },
    }


def _yaml(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {json.dumps(item, ensure_ascii=False)}")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = _yaml(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines += nested[1:]
            else:
                lines.append(f"{pad}- {json.dumps(item, ensure_ascii=False)}")
    return lines


def render_manifest(url: str) -> str:
    """The HTTP-mode manifest as YAML, every Request URL set to `url` + /slack/events."""
    return "\n".join(_yaml(manifest(url), 0)) + "\n"


def render_socket_manifest() -> str:
    """The Socket Mode manifest as YAML (no Request URLs)."""
    return "\n".join(_yaml(manifest(None), 0)) + "\n"

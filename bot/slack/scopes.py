"""What each bot scope of the manifest gives (DESIGN §2: a scope the installed token lacks
disables only its feature, reported once to the admin channel and by `check`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .manifest import BOT_SCOPES

__all__ = ["SCOPE_FEATURES", "missing_scopes"]

SCOPE_FEATURES: Mapping[str, str] = {
    "commands": "the slash commands /sms, /call, /calllog and /ringcentral",
    "chat:write": "every notification and command reply",
    "channels:join": "joining the public channels routes post to (the bot must be invited)",
    "channels:history": "texted replies in public channels' SMS threads, and reading a post "
    "back after a crash (it may then be posted twice)",
    "groups:history": "texted replies in private channels' SMS threads, and reading a post "
    "back after a crash there",
    "channels:read": "checking public channels, and routes to a public `#name`",
    "groups:read": "checking private channels, and routes to a private `#name`",
    "users:read": "people's names in texts (a mention in /sms)",
    "users:read.email": "linking Slack people to extensions by email",
    "usergroups:read": "user groups (`S…`, `@handle`) in [permissions]",
    "reactions:write": "receipts on texted replies, and the lock on internal ones",
    "im:write": 'direct messages (`dm = "owner"` routes, a refused sign-in, a reply\'s fallback)',
    "im:history": "reading the bot's direct messages back after a crash",
    "files:write": "voicemail audio, fax PDFs and MMS images in threads",
    "files:read": "files in a thread reply sent as MMS",
}


def missing_scopes(granted: Iterable[str]) -> list[str]:
    """The manifest's bot scopes the token lacks, in the manifest's order."""
    held = {scope.strip() for scope in granted}
    return [scope for scope in BOT_SCOPES if scope not in held]

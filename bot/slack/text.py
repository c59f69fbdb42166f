"""Text crossing between Slack and the phone network.

`escape()` makes outside text (an SMS body, a caller name, a transcript) safe to show in
Slack: `&`, `<` and `>` are Slack's control characters, so `<!channel>` in an SMS must
arrive as text and ping no one, and `<https://evil|https://bank>` must not become a link.

`to_plain()` goes the other way: what a person typed in Slack, as Slack encoded it, back to
what a phone should show (DESIGN §3.7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["escape", "internal_marker", "mentioned_users", "to_plain"]

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str) -> str:
    """Slack's three control characters as entities; nothing else is touched."""
    return text.translate(_ESCAPES)


# <@U123>, <@U123|bob>, <#C123|general>, <!here>, <!subteam^S1|@team>, <https://x|label>
_CONTROL = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
_SHORTCODE = re.compile(r":([a-z0-9_+\-']+):")
_SKIN_TONES = {f"skin-tone-{n}": chr(0x1F3FB + n - 2) for n in range(2, 7)}


def mentioned_users(text: str) -> set[str]:
    """Ids of the users mentioned as `<@U…>` (to look up their names)."""
    return {m.group(2) for m in _CONTROL.finditer(text) if m.group(1) == "@"}


# A reply meant for the team (DESIGN §3.8): after leading spaces, newlines and quote markers
# (`>` arrives as `&gt;`), one of these prefixes, in any case.
_NOTE_PREFIXES = ("//", ";;", "note:")
_LEADING = re.compile(r"^(?:\s|&gt;|>)+")
_BROADCASTS = ("here", "channel", "everyone")


def internal_marker(text: str) -> str | None:
    """Why a thread reply as Slack encoded it stays in the team: "note" (a note prefix),
    "mention" (a person, a user group, @here, @channel or @everyone), or None."""
    rest = _LEADING.sub("", text)
    if rest.casefold().startswith(_NOTE_PREFIXES):
        return "note"
    for match in _CONTROL.finditer(text):
        sigil, target = match.group(1), match.group(2)
        if sigil == "@":
            return "mention"
        if sigil == "!" and (target in _BROADCASTS or target.startswith("subteam^")):
            return "mention"
    return None


def to_plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack's encoding of typed text → the text a phone should show.

    `&amp; &lt; &gt;` → `& < >`; `<https://x|label>` → the URL (or the label when it is
    just the URL without its scheme, as Slack writes an auto-linked `example.com`);
    `<mailto:a@b|a@b>` → the address; `<@U1>` → `@Name` from `names`, else the label
    Slack sent, else the id; `<#C1|general>` → `#general`; `<!here>` → `@here`;
    `:shortcode:` → the emoji character.
    """
    names = names or {}
    plain = _CONTROL.sub(lambda m: _control_to_text(m, names), text)
    plain = _SHORTCODE.sub(_shortcode_to_emoji, plain)
    # Entities last: a typed "&lt;@U1&gt;" stays the literal text "<@U1>".
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _control_to_text(match: re.Match[str], names: Mapping[str, str]) -> str:
    sigil, target, label = match.group(1), match.group(2), match.group(3)
    if sigil == "@":
        return "@" + (names.get(target) or label or target)
    if sigil == "#":
        return "#" + (label or target)
    if sigil == "!":
        if label:  # <!subteam^S1|@team>, <!date^…|fallback>
            return label
        return "@" + target.split("^", 1)[0]
    if target.startswith(("mailto:", "tel:")):
        return label or target.split(":", 1)[1]
    if label and target.split("://", 1)[-1].rstrip("/") == label.rstrip("/"):
        return label
    return target


def _shortcode_to_emoji(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _SKIN_TONES:
        return _SKIN_TONES[name]
    if name.startswith("flag-") and len(name) == 7:  # Slack's :flag-us: → 🇺🇸
        return "".join(chr(0x1F1E6 + ord(c) - ord("a")) for c in name[5:])
    # Imported on the first shortcode: its table (a JSON file of every emoji, about 3 MB
    # once loaded) is for replies typed in Slack, which an idle server never sees.
    import emoji

    return emoji.emojize(match.group(0), language="alias")

"""What the bridge tells a person about their reply in an SMS thread (DESIGN §3.8): why it
stayed in the team, why it was not texted, that an edit is not texted."""

from __future__ import annotations

from .blocks import SECTION_MAX, Reply, reply, section
from .format import Locale, clip, number

# Why a reply stayed in the team, and how to text instead where texting is possible.
_KEPT = {
    "note": (
        "Kept in the team: a reply starting with `//`, `;;` or `note:` is a note, not a text.",
        "To text {to}, reply without the prefix.",
    ),
    "mention": (
        "Kept in the team: a reply that mentions someone (a person, a group, @here, "
        "@channel or @everyone) is not texted.",
        "To text {to}, reply without the mention.",
    ),
    "replies_off": (
        "Kept in the team: replies in this channel's SMS threads are not texted "
        '(`replies = "off"` in bridge.toml).',
        "To text {to}, use `/sms {e164} <message>`.",
    ),
    "permission": (
        "Not texted, kept in the team: you may not text from this conversation's number "
        "(`[permissions] sms` in bridge.toml).",
        "",
    ),
}


def kept_in_team(reason: str, other_party: str, locale: Locale) -> Reply:
    """The one line a person gets, once per thread, when their reply stayed internal."""
    why, how = _KEPT.get(reason, _KEPT["note"])
    to = number(other_party, locale)
    line = why + (" " + how.format(to=to, e164=clip(other_party, 40)) if how else "")
    return reply(line, [section(f":lock: {line}")])


def not_texted(sentence: str) -> Reply:
    """A reply that could not be texted, and why (nothing was sent)."""
    text = clip(f"Not texted: {sentence}", SECTION_MAX - 20)
    return reply(text, [section(f":x: {text}")])


def already_texted(*, deleted: bool) -> Reply:
    """An edit or deletion of a reply that was already texted: nothing more is sent."""
    text = (
        "Already sent: deleting your reply here does not unsend the text."
        if deleted
        else "Already sent: edits are not texted."
    )
    return reply(text, [section(text)])

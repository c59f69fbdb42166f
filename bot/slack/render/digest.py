"""The daily digest (DESIGN §3.12): a channel's missed calls, voicemails and texts since
the last digest, who took what, and what is still open, each linked to its message.

The only control sequences are ours: date tokens, `<@U…>` of whoever took something (an
id checked to be one), and the links to the channel's own messages (made by the bridge
from the workspace's address); names and numbers are escaped like everywhere else.
"""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block

from bot.notices import DigestNotice, OpenItem, TakenCount

from .blocks import MESSAGE_MAX_BLOCKS, Reply, context, pack, reply, section
from .calls import _USER_ID  # one rule for every mention we make
from .format import Locale, plural, when, who

# A permalink the bridge made: Slack's address for a message, nothing a caller could shape.
_LINK = re.compile(r"https://[A-Za-z0-9.-]+/archives/[A-Z0-9]+/p[0-9]+(\?[A-Za-z0-9=&._]*)?")
_WHAT = {"missed_call": "Missed call", "voicemail": "Voicemail", "sms": "Text conversation"}
_FROM = {"missed_call": "from", "voicemail": "from", "sms": "with"}


def render_digest(digest: DigestNotice, *, locale: Locale) -> Reply:
    """The digest message: counts first, then who took what, then the open items (as many
    as fit in one message, and how many more there are)."""
    head = (
        f":clipboard: *Daily digest* · since {when(digest.since, locale)}"
        f" until {when(digest.until, locale)}"
    )
    lines = [
        f"*Missed calls:* {digest.missed_calls} ({digest.missed_open} still open,"
        f" {digest.missed_handled} handled)",
        f"*Voicemails:* {digest.voicemails} ({digest.voicemails_open} still open)",
        f"*Texts:* {plural(digest.conversations, 'conversation')},"
        f" {plural(digest.texts, 'message')} ({digest.conversations_open} still open)",
    ]
    blocks: list[Block] = [section(head), section("\n".join(lines))]
    if digest.taken:
        taken = "\n".join(_taken(t) for t in digest.taken)
        blocks.append(section(f"*Who took what:*\n{taken}"))
    still_open = digest.missed_open + digest.voicemails_open + digest.conversations_open
    items = [_open_item(item, locale) for item in digest.still_open]
    if items:
        blocks.append(section(f"*Still open ({still_open}):*"))
        packed = pack(items, max_sections=MESSAGE_MAX_BLOCKS - len(blocks) - 1)
        blocks.extend(packed.sections)
        if packed.shown < still_open:
            blocks.append(context(f"…and {still_open - packed.shown} more"))
    elif digest.missed_calls or digest.voicemails or digest.conversations:
        blocks.append(context(":white_check_mark: Nothing is still open."))
    else:
        blocks.append(context("Nothing was posted here since the last digest."))
    text = (
        f"Daily digest: {plural(digest.missed_calls, 'missed call')}"
        f" ({digest.missed_open} open), {plural(digest.voicemails, 'voicemail')},"
        f" {plural(digest.conversations, 'text conversation')}"
    )
    return reply(text, blocks)


def _taken(taken: TakenCount) -> str:
    if not _USER_ID.fullmatch(taken.user_id):
        raise ValueError("TakenCount.user_id does not look like a Slack user id")
    what = [
        plural(count, word)
        for count, word in (
            (taken.missed_calls, "missed call"),
            (taken.voicemails, "voicemail"),
            (taken.conversations, "conversation"),
        )
        if count
    ]
    return f"• <@{taken.user_id}>: {', '.join(what)}"


def _open_item(item: OpenItem, locale: Locale) -> str:
    what = _WHAT[item.kind]
    if item.link is not None:
        if not _LINK.fullmatch(item.link):
            raise ValueError("OpenItem.link is not a Slack message permalink")
        what = f"<{item.link}|{what}>"
    line = f"• {what} {_FROM[item.kind]} {who(item.party, locale)} · {when(item.at, locale)}"
    if item.taken_by is not None and _USER_ID.fullmatch(item.taken_by):
        line += f" · taken by <@{item.taken_by}>"
    return line

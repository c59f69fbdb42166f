"""A channel's reminder (DESIGN §3.12): the overdue items, each a link to its message with
its caller or texter, when it came and who took it. The only control sequences are ours:
the link (a permalink Slack gave), `<@U…>` of a taker, `<!here>` when the bridge decided
to ping and date tokens; every name and number from outside is escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.notices import CallNotice, Notice, Party, SmsNotice, VoicemailNotice

from .blocks import MESSAGE_MAX_BLOCKS, Reply, context, pack, reply, section
from .format import Locale, plural, when, who

__all__ = ["Overdue", "render_reminder"]

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,40}")
_LINK = re.compile(r"https://[^\s<>|]+")
_WHAT = {"missed_call": "Missed call", "voicemail": "Voicemail", "sms": "Text"}


@dataclass(frozen=True, slots=True)
class Overdue:
    """An item a reminder lists: its notice, its message's permalink, who took it."""

    notice: Notice
    link: str
    taken_by: str | None = None


def render_reminder(items: Sequence[Overdue], *, here: bool, locale: Locale) -> Reply:
    count = plural(len(items), "item")
    head = f":alarm_clock: *{count} still waiting for an answer*"
    lines = [_line(item, locale) for item in items]
    packed = pack(lines, max_sections=MESSAGE_MAX_BLOCKS - 2)
    blocks: list[Block] = [section(f"<!here> {head}" if here else head), *packed.sections]
    if packed.shown < len(items):
        blocks.append(context(f"…and {len(items) - packed.shown} more"))
    text = f"{'<!here> ' if here else ''}Reminder: {count} still waiting for an answer"
    return reply(text, blocks)


def _line(item: Overdue, locale: Locale) -> str:
    if not _LINK.fullmatch(item.link):
        raise ValueError("a reminder's link is not an https permalink")
    notice = item.notice
    what = _WHAT.get(notice.kind, notice.kind)
    party = _party(notice)
    taker = "nobody has taken it yet"
    if item.taken_by is not None:
        if not _USER_ID.fullmatch(item.taken_by):
            raise ValueError("Overdue.taken_by does not look like a Slack user id")
        taker = f"taken by <@{item.taken_by}>"
    # The link's label is ours; the party is escaped (`who`), outside the link.
    return f"• <{item.link}|{what}> from {who(party, locale)} · {_at(notice, locale)} · {taker}"


def _party(notice: Notice) -> Party:
    if isinstance(notice, CallNotice | VoicemailNotice):
        return notice.caller
    if isinstance(notice, SmsNotice):
        return notice.sender
    return Party()


def _at(notice: Notice, locale: Locale) -> str:
    moment: datetime | None = getattr(notice, "at", None)
    return when(moment, locale)

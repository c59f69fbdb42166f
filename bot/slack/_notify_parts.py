"""Pieces the notification renderers share: parties, the handled line, outside text as
quoted sections, attachment counts and the one-line fallback.

Outside text is escaped here (through `clip`/`fit`); names that carry right-to-left text
or bidi controls are wrapped in Unicode isolates, so they cannot reorder our own words or
the number next to them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from slack_sdk.models.blocks import SectionBlock

from bot import phone
from bot.slack.notices import Attachment, Handled, Party
from bot.slack.text import escape

from ._blocks_base import SECTION_MAX, clip, fit, one_line, plural, section, when

NAME_MAX = 80  # a caller or extension name longer than this is noise
NUMBER_MAX = 40  # a number RingCentral sent that does not parse is shown, cut
BODY_PARTS = 3  # sections of one text: 3 × 3000 stays under Slack's ~12k per message
FALLBACK_BODY_MAX = 300  # of the text, in the one-line fallback (a notification preview)
RECIPIENTS_SHOWN = 8

# A Slack user id as a click reports it; the handler mention is built only from this.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,40}")
_BIDI = frozenset({"R", "AL", "RLE", "RLO", "LRE", "LRO", "RLI", "LRI", "FSI", "PDF", "PDI"})
_FSI, _PDI = "\u2068", "\u2069"


def isolate(text: str) -> str:
    """`text` in a first-strong isolate when it holds right-to-left text or bidi controls."""
    if any(unicodedata.bidirectional(c) in _BIDI for c in text):
        return f"{_FSI}{text}{_PDI}"
    return text


def display_name(raw: str | None) -> str:
    """A name from outside, escaped, on one line, cut; empty when there is none."""
    return isolate(clip(one_line(raw), NAME_MAX)) if raw and raw.strip() else ""


def _number(e164: str, region: str) -> str:
    return isolate(clip(one_line(phone.format_display(e164, region)), NUMBER_MAX))


def who(p: Party, region: str, *, bold: bool = True) -> str:
    """`*Jane Doe* (415) 555-0123 ext. 101`: whatever is known of the party, escaped."""
    parts: list[str] = []
    name = display_name(p.name)
    if name:
        parts.append(f"*{name}*" if bold else name)
    if p.number and p.number.strip():
        parts.append(_number(p.number, region))
    if p.extension_number and p.extension_number.strip():
        parts.append(f"ext. {isolate(clip(one_line(p.extension_number), 20))}")
    return " ".join(parts) or ("_unknown_" if bold else "unknown")


def label(p: Party, region: str) -> str:
    """The party in plain words, for the fallback text (escaped all the same)."""
    return who(p, region, bold=False)


def company(e164: str | None, region: str) -> str:
    """One of our numbers, formatted; empty when unknown."""
    return _number(e164, region) if e164 else ""


def recipients(parties: Sequence[Party], region: str) -> str:
    if not parties:
        return "_unknown_"
    shown = [who(p, region) for p in parties[:RECIPIENTS_SHOWN]]
    if len(parties) > RECIPIENTS_SHOWN:
        shown.append(f"and {len(parties) - RECIPIENTS_SHOWN} more")
    return ", ".join(shown)


def handled_line(handled: Handled) -> str:
    """`:white_check_mark: Handled by <@U…> · <date>`; ValueError for an id that is no
    Slack user id (the mention is the one control sequence we make, never from outside)."""
    if not _USER_ID.fullmatch(handled.user_id):
        raise ValueError("Handled.user_id does not look like a Slack user id")
    return f":white_check_mark: Handled by <@{handled.user_id}> · {when(handled.at)}"


def _quoted(text: str) -> str:
    return "\n".join(f">{line}" for line in escape(text).split("\n"))


def _longest_prefix(raw: str, limit: int) -> int:
    """The largest n with `_quoted(raw[:n])` within `limit` (rendering never shrinks)."""
    low, high = 0, len(raw)
    while high - low > 1:
        mid = (low + high) // 2
        if len(_quoted(raw[:mid])) <= limit:
            low = mid
        else:
            high = mid
    return low


def quote_parts(raw: str, limit: int = SECTION_MAX, parts: int = BODY_PARTS) -> list[str]:
    """Outside text as escaped block quotes of at most `limit` characters each, split at
    whitespace where it can be; past `parts` pieces the last is cut with an ellipsis. The
    cut happens before escaping, so no entity is split."""
    chunks: list[str] = []
    rest = raw.strip()
    while rest:
        if len(chunks) == parts - 1 or len(_quoted(rest)) <= limit:
            chunks.append(fit(rest, _quoted, limit))
            break
        cut = _longest_prefix(rest, limit)
        space = max(rest.rfind(" ", 0, cut + 1), rest.rfind("\n", 0, cut + 1))
        if space > cut // 2:
            cut = space
        chunks.append(_quoted(rest[:cut].rstrip()))
        rest = rest[cut:].lstrip()
    return chunks


def body(raw: str) -> list[SectionBlock]:
    """The sections quoting an SMS, a pager message or a transcript; none for blank text."""
    return [section(chunk) for chunk in quote_parts(raw)]


def files_in_thread(attachments: Sequence[Attachment], *, icon: bool = True) -> str:
    """`:frame_with_picture: 2 images in thread`, or files; empty without attachments."""
    images = sum(1 for a in attachments if a.content_type.lower().startswith("image/"))
    others = len(attachments) - images
    words = [plural(n, w) for n, w in ((images, "image"), (others, "file")) if n]
    if not words:
        return ""
    phrase = f"{' and '.join(words)} in thread"
    if not icon:
        return phrase
    return f"{':frame_with_picture:' if images else ':paperclip:'} {phrase}"


def fallback(head: str, text: str | None = None) -> str:
    """The message's `text`: the fact in one line, with the start of the text if any."""
    if text and text.strip():
        return f"{head}: {clip(one_line(text), FALLBACK_BODY_MAX)}"
    return head

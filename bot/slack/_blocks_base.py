"""Pieces every reply is made of: the `Reply` value, clipping to Slack's limits after
escaping, and the small formatters (parties, times, durations, paging buttons).

Outside text enters only through `clip()`/`quote()`/`party()`, which escape it; the
mrkdwn around it is ours. Sections carrying outside text are `verbatim`, so Slack adds no
links or mentions of its own (our explicit `<!date^…>` tokens still render).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import phone
from bot.slack.text import escape

# Slack (reference/slack.md §4.1): section text 3000, a section field 2000, button text 75,
# 50 blocks per message.
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_TEXT_MAX = 75
MESSAGE_MAX_BLOCKS = 50
# Slack also refuses a message whose blocks carry too much text in all (`msg_blocks_too_long`,
# undocumented, ~12-13k characters observed, reference §4.1): lists stay under this.
LIST_TEXT_BUDGET = 10_000
ELLIPSIS = "…"
NAME_MAX = 80  # a caller name or location longer than this is noise in a list


@dataclass(frozen=True, slots=True)
class Reply:
    """A message ready for `respond(text=..., blocks=...)` or `chat.postMessage`: `text` is
    the plain fallback (escaped too), `blocks` are Block Kit dicts validated by slack_sdk."""

    text: str
    blocks: list[dict[str, Any]]


def reply(text: str, blocks: Sequence[Block]) -> Reply:
    """Build a `Reply`; `to_dict()` runs slack_sdk's limit checks on every block."""
    if len(blocks) > MESSAGE_MAX_BLOCKS:  # slack_sdk does not check this one (§4.2)
        raise ValueError(f"{len(blocks)} blocks; Slack takes {MESSAGE_MAX_BLOCKS}")
    return Reply(text=text, blocks=[b.to_dict() for b in blocks])


# --- text --------------------------------------------------------------------------------


def fit(raw: str, render: Callable[[str], str], limit: int) -> str:
    """`render(raw)`, or if that passes `limit`, `render` of the longest prefix of `raw`
    plus an ellipsis that stays within it. `render` must not shrink as its input grows
    (escaping, quoting, wrapping do not), so the cut point is found by bisection; the cut
    never falls inside an entity because escaping happens after the cut."""
    whole = render(raw)
    if len(whole) <= limit:
        return whole
    low, high = 0, len(raw)  # render(raw[:low] + "…") fits; raw[:high] does not
    while high - low > 1:
        mid = (low + high) // 2
        if len(render(raw[:mid] + ELLIPSIS)) <= limit:
            low = mid
        else:
            high = mid
    return render(raw[:low].rstrip() + ELLIPSIS)


def clip(raw: str, limit: int) -> str:
    """Outside text escaped and cut to `limit` characters (counted after escaping)."""
    return fit(raw, escape, limit)


def one_line(raw: str) -> str:
    """Outside text on one line (list previews): runs of whitespace become one space."""
    return " ".join(raw.split())


def quote(raw: str, limit: int) -> str:
    """Outside text as an escaped mrkdwn block quote, within `limit` characters."""

    def render(text: str) -> str:
        return "\n".join(f">{line}" for line in escape(text).split("\n"))

    return fit(raw, render, limit)


def mrkdwn(text: str) -> MarkdownTextObject:
    """Our mrkdwn; verbatim, so Slack does not auto-link what the outside text contains."""
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(t) for t in texts if t])


# --- values ------------------------------------------------------------------------------


def number(e164: str | None, region: str) -> str:
    """A phone number as people read it, escaped (it came from outside)."""
    return escape(phone.format_display(e164, region)) if e164 else ""


def party(
    name: str | None,
    e164: str | None,
    region: str,
    *,
    extension: str | None = None,
    location: str | None = None,
) -> str:
    """`*Jane Smith* (650) 444-5567`, or the number, or `ext. 101`; escaped mrkdwn."""
    parts: list[str] = []
    if name and name.strip():
        parts.append(f"*{clip(one_line(name), NAME_MAX)}*")
    if e164:
        parts.append(number(e164, region))
    elif extension:
        parts.append(f"ext. {clip(extension, NAME_MAX)}")
    if location and location.strip():
        parts.append(f"({clip(one_line(location), NAME_MAX)})")
    return " ".join(parts) or "_unknown_"


def when(moment: datetime | None, *, long: bool = False) -> str:
    """Slack date formatting: shown in the reader's own time zone, UTC as the fallback."""
    if moment is None:
        return "_time unknown_"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    utc = aware.astimezone(UTC)
    if long:
        token, fallback = "{date_long_pretty} {time_secs}", utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    else:
        token, fallback = "{date_short_pretty} {time}", utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{token}|{fallback}>"


def duration(seconds: int | None) -> str:
    """`h:mm:ss`, e.g. `0:01:05`; a dash when RingCentral gave none."""
    if seconds is None or seconds < 0:
        return "–"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}"


def code(raw: str, limit: int = 200) -> str:
    """An id from outside as inline code, escaped; backticks inside would end the span."""
    return "`" + clip(raw.replace("`", "'"), limit) + "`"


# --- lists -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Packed:
    sections: list[SectionBlock]
    shown: int


def pack(items: Iterable[str], *, max_sections: int, budget: int = LIST_TEXT_BUDGET) -> Packed:
    """Several items per section (a blank line between them), each section within Slack's
    3000, at most `max_sections` sections and `budget` characters in all; the items that
    do not fit are left out (the caller says how many were shown)."""
    sections: list[str] = []
    current = ""
    used = shown = 0
    for item in items:  # each item is built within SECTION_MAX by its renderer
        joined = f"{current}\n\n{item}" if current else item
        if len(joined) <= SECTION_MAX:
            added = len(joined) - len(current)
            if used + added > budget:
                break
            current, used = joined, used + added
        else:
            if len(sections) + 1 >= max_sections or used + len(item) > budget:
                break
            sections.append(current)
            current, used = item, used + len(item)
        shown += 1
    if current:
        sections.append(current)
    return Packed([section(s) for s in sections], shown)


def page_buttons(
    action_id: str, prev_value: str | None, next_value: str | None
) -> list[ActionsBlock]:
    """Previous/Next, each in its own actions block: Slack wants an action_id unique within
    its block, and both buttons answer to the same listener."""
    blocks: list[ActionsBlock] = []
    for label, value in (("Previous", prev_value), ("Next", next_value)):
        if value is not None:
            button = ButtonElement(text=label, action_id=action_id, value=value)
            blocks.append(ActionsBlock(block_id=f"{action_id}_{label.lower()}", elements=[button]))
    return blocks


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def newest_first(moment: datetime | None) -> float:
    """Sort key putting the latest first and undated records last."""
    if moment is None:
        return float("inf")
    return -(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

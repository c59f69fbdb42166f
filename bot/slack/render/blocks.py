"""The Block Kit every reply is made of: the `Reply` value, sections and contexts of our
mrkdwn, quoted outside text, lists packed within Slack's limits, paging buttons.

Blocks are built with slack_sdk's model classes, so Slack's limits are checked before Slack
sees them. Sections carrying outside text are `verbatim`, so Slack adds no links or mentions
of its own (our explicit `<!date^…>` tokens still render).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

from .format import quote_parts
from .values import PageValue, encode

__all__ = [
    "FIELD_MAX",
    "MESSAGE_MAX_BLOCKS",
    "SECTION_MAX",
    "Reply",
    "body",
    "context",
    "mrkdwn",
    "newest_first",
    "pack",
    "page_buttons",
    "reply",
    "section",
]

# Slack (reference/slack.md §4.1): section text 3000, a section field 2000, 50 blocks per
# message.
SECTION_MAX = 3000
FIELD_MAX = 2000
MESSAGE_MAX_BLOCKS = 50
# Slack also refuses a message whose blocks carry too much text in all (`msg_blocks_too_long`,
# undocumented, ~12-13k characters observed, reference §4.1): lists stay under this.
LIST_TEXT_BUDGET = 10_000
BODY_PARTS = 3  # sections of one text: 3 × 3000 stays under Slack's ~12k per message


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


def mrkdwn(text: str) -> MarkdownTextObject:
    """Our mrkdwn; verbatim, so Slack does not auto-link what the outside text contains."""
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(t) for t in texts if t])


def body(raw: str) -> list[SectionBlock]:
    """The sections quoting an SMS, a pager message or a transcript; none for blank text."""
    return [section(chunk) for chunk in quote_parts(raw, SECTION_MAX, BODY_PARTS)]


# --- lists -----------------------------------------------------------------------------------


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
    action_id: str, previous: PageValue | None, following: PageValue | None
) -> list[ActionsBlock]:
    """Previous/Next, each in its own actions block: Slack wants an action_id unique within
    its block, and both buttons answer to the same listener. A page whose typed text is too
    long for a button value gets no button."""
    blocks: list[ActionsBlock] = []
    for label, page in (("Previous", previous), ("Next", following)):
        if page is None:
            continue
        try:
            value = encode(page)
        except ValueError:
            continue
        button = ButtonElement(text=label, action_id=action_id, value=value)
        blocks.append(ActionsBlock(block_id=f"{action_id}_{label.lower()}", elements=[button]))
    return blocks


def newest_first(moment: datetime | None) -> float:
    """Sort key putting the latest first and undated records last."""
    if moment is None:
        return float("inf")
    return -(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

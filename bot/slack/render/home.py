"""The App Home tab (DESIGN §3.9): who the person is in RingCentral (and a Connect
button), their open missed calls and voicemails with their buttons, the team's day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
)
from slack_sdk.models.views import View

from .blocks import section
from .format import clip, escape

CONNECT_ACTION = "ringcentral_connect"  # the connect flow's own listener answers it
HOME_ITEMS = 10  # the newest open items shown (DESIGN §3.9)
VIEW_MAX_BLOCKS = 100  # Slack: a Home view holds at most 100 blocks

_KIND_WORDS = {
    "missed_call": "missed calls",
    "voicemail": "voicemails",
    "sms": "texts",
    "fax": "faxes",
    "call": "calls",
    "answered_call": "answered calls",
    "internal_message": "internal messages",
}


@dataclass(frozen=True, slots=True)
class HomeLink:
    """How the person is linked, as the Home tab says it (escaped here)."""

    extension_number: str
    name: str | None
    how: str  # email | config


def home_view(
    link: HomeLink | None,
    items: Sequence[Sequence[Mapping[str, Any]]],
    open_count: int,
    today: Sequence[tuple[str, int, int]],
    help_blocks: Sequence[Mapping[str, Any]],
) -> View:
    """`items`: each open item's notice blocks (with its buttons), newest first, at most
    HOME_ITEMS; `open_count` how many there are in all; `today`: (kind, total, open)."""
    blocks: list[Block | dict[str, Any]] = [
        HeaderBlock(text=PlainTextObject(text="RingBridge", emoji=False))
    ]
    if link is None:
        blocks.append(
            section(
                "You are not linked to a RingCentral extension: calls and voicemails of yours "
                "cannot be shown here, and `/call` rings the company's phone. Your admin links "
                "people whose Slack email is their extension's (or in bridge.toml)."
            )
        )
    else:
        how = "by email" if link.how == "email" else "by your admin (`[people] links`)"
        who = f" ({clip(link.name, 80)})" if link.name else ""
        blocks.append(
            section(
                f"You are ext. {escape(link.extension_number)}{who} in RingCentral, linked "
                f"{how}. `/call` rings your phone first."
            )
        )
    blocks.append(
        ActionsBlock(
            block_id=CONNECT_ACTION,
            elements=[
                ButtonElement(text="Connect your RingCentral account", action_id=CONNECT_ACTION)
            ],
        )
    )
    blocks.append(DividerBlock())
    if link is not None:
        title = f"*Your open missed calls and voicemails: {open_count}*"
        if open_count > len(items):
            title += f" (the newest {len(items)} below)"
        blocks.append(section(title if open_count else "*No open missed calls or voicemails.*"))
        for item in items:
            blocks += [dict(b) for b in item]
            blocks.append(DividerBlock())
    counts = [
        # Only a missed call is marked handled; "open" means nothing for the other kinds.
        f"{total} {_KIND_WORDS.get(kind, kind)}"
        + (f" ({still} open)" if kind == "missed_call" else "")
        for kind, total, still in today
    ]
    blocks.append(section("*Today, for the team:* " + ("; ".join(counts) or "nothing yet.")))
    room = VIEW_MAX_BLOCKS - len(blocks)
    if room > len(help_blocks):
        blocks += [DividerBlock(), *(dict(b) for b in help_blocks)]
    return View(type="home", blocks=blocks[:VIEW_MAX_BLOCKS])

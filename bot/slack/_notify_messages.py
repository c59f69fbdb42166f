"""Message notifications: a fax, an SMS/MMS (a thread's first message, or a later one posted
into the thread), and an internal pager message between extensions."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.slack.notices import FaxNotice, PagerNotice, SmsNotice

from ._blocks_base import Reply, context, plural, reply, section, when
from ._notify_parts import (
    body,
    company,
    display_name,
    fallback,
    files_in_thread,
    label,
    recipients,
    who,
)

REPLY_HINT = "Reply in this thread to answer by SMS"


def render_fax(notice: FaxNotice, *, region: str) -> Reply:
    """Sender, pages, when; the PDF itself is uploaded into the thread."""
    head = f":fax: *Fax* from {who(notice.sender, region)}"
    if notice.pages is not None:
        head += f" · {plural(notice.pages, 'page')}"
    to = notice.to
    # Inbound fax events name no recipient (RingCentral's own sample has no `to`).
    known = to.number or to.name or to.extension_number
    line = f"To {who(to, region)} · {when(notice.at)}" if known else when(notice.at)
    blocks: list[Block] = [section(f"{head}\n{line}")]
    if notice.document is not None:
        blocks.append(context(":page_facing_up: PDF in thread"))
    text = f"Fax from {label(notice.sender, region)}"
    if notice.pages is not None:
        text += f", {plural(notice.pages, 'page')}"
    return reply(text, blocks)


def render_sms(notice: SmsNotice, *, region: str, thread_parent: bool = True) -> Reply:
    """An inbound SMS/MMS. As a thread's parent: the conversation (their number → ours), the
    sender, the text and how to answer; in the thread: just the text, time and files."""
    files = files_in_thread(notice.attachments)
    sender = who(notice.sender, region)
    if thread_parent:
        ours = company(notice.company_number, region) or "_unknown_"
        theirs = company(notice.sender.number, region) or sender
        head = f":speech_balloon: *SMS* {theirs} → {ours}"
        name = display_name(notice.sender.name)
        line = (
            f"From *{name}* · {when(notice.at)}"
            if name and notice.sender.number
            else when(notice.at)
        )
        blocks: list[Block] = [section(f"{head}\n{line}")]
        blocks += body(notice.text)
        blocks.append(context(" · ".join(p for p in (files, REPLY_HINT) if p)))
        text = (
            f"SMS from {label(notice.sender, region)} to {company(notice.company_number, region)}"
        )
    else:
        blocks = [*body(notice.text), context(" · ".join(p for p in (when(notice.at), files) if p))]
        text = f"SMS from {label(notice.sender, region)}"
    if not notice.text.strip() and files:
        text += f" ({files_in_thread(notice.attachments, icon=False)})"
    return reply(fallback(text, notice.text), blocks)


def render_internal_message(notice: PagerNotice, *, region: str) -> Reply:
    """A company pager message: the sender extension, the recipients, the text."""
    head = f":pager: *Message* from {who(notice.sender, region)}"
    blocks: list[Block] = [
        section(f"{head}\nTo {recipients(notice.to, region)} · {when(notice.at)}"),
        *body(notice.text),
    ]
    return reply(fallback(f"Message from {label(notice.sender, region)}", notice.text), blocks)

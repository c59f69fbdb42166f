"""Messages: the notifications (a fax, an SMS/MMS as a thread's first message or a later one
in the thread, an internal pager message), and the `/sms list` and `/sms show` replies
(message-store records: SMS/MMS, voicemail, fax, pager)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, SectionBlock

from bot.notices import Attachment, FaxNotice, Handled, PagerNotice, SmsNotice, Taken
from bot.ringcentral.models import MessageAttachment, MessageList, MessageParty, MessageRecord
from bot.slack.text import escape

from .blocks import (
    FIELD_MAX,
    MESSAGE_MAX_BLOCKS,
    SECTION_MAX,
    Reply,
    body,
    context,
    mrkdwn,
    newest_first,
    pack,
    page_buttons,
    reply,
    section,
)
from .calls import callback_buttons, handled_line, taken_line
from .format import (
    Locale,
    clip,
    code,
    duration,
    fallback,
    label,
    name,
    number,
    one_line,
    party,
    plural,
    quote,
    recipients,
    when,
    who,
)
from .values import SMS_LIST_ACTION, PageValue

REPLY_HINT = "Reply in this thread to answer by SMS"
PREVIEW_MAX = 200  # characters of a message shown in a list, after escaping
_RECIPIENTS_SHOWN = 8  # a group text can have many; the rest are counted

_KINDS = {"sms": "SMS", "fax": "Fax", "voicemail": "Voicemail", "pager": "Pager", "text": "Text"}
# RingCentral `vmTranscriptionStatus` (SPEC `VmTranscriptionStatus`).
_TRANSCRIPTION = {
    "NotAvailable": "no transcript (transcription is off or not offered)",
    "InProgress": "transcript in progress",
    "TimedOut": "transcription timed out",
    "Completed": "transcript ready",
    "CompletedPartially": "transcript partly ready",
    "Failed": "transcription failed",
    "Unknown": "transcript status unknown",
}


# --- notifications ---------------------------------------------------------------------------


def render_fax(notice: FaxNotice, *, locale: Locale) -> Reply:
    """Sender, pages, when; the PDF itself is uploaded into the thread."""
    head = f":fax: *Fax* from {who(notice.sender, locale)}"
    if notice.pages is not None:
        head += f" · {plural(notice.pages, 'page')}"
    to, at = notice.to, when(notice.at, locale)
    # Inbound fax events name no recipient (RingCentral's own sample has no `to`).
    known = to.number or to.name or to.extension_number
    line = f"To {who(to, locale)} · {at}" if known else at
    blocks: list[Block] = [section(f"{head}\n{line}")]
    if notice.document is not None:
        blocks.append(context(":page_facing_up: PDF in thread"))
    text = f"Fax from {label(notice.sender, locale)}"
    if notice.pages is not None:
        text += f", {plural(notice.pages, 'page')}"
    return reply(text, blocks)


def render_sms(
    notice: SmsNotice,
    *,
    locale: Locale,
    thread_parent: bool = True,
    handled: Handled | None = None,
    taken: Taken | None = None,
) -> Reply:
    """An inbound SMS/MMS. As a thread's parent: the conversation (their number → ours), the
    sender, the text and how to answer, who took it and who handled it, with Take it and
    Mark handled until then (DESIGN §3.12); in the thread: just the text, time and files."""
    files = files_in_thread(notice.attachments)
    at = when(notice.at, locale)
    if notice.outbound:
        return _sent_text(notice, locale, at, files, thread_parent=thread_parent)
    if thread_parent:
        ours = number(notice.company_number, locale) or "_unknown_"
        theirs = number(notice.sender.number, locale) or who(notice.sender, locale)
        if notice.others:  # a group MMS: everyone it went to but us
            theirs += " (group with " + ", ".join(number(o, locale) for o in notice.others) + ")"
        head = f":speech_balloon: *SMS* {theirs} → {ours}"
        sender = name(notice.sender.name)
        line = f"From *{sender}* · {at}" if sender and notice.sender.number else at
        blocks: list[Block] = [section(f"{head}\n{line}")]
        blocks += body(notice.text)
        blocks.append(context(" · ".join(p for p in (files, REPLY_HINT) if p)))
        blocks += [context(taken_line(taken, locale))] if taken else []
        blocks += [context(handled_line(handled, locale))] if handled else []
        buttons = callback_buttons(
            None,
            None,
            None,
            missed_call=None if handled else notice.item,
            take=None if handled or taken else ("sms", notice.item),
            kind="sms",
        )
        blocks += [buttons] if buttons else []
        to = number(notice.company_number, locale)
        text = f"SMS from {label(notice.sender, locale)} to {to}"
    else:
        blocks = [*body(notice.text), context(" · ".join(p for p in (at, files) if p))]
        text = f"SMS from {label(notice.sender, locale)}"
    if not notice.text.strip() and files:
        text += f" ({files_in_thread(notice.attachments, icon=False)})"
    return reply(fallback(text, notice.text), blocks)


_VIA = {"sms": "with /sms", "text_back": "with Text back", "auto_reply": "as auto reply"}


def _sent_text(
    notice: SmsNotice, locale: Locale, at: str, files: str, *, thread_parent: bool
) -> Reply:
    """A text from our number sent elsewhere than in the thread (DESIGN §3.8): by someone
    outside Slack (the RingCentral app), or by the bridge itself, named."""
    if notice.via == "auto_reply":
        how = "Auto reply"
    elif notice.sent_by and notice.via:
        # The Slack id is ours (the outbound table), escaped anyway: only `<@U…>` may ping.
        how = f"Sent by <@{escape(notice.sent_by)}> {_VIA.get(notice.via, '')}".rstrip()
    else:
        how = "Sent outside Slack"
    to = number(notice.sender.number, locale) or who(notice.sender, locale)
    head = f":outbox_tray: *{how}* to {to}"
    if thread_parent:
        head += f" from {number(notice.company_number, locale)}"
    blocks: list[Block] = [section(head), *body(notice.text)]
    blocks.append(context(" · ".join(p for p in (at, files) if p)))
    plain = how.replace(f"<@{escape(notice.sent_by or '')}>", "someone in Slack")
    return reply(fallback(f"{plain} to {label(notice.sender, locale)}", notice.text), blocks)


def render_internal_message(notice: PagerNotice, *, locale: Locale) -> Reply:
    """A company pager message: the sender extension, the recipients, the text."""
    head = f":pager: *Message* from {who(notice.sender, locale)}"
    to = f"To {recipients(notice.to, locale)} · {when(notice.at, locale)}"
    blocks: list[Block] = [section(f"{head}\n{to}"), *body(notice.text)]
    return reply(fallback(f"Message from {label(notice.sender, locale)}", notice.text), blocks)


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


# --- /sms list, /sms show --------------------------------------------------------------------


def message_list(
    page: MessageList,
    *,
    locale: Locale,
    description: str,
    previous: PageValue | None = None,
    following: PageValue | None = None,
) -> Reply:
    """A page of messages, newest first, with Previous/Next buttons (action `sms_list_page`;
    a button is left out when its page is None)."""
    records = sorted(page.records, key=lambda message: newest_first(message.creation_time))
    intro = section(f"*Messages* — {clip(description, 500)}")
    buttons = page_buttons(SMS_LIST_ACTION, previous, following)
    if not records:
        blocks: list[Block] = [intro, section("No messages match."), *buttons]
        return reply(f"No messages — {clip(description, 500)}", blocks)
    packed = pack(
        (_list_item(m, locale) for m in records),
        max_sections=MESSAGE_MAX_BLOCKS - 2 - len(buttons),
    )
    notes = [_paging_note(page, len(records))]
    if packed.shown < len(records):
        if notes[0].endswith("on this page"):
            notes.pop()
        notes.append(
            f"Showing the first {packed.shown} of {len(records)} messages on this page: a "
            f"Slack message holds only so much. Add a count (`{packed.shown}`) to "
            "`/sms list` to page through them all."
        )
    notes.append(escape("`/sms show <id>` shows one message in full."))
    blocks = [intro, *packed.sections, context(*notes), *buttons]
    return reply(f"{plural(len(records), 'message')} — {clip(description, 500)}", blocks)


def message_detail(
    message: MessageRecord, *, locale: Locale, transcript: str | None = None
) -> Reply:
    """One message in full: parties, time, status, text, attachments, voicemail duration and
    transcript status (the transcript itself when the caller fetched it), fax pages."""
    kind = _kind(message)
    inbound = message.direction == "Inbound"
    title = f"*{kind}* {'received' if inbound else 'sent'} {when(message.creation_time, locale)}"
    fields = [
        f"*From*\n{_from(message, locale)}",
        f"*To*\n{_recipients(message.to, locale)}",
        f"*Status*\n{_status(message)}",
    ]
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title), fields=[mrkdwn(f) for f in fields])]
    if message.subject and message.subject.strip():
        if kind in ("Voicemail", "Fax"):  # a subject line, not the message itself
            blocks.append(section(f"*Subject:* {clip(one_line(message.subject), 2900)}"))
        else:
            blocks.append(section(quote(message.subject, SECTION_MAX)))
    if message.is_voicemail:
        blocks.append(section(_voicemail(message, transcript)))
    if kind == "Fax":
        blocks.append(section(_fax(message)))
    if message.attachments:
        blocks.append(section(_attachments(message.attachments)))
    facts = [f"Message id {code(message.id)}"]
    if message.conversation_key:
        facts.append(f"conversation {code(message.conversation_key)}")
    if message.availability and message.availability != "Alive":
        facts.append(clip(message.availability, 50))
    if message.delivery_error_code:
        facts.append(f"delivery error {code(message.delivery_error_code, 100)}")
    blocks.append(context(" · ".join(facts)))
    other = message.from_ if inbound else (message.to[0] if message.to else None)
    text = f"{kind} {'from' if inbound else 'to'} {_plain_party(other, locale)}"
    return reply(text, blocks)


def _kind(message: MessageRecord) -> str:
    return _KINDS.get(message.type.lower(), clip(message.type, 30))


def _party(p: MessageParty | None, locale: Locale, *, location: bool = False) -> str:
    if p is None:
        return "_unknown_"
    return party(
        p.name,
        p.phone_number,
        locale,
        # The message store names an extension by its number only when it has no number.
        extension=None if p.phone_number else p.extension_number,
        location=p.location if location else None,
    )


def _plain_party(p: MessageParty | None, locale: Locale) -> str:
    return _party(p, locale).replace("*", "")


def _from(message: MessageRecord, locale: Locale) -> str:
    return _party(message.from_, locale, location=True)


def _recipients(to: Sequence[MessageParty], locale: Locale) -> str:
    if not to:
        return "_unknown_"
    shown = [_party(p, locale) for p in to[:_RECIPIENTS_SHOWN]]
    if len(to) > _RECIPIENTS_SHOWN:
        shown.append(f"and {len(to) - _RECIPIENTS_SHOWN} more")
    text = "\n".join(shown)
    return text if len(text) <= FIELD_MAX else f"{len(to)} recipients"


def _status(message: MessageRecord) -> str:
    parts = []
    if message.read_status:
        parts.append(clip(message.read_status, 30))
    if message.message_status:
        parts.append(clip(message.message_status, 50))
    return ", ".join(parts) or "–"


def _list_item(message: MessageRecord, locale: Locale) -> str:
    kind = _kind(message)
    if message.direction == "Inbound":
        arrow, other = "← from", _party(message.from_, locale)
    else:
        arrow, other = "→ to", _recipients(message.to[:1], locale)
        if len(message.to) > 1:
            other += f" and {len(message.to) - 1} more"
    head = f"*{kind}* {arrow} {other} · {when(message.creation_time, locale)}"
    if message.read_status == "Unread":
        head += " · *Unread*"
    head += f" · {code(message.id, 40)}"
    return f"{head}\n{_preview(message, kind)}"


def _preview(message: MessageRecord, kind: str) -> str:
    if message.is_voicemail:
        status = _TRANSCRIPTION.get(message.vm_transcription_status or "", "")
        return f"_{duration(message.vm_duration)} voicemail{', ' + status if status else ''}_"
    text = quote(one_line(message.subject or ""), PREVIEW_MAX) if message.subject else ""
    extra = []
    if kind == "Fax" and message.fax_page_count is not None:
        extra.append(plural(message.fax_page_count, "page"))
    if message.media:
        extra.append(plural(len(message.media), "attachment"))
    note = f"_{', '.join(extra)}_" if extra else ""
    return "\n".join(p for p in (text, note) if p) or "_no text_"


def _voicemail(message: MessageRecord, transcript: str | None) -> str:
    raw = message.vm_transcription_status
    status = _TRANSCRIPTION.get(raw or "", f"transcript status {clip(raw, 50)}" if raw else "")
    head = f":studio_microphone: Voicemail, {duration(message.vm_duration)}"
    head += f"; {status}." if status else "."
    if transcript and transcript.strip():
        return f"{head}\n{quote(transcript, SECTION_MAX - len(head) - 1)}"
    return head


def _fax(message: MessageRecord) -> str:
    pages = message.fax_page_count
    text = ":fax: " + (plural(pages, "page") if pages is not None else "Fax")
    if message.fax_resolution:
        text += f", {clip(message.fax_resolution, 20)} resolution"
    if message.cover_page_text and message.cover_page_text.strip():
        text += f"\nCover page:\n{quote(message.cover_page_text, SECTION_MAX - 200)}"
    return text


def _attachments(attachments: Sequence[MessageAttachment]) -> str:
    lines = ["*Attachments*"]
    for a in attachments:
        facts = [clip(a.type or "Attachment", 40)]
        if a.file_name:
            facts.append(clip(one_line(a.file_name), 100))
        if a.content_type:
            facts.append(clip(a.content_type, 60))
        if a.vm_duration is not None:
            facts.append(duration(a.vm_duration))
        if a.size is not None:
            facts.append(_size(a.size))
        line = "• " + " · ".join(facts)
        if sum(len(x) + 1 for x in lines) + len(line) > SECTION_MAX - 40:
            lines.append(f"and {len(attachments) - len(lines) + 1} more")
            break
        lines.append(line)
    return "\n".join(lines)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _paging_note(page: MessageList, count: int) -> str:
    p = page.paging
    if p and p.page and p.total_pages:
        total = f" · {plural(p.total_elements, 'message')} in all" if p.total_elements else ""
        return f"Page {p.page} of {p.total_pages}{total}"
    return f"{plural(count, 'message')} on this page"

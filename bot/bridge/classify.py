"""Message events and message-store records → notices (DESIGN §3.6, §3.7).

A voicemail, fax or SMS reaches the bridge by its own filter (`notice_from_event`), and
again as a message-store change, which is used only for what has no filter of its own:
new pager messages, and voicemail updates such as a finished transcript
(`message_store_followups` says what to fetch; `notice_from_message` reads the records).
Notices are deduplicated on `dedupe_key`, so the same message by two routes posts once.
Only inbound messages notify: what the team sent itself is no news to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.notices import (
    Attachment,
    FaxNotice,
    Notice,
    PagerNotice,
    Party,
    SmsNotice,
    VoicemailNotice,
)
from bot.ringcentral.models.events import (
    Event,
    FaxEvent,
    InstantMessageEvent,
    MessageStoreEvent,
    VoicemailEvent,
)
from bot.ringcentral.models.messages import MessageAttachment, MessageParty, MessageRecord

from ._people import e164, party

__all__ = [
    "Followup",
    "PagerFollowup",
    "VoicemailFollowup",
    "dedupe_key",
    "message_store_followups",
    "notice_from_event",
    "notice_from_message",
    "path_extension",
    "sent_text",
    "transcript_attachment",
]

_EXTENSION_IN_PATH = re.compile(r"/extension/([^/?]+)")


@dataclass(frozen=True, slots=True)
class PagerFollowup:
    """New pager messages of an extension: GET them by id (when RingCentral gave only a
    count, list that many of the newest pager messages)."""

    extension_id: str | None
    message_ids: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class VoicemailFollowup:
    """Voicemails of an extension changed (a transcript finished): list the recent ones and
    update their notices."""

    extension_id: str | None
    count: int


Followup = PagerFollowup | VoicemailFollowup


def dedupe_key(notice: Notice) -> tuple[str, str]:
    """(kind, item): the dispatcher posts each at most once, whichever event brought it."""
    return notice.kind, notice.item


def notice_from_event(event: Event) -> Notice | None:
    """The notice an SMS/MMS, voicemail or fax event makes; None for anything else
    (telephony goes through `calls.apply`, message-store through the followups)."""
    if isinstance(event, InstantMessageEvent | VoicemailEvent | FaxEvent):
        return _notice(event.body, _event_extension(event))
    return None


def notice_from_message(record: MessageRecord) -> Notice | None:
    """The notice a message-store record fetched by REST makes (pager, voicemail, …).
    A voicemail's transcript stays None: the dispatcher downloads
    `transcript_attachment(record)` when `transcript_status` is Completed."""
    return _notice(record, None)


def message_store_followups(event: MessageStoreEvent) -> list[Followup]:
    """What a message-store change asks the dispatcher to fetch: new pager messages, and
    voicemails updated. New voicemails, faxes and SMS come by their own filters."""
    body = event.body
    extension = body.extension_id or path_extension(event.event) or event.owner_id
    followups: list[Followup] = []
    for change in body.changes:
        kind = change.type.lower()
        if kind == "pager" and (change.new_message_ids or change.new_count):
            ids = tuple(dict.fromkeys(change.new_message_ids))  # unique, in order
            followups.append(PagerFollowup(extension, ids, max(change.new_count, len(ids))))
        elif kind == "voicemail" and change.updated_count:
            followups.append(VoicemailFollowup(extension, change.updated_count))
    return followups


def sent_text(record: MessageRecord, extension: str | None) -> SmsNotice | None:
    """A text sent from one of our numbers (an Outbound SMS record), as a notice for the
    conversation's thread: `sender` is the party it went to (the thread's other party)."""
    if record.type.lower() != "sms" or record.direction != "Outbound":
        return None
    ours = e164(record.from_.phone_number) if record.from_ and record.from_.phone_number else None
    to = [e164(p.phone_number) or p.phone_number for p in record.to if p.phone_number]
    if not ours or not to or record.creation_time is None:
        return None
    return SmsNotice(
        kind="sms",
        message_id=record.id,
        sender=party(to[0], None, None),
        company_number=ours,
        text=record.subject or "",
        at=record.creation_time,
        attachments=tuple(_attachment(a) for a in record.media if a.uri),
        extension_id=_record_extension(record) or extension,
        others=tuple(to[1:]),
        outbound=True,
    )


def transcript_attachment(record: MessageRecord) -> Attachment | None:
    """The voicemail's AudioTranscription attachment (its text), if RingCentral has one."""
    found = next((a for a in record.attachments if a.type == "AudioTranscription"), None)
    return _attachment(found) if found else None


def _notice(record: MessageRecord, extension: str | None) -> Notice | None:
    if (record.direction or "Inbound") != "Inbound":
        return None
    extension = _record_extension(record) or extension
    kind = record.type.lower()
    if kind == "sms":
        return _sms(record, extension)
    if kind == "voicemail":
        return _voicemail(record, extension)
    if kind == "fax":
        return _fax(record, extension)
    if kind == "pager":
        return _pager(record, extension)
    return None


def _sms(record: MessageRecord, extension: str | None) -> SmsNotice | None:
    # RingCentral marks our number `target: true` in a group MMS (SPEC: "Returned in the
    # `to` field for group MMS"); unmarked (one recipient, older records), the first.
    target = next((p for p in record.to if p.target), record.to[0] if record.to else None)
    ours = target.phone_number if target else None
    if ours is None or record.creation_time is None:
        return None  # no number to thread on, or not a message at all
    others = tuple(
        dict.fromkeys(
            e164(p.phone_number) or p.phone_number
            for p in record.to
            if p is not target and p.phone_number
        )
    )
    return SmsNotice(
        kind="sms",
        message_id=record.id,
        sender=_party(record.from_),
        company_number=e164(ours) or ours,
        text=record.subject or "",
        at=record.creation_time,
        attachments=tuple(_attachment(a) for a in record.media if a.uri),
        extension_id=extension,
        others=others,
    )


def _voicemail(record: MessageRecord, extension: str | None) -> VoicemailNotice | None:
    if record.creation_time is None:
        return None
    audio = record.audio
    to = record.to[0] if record.to else None
    return VoicemailNotice(
        kind="voicemail",
        message_id=record.id,
        caller=_party(record.from_),
        to=_party(to),
        at=record.creation_time,
        duration=record.vm_duration,
        transcript=None,
        transcript_status=record.vm_transcription_status,
        audio=_attachment(audio) if audio and audio.uri else None,
        extension_id=extension,
        company_number=_company_number(to),
    )


def _fax(record: MessageRecord, extension: str | None) -> FaxNotice | None:
    if record.creation_time is None:
        return None
    document = next((a for a in record.attachments if a.type == "RenderedDocument" and a.uri), None)
    to = record.to[0] if record.to else None
    return FaxNotice(
        kind="fax",
        message_id=record.id,
        sender=_party(record.from_),
        to=_party(to),
        at=record.creation_time,
        pages=record.fax_page_count,
        document=_attachment(document) if document else None,
        extension_id=extension,
        company_number=_company_number(to),
    )


def _pager(record: MessageRecord, extension: str | None) -> PagerNotice | None:
    if record.creation_time is None:
        return None
    return PagerNotice(
        kind="internal_message",
        message_id=record.id,
        sender=_party(record.from_),
        to=tuple(_party(t) for t in record.to),
        text=record.subject or "",
        at=record.creation_time,
        extension_id=extension,
    )


def _party(wire: MessageParty | None) -> Party:
    if wire is None:
        return Party()
    return party(wire.phone_number, wire.name, wire.extension_number)


def _company_number(wire: MessageParty | None) -> str | None:
    number = e164(wire.phone_number) if wire else None
    return number if number and number.startswith("+") else None


def _attachment(wire: MessageAttachment) -> Attachment:
    return Attachment(
        uri=wire.uri or "",
        content_type=wire.content_type or "application/octet-stream",
        attachment_id=wire.id,
        filename=wire.file_name,
    )


def _record_extension(record: MessageRecord) -> str | None:
    if record.owner and record.owner.extension_id:
        return record.owner.extension_id
    return record.extension_id


def _event_extension(event: InstantMessageEvent | VoicemailEvent | FaxEvent) -> str | None:
    return path_extension(event.event) or event.owner_id


def path_extension(path: str) -> str | None:
    match = _EXTENSION_IN_PATH.search(path)
    return match.group(1) if match and match.group(1) != "~" else None

"""Message-store record builders, in the field order of RingCentral's examples."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sim._rc_data_errors import JSON, Content, Upload
from bot.sim._rc_data_messages import Message, MessageStore, conversation_ref
from bot.sim._rc_data_paging import iso


@dataclass(frozen=True)
class Mailbox:
    """Whose store a message lands in, and who else sees it (queue members)."""

    id: str
    type: str
    shared_with: tuple[str, ...] = ()
    owner: JSON | None = None  # SPEC OwnerResource, set on shared mailboxes' messages


def _head(
    store: MessageStore,
    kind: str,
    direction: str,
    frm: JSON,
    to: list[JSON],
    created: datetime,
    read_status: str,
    message_id: int | None = None,
) -> tuple[int, JSON]:
    message_id = message_id or store.new_id()
    body: JSON = {
        "id": message_id,
        "to": to,
        "from": frm,
        "type": kind,
        "creationTime": iso(created),
        "readStatus": read_status,
        "priority": "Normal",
        "attachments": [],
        "direction": direction,
        "availability": "Alive",
    }
    return message_id, body


def _tail(body: JSON, box: Mailbox, created: datetime) -> None:
    body["lastModifiedTime"] = iso(created + timedelta(milliseconds=412))
    if box.owner is not None:
        body["owner"] = box.owner


def _image_size(upload: Upload) -> tuple[int, int] | None:
    if upload.body.startswith(b"\x89PNG\r\n\x1a\n") and len(upload.body) >= 24:
        width, height = struct.unpack(">II", upload.body[16:24])
        return int(width), int(height)
    return None


def text_message(
    store: MessageStore,
    box: Mailbox,
    *,
    kind: str,  # SMS | Pager
    direction: str,
    frm: JSON,
    to: list[JSON],
    text: str,
    created: datetime,
    read_status: str,
    status: str,
    conversation_id: int,
    uploads: Sequence[Upload] = (),
    to_department: bool = False,
) -> Message:
    """An SMS (MMS with uploads) or a pager message."""
    message_id, body = _head(store, kind, direction, frm, to, created, read_status)
    body["attachments"].append({"id": message_id, "type": "Text", "contentType": "text/plain"})
    for upload in uploads:
        att_id = store.new_id()
        attachment: JSON = {
            "id": att_id,
            "type": "MmsAttachment",
            "contentType": upload.content_type,
            "size": len(upload.body),
            "fileName": upload.filename,
        }
        if size := _image_size(upload):
            attachment["width"], attachment["height"] = size
        body["attachments"].append(attachment)
        store.uploads[(message_id, att_id)] = Content(
            upload.body, upload.content_type, upload.filename
        )
    body["subject"] = text
    body["messageStatus"] = status
    if kind == "SMS" and direction == "Outbound":
        body["smsSendingAttemptsCount"] = 1
    body["conversationId"] = conversation_id
    body["conversation"] = conversation_ref(conversation_id)
    _tail(body, box, created)
    if kind == "Pager":
        body["pgToDepartment"] = to_department
    return Message(box.id, box.type, created, body, box.shared_with)


def voicemail(
    store: MessageStore,
    box: Mailbox,
    *,
    frm: JSON,
    to: list[JSON],
    created: datetime,
    duration: int,
    read_status: str,
    transcription_status: str,
    transcript: str | None,
    message_id: int | None = None,
) -> Message:
    message_id, body = _head(
        store, "VoiceMail", "Inbound", frm, to, created, read_status, message_id
    )
    body["attachments"].append(
        {
            "id": message_id,
            "type": "AudioRecording",
            "contentType": "audio/x-wav",
            "vmDuration": duration,
        }
    )
    if transcript is not None:
        att_id = store.new_id()
        body["attachments"].append(
            {"id": att_id, "type": "AudioTranscription", "contentType": "text/plain"}
        )
        store.uploads[(message_id, att_id)] = Content(
            transcript.encode(), "text/plain", f"{att_id}.txt"
        )
    body["messageStatus"] = "Received"
    _tail(body, box, created)
    body["vmTranscriptionStatus"] = transcription_status
    return Message(box.id, box.type, created, body, box.shared_with)


def fax(
    store: MessageStore,
    box: Mailbox,
    *,
    direction: str,
    frm: JSON,
    to: list[JSON],
    created: datetime,
    pages: int,
    read_status: str,
    message_id: int | None = None,
) -> Message:
    # With `message_id`: the call log already points at this id.
    new_id, body = _head(store, "Fax", direction, frm, to, created, read_status, message_id)
    body["attachments"].append(
        {"id": new_id, "type": "RenderedDocument", "contentType": "application/pdf"}
    )
    # Reference §3.1: a fax's subject is the sender's number.
    body["subject"] = frm.get("phoneNumber", "")
    body["messageStatus"] = "Received" if direction == "Inbound" else "Sent"
    _tail(body, box, created)
    body["faxResolution"] = "High"
    body["faxPageCount"] = pages
    return Message(box.id, box.type, created, body, box.shared_with)

"""Message-store records (SMS, MMS, voicemail, fax, pager) and the requests that send them.

The same record shape comes back from `POST …/sms`, `GET …/message-store[/{id}]` and in
the body of instant-message, voicemail and fax events (SPEC `GetMessageInfoResponse`,
`InstantMessageEventBody`, `VoicemailMessageEventBody`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import Id, Inbound, Outbound
from .common import ErrorBody
from .limits import PAGER_MAX_UTF16_UNITS, SMS_MAX_UTF16_UNITS, check_text
from .paging import Listing

__all__ = [
    "Availability",
    "ConversationRef",
    "MessageAttachment",
    "MessageBatchPart",
    "MessageDirection",
    "MessageList",
    "MessageOwner",
    "MessageParty",
    "MessageRecord",
    "MessageType",
    "PagerParty",
    "PhoneNumberInfoParts",
    "PhoneRef",
    "ReadStatus",
    "SendMmsRequest",
    "SendPagerRequest",
    "SendSmsRequest",
    "SmsCountry",
]

# What we send is strict (SPEC enums); what we receive stays `str` (RingCentral adds values).
MessageType = Literal["Fax", "SMS", "VoiceMail", "Pager"]
MessageDirection = Literal["Inbound", "Outbound"]
ReadStatus = Literal["Read", "Unread"]
Availability = Literal["Alive", "Deleted", "Purged"]


# --- requests ---------------------------------------------------------------------------


class PhoneRef(Outbound):
    """`{phoneNumber}` in E.164."""

    phone_number: str


class SmsCountry(Outbound):
    """Dialing-plan country of an SMS: `id` or `isoCode`, never both (RingCentral MSG-365)."""

    id: str | None = None
    iso_code: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SmsCountry:
        if (self.id is None) == (self.iso_code is None):
            raise ValueError("give exactly one of id or iso_code (RingCentral MSG-365)")
        return self


class _Envelope(Outbound):
    from_: PhoneRef = Field(alias="from")
    to: list[PhoneRef] = Field(min_length=1)
    country: SmsCountry | None = None


class SendSmsRequest(_Envelope):
    """Body of `POST …/sms` (SPEC `CreateSMSMessage`)."""

    text: str

    @field_validator("text")
    @classmethod
    def _text_fits(cls, value: str) -> str:
        return check_text(value, SMS_MAX_UTF16_UNITS, "SMS text")


class SendMmsRequest(_Envelope):
    """The JSON part of a multipart `POST …/sms` carrying attachments; text is optional."""

    text: str | None = None

    @field_validator("text")
    @classmethod
    def _text_fits(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, SMS_MAX_UTF16_UNITS, "MMS text")


class PagerParty(Outbound):
    """An extension, by id or by number (SPEC `PagerCallerInfoRequest`)."""

    extension_id: str | None = None
    extension_number: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PagerParty:
        if (self.extension_id is None) == (self.extension_number is None):
            raise ValueError("give exactly one of extension_id or extension_number")
        return self


class SendPagerRequest(Outbound):
    """Body of `POST …/company-pager` (SPEC `CreateInternalTextMessageRequest`)."""

    from_: PagerParty | None = Field(default=None, alias="from")
    to: list[PagerParty] = Field(default_factory=list)
    text: str
    reply_on: int | None = None

    @field_validator("text")
    @classmethod
    def _text_fits(cls, value: str) -> str:
        return check_text(value, PAGER_MAX_UTF16_UNITS, "pager text")

    @model_validator(mode="after")
    def _has_recipient(self) -> SendPagerRequest:
        # RingCentral: `to` is optional only when `replyOn` names the message answered.
        if not self.to and self.reply_on is None:
            raise ValueError("a pager message needs `to` or `reply_on`")
        return self


# --- records ----------------------------------------------------------------------------


class PhoneNumberInfoParts(Inbound):
    country_code: str | None = None
    national_destination_code: str | None = None
    subscriber_number: str | None = None


class MessageParty(Inbound):
    """Sender or recipient of a message."""

    phone_number: str | None = None
    extension_number: str | None = None
    extension_id: Id | None = None
    name: str | None = None
    location: str | None = None
    target: bool | None = None
    message_status: str | None = None
    phone_number_info: PhoneNumberInfoParts | None = None


class MessageAttachment(Inbound):
    """One attachment; `uri` is its content URL (absent for SMS text in 2025 events)."""

    id: Id
    uri: str | None = None
    type: str | None = None  # AudioRecording, AudioTranscription, Text, RenderedDocument, …
    content_type: str | None = None
    vm_duration: int | None = None
    size: int | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None


class ConversationRef(Inbound):
    id: Id
    uri: str | None = None


class MessageOwner(Inbound):
    extension_id: Id | None = None
    extension_type: str | None = None
    name: str | None = None


class MessageRecord(Inbound):
    """A message-store record: SMS/MMS, voicemail, fax or pager (SPEC `GetMessageInfoResponse`)."""

    id: Id
    uri: str | None = None
    extension_id: Id | None = None
    type: str  # SMS, Fax, VoiceMail (events may say "Voicemail"), Pager, Text
    to: tuple[MessageParty, ...] = ()
    from_: MessageParty | None = Field(default=None, alias="from")
    creation_time: datetime | None = None
    last_modified_time: datetime | None = None
    read_status: str | None = None
    priority: str | None = None
    attachments: tuple[MessageAttachment, ...] = ()
    direction: str | None = None
    availability: str | None = None
    subject: str | None = None
    message_status: str | None = None
    conversation_id: Id | None = None
    conversation: ConversationRef | None = None
    sms_sending_attempts_count: int | None = None
    sms_delivery_time: datetime | None = None
    delivery_error_code: str | None = None
    segment_count: int | None = None
    vm_transcription_status: str | None = None
    fax_resolution: str | None = None
    fax_page_count: int | None = None
    cover_index: int | None = None
    cover_page_text: str | None = None
    pg_to_department: bool | None = None
    owner: MessageOwner | None = None
    event_type: str | None = None  # events only: Create, Update, Delete

    @property
    def conversation_key(self) -> str | None:
        """The conversation id; `conversation.id` first, as `conversationId` is deprecated
        (and some REST answers carry it already rounded to a float's precision)."""
        return self.conversation.id if self.conversation else self.conversation_id

    @property
    def is_voicemail(self) -> bool:
        return self.type.lower() == "voicemail"

    @property
    def audio(self) -> MessageAttachment | None:
        """The voicemail recording, if any."""
        return next((a for a in self.attachments if a.type == "AudioRecording"), None)

    @property
    def media(self) -> tuple[MessageAttachment, ...]:
        """MMS attachments (images, audio, video), without the text part."""
        return tuple(a for a in self.attachments if a.type == "MmsAttachment")

    @property
    def vm_duration(self) -> int | None:
        audio = self.audio
        return audio.vm_duration if audio else None


class MessageList(Listing[MessageRecord]):
    """Answer of `GET …/message-store`: paging here includes totals."""


class MessageBatchPart(Inbound):
    """One part of a 207 bulk `GET …/message-store/{id1,id2}` answer in
    `application/vnd.ringcentral.multipart+json` form."""

    resource_id: Id
    status: int
    body: MessageRecord | ErrorBody

    @field_validator("body", mode="before")
    @classmethod
    def _pick(cls, value: Any) -> Any:
        # A failed part carries an error body, which must not be coerced into a record.
        if isinstance(value, dict) and "errorCode" in value:
            return ErrorBody.model_validate(value)
        return value

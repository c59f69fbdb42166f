"""What a notification says, before it is Block Kit: the bridge turns RingCentral events
into these (bot/bridge), the renderers turn them into messages (bot/slack/notify.py).

Numbers are E.164; times are aware UTC datetimes; every string may have come from outside
(caller names, SMS text, transcripts) and is escaped when rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

__all__ = [
    "Attachment",
    "CallNotice",
    "FaxNotice",
    "Handled",
    "Notice",
    "PagerNotice",
    "Party",
    "SmsNotice",
    "VoicemailNotice",
    "dump_notice",
    "load_notice",
]


@dataclass(frozen=True, slots=True)
class Party:
    number: str | None = None  # E.164, or None for an internal party without one
    name: str | None = None
    extension_number: str | None = None

    @property
    def label(self) -> str:
        """Plain text naming the party, for fallbacks and logs (unescaped)."""
        parts = [p for p in (self.name, self.number) if p]
        if self.extension_number:
            parts.append(f"ext. {self.extension_number}")
        return " ".join(parts) or "Unknown caller"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file RingCentral holds (voicemail audio, fax PDF, MMS image), fetched by `uri`."""

    uri: str
    content_type: str
    attachment_id: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class CallNotice:
    """One call, judged per call (DESIGN §3.7): missed, answered, or finished."""

    kind: Literal["missed_call", "answered_call", "call"]
    session_id: str  # telephonySessionId
    party_id: str  # the watched party this notice is about
    direction: Literal["Inbound", "Outbound"]
    caller: Party
    callee: Party  # whom the caller dialled (a company number or extension)
    at: datetime  # when the call began
    answered_by: Party | None = None
    duration: int | None = None  # seconds, for a finished call
    result: str | None = None  # "Answered", "Missed", "Voicemail", "Busy", …
    extension_id: str | None = None  # the watched extension, for routing
    company_number: str | None = None  # our number involved, for routing and Text back

    @property
    def item(self) -> str:
        return f"{self.session_id}:{self.party_id}"


@dataclass(frozen=True, slots=True)
class VoicemailNotice:
    kind: Literal["voicemail"]
    message_id: str
    caller: Party
    to: Party
    at: datetime
    duration: int | None = None  # seconds
    transcript: str | None = None  # set once RingCentral's transcription is Completed
    transcript_status: str | None = None  # InProgress, Completed, Failed, …
    audio: Attachment | None = None
    extension_id: str | None = None
    company_number: str | None = None

    @property
    def item(self) -> str:
        return self.message_id


@dataclass(frozen=True, slots=True)
class FaxNotice:
    kind: Literal["fax"]
    message_id: str
    sender: Party
    to: Party
    at: datetime
    pages: int | None = None
    document: Attachment | None = None
    extension_id: str | None = None
    company_number: str | None = None

    @property
    def item(self) -> str:
        return self.message_id


@dataclass(frozen=True, slots=True)
class SmsNotice:
    """An inbound SMS or MMS; threads are per (company_number, sender.number)."""

    kind: Literal["sms"]
    message_id: str
    sender: Party
    company_number: str
    text: str
    at: datetime
    attachments: tuple[Attachment, ...] = ()
    extension_id: str | None = None

    @property
    def item(self) -> str:
        return self.message_id


@dataclass(frozen=True, slots=True)
class PagerNotice:
    """An internal (company pager) message between extensions."""

    kind: Literal["internal_message"]
    message_id: str
    sender: Party
    to: tuple[Party, ...]
    text: str
    at: datetime
    extension_id: str | None = None

    @property
    def item(self) -> str:
        return self.message_id


Notice = CallNotice | VoicemailNotice | FaxNotice | SmsNotice | PagerNotice


_NOTICE: TypeAdapter[Notice] = TypeAdapter(
    Annotated[
        CallNotice | VoicemailNotice | FaxNotice | SmsNotice | PagerNotice,
        Field(discriminator="kind"),
    ]
)


def dump_notice(notice: Notice) -> str:
    """A notice as JSON (the posts table keeps it, to re-render the message later)."""
    return _NOTICE.dump_json(notice).decode()


def load_notice(text: str) -> Notice:
    return _NOTICE.validate_json(text)


@dataclass(frozen=True, slots=True)
class Handled:
    """Who marked a missed call handled, and when (shown as `<@U…>` and a Slack date)."""

    user_id: str
    at: datetime

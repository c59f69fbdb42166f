"""RingOut requests and status, and call-log records (SPEC `MakeRingOutRequest`,
`GetRingOutStatusResponse`, `CallLogRecord`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from ._base import Id, Inbound, Outbound
from .common import Reference
from .paging import Listing

__all__ = [
    "CallBilling",
    "CallDirection",
    "CallLogLeg",
    "CallLogList",
    "CallLogMessageRef",
    "CallLogParty",
    "CallLogRecord",
    "CallLogView",
    "CallRecording",
    "CallTransport",
    "CallType",
    "RecordingType",
    "RingOutCountry",
    "RingOutFrom",
    "RingOutPhone",
    "RingOutRequest",
    "RingOutStatus",
    "RingOutStatusInfo",
]

# Strict values for what we send (SPEC CallLogView, CallDirectionEnum, CallTypeEnum,
# CallTransportEnum, CallRecordingType).
CallLogView = Literal["Simple", "Detailed"]
CallDirection = Literal["Inbound", "Outbound"]
CallType = Literal["Voice", "Fax"]
CallTransport = Literal["PSTN", "VoIP"]
RecordingType = Literal["Automatic", "OnDemand", "All"]


# --- RingOut ----------------------------------------------------------------------------


class RingOutFrom(Outbound):
    """First leg: a phone number, or a forwarding number by its id; never both."""

    phone_number: str | None = None
    forwarding_number_id: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RingOutFrom:
        if (self.phone_number is None) == (self.forwarding_number_id is None):
            raise ValueError("give exactly one of phone_number or forwarding_number_id")
        return self


class RingOutPhone(Outbound):
    phone_number: str


class RingOutCountry(Outbound):
    id: str


class RingOutRequest(Outbound):
    """Body of `POST …/ring-out`."""

    from_: RingOutFrom = Field(alias="from")
    to: RingOutPhone
    # RingCentral: the caller id number must have the CallerId feature; default is the
    # company's caller id.
    caller_id: RingOutPhone | None = None
    play_prompt: bool | None = None
    country: RingOutCountry | None = None


class RingOutStatusInfo(Inbound):
    """Status words (SPEC `CallingStatusInfo`): InProgress, Success, Busy, NoAnswer, …"""

    call_status: str | None = None
    caller_status: str | None = None
    callee_status: str | None = None


class RingOutStatus(Inbound):
    """Answer of `POST …/ring-out` and `GET …/ring-out/{id}`."""

    id: Id
    uri: str | None = None
    status: RingOutStatusInfo = RingOutStatusInfo()

    @property
    def in_progress(self) -> bool:
        return self.status.call_status == "InProgress"


# --- call log ---------------------------------------------------------------------------


class CallLogParty(Inbound):
    phone_number: str | None = None
    extension_number: str | None = None
    extension_id: Id | None = None
    name: str | None = None
    location: str | None = None
    device: Reference | None = None
    dialed_phone_number: str | None = None
    dialer_phone_number: str | None = None


class CallRecording(Inbound):
    id: Id
    uri: str | None = None
    type: str | None = None  # Automatic, OnDemand
    content_uri: str | None = None


class CallLogMessageRef(Inbound):
    """The voicemail or fax a call left in the message store."""

    id: Id
    type: str | None = None
    uri: str | None = None


class CallBilling(Inbound):
    cost_included: float | None = None
    cost_purchased: float | None = None


class _CallCommon(Inbound):
    start_time: datetime | None = None
    duration: int | None = None
    duration_ms: int | None = None
    type: str | None = None  # Voice, Fax
    direction: str | None = None
    action: str | None = None  # Phone Call, VoIP Call, RingOut Web, Incoming Fax, …
    result: str | None = None  # Missed, Voicemail, Accepted, Call connected, … (46 values)
    reason: str | None = None
    reason_description: str | None = None
    to: CallLogParty | None = None
    from_: CallLogParty | None = Field(default=None, alias="from")
    transport: str | None = None
    recording: CallRecording | None = None
    message: CallLogMessageRef | None = None
    telephony_session_id: str | None = None
    party_id: str | None = None
    internal_type: str | None = None
    billing: CallBilling | None = None
    extension: Reference | None = None  # whose call log (account-level records, legs)
    finished: bool | None = None  # False while the call goes on


class CallLogLeg(_CallCommon):
    """One leg of a call (Detailed view)."""

    leg_type: str | None = None
    master: bool | None = None


class CallLogRecord(_CallCommon):
    """A call-log record; `legs` and `last_modified_time` only in the Detailed view."""

    id: Id
    uri: str | None = None
    session_id: str | None = None
    last_modified_time: datetime | None = None
    delegate: Reference | None = None
    deleted: bool | None = None  # ISync answers carry deleted records flagged so
    legs: tuple[CallLogLeg, ...] = ()


class CallLogList(Listing[CallLogRecord]):
    """Answer of `GET …/call-log`; its paging has no totals."""

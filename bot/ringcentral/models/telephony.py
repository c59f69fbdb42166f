"""Telephony session event bodies (SPEC `TelephonySessionsEventBody`): one changed party
per event, ordered per session by `sequence`."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ._base import Id, Inbound

__all__ = [
    "MobilePickupData",
    "PartyEndpoint",
    "PartyStatus",
    "PeerId",
    "SessionOrigin",
    "SipData",
    "TelephonyParty",
    "TelephonyRecording",
    "TelephonySessionBody",
]


class PartyEndpoint(Inbound):
    phone_number: str | None = None
    name: str | None = None
    extension_id: Id | None = None
    device_id: Id | None = None


class PeerId(Inbound):
    session_id: str | None = None
    telephony_session_id: str | None = None
    party_id: str | None = None


class MobilePickupData(Inbound):
    cc_mailboxes: tuple[Id, ...] = ()
    to: str | None = None
    sid: str | None = None
    srv_lvl: str | None = None
    srv_lvl_ext: str | None = None


class PartyStatus(Inbound):
    """`code`: Setup, Proceeding, Answered, Disconnected, Gone, Parked, Hold, VoiceMail,
    FaxReceive, Tds, VoiceMailScreening; `reason` e.g. Pickup, CallFinished, NoAnswer
    (open sets: RingCentral adds values)."""

    code: str
    reason: str | None = None
    description: str | None = None
    rcc: bool | None = None
    peer_id: PeerId | None = None
    mobile_pickup_data: MobilePickupData | None = None


class TelephonyRecording(Inbound):
    id: Id
    active: bool | None = None


class SipData(Inbound):
    call_id: str | None = None
    to_tag: str | None = None
    from_tag: str | None = None


class TelephonyParty(Inbound):
    id: str
    account_id: Id | None = None
    extension_id: Id | None = None
    direction: str | None = None  # Inbound, Outbound
    to: PartyEndpoint | None = None
    from_: PartyEndpoint | None = Field(default=None, alias="from")
    status: PartyStatus
    recordings: tuple[TelephonyRecording, ...] = ()
    queue_call: bool | None = None
    missed_call: bool = False
    stand_alone: bool | None = None
    muted: bool | None = None
    conference_role: str | None = None
    sip_data: SipData | None = None


class SessionOrigin(Inbound):
    type: str  # Call, RingOut, RingMe, Conference, CallOut, …


class TelephonySessionBody(Inbound):
    """Body of a `…/telephony/sessions` event."""

    sequence: int
    session_id: str | None = None
    telephony_session_id: str
    server_id: str | None = None
    event_time: datetime | None = None
    origin: SessionOrigin | None = None
    parties: tuple[TelephonyParty, ...] = ()
    account_id: Id | None = None
    extension_id: Id | None = None

"""What the bridge remembers of one telephony session between its events.

`SessionState` is JSON-serialisable (`model_dump_json` / `model_validate_json`) so the
dispatcher can keep it in the `call_state` table across events and processes. Merging is
order-independent: whatever order the events arrive in, the same set of events gives the
same parties, statuses and sequences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.ringcentral.models.telephony import PartyEndpoint, TelephonyParty, TelephonySessionBody

__all__ = ["Endpoint", "NoticeKind", "PartyState", "SessionState", "StatusSeen", "Watched"]

NoticeKind = Literal["missed_call", "answered_call", "call"]

# A party in one of these has left the call. VoiceMail counts: the callee's leg ends there
# (the recording belongs to the mailbox, and the caller's own party still closes the call).
FINAL_CODES = frozenset({"Disconnected", "Gone", "VoiceMail", "FaxReceive"})
# A party in one of these is in a conversation, which can stay silent for an hour.
CONNECTED_CODES = frozenset({"Answered", "Hold", "Parked"})


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Endpoint(_Stored):
    """`from` or `to` of a party, as RingCentral sent it (numbers not normalised)."""

    number: str | None = None
    name: str | None = None
    extension_id: str | None = None

    @classmethod
    def of(cls, wire: PartyEndpoint | None) -> Endpoint:
        if wire is None:
            return cls()
        return cls(number=wire.phone_number, name=wire.name, extension_id=wire.extension_id)

    def fill(self, older: Endpoint) -> Endpoint:
        """This endpoint, with what only `older` knew filled in (names appear late)."""
        return Endpoint(
            number=self.number or older.number,
            name=self.name or older.name,
            extension_id=self.extension_id or older.extension_id,
        )


class StatusSeen(_Stored):
    """One event's view of a party: its status then, and its endpoints as sent then."""

    sequence: int
    code: str
    reason: str | None = None
    at: datetime
    caller: Endpoint = Endpoint()  # the party's `from`
    callee: Endpoint = Endpoint()  # the party's `to`
    missed_call: bool = False


class PartyState(_Stored):
    """One party of the session: who it is and every status it was seen in."""

    party_id: str
    extension_id: str | None = None
    direction: str | None = None  # Outbound = the caller's side, Inbound = the callee's
    statuses: tuple[StatusSeen, ...] = ()  # ordered by sequence, one per sequence

    @property
    def caller(self) -> Endpoint:
        """The newest `from`, gaps filled from older events (names appear late)."""
        return _fold(s.caller for s in reversed(self.statuses))

    @property
    def callee(self) -> Endpoint:
        return _fold(s.callee for s in reversed(self.statuses))

    @property
    def missed_call(self) -> bool:
        """RingCentral's own verdict, sticky once seen."""
        return any(s.missed_call for s in self.statuses)

    @property
    def first_sequence(self) -> int:
        return self.statuses[0].sequence

    @property
    def status(self) -> StatusSeen:
        return self.statuses[-1]

    @property
    def final(self) -> bool:
        return self.status.code in FINAL_CODES

    @property
    def connected(self) -> bool:
        return self.status.code in CONNECTED_CODES

    @property
    def answered(self) -> StatusSeen | None:
        """The first Answered status: when this party picked up (or was picked up)."""
        return next((s for s in self.statuses if s.code == "Answered"), None)

    @property
    def rang(self) -> bool:
        """Proceeding on a callee's party is its phone ringing; an IVR leg never gets it."""
        return any(s.code in ("Proceeding", "VoiceMail") for s in self.statuses)

    @property
    def voicemail(self) -> bool:
        return any(s.code == "VoiceMail" for s in self.statuses)

    @property
    def ended(self) -> StatusSeen | None:
        """The first final status after the party answered (or at all)."""
        start = self.answered.sequence if self.answered else -1
        return next(
            (s for s in self.statuses if s.sequence > start and s.code in FINAL_CODES), None
        )

    def merge(self, wire: TelephonyParty, status: StatusSeen) -> PartyState:
        if any(s.sequence == status.sequence for s in self.statuses):
            return self
        statuses = tuple(sorted((*self.statuses, status), key=lambda s: s.sequence))
        return self.model_copy(
            update={
                "extension_id": self.extension_id or wire.extension_id,
                "direction": self.direction or wire.direction,
                "statuses": statuses,
            }
        )

    @classmethod
    def new(cls, wire: TelephonyParty, status: StatusSeen) -> PartyState:
        return cls(
            party_id=wire.id,
            extension_id=wire.extension_id,
            direction=wire.direction,
            statuses=(status,),
        )


def _fold(endpoints: Iterable[Endpoint]) -> Endpoint:
    result = Endpoint()
    for endpoint in endpoints:
        result = result.fill(endpoint)
    return result


class SessionState(_Stored):
    """Everything seen of one telephony session, and which notices it already gave."""

    session_id: str  # telephonySessionId
    call_session_id: str | None = None  # sessionId, as the call log knows it
    origin: str | None = None  # Call, RingOut, …
    parties: tuple[PartyState, ...] = ()  # ordered by party id
    sequences: tuple[int, ...] = ()  # every sequence seen, ascending
    first_event_at: datetime
    last_event_at: datetime
    updated_at: datetime  # our clock, when the last new event was applied
    emitted: tuple[NoticeKind, ...] = ()
    expired_at: datetime | None = None

    @property
    def max_sequence(self) -> int:
        return self.sequences[-1] if self.sequences else 0

    @property
    def contiguous(self) -> bool:
        return bool(self.sequences) and self.max_sequence - self.sequences[0] + 1 == len(
            self.sequences
        )

    @property
    def start_seen(self) -> bool:
        """The lowest sequence seen is the caller's Setup: the session's first event (in
        all three real flows sequence 2 is the caller party's Setup; 1 is never sent)."""
        if not self.sequences:
            return False
        first = self.sequences[0]
        return any(
            p.direction == "Outbound" and p.statuses[0].sequence == first
            for p in self.parties
            if p.statuses[0].code == "Setup"
        )

    @property
    def over(self) -> bool:
        """Every event from the start to the last is here, and every party has left."""
        return self.start_seen and self.contiguous and all(p.final for p in self.parties)

    def party(self, party_id: str) -> PartyState | None:
        return next((p for p in self.parties if p.party_id == party_id), None)

    def record(self, body: TelephonySessionBody, *, at: datetime, now: datetime) -> SessionState:
        """This state with one new event merged in (the caller has checked it is new)."""
        parties = {p.party_id: p for p in self.parties}
        for wire in body.parties:
            status = StatusSeen(
                sequence=body.sequence,
                code=wire.status.code,
                reason=wire.status.reason,
                at=at,
                caller=Endpoint.of(wire.from_),
                callee=Endpoint.of(wire.to),
                missed_call=wire.missed_call,
            )
            known = parties.get(wire.id)
            parties[wire.id] = known.merge(wire, status) if known else PartyState.new(wire, status)
        return self.model_copy(
            update={
                "call_session_id": self.call_session_id or body.session_id,
                "origin": self.origin or (body.origin.type if body.origin else None),
                "parties": tuple(parties[k] for k in sorted(parties)),
                "sequences": tuple(sorted({*self.sequences, body.sequence})),
                "first_event_at": min(self.first_event_at, at),
                "last_event_at": max(self.last_event_at, at),
                "updated_at": now,
            }
        )

    @classmethod
    def start(cls, body: TelephonySessionBody, *, at: datetime, now: datetime) -> SessionState:
        empty = cls(
            session_id=body.telephony_session_id,
            first_event_at=at,
            last_event_at=at,
            updated_at=now,
        )
        return empty.record(body, at=at, now=now)


@dataclass(frozen=True, slots=True)
class Watched:
    """What the bridge watches: extension ids, and optionally company numbers (E.164),
    which make any extension's leg of a call to or from them count as watched."""

    extension_ids: frozenset[str] = field(default_factory=frozenset)
    numbers: frozenset[str] = field(default_factory=frozenset)

    def covers(self, party: PartyState) -> bool:
        if party.extension_id is None:
            return False  # PSTN legs are the other side of the call, never ours
        if party.extension_id in self.extension_ids:
            return True
        ours = party.caller if party.direction == "Outbound" else party.callee
        return ours.number is not None and ours.number in self.numbers

"""Telephony sessions judged per call, not per party (DESIGN §3.7).

RingCentral sends one event per party change, numbered by `sequence` within the session;
events arrive out of order and twice. `apply()` folds each event into a `SessionState`
(stored by the dispatcher between events) and returns the notices the call now deserves;
`expire()` judges a session that went quiet before it could be judged.

What the three real flows (CSN data, `telephony-sessions-callflow-*.json`) show:

- Every party says which side of the call it is on: `direction` Outbound is the caller's
  leg (the PSTN caller of PSTN→RC, the extension of RC→PSTN), Inbound the callee's. Every
  party's `from` is the caller and `to` the callee, whatever its direction.
- Sequences start at 2, and sequence 2 is always the caller party's `Setup`. Events of
  parties without an extension come under the account path, the others under their
  extension's path, in the same sequence.
- PSTN→RC goes through an IVR: the IVR extension's party goes `Setup` → `Disconnected`
  (seq 3, 5) without ever ringing or answering, and at the same instant the user's party
  starts, `Setup` → `Proceeding` (ringing) → `Answered` → `Hold` → `Answered` →
  `Disconnected`. The caller's party is `Answered` as soon as the IVR picks up (seq 4).
- RC→PSTN: the PSTN callee's first event is `Proceeding`, not `Setup`; both parties go
  `Answered` within 30 ms when the callee picks up.
- `missedCall` is false in every event, so absence of the flag proves nothing.

Rules chosen:

- A party is watched when its extension id is watched, or (with company numbers) when its
  side of the call is a watched number; legs without an extension never are.
- `answered_call`: the first watched callee-side (Inbound) party seen `Answered`; sent at
  once. Outbound calls never give one.
- `missed_call` for a watched callee-side party that never answered, when RingCentral
  flags it `missedCall`, or it went to `VoiceMail` (both sent at once), or, once the call is
  judged over, it rang (`Proceeding`) and no other callee-side party answered after it
  started ringing and it did not leave by a transfer or pickup reason. So an IVR leg, which
  never rings, and a ring-group member whose colleague answered, are not missed; a call
  the IVR answered and then handed to an extension nobody picked up is. One per call.
- `call` once the call is over: if a watched callee answered, the inbound call it took;
  otherwise the call a watched caller placed (answered or not, with the result RingCentral
  gave: Busy, Rejected, No Answer). An inbound call nobody answered gives `missed_call`
  only. Duration runs from the answering party's `Answered` to its end, by event time.
- A session is over when the lowest sequence seen is the caller's `Setup`, every sequence
  from there to the highest is here, and every known party is final (Disconnected, Gone,
  VoiceMail, FaxReceive). Anything less (a single extension's subscription never sees the
  other legs) waits for `expire()`, which judges after a quiet period, treating parties
  still ringing as gone but never finishing a call a party is still connected to.
- Each kind is sent at most once per session (`SessionState.emitted`); a duplicate
  sequence changes nothing, and an older one only adds history, so no state regresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from bot.notices import CallNotice, Party
from bot.ringcentral.models.events import TelephonySessionEvent

from ._people import e164, party
from ._session import Endpoint, NoticeKind, PartyState, SessionState, StatusSeen, Watched

__all__ = ["SessionState", "Watched", "apply", "expire"]

# A callee leg that ends this way never was the caller's to miss: someone else took the
# call (pickup, queue agent), or it was handed on (IVR choice, transfer, forwarding).
_NOT_MISSED_REASONS = frozenset(
    {
        "Pickup", "AgentAnswered", "TakeOver", "CallSwitch", "CallFlip", "CallerInputRedirect",
        "DtmfTransfer", "BlindTransfer", "AttendedTransfer", "RccTransfer", "CallRedirected",
    }
)  # fmt: skip
_RESULTS = {"TargetBusy": "Busy", "Rejected": "Rejected", "InvalidNumber": "Invalid Number"}


def apply(
    state: SessionState | None,
    event: TelephonySessionEvent,
    *,
    watched: Watched,
    now: datetime,
) -> tuple[SessionState, list[CallNotice]]:
    """Fold one event into the session's state; return the new state and the notices due."""
    body = event.body
    if state is not None and state.session_id != body.telephony_session_id:
        raise ValueError(f"event of {body.telephony_session_id}, state of {state.session_id}")
    if state is not None and body.sequence in state.sequences:
        return state, []  # a redelivery: already counted
    at = body.event_time or event.timestamp or now
    if state is None:
        state = SessionState.start(body, at=at, now=now)
    else:
        state = state.record(body, at=at, now=now)
    return _judge(state, watched, over=state.over or state.expired_at is not None)


def expire(
    state: SessionState, *, watched: Watched, now: datetime, quiet: timedelta
) -> tuple[SessionState, list[CallNotice]]:
    """Judge a session with no new event for `quiet`, as if it were over; a call still
    connected is left for its last events. Before `quiet` has passed, nothing changes."""
    if now - state.updated_at < quiet:
        return state, []
    return _judge(state.model_copy(update={"expired_at": now}), watched, over=True)


def _judge(
    state: SessionState, watched: Watched, *, over: bool
) -> tuple[SessionState, list[CallNotice]]:
    notices: list[CallNotice] = []
    for kind in ("answered_call", "missed_call", "call"):
        if kind in state.emitted:
            continue
        notice = _JUDGES[kind](state, watched, over)
        if notice is not None:
            notices.append(notice)
    if notices:
        emitted = sorted({*state.emitted, *(n.kind for n in notices)})
        state = state.model_copy(update={"emitted": tuple(emitted)})
    return state, notices


def _answered(state: SessionState, watched: Watched, over: bool) -> CallNotice | None:
    del over  # an answer is final the moment it is seen
    taker = _first_answered(p for p in state.parties if _watched_callee(p, watched))
    if taker is None:
        return None
    return _notice("answered_call", state, taker, answered_by=_answerer(taker))


def _missed(state: SessionState, watched: Watched, over: bool) -> CallNotice | None:
    for leg in sorted(state.parties, key=lambda p: p.first_sequence):
        if not _watched_callee(leg, watched) or leg.answered:
            continue
        if leg.missed_call or leg.voicemail or (over and _rang_out(state, leg)):
            result = "Voicemail" if leg.voicemail else "Missed"
            return _notice("missed_call", state, leg, result=result)
    return None


def _rang_out(state: SessionState, leg: PartyState) -> bool:
    """The leg rang and nobody took the call from there on, nor was it handed on."""
    if not leg.rang or leg.status.reason in _NOT_MISSED_REASONS:
        return False
    return not any(
        other.party_id != leg.party_id
        and other.direction == "Inbound"
        and (answer := other.answered) is not None
        and answer.sequence >= leg.first_sequence
        for other in state.parties
    )


def _finished(state: SessionState, watched: Watched, over: bool) -> CallNotice | None:
    if not over or any(p.connected for p in state.parties):
        return None  # a silent party may still be talking: wait for its Disconnected
    taker = _first_answered(p for p in state.parties if _watched_callee(p, watched))
    if taker is not None:
        return _notice("call", state, taker, answered_by=_answerer(taker), duration=_talk(taker))
    callers = [p for p in state.parties if p.direction == "Outbound" and watched.covers(p)]
    if not callers:
        return None
    caller = min(callers, key=lambda p: p.first_sequence)
    far = _first_answered(
        p for p in state.parties if p.direction == "Inbound" and p.party_id != caller.party_id
    )
    if far is not None:
        return _notice("call", state, caller, answered_by=_answerer(far), duration=_talk(far))
    if caller.answered is not None:  # the far end is outside our view, but it picked up
        return _notice(
            "call", state, caller, answered_by=_person(caller.callee), duration=_talk(caller)
        )
    result = _RESULTS.get(caller.status.reason or "", "No Answer")
    return _notice("call", state, caller, duration=0, result=result)


_JUDGES = {"answered_call": _answered, "missed_call": _missed, "call": _finished}


def _watched_callee(leg: PartyState, watched: Watched) -> bool:
    return leg.direction == "Inbound" and watched.covers(leg)


def _first_answered(legs: Iterable[PartyState]) -> PartyState | None:
    answered = [p for p in legs if p.answered is not None]
    return min(answered, key=_answer_sequence, default=None)


def _answer_sequence(leg: PartyState) -> int:
    answer = leg.answered
    return answer.sequence if answer else 0


def _talk(leg: PartyState) -> int:
    """Whole seconds from the leg's Answered to its end (or its last event)."""
    answer: StatusSeen | None = leg.answered
    if answer is None:
        return 0
    end = leg.ended or leg.status
    seconds = (end.at - answer.at).total_seconds()
    return max(0, int(seconds + 0.5))  # round half up: 14.8 s of talk is 15 s


def _notice(
    kind: NoticeKind,
    state: SessionState,
    leg: PartyState,
    *,
    answered_by: Party | None = None,
    duration: int | None = None,
    result: str | None = None,
) -> CallNotice:
    direction: Literal["Inbound", "Outbound"] = (
        "Outbound" if leg.direction == "Outbound" else "Inbound"
    )
    ours = leg.caller if direction == "Outbound" else leg.callee
    if result is None and answered_by is not None:
        result = "Answered"
    return CallNotice(
        kind=kind,
        session_id=state.session_id,
        party_id=leg.party_id,
        direction=direction,
        caller=_person(_caller(state, leg)),
        callee=_person(leg.callee),
        at=state.first_event_at,
        answered_by=answered_by,
        duration=duration,
        result=result,
        extension_id=leg.extension_id,
        company_number=_company_number(ours.number),
    )


def _caller(state: SessionState, leg: PartyState) -> Endpoint:
    """The leg's `from`, named from another leg when only that one had the name."""
    caller = leg.caller
    if caller.name is None and caller.number is not None:
        for other in state.parties:
            if other.caller.number == caller.number and other.caller.name:
                return caller.fill(other.caller)
    return caller


def _answerer(leg: PartyState) -> Party:
    """Who picked up on `leg`. An extension's `to.phoneNumber` is the number the caller
    dialled (the company's), not the answerer's own, so it is left out."""
    person = _person(leg.callee)
    if leg.extension_id is None:
        return person
    return Party(name=person.name, extension_number=person.extension_number)


def _person(endpoint: Endpoint) -> Party:
    return party(endpoint.number, endpoint.name)


def _company_number(number: str | None) -> str | None:
    normalised = e164(number)
    return normalised if normalised and normalised.startswith("+") else None

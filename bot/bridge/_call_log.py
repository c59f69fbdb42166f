"""Calls recovered from the call log, judged per call as the live events are (DESIGN §3.7,
§3.10).

A call-log record is one extension's view of one call; a ring group or a call handed on by
an IVR has several, tied by their `telephonySessionId`, which the telephony events carry as
well. Records are therefore grouped by it and each call judged once:

- someone answered (any record or leg of the call `Accepted` / `Call connected`): not a
  missed call; a `call` for the watched extension that answered (who answered), if any;
- else a watched extension's record says `Missed` or `Voicemail` (RingCentral's missed
  calls, what `statusGroup=Missed` answers): a `missed_call`, one per call;
- an outbound call a watched extension placed: a `call`, with RingCentral's result;
- other endings (rejected, busy, blocked, hung up before answering) give nothing here:
  RingCentral does not file them as missed calls, and the call log alone cannot tell a
  ring the team should have taken from one it chose not to;
- never an `answered_call`: it is only news while it happens; records of calls not yet
  finished (`finished: false`) wait for their final version;
- a fax's record gives nothing: the fax itself comes from the message store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from bot.notices import CallNotice, Party
from bot.ringcentral.models import CallLogParty, CallLogRecord

from ._people import e164, party
from ._session import Watched

__all__ = ["ANSWERED", "MISSED", "calls_from_log"]

ANSWERED = frozenset({"Accepted", "Call connected"})
MISSED = frozenset({"Missed", "Voicemail"})
CallKind = Literal["missed_call", "call"]


def calls_from_log(
    records: Iterable[CallLogRecord],
    *,
    watched: Watched,
    kinds: Iterable[str],
    extension_id: str | None = None,
) -> list[CallNotice]:
    """The notices the calls in `records` deserve, of `kinds` (`missed_call`, `call`),
    oldest first. `extension_id`: whose log the records come from (None: the account's,
    where each record names its extension)."""
    wanted = set(kinds) & {"missed_call", "call"}
    by_call: dict[str, list[CallLogRecord]] = {}
    for record in records:
        if (record.type or "Voice") != "Voice" or record.finished is False or record.deleted:
            continue
        if record.start_time is None:
            continue  # no record of a call we could show
        key = record.telephony_session_id or record.session_id or record.id
        by_call.setdefault(key, []).append(record)
    found: list[CallNotice] = []
    for session, legs in by_call.items():
        found += _judge(session, sorted(legs, key=lambda r: r.id), watched, wanted, extension_id)
    return sorted(found, key=lambda n: (n.at, n.session_id))


def _judge(
    session: str,
    records: Sequence[CallLogRecord],
    watched: Watched,
    wanted: set[str],
    extension_id: str | None,
) -> list[CallNotice]:
    ours = [r for r in records if _watched(r, watched, extension_id)]
    inbound = [r for r in ours if r.direction == "Inbound"]
    outbound = [r for r in ours if r.direction == "Outbound"]
    answered = [r for r in records if r.direction == "Inbound" and _answered(r)]
    notices: list[CallNotice] = []
    if answered:
        taker = next((r for r in inbound if r.result in ANSWERED), None)
        if taker is not None and "call" in wanted:
            notices.append(_notice("call", session, taker, extension_id, answered=True))
        return notices
    missed = next((r for r in inbound if r.result in MISSED), None)
    if missed is not None and "missed_call" in wanted:
        notices.append(_notice("missed_call", session, missed, extension_id))
    if outbound and not inbound and "call" in wanted:
        notices.append(_notice("call", session, outbound[0], extension_id))
    return notices


def _answered(record: CallLogRecord) -> bool:
    return record.result in ANSWERED or any(
        leg.direction == "Inbound" and leg.result in ANSWERED for leg in record.legs
    )


def _owner(record: CallLogRecord, extension_id: str | None) -> str | None:
    """Whose call log the record is from: it says so at account level; an extension's own
    log is the extension's."""
    if record.extension is not None and record.extension.id:
        return record.extension.id
    if extension_id is not None:
        return extension_id
    ours = record.to if record.direction == "Inbound" else record.from_
    return ours.extension_id if ours is not None else None


def _watched(record: CallLogRecord, watched: Watched, extension_id: str | None) -> bool:
    owner = _owner(record, extension_id)
    if owner is not None and owner in watched.extension_ids:
        return True
    ours = record.to if record.direction == "Inbound" else record.from_
    number = e164(ours.phone_number) if ours is not None else None
    return number is not None and number in watched.numbers


def _notice(
    kind: CallKind,
    session: str,
    record: CallLogRecord,
    extension_id: str | None,
    *,
    answered: bool = False,
) -> CallNotice:
    inbound = record.direction == "Inbound"
    ours = record.to if inbound else record.from_
    result = record.result
    if kind == "missed_call":
        result = "Voicemail" if record.result == "Voicemail" else "Missed"
    elif record.result in ANSWERED:
        result = "Answered"
    answered_by = None
    if answered and record.to is not None:
        # An extension's `to.phoneNumber` is the number dialled, not the answerer's own.
        answered_by = Party(name=record.to.name, extension_number=record.to.extension_number)
    assert record.start_time is not None  # records without one are left out above
    return CallNotice(
        kind=kind,
        session_id=session,
        party_id=record.party_id or record.id,
        direction="Inbound" if inbound else "Outbound",
        caller=_party(record.from_),
        callee=_party(record.to),
        at=record.start_time,
        answered_by=answered_by,
        duration=None if kind == "missed_call" else record.duration,
        result=result,
        extension_id=_owner(record, extension_id),
        company_number=_company_number(ours),
    )


def _party(wire: CallLogParty | None) -> Party:
    if wire is None:
        return Party()
    return party(wire.phone_number, wire.name, wire.extension_number)


def _company_number(wire: CallLogParty | None) -> str | None:
    number = e164(wire.phone_number) if wire is not None else None
    return number if number and number.startswith("+") else None

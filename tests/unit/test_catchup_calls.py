"""Calls recovered from the call log are judged per call, as the live events are (DESIGN
§3.7, §3.10): the records of one telephony session are one call, whoever's log they are
in; a ring group's missed legs make no missed call when a colleague answered."""

from __future__ import annotations

from typing import Any

from bot.bridge import Watched, calls_from_log
from bot.notices import Party
from bot.ringcentral.models import CallLogRecord

ME, COLLEAGUE, STRANGER = "101008", "102008", "999008"
OUR_NUMBER = "+16505550100"
CALLER = "+14155550123"


def record(
    record_id: str,
    *,
    session: str = "s-1",
    owner: str | None = ME,
    direction: str = "Inbound",
    result: str = "Missed",
    kind: str = "Voice",
    start: str = "2026-01-01T10:02:00.000Z",
    **extra: Any,
) -> CallLogRecord:
    ours = {"phoneNumber": OUR_NUMBER, "name": "Front Desk", "extensionNumber": "101"}
    outside = {"phoneNumber": CALLER, "name": "Jane Doe"}
    body: dict[str, Any] = {
        "id": record_id,
        "uri": f"https://platform.ringcentral.com/call-log/{record_id}",
        "sessionId": "403631628008",
        "telephonySessionId": session,
        "partyId": f"p-{record_id}",
        "startTime": start,
        "duration": 42,
        "type": kind,
        "direction": direction,
        "action": "Phone Call",
        "result": result,
        "from": outside if direction == "Inbound" else ours,
        "to": ours if direction == "Inbound" else outside,
        **extra,
    }
    if owner is not None:
        body["extension"] = {"id": owner, "uri": f"https://platform.ringcentral.com/{owner}"}
    return CallLogRecord.model_validate(body)


WATCHED = Watched(extension_ids=frozenset({ME, COLLEAGUE}))
BOTH = ("missed_call", "call")


def test_a_missed_record_is_a_missed_call_with_its_telephony_session() -> None:
    (notice,) = calls_from_log([record("r1")], watched=WATCHED, kinds=BOTH)

    assert notice.kind == "missed_call" and notice.item == "s-1:p-r1"
    assert notice.result == "Missed" and notice.direction == "Inbound"
    assert notice.caller == Party(number=CALLER, name="Jane Doe")
    assert notice.callee.extension_number == "101" and notice.extension_id == ME
    assert notice.company_number == OUR_NUMBER and notice.duration is None
    assert notice.at.isoformat() == "2026-01-01T10:02:00+00:00"


def test_a_call_that_went_to_voicemail_is_a_missed_call() -> None:
    (notice,) = calls_from_log([record("r1", result="Voicemail")], watched=WATCHED, kinds=BOTH)
    assert (notice.kind, notice.result) == ("missed_call", "Voicemail")


def test_a_ring_group_member_whose_colleague_answered_missed_nothing() -> None:
    legs = [
        record("r1", owner=ME, result="Missed"),
        record("r2", owner=STRANGER, result="Accepted"),
    ]

    assert calls_from_log(legs, watched=WATCHED, kinds=["missed_call"]) == []
    # The call itself was answered, by someone not watched: no finished call of ours.
    assert calls_from_log(legs, watched=WATCHED, kinds=BOTH) == []


def test_an_answer_seen_only_in_a_leg_of_the_detailed_view_counts() -> None:
    leg = {"startTime": "2026-01-01T10:02:00.000Z", "type": "Voice", "direction": "Inbound",
           "action": "Phone Call", "result": "Accepted", "legType": "Accept"}  # fmt: skip
    missed_here = record("r1", result="Missed", legs=[leg])
    assert calls_from_log([missed_here], watched=WATCHED, kinds=BOTH) == []


def test_two_watched_members_missing_one_call_make_one_missed_call() -> None:
    legs = [record("r2", owner=COLLEAGUE), record("r1", owner=ME)]

    (notice,) = calls_from_log(legs, watched=WATCHED, kinds=BOTH)

    assert notice.item == "s-1:p-r1"  # the same leg whatever the order they came in


def test_a_watched_answer_is_a_finished_call_when_calls_are_routed() -> None:
    legs = [
        record("r1", owner=ME, result="Missed"),
        record("r2", owner=COLLEAGUE, result="Accepted"),
    ]

    (notice,) = calls_from_log(legs, watched=WATCHED, kinds=BOTH)

    assert (notice.kind, notice.result, notice.duration) == ("call", "Answered", 42)
    assert notice.answered_by == Party(name="Front Desk", extension_number="101")
    assert notice.extension_id == COLLEAGUE
    assert calls_from_log(legs, watched=WATCHED, kinds=["missed_call"]) == []


def test_an_outbound_call_is_a_finished_call_with_its_result() -> None:
    placed = record("r1", direction="Outbound", result="Call connected")
    busy = record("r2", session="s-2", direction="Outbound", result="Busy")

    found = calls_from_log([placed, busy], watched=WATCHED, kinds=BOTH)

    assert [(n.kind, n.result) for n in found] == [("call", "Answered"), ("call", "Busy")]
    assert found[0].company_number == OUR_NUMBER and found[0].direction == "Outbound"
    assert calls_from_log([placed], watched=WATCHED, kinds=["missed_call"]) == []


def test_what_is_not_a_watched_finished_voice_call_gives_nothing() -> None:
    cases = [
        record("r1", owner=STRANGER),  # not watched
        record(
            "r2", session="s-2", kind="Fax", result="Received"
        ),  # the fax itself comes by message
        record("r3", session="s-3", finished=False),  # not over yet
        record("r4", session="s-4", deleted=True),
        record("r5", session="s-5", result="Rejected"),  # not a missed call by RingCentral's book
    ]
    assert calls_from_log(cases, watched=WATCHED, kinds=BOTH) == []


def test_an_extension_log_is_the_extensions_and_a_watched_number_counts() -> None:
    own_log = record("r1", owner=None)
    assert calls_from_log([own_log], watched=WATCHED, kinds=BOTH, extension_id=ME)
    assert not calls_from_log([own_log], watched=WATCHED, kinds=BOTH, extension_id=STRANGER)
    by_number = Watched(numbers=frozenset({OUR_NUMBER}))
    (notice,) = calls_from_log([record("r2", owner=STRANGER)], watched=by_number, kinds=BOTH)
    assert notice.extension_id == STRANGER

"""Calls judged per call: the three real RingCentral flows, in order, shuffled and
duplicated, and flows built from their events for the cases no real sample shows."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bridge import SessionState, Watched, apply, expire
from bot.notices import CallNotice, Party
from bot.ringcentral.models.events import TelephonySessionEvent, parse_event

NOW = datetime(2020, 6, 23, 2, 0, tzinfo=UTC)
USER = "809646016"  # TESTER Babji, on every flow
IVR = "62242421016"  # IVR Menu 1001, PSTN→RC only
DISPATCHER = "979428016"  # Message Dispatcher, the caller of RC→RC
QUIET = timedelta(minutes=2)


def watching(*extensions: str, numbers: Iterable[str] = ()) -> Watched:
    return Watched(extension_ids=frozenset(extensions), numbers=frozenset(numbers))


def flow(examples_dir: Path, name: str) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = json.loads(
        (examples_dir / f"telephony-sessions-callflow-{name}.json").read_text()
    )
    return raw


def events(raw: Iterable[dict[str, Any]]) -> list[TelephonySessionEvent]:
    parsed = [parse_event(e) for e in raw]
    assert all(isinstance(e, TelephonySessionEvent) for e in parsed)
    return [e for e in parsed if isinstance(e, TelephonySessionEvent)]


def run(
    feed: Iterable[TelephonySessionEvent],
    watched: Watched,
    state: SessionState | None = None,
    *,
    roundtrip: bool = False,
) -> tuple[SessionState, list[CallNotice]]:
    notices: list[CallNotice] = []
    for event in feed:
        if roundtrip and state is not None:  # as the dispatcher stores it between events
            state = SessionState.model_validate_json(state.model_dump_json())
        state, new = apply(state, event, watched=watched, now=NOW)
        notices.extend(new)
    assert state is not None
    return state, notices


def by_kind(notices: list[CallNotice]) -> dict[str, CallNotice]:
    kinds = [n.kind for n in notices]
    assert len(kinds) == len(set(kinds)), f"more than one notice of a kind: {kinds}"
    return {n.kind: n for n in notices}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the three real flows, in order ------------------------------------------------------


def test_pstn_to_rc_is_answered_then_finished_and_the_ivr_leg_is_not_missed(
    examples_dir: Path,
) -> None:
    state, notices = run(events(flow(examples_dir, "pstn-to-rc")), watching(USER))

    got = by_kind(notices)
    assert set(got) == {"answered_call", "call"}
    call = got["call"]
    assert call.session_id == "s-718107795d564867a6f635fd81e89940"
    assert call.party_id == "p-718107795d564867a6f635fd81e89940-3"
    assert call.direction == "Inbound"
    assert call.caller == Party(number="+14083388064", name="DIBYENDU ROY")
    assert call.callee == Party(number="+18003151571", name="TESTER Babji")
    assert call.answered_by == Party(name="TESTER Babji")
    assert call.at == at("2020-06-23T01:05:43.940Z")  # the caller's Setup, seq 2
    assert call.duration == 15  # Answered 01:06:00.001 → Disconnected 01:06:14.808
    assert call.result == "Answered"
    assert call.extension_id == USER
    assert call.company_number == "+18003151571"
    assert got["answered_call"] == CallNotice(
        **{**_fields(call), "kind": "answered_call", "duration": None}
    )
    assert state.over and state.max_sequence == 12


def test_pstn_to_rc_watching_the_ivr_too_still_gives_no_missed_call(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "pstn-to-rc")), watching(USER, IVR))

    assert sorted(n.kind for n in notices) == ["answered_call", "call"]
    assert all(n.party_id.endswith("-3") for n in notices)


def test_pstn_to_rc_caller_hanging_up_in_the_ivr_is_not_a_missed_call(
    examples_dir: Path,
) -> None:
    raw = flow(examples_dir, "pstn-to-rc")
    ivr_only = raw[:4]  # caller Setup, IVR Setup, caller Answered, IVR Disconnected
    hangup = copy.deepcopy(raw[-1])  # the caller's Disconnected, renumbered
    hangup["body"]["sequence"] = 6
    state, notices = run(events([*ivr_only, hangup]), watching(USER, IVR))

    assert state.over
    assert notices == []


def test_rc_to_pstn_is_one_outbound_call(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "rc-to-pstn")), watching(USER))

    assert len(notices) == 1
    call = notices[0]
    assert call.kind == "call"
    assert call.direction == "Outbound"
    assert call.party_id == "p-c23b203d62db4f6aaee00717bafa99be-1"
    assert call.caller == Party(number="+18003151571", name="TESTER Babji")
    assert call.callee == Party(number="+14083388064")
    assert call.answered_by == Party(number="+14083388064")
    assert call.duration == 16  # the callee's Answered 01:19:28.872 → 01:19:45.032
    assert call.result == "Answered"
    assert call.company_number == "+18003151571"
    assert call.at == at("2020-06-23T01:19:21.627Z")


def test_rc_to_rc_watching_the_callee(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "rc-to-rc")), watching(USER))

    got = by_kind(notices)
    assert set(got) == {"answered_call", "call"}
    call = got["call"]
    assert call.direction == "Inbound"
    assert call.caller == Party(name="Message Dispatcher", extension_number="11104")
    assert call.answered_by == Party(name="TESTER Babji", extension_number="11101")
    assert call.duration == 14  # 01:17:21.084 → 01:17:35.061
    assert call.company_number is None  # an internal call involves no company number


def test_rc_to_rc_watching_the_caller_is_an_outbound_call(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "rc-to-rc")), watching(DISPATCHER))

    assert [(n.kind, n.direction, n.extension_id) for n in notices] == [
        ("call", "Outbound", DISPATCHER)
    ]
    assert notices[0].duration == 14
    assert notices[0].answered_by == Party(name="TESTER Babji", extension_number="11101")


def test_rc_to_rc_watching_both_sides_gives_one_notice_per_kind(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "rc-to-rc")), watching(USER, DISPATCHER))

    assert sorted(n.kind for n in notices) == ["answered_call", "call"]
    assert {n.extension_id for n in notices} == {USER}  # told from the side that answered


def test_a_company_number_watches_the_legs_that_answer_on_it(examples_dir: Path) -> None:
    _, notices = run(events(flow(examples_dir, "pstn-to-rc")), watching(numbers=["+18003151571"]))

    assert sorted(n.kind for n in notices) == ["answered_call", "call"]
    assert {n.extension_id for n in notices} == {USER}


@pytest.mark.parametrize("name", ["pstn-to-rc", "rc-to-pstn", "rc-to-rc"])
def test_an_unwatched_call_gives_nothing(examples_dir: Path, name: str) -> None:
    state, notices = run(events(flow(examples_dir, name)), watching("1"))

    assert notices == []
    assert state.over


# --- shuffled and duplicated -------------------------------------------------------------


FLOWS = [
    ("pstn-to-rc", (USER,)),
    ("pstn-to-rc", (USER, IVR)),
    ("rc-to-pstn", (USER,)),
    ("rc-to-rc", (USER,)),
    ("rc-to-rc", (DISPATCHER,)),
    ("rc-to-rc", (USER, DISPATCHER)),
]


def assert_same_judgement(
    expected: tuple[SessionState, list[CallNotice]], got: tuple[SessionState, list[CallNotice]]
) -> None:
    (want_state, want), (state, notices) = expected, got
    want_kinds, kinds = by_kind(want), by_kind(notices)
    assert set(kinds) == set(want_kinds)
    for kind, notice in kinds.items():
        if kind == "call":  # judged when the call is over: every fact is known
            assert notice == want_kinds[kind]
        else:  # sent at once: when the call began may not be known yet
            assert notice == CallNotice(**{**_fields(want_kinds[kind]), "at": notice.at})
            assert notice.at >= want_kinds[kind].at
    # The same events make the same state, whatever their order.
    assert state.model_dump(exclude={"updated_at"}) == want_state.model_dump(exclude={"updated_at"})


@pytest.mark.parametrize(("name", "extensions"), FLOWS)
@pytest.mark.parametrize("seed", range(12))
def test_shuffled_and_duplicated_flows_judge_the_same(
    examples_dir: Path, name: str, extensions: tuple[str, ...], seed: int
) -> None:
    feed = events(flow(examples_dir, name))
    expected = run(feed, watching(*extensions))
    shuffled = feed * 2  # every event delivered twice
    random.Random(seed).shuffle(shuffled)

    assert_same_judgement(expected, run(shuffled, watching(*extensions), roundtrip=True))


@settings(
    max_examples=60,
    # the suite's profile suppresses too_slow (tests/conftest.py); a list here replaces it
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_permutation_of_any_flow_judges_the_same(
    examples_dir: Path, data: st.DataObject
) -> None:
    name, extensions = data.draw(st.sampled_from(FLOWS))
    feed = events(flow(examples_dir, name))
    expected = run(feed, watching(*extensions))
    repeats = data.draw(st.lists(st.sampled_from(feed), max_size=6))
    permutation = data.draw(st.permutations(feed + repeats))

    assert_same_judgement(expected, run(permutation, watching(*extensions)))


def test_an_older_event_does_not_regress_a_party(examples_dir: Path) -> None:
    feed = events(flow(examples_dir, "pstn-to-rc"))
    answered = feed.pop(6)  # the user's Answered, seq 8, held back until the end
    assert answered.body.sequence == 8
    state, notices = run(feed, watching(USER))
    # Answered again after Hold (seq 10) is enough to say so; a gap at 8 keeps it open.
    assert [n.kind for n in notices] == ["answered_call"]
    assert not state.over
    user = state.party("p-718107795d564867a6f635fd81e89940-3")
    assert user is not None and user.status.code == "Disconnected"

    state, late = apply(state, answered, watched=watching(USER), now=NOW)

    assert [(n.kind, n.duration) for n in late] == [("call", 15)]  # from seq 8, not 10
    user = state.party("p-718107795d564867a6f635fd81e89940-3")
    assert user is not None and user.status.code == "Disconnected"
    assert user.answered is not None and user.answered.sequence == 8
    assert apply(state, answered, watched=watching(USER), now=NOW) == (state, [])


def test_a_state_for_another_session_is_refused(examples_dir: Path) -> None:
    state, _ = run(events(flow(examples_dir, "rc-to-rc")), watching(USER))
    other = events(flow(examples_dir, "rc-to-pstn"))[0]

    with pytest.raises(ValueError, match="s-c23b203d"):
        apply(state, other, watched=watching(USER), now=NOW)


# --- flows built from the real events ----------------------------------------------------

CALLER_NUMBER = "+14083388064"
COMPANY_NUMBER = "+18003151571"
COLLEAGUE = "111222333"


class Call:
    """Builds a session event by event, each a copy of a real event with fields changed."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.sequence = 1
        self.start = at("2020-06-23T01:05:43.940Z")

    def event(
        self,
        party: str,
        code: str,
        *,
        extension: str | None = None,
        direction: str = "Inbound",
        reason: str | None = None,
        missed: bool = False,
        second: float | None = None,
        sequence: int | None = None,
    ) -> dict[str, Any]:
        self.sequence += 1
        event = copy.deepcopy(self.template)
        body = event["body"]
        body["sequence"] = sequence or self.sequence
        body["telephonySessionId"] = "s-built"
        when = self.start + timedelta(seconds=self.sequence if second is None else second)
        body["eventTime"] = when.isoformat().replace("+00:00", "Z")
        wire = body["parties"][0]
        wire["id"] = f"p-built-{party}"
        wire["direction"] = direction
        wire["status"] = {"code": code, **({"reason": reason} if reason else {})}
        wire["missedCall"] = missed
        wire["from"] = {"phoneNumber": CALLER_NUMBER, "name": "Jane Caller"}
        wire["to"] = {"phoneNumber": COMPANY_NUMBER, "name": "Sales"}
        if extension is None:
            wire.pop("extensionId", None)
        else:
            wire["extensionId"] = extension
            wire["to"]["extensionId"] = extension
        return event

    def caller(self, code: str, **kwargs: Any) -> dict[str, Any]:
        return self.event("caller", code, direction="Outbound", **kwargs)


@pytest.fixture
def call(examples_dir: Path) -> Call:
    return Call(flow(examples_dir, "pstn-to-rc")[0])


def test_an_unanswered_inbound_call_is_missed_once(call: Call) -> None:
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("user", "Proceeding", extension=USER),
        call.caller("Disconnected", reason="Cancelled"),
        call.event("user", "Disconnected", extension=USER),
    ]
    state, notices = run(events(raw), watching(USER))

    assert len(notices) == 1
    missed = notices[0]
    assert missed.kind == "missed_call"
    assert missed.result == "Missed"
    assert missed.party_id == "p-built-user"
    assert missed.caller == Party(number=CALLER_NUMBER, name="Jane Caller")
    assert missed.callee == Party(number=COMPANY_NUMBER, name="Sales")
    assert missed.company_number == COMPANY_NUMBER
    assert missed.extension_id == USER
    assert missed.at == call.start + timedelta(seconds=2)
    assert state.emitted == ("missed_call",)

    for seed in range(6):  # the verdict waits for the whole call, whatever the order
        shuffled = events(raw * 2)
        random.Random(seed).shuffle(shuffled)
        assert run(shuffled, watching(USER))[1] == notices


def test_missed_call_flag_is_a_missed_call_at_once(call: Call) -> None:
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("user", "Disconnected", extension=USER, missed=True),
    ]
    state, notices = run(events(raw), watching(USER))

    assert [n.kind for n in notices] == ["missed_call"]
    assert not state.over  # the caller is still on the line: judged before the end


def test_a_call_to_voicemail_is_missed_at_once_and_only_once(call: Call) -> None:
    feed = events(
        [
            call.caller("Setup"),
            call.event("user", "Setup", extension=USER),
            call.event("user", "Proceeding", extension=USER),
            call.event("user", "VoiceMail", extension=USER, reason="Voicemail"),
            call.caller("Answered"),  # the mailbox picks up
            call.caller("Disconnected", reason="CallFinished"),
        ]
    )
    state, first = run(feed[:4], watching(USER))
    assert [(n.kind, n.result) for n in first] == [("missed_call", "Voicemail")]

    state, rest = run(feed[4:], watching(USER), state)
    assert rest == []
    assert state.over and state.emitted == ("missed_call",)


def test_a_ring_group_member_whose_colleague_answered_is_not_missed(call: Call) -> None:
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("colleague", "Setup", extension=COLLEAGUE),
        call.event("user", "Proceeding", extension=USER),
        call.event("colleague", "Proceeding", extension=COLLEAGUE),
        call.event("colleague", "Answered", extension=COLLEAGUE, second=10),
        call.caller("Answered"),
        call.event("user", "Disconnected", extension=USER),
        call.event("colleague", "Disconnected", extension=COLLEAGUE, second=40),
        call.caller("Disconnected"),
    ]
    _, both = run(events(raw), watching(USER, COLLEAGUE))
    got = by_kind(both)
    assert set(got) == {"answered_call", "call"}
    assert got["answered_call"].party_id == "p-built-colleague"
    assert got["call"].extension_id == COLLEAGUE
    assert got["call"].duration == 30

    _, one = run(events(raw), watching(USER))  # the colleague is not watched
    assert one == []


def test_a_ring_group_nobody_answers_is_one_missed_call(call: Call) -> None:
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("colleague", "Setup", extension=COLLEAGUE),
        call.event("user", "Proceeding", extension=USER),
        call.event("colleague", "Proceeding", extension=COLLEAGUE),
        call.caller("Disconnected"),
        call.event("user", "Disconnected", extension=USER),
        call.event("colleague", "Disconnected", extension=COLLEAGUE),
    ]
    _, notices = run(events(raw), watching(USER, COLLEAGUE))

    assert [(n.kind, n.party_id) for n in notices] == [("missed_call", "p-built-user")]


def test_a_leg_picked_up_elsewhere_is_not_missed(call: Call) -> None:
    # What a single extension's subscription sees when a colleague picks the call up.
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("user", "Proceeding", extension=USER),
        call.event("user", "Disconnected", extension=USER, reason="Pickup"),
        call.caller("Disconnected"),
    ]
    _, notices = run(events(raw), watching(USER))

    assert notices == []


def test_an_unanswered_outbound_call_is_a_call_never_a_missed_call(call: Call) -> None:
    raw = [
        call.event("user", "Setup", extension=USER, direction="Outbound"),
        call.event("far", "Proceeding"),
        call.event("user", "Proceeding", extension=USER, direction="Outbound"),
        call.event("far", "Disconnected", reason="TargetBusy"),
        call.event(
            "user", "Disconnected", extension=USER, direction="Outbound", reason="TargetBusy"
        ),
    ]
    _, notices = run(events(raw), watching(USER))

    assert len(notices) == 1
    assert notices[0].kind == "call"
    assert (notices[0].direction, notices[0].result, notices[0].duration) == (
        "Outbound",
        "Busy",
        0,
    )
    assert notices[0].answered_by is None


# --- sessions that cannot be judged from their events alone --------------------------------


def test_a_single_extensions_view_is_judged_by_expire(examples_dir: Path) -> None:
    # An extension subscription delivers only that extension's party: sequences 6–11.
    raw = [e for e in flow(examples_dir, "pstn-to-rc") if f"/extension/{USER}/" in e["event"]]
    state, notices = run(events(raw), watching(USER))
    assert [n.kind for n in notices] == ["answered_call"]
    assert not state.over  # the caller's leg and the session's start are out of view

    quiet_state, early = expire(state, watched=watching(USER), now=NOW + QUIET / 2, quiet=QUIET)
    assert early == [] and quiet_state == state

    state, late = expire(state, watched=watching(USER), now=NOW + QUIET, quiet=QUIET)
    assert [(n.kind, n.duration, n.result) for n in late] == [("call", 15, "Answered")]
    assert state.expired_at == NOW + QUIET
    assert expire(state, watched=watching(USER), now=NOW + 2 * QUIET, quiet=QUIET)[1] == []


def test_expire_judges_a_leg_left_ringing_as_missed(call: Call) -> None:
    raw = [
        call.caller("Setup"),
        call.event("user", "Setup", extension=USER),
        call.event("user", "Proceeding", extension=USER),
        call.caller("Disconnected"),
    ]  # the user's Disconnected was lost
    state, notices = run(events(raw), watching(USER))
    assert notices == []

    state, late = expire(state, watched=watching(USER), now=NOW + QUIET, quiet=QUIET)
    assert [(n.kind, n.result) for n in late] == [("missed_call", "Missed")]


def test_expire_leaves_a_call_in_progress_to_its_last_events(call: Call) -> None:
    feed = events(
        [
            call.caller("Setup"),
            call.event("user", "Setup", extension=USER),
            call.event("user", "Proceeding", extension=USER),
            call.event("user", "Answered", extension=USER, second=5),
            call.caller("Answered"),
        ]
    )
    hangup = events(
        [
            call.event("user", "Disconnected", extension=USER, second=3605),
            call.caller("Disconnected", second=3605),
        ]
    )
    state, notices = run(feed, watching(USER))
    assert [n.kind for n in notices] == ["answered_call"]

    state, quiet = expire(state, watched=watching(USER), now=NOW + QUIET, quiet=QUIET)
    assert quiet == []  # an hour-long call says nothing in between

    state, done = run(hangup, watching(USER), state)
    assert [(n.kind, n.duration) for n in done] == [("call", 3600)]


def _fields(notice: CallNotice) -> dict[str, Any]:
    return {name: getattr(notice, name) for name in notice.__dataclass_fields__}

"""Telephony-session events of simulated calls, in the shapes of the three real call flows
(`telephony-sessions-callflow-*.json`, reference §3.3).

One event per party change, `sequence` counting up per session from 2 (sequence 2 is the
caller's `Setup`, as in every real flow); parties without an extension come under the
account path, extension parties under their extension's path. Between events the clock
moves (ringing, talking): with `pace`, by sleeping on the simulator's clock when it can
sleep (bot.clock.FakeClock advances at once), otherwise the call is back-dated so that it
ends now. The finished call lands in the call log (and, for `voicemail`, the voicemail
follows as its own events).

Guesses where no real sample exists: `missedCall: true` on the callee's final events of a
missed call and from its `VoiceMail` status on; reason `Pickup` on ring-group members
whose colleague answered; no reasons elsewhere (the real flows carry none).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._rc_data import JSON
from ._rc_events import API, Delivery, Emission, EventHost, MessageEvents, SimMessage, emit
from ._rc_subscriptions import iso

Scenario = Literal["answered", "missed", "voicemail", "ivr_answered", "ring_group", "outbound"]
SCENARIOS: tuple[str, ...] = (
    "answered", "missed", "voicemail", "ivr_answered", "ring_group", "outbound",
)  # fmt: skip
GAP = 0.025  # seconds between consecutive party changes (real flows: 10-40 ms)
SERVER_ID = "10.13.22.27.TAM"


@dataclass
class Leg:
    """One party of the session."""

    id: str
    extension_id: str | None
    direction: str  # Outbound: the caller's side; Inbound: the callee's
    frm: JSON
    to: JSON
    missed: bool = False
    pickup: JSON | None = None  # mobilePickupData, the same on every event that has it


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the call started
    leg: Leg
    status: JSON
    frm: JSON
    to: JSON
    missed: bool


@dataclass
class SimCall:
    """What `call()` made: the session's ids, its event bodies in sequence order, the
    deliveries in the order made, the call-log records, and the voicemail it left."""

    scenario: str
    session_id: str
    telephony_session_id: str
    parties: dict[str, str]  # role ("caller", "callee", "ivr", extension id…) → party id
    bodies: list[JSON] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    call_log: list[JSON] = field(default_factory=list)
    voicemail: SimMessage | None = None


class _Flow:
    """The timeline of one call being built."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        token = f"{rng.getrandbits(128):032x}"
        self.telephony_session_id = f"s-{token}"
        self.session_id = str(rng.randrange(10**8, 10**9) * 1000 + 8)
        self._token = token
        self.legs: list[Leg] = []
        self.steps: list[Step] = []
        self.t = 0.0

    def leg(self, extension_id: str | None, direction: str, frm: JSON, to: JSON) -> Leg:
        leg = Leg(f"p-{self._token}-{len(self.legs) + 1}", extension_id, direction, frm, to)
        self.legs.append(leg)
        return leg

    def wait(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def change(
        self, leg: Leg, code: str, *, reason: str | None = None, pickup: bool = False
    ) -> None:
        status: JSON = {"code": code}
        if reason:
            status["reason"] = reason
        if pickup and leg.extension_id:
            if leg.pickup is None:
                leg.pickup = {
                    "ccMailboxes": [leg.extension_id],
                    "to": f"#{self.rng.randrange(10**6, 10**7)}@sip.ringcentral.com:5060",
                    "sid": str(self.rng.randrange(10**13, 10**14)),
                    "srvLvl": "-149699523",
                    "srvLvlExt": "406",
                }
            status["mobilePickupData"] = dict(leg.pickup)
        status["rcc"] = False
        self.steps.append(Step(self.t, leg, status, dict(leg.frm), dict(leg.to), leg.missed))
        self.t += GAP


class CallEvents:
    """Producer of telephony-session events; `RingCentralSimulator.call` delegates here."""

    def __init__(self, host: EventHost, messages: MessageEvents) -> None:
        self.host = host
        self.messages = messages
        self.rng = random.Random(f"calls:{host.world.account_id}")

    def _party(self, ext_id: str, number: str | None = None) -> JSON:
        info = self.host.world.extension_info(ext_id)
        out: JSON = {"phoneNumber": number or self.messages.direct_number(ext_id)}
        out["name"] = info["name"]
        out["extensionId"] = ext_id
        return out

    async def call(
        self,
        scenario: str,
        *,
        caller: str,
        extension_id: str,
        to_number: str | None = None,
        from_name: str | None = None,
        ring: float = 8.0,
        talk: float = 30.0,
        ivr: float = 8.0,
        others: Sequence[str] = (),
        transcript: str | None = None,
        transcript_later: bool = False,
        pace: bool = True,
        shuffle_seed: int | None = None,
        duplicate: int = 0,
    ) -> SimCall:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown call scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        world = self.host.world
        ext_id = world.resolve_extension_id(extension_id)
        flow = _Flow(self.rng)
        result = SimCall(scenario, flow.session_id, flow.telephony_session_id, {})
        outside: JSON = {"phoneNumber": caller}
        if from_name:
            outside["name"] = from_name
        if scenario == "outbound":
            self._outbound(flow, result, ext_id, outside, ring, talk)
        elif scenario == "ivr_answered":
            self._ivr(flow, result, ext_id, caller, outside, to_number, ring, talk, ivr)
        elif scenario == "ring_group":
            self._ring_group(flow, result, ext_id, caller, outside, to_number, others, ring, talk)
        else:
            self._direct(flow, result, scenario, ext_id, caller, outside, to_number, ring, talk)

        await self._play(flow, result, pace, shuffle_seed, duplicate)
        session = (flow.session_id, flow.telephony_session_id)
        answered = scenario not in ("missed", "voicemail")
        if scenario == "voicemail":
            result.voicemail = await self.messages.incoming_voicemail(
                ext_id,
                caller,
                duration=max(1, round(talk)),
                from_name=from_name,
                transcript=transcript,
                transcript_later=transcript_later,
                session=session,
            )
        else:
            result.call_log.append(
                world.add_call(
                    ext_id,
                    direction="Outbound" if scenario == "outbound" else "Inbound",
                    other_number=caller,
                    other_name=from_name,
                    result=(
                        "Call connected"
                        if scenario == "outbound"
                        else "Accepted"
                        if answered
                        else "Missed"
                    ),
                    duration=round(talk) if answered else round(ring),
                    session_id=flow.session_id,
                    telephony_session_id=flow.telephony_session_id,
                )
            )
        return result

    # -- scenarios ------------------------------------------------------------------------

    def _direct(
        self,
        flow: _Flow,
        result: SimCall,
        scenario: str,
        ext_id: str,
        caller: str,
        outside: JSON,
        to_number: str | None,
        ring: float,
        talk: float,
    ) -> None:
        dialed = to_number or self.messages.direct_number(ext_id)
        pstn = flow.leg(None, "Outbound", {"phoneNumber": caller}, {"phoneNumber": dialed})
        callee = flow.leg(ext_id, "Inbound", outside, self._party(ext_id, dialed))
        result.parties.update(caller=pstn.id, callee=callee.id)
        flow.change(pstn, "Setup")
        pstn.to = dict(callee.to)
        flow.change(callee, "Setup")
        flow.change(callee, "Proceeding", pickup=True)
        flow.wait(ring)
        if scenario == "answered":
            flow.change(callee, "Answered", pickup=True)
            pstn.frm = dict(outside)
            flow.change(pstn, "Answered")
            flow.wait(talk)
        elif scenario == "voicemail":
            callee.missed = True
            flow.change(callee, "VoiceMail")
            flow.change(pstn, "Answered")  # the voicemail system takes the call
            flow.wait(talk)
        else:  # missed: the caller gives up
            callee.missed = True
        flow.change(callee, "Disconnected")
        flow.change(pstn, "Disconnected")

    def _ivr(
        self,
        flow: _Flow,
        result: SimCall,
        ext_id: str,
        caller: str,
        outside: JSON,
        to_number: str | None,
        ring: float,
        talk: float,
        ivr_seconds: float,
    ) -> None:
        world = self.host.world
        dialed = to_number or world.main_number
        ivr_id = world.extension_of_number(world.main_number)
        pstn = flow.leg(None, "Outbound", {"phoneNumber": caller}, {"phoneNumber": dialed})
        ivr_party = self._party(ivr_id, dialed) if ivr_id else {"phoneNumber": dialed}
        ivr = flow.leg(ivr_id, "Inbound", {"phoneNumber": caller}, ivr_party)
        callee = flow.leg(ext_id, "Inbound", outside, self._party(ext_id, dialed))
        result.parties.update(caller=pstn.id, ivr=ivr.id, callee=callee.id)
        flow.change(pstn, "Setup")
        flow.change(ivr, "Setup")
        pstn.to = dict(ivr.to)
        flow.change(pstn, "Answered")  # the IVR picks up at once
        flow.wait(ivr_seconds)
        flow.change(ivr, "Disconnected")
        flow.t -= GAP  # the IVR hands over: the user's party starts at the same instant
        flow.change(callee, "Setup")
        flow.change(callee, "Proceeding", pickup=True)
        flow.wait(ring)
        flow.change(callee, "Answered", pickup=True)
        flow.wait(talk)
        flow.change(callee, "Disconnected")
        pstn.frm = dict(outside)
        flow.change(pstn, "Disconnected")

    def _ring_group(
        self,
        flow: _Flow,
        result: SimCall,
        ext_id: str,
        caller: str,
        outside: JSON,
        to_number: str | None,
        others: Sequence[str],
        ring: float,
        talk: float,
    ) -> None:
        world = self.host.world
        dialed = to_number or world.main_number
        if others:
            members = [world.resolve_extension_id(o) for o in others]
        else:
            users = world.extension_list({"type": ["User"], "status": ["Enabled"]})["records"]
            members = [str(r["id"]) for r in users if str(r["id"]) != ext_id][:1]
        pstn = flow.leg(None, "Outbound", {"phoneNumber": caller}, {"phoneNumber": dialed})
        callee = flow.leg(ext_id, "Inbound", outside, self._party(ext_id, dialed))
        rest = [flow.leg(m, "Inbound", outside, self._party(m, dialed)) for m in members]
        result.parties.update(caller=pstn.id, callee=callee.id)
        result.parties.update({m: leg.id for m, leg in zip(members, rest, strict=True)})
        flow.change(pstn, "Setup")
        for leg in (callee, *rest):
            flow.change(leg, "Setup")
        for leg in (callee, *rest):
            flow.change(leg, "Proceeding", pickup=True)
        flow.wait(ring)
        flow.change(callee, "Answered", pickup=True)
        pstn.to = dict(callee.to)
        flow.change(pstn, "Answered")
        for leg in rest:
            flow.change(leg, "Disconnected", reason="Pickup")
        flow.wait(talk)
        flow.change(callee, "Disconnected")
        flow.change(pstn, "Disconnected")

    def _outbound(
        self, flow: _Flow, result: SimCall, ext_id: str, outside: JSON, ring: float, talk: float
    ) -> None:
        own = self.messages.direct_number(ext_id)
        device = str(self.rng.randrange(10**8, 10**9) * 1000 + 8)
        me = flow.leg(
            ext_id,
            "Outbound",
            {"phoneNumber": own, "extensionId": ext_id, "deviceId": device},
            {"phoneNumber": outside["phoneNumber"]},
        )
        far = flow.leg(
            None, "Inbound", self._party(ext_id, own), {"phoneNumber": outside["phoneNumber"]}
        )
        result.parties.update(caller=me.id, callee=far.id)
        flow.change(me, "Setup")
        flow.change(far, "Proceeding")  # the PSTN callee's first event (rc-to-pstn flow)
        flow.change(me, "Proceeding")
        flow.wait(ring)
        flow.change(far, "Answered")
        me.frm = {**me.frm, "name": far.frm["name"]}
        flow.change(me, "Answered")
        flow.wait(talk)
        flow.change(me, "Disconnected")
        flow.change(far, "Disconnected")

    # -- delivery ---------------------------------------------------------------------------

    def _emission(self, flow: _Flow, seq: int, step: Step, moment: float) -> Emission:
        account_id = self.host.world.account_id
        leg = step.leg
        party: JSON = {"accountId": account_id}
        if leg.extension_id:
            party["extensionId"] = leg.extension_id
        party.update(id=leg.id, direction=leg.direction, to=step.to)
        party["from"] = step.frm
        party.update(status=step.status, park={}, missedCall=step.missed)
        party.update(standAlone=False, muted=False)
        body: JSON = {
            "sequence": seq,
            "sessionId": flow.session_id,
            "telephonySessionId": flow.telephony_session_id,
            "serverId": SERVER_ID,
            "eventTime": iso(moment),
            "parties": [party],
            "origin": {"type": "Call"},
        }
        base = f"{API}/account/{account_id}"
        path = f"{base}/extension/{leg.extension_id}" if leg.extension_id else base
        phones = tuple(str(p["phoneNumber"]) for p in (step.frm, step.to) if p.get("phoneNumber"))
        attrs = {
            "direction": (leg.direction,),
            "statusCode": (str(step.status["code"]),),
            "missedCall": ("true" if step.missed else "false",),
            "phoneNumber": phones,
        }
        return Emission(f"{path}/telephony/sessions", body, attrs, telephony=True)

    async def _play(
        self,
        flow: _Flow,
        result: SimCall,
        pace: bool,
        shuffle_seed: int | None,
        duplicate: int,
    ) -> None:
        clock = self.host.clock
        sleep: Callable[[float], Awaitable[Any]] | None = getattr(clock, "sleep", None)
        span = flow.steps[-1].at if flow.steps else 0.0
        paced = pace and sleep is not None
        start = clock.now() if paced else clock.now() - span
        in_order = shuffle_seed is None and duplicate == 0
        emissions: list[Emission] = []
        for seq, step in enumerate(flow.steps, start=2):
            moment = start + step.at
            if paced and sleep is not None and moment > clock.now():
                await sleep(moment - clock.now())
            emission = self._emission(flow, seq, step, moment)
            emissions.append(emission)
            result.bodies.append(emission.body)
            if in_order:
                result.deliveries.extend(await emit(self.host, emission))
        if in_order:
            return
        rng = random.Random(shuffle_seed if shuffle_seed is not None else 0)
        order = list(range(len(emissions)))
        if shuffle_seed is not None:
            rng.shuffle(order)
        for _ in range(duplicate):
            order.insert(rng.randrange(len(order) + 1), rng.randrange(len(emissions)))
        for index in order:
            result.deliveries.extend(await emit(self.host, emissions[index]))

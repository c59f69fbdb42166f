"""RingOut: create, poll, cancel, with a status progression driven by the clock.

Reference §4.3: the caller (`from`) rings first, then the callee (`to`); statuses start
`InProgress`; DELETE only works before the first leg connects (DOCS ringout.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ._rc_http import SimResponse, invalid_param, not_found
from ._rc_messaging import BadRequest, _load_json, phone
from ._rc_state import Call, SimState, json_ok


@dataclass
class RingOutScript:
    """How simulated RingOuts go: the caller answers after `caller_after` seconds, the
    callee `callee_after` seconds later with `callee_status` (Success, Busy, NoAnswer…)."""

    caller_after: float = 5.0
    callee_after: float = 5.0
    caller_status: str = "Success"
    callee_status: str = "Success"


@dataclass
class RingOut:
    id: str
    owner: str
    extension_id: str
    created: float
    script: RingOutScript

    def status(self, now: float) -> dict[str, str]:
        s = self.script
        elapsed = now - self.created
        if elapsed < s.caller_after:
            return {
                "callStatus": "InProgress",
                "callerStatus": "InProgress",
                "calleeStatus": "InProgress",
            }
        if s.caller_status != "Success":
            return {
                "callStatus": s.caller_status,
                "callerStatus": s.caller_status,
                "calleeStatus": "InProgress",
            }
        if elapsed < s.caller_after + s.callee_after:
            return {
                "callStatus": "InProgress",
                "callerStatus": "Success",
                "calleeStatus": "InProgress",
            }
        call_status = "Success" if s.callee_status == "Success" else s.callee_status
        return {
            "callStatus": call_status,
            "callerStatus": "Success",
            "calleeStatus": s.callee_status,
        }

    def first_leg_ringing(self, now: float) -> bool:
        return now - self.created < self.script.caller_after


class RingOuts:
    def __init__(self) -> None:
        self.script = RingOutScript()
        self.calls: dict[str, RingOut] = {}


def _ringouts(st: SimState) -> RingOuts:
    value = st.extras.setdefault("ringouts", RingOuts())
    assert isinstance(value, RingOuts)
    return value


def _body(st: SimState, r: RingOut) -> dict[str, Any]:
    # shape of examples/ringout-create-response.json / ringout-status-response.json
    ext = f"/restapi/v1.0/account/{st.world.account_id}/extension/{r.extension_id}"
    uri = f"{st.server_url}{ext}/ring-out/{r.id}"
    return {"uri": uri, "id": r.id, "status": r.status(st.clock.now())}


async def create(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    try:
        body = _load_json(call.req.body)
        source = body.get("from")
        if not (isinstance(source, dict) and source.get("forwardingNumberId")):
            phone(source, "from")
        phone(body.get("to"), "to")
        if body.get("callerId") is not None:
            caller_id = phone(body.get("callerId"), "callerId")
            if caller_id not in st.world.numbers_with_feature(ext, "CallerId"):
                return invalid_param("callerId.phoneNumber")
    except BadRequest as exc:
        return exc.response
    ros = _ringouts(st)
    r = RingOut(
        id=secrets.token_urlsafe(30).rstrip("="),
        owner=call.bearer.owner_id,
        extension_id=ext,
        created=st.clock.now(),
        script=RingOutScript(**vars(ros.script)),
    )
    ros.calls[r.id] = r
    return json_ok(_body(st, r))


def _find(st: SimState, call: Call) -> RingOut | None:
    ext = call.extension(st.world)
    r = _ringouts(st).calls.get(call.params["ringoutId"])
    return r if r is not None and r.extension_id == ext else None


async def get(st: SimState, call: Call) -> SimResponse:
    r = _find(st, call)
    return json_ok(_body(st, r)) if r is not None else not_found("ringoutId")


async def delete(st: SimState, call: Call) -> SimResponse:
    r = _find(st, call)
    # DOCS ringout.md: a RingOut can be cancelled only while the first leg is ringing
    if r is None or not r.first_leg_ringing(st.clock.now()):
        return not_found("ringoutId")
    del _ringouts(st).calls[r.id]
    return SimResponse.empty(204)

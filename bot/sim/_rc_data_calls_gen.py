"""A month of call history: who called whom, how it ended, with legs for the Detailed view.

Voicemails and faxes in the call log link to message-store records; the generator returns
`MessageSeed`s so the message store can create exactly those messages.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sim._rc_data_account import Accounts
from bot.sim._rc_data_calls import CallRecord
from bot.sim._rc_data_errors import JSON
from bot.sim._rc_data_paging import API, iso
from bot.sim._rc_data_people import OUTSIDERS, Extension

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
_INBOUND = (
    ("Accepted", 45),
    ("Missed", 15),
    ("Voicemail", 15),
    ("Rejected", 5),
    ("Hang Up", 5),
)
_OUTBOUND = (
    ("Call connected", 60),
    ("No Answer", 15),
    ("Busy", 10),
    ("Hang Up", 10),
    ("Rejected", 5),
)
_TALKED = ("Accepted", "Call connected")


@dataclass(frozen=True)
class MessageSeed:
    """A voicemail or fax the call log points at; the message store creates it."""

    message_id: int
    kind: str  # VoiceMail | Fax
    owner_id: str
    direction: str
    start: datetime
    other: JSON  # the outside party {phoneNumber, name?, location?}
    own_number: str | None
    duration: int
    pages: int


def call_id(rng: random.Random) -> str:
    """Call-log ids are short opaque strings, e.g. 'IyQAmlV2ORKZzUA'."""
    return "".join(rng.choice(_ID_ALPHABET) for _ in range(15))


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def ext_party(ext: Extension, number: str | None = None) -> JSON:
    party: JSON = {}
    if number:
        party["phoneNumber"] = number
    party["extensionNumber"] = ext.number
    party["extensionId"] = ext.id
    party["name"] = ext.name
    return party


def outside_party(rng: random.Random) -> JSON:
    first_name, last, company, phone, location = rng.choice(OUTSIDERS)
    party: JSON = {"phoneNumber": phone}
    if rng.random() < 0.6:  # caller ID name is often missing for outside callers
        party["name"] = company or f"{first_name} {last}"
    party["location"] = location
    return party


@dataclass
class CallSpec:
    owner: Extension
    start: datetime
    direction: str
    kind: str  # Voice | Fax
    other: JSON
    result: str
    duration: int
    action: str
    transport: str
    own_number: str | None
    recording_type: str | None = None
    message: tuple[int, str] | None = None  # message-store id and type it links to
    via: Extension | None = None  # the IVR that answered first (inbound through main number)
    categories: tuple[str, ...] = ()
    session_id: str = ""
    telephony_session_id: str = ""
    deleted: bool = False


def build(rng: random.Random, acc: Accounts, spec: CallSpec) -> CallRecord:
    """One record with its legs; URIs relative to the host."""
    own = ext_party(spec.owner, spec.own_number)
    inbound = spec.direction == "Inbound"
    frm, to = (spec.other, own) if inbound else (own, spec.other)
    core: JSON = {
        "startTime": iso(spec.start),
        "duration": spec.duration,
        "durationMs": spec.duration * 1000,
        "type": spec.kind,
        "direction": spec.direction,
        "action": spec.action,
        "result": spec.result,
        "to": to,
        "from": frm,
    }
    body: JSON = {
        "id": call_id(rng),
        "sessionId": spec.session_id or str(rng.randrange(10**11, 10**12) * 1000 + 8),
        "telephonySessionId": spec.telephony_session_id or f"s-{rng.getrandbits(128):032x}",
        "partyId": f"p-{rng.getrandbits(128):032x}-{rng.randint(1, 4)}",
        **core,
    }
    if spec.recording_type:
        rec_id = str(rng.randrange(10**8, 10**9) * 1000 + 8)
        body["recording"] = {
            "uri": f"{acc.path()}/recording/{rec_id}",
            "id": rec_id,
            "type": spec.recording_type,
            "contentUri": f"{acc.path()}/recording/{rec_id}/content",
        }
    if spec.message:
        msg_id, msg_type = spec.message
        body["message"] = {
            "uri": f"{acc.path(spec.owner.id)}/message-store/{msg_id}",
            "id": str(msg_id),
            "type": msg_type,
        }
    if spec.categories:
        body["metadataCategories"] = list(spec.categories)
    if spec.deleted:
        body["deleted"] = True
    body["transport"] = spec.transport
    body["lastModifiedTime"] = iso(spec.start + timedelta(seconds=spec.duration + 2.731))
    external_pstn = spec.transport == "PSTN" and not inbound
    cost = round(0.012 * max(1, -(-spec.duration // 60)), 3) if external_pstn else 0
    body["billing"] = {"costIncluded": 0, "costPurchased": cost}
    body["legs"] = _legs(acc, spec, core)
    return CallRecord(
        spec.owner.id,
        spec.owner.number,
        spec.start,
        body,
        blocked=spec.result == "Blocked",
        deleted=spec.deleted,
    )


def _legs(acc: Accounts, spec: CallSpec, core: JSON) -> list[JSON]:
    def leg(ext: Extension, leg_type: str, master: bool, **changes: object) -> JSON:
        out = {**core, **changes, "transport": spec.transport, "legType": leg_type}
        out["extension"] = {"uri": acc.path(ext.id), "id": int(ext.id)}
        out["master"] = master
        return out

    if spec.kind == "Fax":
        return [leg(spec.owner, "FaxSent" if spec.direction == "Outbound" else "Accept", True)]
    if spec.via is not None:
        # Through the main number: the IVR takes the PSTN leg, then transfers to the user.
        return [
            leg(
                spec.via,
                "PstnToSip",
                True,
                result="Accepted",
                duration=8,
                durationMs=8000,
                to={"phoneNumber": core["to"].get("phoneNumber"), "name": spec.via.name},
            ),
            leg(spec.owner, "Accept", False, action="FindMe"),
        ]
    kind = (
        "SipToPstnMetered"
        if spec.direction == "Outbound" and spec.transport == "VoIP"
        else ("Accept" if spec.direction == "Inbound" else "PstnToSip")
    )
    return [leg(spec.owner, kind, True)]


def generate_calls(
    rng: random.Random, acc: Accounts, now: datetime, count: int = 320
) -> tuple[list[CallRecord], list[MessageSeed]]:
    users = [e for e in acc.extensions if e.type == "User" and e.status == "Enabled"]
    ivr = next(e for e in acc.extensions if e.type == "IvrMenu")
    queue = next(e for e in acc.extensions if e.type == "Department")
    owners = [*users, queue]
    weights = [6 if e.number == "101" else 3 for e in users] + [3]
    records: list[CallRecord] = []
    seeds: list[MessageSeed] = []
    # Per-owner counters make every extension's log hold blocked and deleted records, so
    # showBlocked/showDeleted change every answer instead of depending on the dice.
    inbound_seen: dict[str, int] = {}
    records_seen: dict[str, int] = {}
    for _ in range(count):
        # A quarter of the traffic in the last day, so default 24-hour windows have data.
        back = rng.uniform(0, 24 * 3600) if rng.random() < 0.25 else rng.uniform(0, 30 * 86400)
        start = (now - timedelta(seconds=back)).replace(microsecond=0)
        owner = rng.choices(owners, weights=weights)[0]
        own_number = owner.direct_number
        direction = rng.choice(("Inbound", "Outbound"))
        if owner is queue:
            direction = "Inbound"
        if rng.random() < 0.1:
            records.append(_fax(rng, acc, owner, start, direction, own_number, seeds))
            continue
        internal = rng.random() < 0.15 and owner is not queue
        if internal:
            records += _internal(
                rng, acc, owner, rng.choice([u for u in users if u is not owner]), start
            )
            continue
        inbound = direction == "Inbound"
        result = _pick(rng, _INBOUND if inbound else _OUTBOUND)
        if inbound:
            inbound_seen[owner.id] = inbound_seen.get(owner.id, 0) + 1
            if inbound_seen[owner.id] % 12 == 3:
                result = "Blocked"
        talked = result in _TALKED
        duration = rng.randint(25, 900) if talked else rng.randint(0, 35)
        spec = CallSpec(
            owner,
            start,
            direction,
            "Voice",
            outside_party(rng),
            result,
            duration,
            action="Phone Call" if inbound else rng.choice(("VoIP Call", "RingOut Web")),
            transport="PSTN",
            own_number=own_number,
        )
        if not inbound and spec.action == "VoIP Call":
            spec.transport = "VoIP"
        if inbound and owner is not queue and rng.random() < 0.3:
            spec.via, spec.own_number = ivr, None
        if talked and rng.random() < 0.25:
            spec.recording_type = rng.choice(("Automatic", "OnDemand"))
        if talked and owner.department in ("Sales", "Support") and rng.random() < 0.3:
            spec.categories = (owner.department,)
        if result == "Voicemail":
            spec.message = (rng.randrange(10**8, 10**9) * 1000 + 8, "VoiceMail")
            spec.duration = rng.randint(8, 75)
            seeds.append(
                MessageSeed(
                    spec.message[0],
                    "VoiceMail",
                    owner.id,
                    "Inbound",
                    start,
                    spec.other,
                    own_number,
                    spec.duration,
                    0,
                )
            )
        records_seen[owner.id] = records_seen.get(owner.id, 0) + 1
        spec.deleted = records_seen[owner.id] % 17 == 6
        records.append(build(rng, acc, spec))
    return records, seeds


def _fax(
    rng: random.Random,
    acc: Accounts,
    owner: Extension,
    start: datetime,
    direction: str,
    own_number: str | None,
    seeds: list[MessageSeed],
) -> CallRecord:
    msg_id = rng.randrange(10**8, 10**9) * 1000 + 8
    inbound = direction == "Inbound"
    pages = rng.randint(1, 6)
    spec = CallSpec(
        owner,
        start,
        direction,
        "Fax",
        outside_party(rng),
        "Received" if inbound else "Sent",
        20 * pages + rng.randint(0, 15),
        "Incoming Fax" if inbound else "Outgoing Fax",
        "PSTN",
        own_number,
        message=(msg_id, "Fax"),
    )
    seeds.append(
        MessageSeed(
            msg_id, "Fax", owner.id, direction, start, spec.other, own_number, spec.duration, pages
        )
    )
    return build(rng, acc, spec)


def _internal(
    rng: random.Random, acc: Accounts, caller: Extension, callee: Extension, start: datetime
) -> list[CallRecord]:
    """An extension-to-extension VoIP call: one record in each party's log, one session."""
    result = _pick(rng, (("Call connected", 7), ("No Answer", 2), ("Busy", 1)))
    duration = rng.randint(15, 600) if result == "Call connected" else rng.randint(0, 25)
    session = str(rng.randrange(10**11, 10**12) * 1000 + 8)
    telephony = f"s-{rng.getrandbits(128):032x}"
    out = CallSpec(
        caller,
        start,
        "Outbound",
        "Voice",
        ext_party(callee),
        result,
        duration,
        "VoIP Call",
        "VoIP",
        None,
        session_id=session,
        telephony_session_id=telephony,
    )
    in_result = {"Call connected": "Accepted", "No Answer": "Missed", "Busy": "Rejected"}[result]
    inc = CallSpec(
        callee,
        start,
        "Inbound",
        "Voice",
        ext_party(caller),
        in_result,
        duration,
        "Phone Call",
        "VoIP",
        None,
        session_id=session,
        telephony_session_id=telephony,
    )
    return [build(rng, acc, out), build(rng, acc, inc)]


def message_path(acc: Accounts, owner_id: str, message_id: int) -> str:
    return f"{API}/account/{acc.account_id}/extension/{owner_id}/message-store/{message_id}"

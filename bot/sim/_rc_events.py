"""The events a real account sends, produced from changes to the simulated world.

Each producer changes the `World`, then delivers what RingCentral would: the message's own
event (instant SMS, voicemail, fax; reference §3.1, bodies in the shape of the example
files) and the message-store changes it caused (§3.2), to every Active subscription with a
matching filter. `event` carries real ids (RingCentral resolves `~`), message ids are
strings in event bodies, and every delivery gets a fresh `uuid` (`deliver()` makes one).

Matching: a filter matches when its path equals the event's path, its query parameters
(`type`, `direction`, `missedCall`, `statusCode`, `phoneNumber`; comma-separated values
mean any of) agree with the event, and unknown parameters are ignored. The account-level
`…/telephony/sessions` filter also covers every extension's telephony events, and those
deliveries name the party's own path, as the real call flows show (§3.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ._rc_data import JSON, MessageChange, SimError, Upload, World
from ._rc_data_paging import iso
from ._rc_http import SimClock
from ._rc_subscriptions import Subscription

API = "/restapi/v1.0"


class EventHost(Protocol):
    """What the producers need of `RingCentralSimulator`."""

    world: World
    clock: SimClock

    @property
    def subscriptions(self) -> dict[str, Subscription]: ...

    async def deliver(
        self, subscription_id: str, body: Any, *, event: str | None = None, uuid: str | None = None
    ) -> int | None: ...


@dataclass(frozen=True)
class Emission:
    """One event to deliver: its canonical path (real ids, no query), the values its
    filters' query parameters test, and the body."""

    path: str
    body: JSON
    attrs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    telephony: bool = False


@dataclass(frozen=True)
class Delivery:
    """One POST made: to which subscription, under which `event`, what it answered
    (None: not sent, the subscription was not Active)."""

    subscription_id: str
    event: str
    body: JSON
    status: int | None


@dataclass(frozen=True)
class SimMessage:
    """A message the simulator created: its id, whose mailbox, the REST record."""

    id: str
    extension_id: str
    record: JSON


@dataclass(frozen=True)
class SimPager:
    """A pager message: the sender's Outbound copy and each recipient's Inbound copy."""

    sent: SimMessage
    received: list[SimMessage]

    @property
    def ids(self) -> dict[str, str]:
        """Recipient extension id → the id of its copy."""
        return {m.extension_id: m.id for m in self.received}


# -- matching and delivery ----------------------------------------------------------------


def resolved_filter(event_filter: str, account_id: str, owner_id: str) -> str:
    return event_filter.replace("/account/~", f"/account/{account_id}").replace(
        "/extension/~", f"/extension/{owner_id}"
    )


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _query_agrees(query: str, attrs: Mapping[str, tuple[str, ...]]) -> bool:
    for name, raw in parse_qsl(query, keep_blank_values=True):
        have = attrs.get(name)
        if have is None:
            continue  # a parameter this event is not filtered on (withRecordings, sipData…)
        wanted = [v.strip() for v in raw.split(",") if v.strip()]
        if name == "phoneNumber":
            if not {_digits(w) for w in wanted} & {_digits(h) for h in have}:
                return False
        elif not {w.casefold() for w in wanted} & {h.casefold() for h in have}:
            return False
    return True


def event_for(event_filter: str, emission: Emission, account_id: str) -> str | None:
    """The `event` a delivery of `emission` under this (resolved) filter carries, or None
    when the filter does not match."""
    path, _, query = event_filter.partition("?")
    path = path.rstrip("/")
    if path == emission.path:
        event = event_filter
    elif (
        emission.telephony
        and path == f"{API}/account/{account_id}/telephony/sessions"
        and emission.path.startswith(f"{API}/account/{account_id}/")
    ):
        event = emission.path + (f"?{query}" if query else "")
    else:
        return None
    return event if _query_agrees(query, emission.attrs) else None


async def emit(host: EventHost, emission: Emission) -> list[Delivery]:
    """Deliver to every Active subscription with a matching filter (once each)."""
    account_id = host.world.account_id
    now = host.clock.now()
    out: list[Delivery] = []
    for sub in list(host.subscriptions.values()):
        if sub.status != "Active" or sub.expires_at <= now:
            continue
        for raw in sub.event_filters:
            event = event_for(resolved_filter(raw, account_id, sub.owner_id), emission, account_id)
            if event is not None:
                status = await host.deliver(sub.id, emission.body, event=event)
                out.append(Delivery(sub.id, event, emission.body, status))
                break
    return out


def ext_path(account_id: str, extension_id: str) -> str:
    return f"{API}/account/{account_id}/extension/{extension_id}"


# -- message bodies in the shapes of the example files -------------------------------------


def _event_attachment(att: JSON, *, text_uri: bool) -> JSON:
    out: JSON = {"id": str(att["id"])}
    if att.get("type") != "Text" or text_uri:
        out["uri"] = att["uri"]
    for key in ("type", "contentType", "vmDuration", "size"):
        if key in att:
            out[key] = att[key]
    return out


def message_event_body(record: JSON) -> JSON:
    """A REST record → the voicemail / fax event body (voicemail-event.json,
    fax-inbound-event.json): no record `uri`, ids as strings; a fax names no `to`."""
    body: JSON = {}
    for key, value in record.items():
        if key in ("uri", "conversationId", "conversation"):
            continue
        if key == "to" and record.get("type") == "Fax":
            continue
        if key == "id":
            value = str(value)
        elif key == "attachments":
            value = [_event_attachment(a, text_uri=True) for a in value]
        body[key] = value
    return body


def _number_info(number: str) -> JSON | None:
    digits = _digits(number)
    if not number.startswith("+1") or len(digits) != 11:
        return None  # only North American numbers are split here
    return {
        "countryCode": "1",
        "nationalDestinationCode": digits[1:4],
        "subscriberNumber": digits[4:],
    }


def sms_event_body(record: JSON, owner: JSON) -> JSON:
    """A REST SMS/MMS record → the 2025 instant-message body (instant-sms-event.json,
    instant-mms-event-body.json)."""
    frm: JSON = {"phoneNumber": record["from"]["phoneNumber"]}
    if "location" in record["from"]:
        frm["location"] = record["from"]["location"]
    if info := _number_info(frm["phoneNumber"]):
        frm["phoneNumberInfo"] = info
    # One recipient: it is the target (instant-sms-event.json); a group MMS marks ours.
    group = any("target" in party for party in record["to"])
    to = record["to"] if group else [{**party, "target": True} for party in record["to"]]
    return {
        "id": str(record["id"]),
        "to": to,
        "from": frm,
        "type": record["type"],
        "creationTime": record["creationTime"],
        "lastModifiedTime": record["creationTime"],
        "readStatus": record["readStatus"],
        "priority": record["priority"],
        "attachments": [_event_attachment(a, text_uri=False) for a in record["attachments"]],
        "direction": record["direction"],
        "availability": record["availability"],
        "subject": record.get("subject", ""),
        "messageStatus": record["messageStatus"],
        "conversation": {"id": str(record["conversationId"])},
        "eventType": "Create",
        "owner": owner,
    }


def store_change_bodies(world: World, changes: Sequence[MessageChange]) -> list[Emission]:
    """Message-store events (message-store-event-websocket.json): one per extension, its
    changes counted per message type, new ids listed."""
    account_id = world.account_id
    by_ext: dict[str, list[MessageChange]] = {}
    for change in changes:
        by_ext.setdefault(change.extension_id, []).append(change)
    out = []
    for ext_id, mine in by_ext.items():
        items: list[JSON] = []
        types: list[str] = []
        for kind in dict.fromkeys(c.message_type for c in mine):
            new = list(
                dict.fromkeys(
                    c.message_id for c in mine if c.message_type == kind and c.kind == "Create"
                )
            )
            updated = {
                c.message_id
                for c in mine
                if c.message_type == kind and c.kind == "Update" and c.message_id not in new
            }
            item: JSON = {"type": kind, "newCount": len(new), "updatedCount": len(updated)}
            if new:
                item["newMessageIds"] = new
            items.append(item)
            types.append(kind)
        directions = tuple({_direction(world, ext_id, c.message_id) for c in mine} - {""})
        body: JSON = {
            "accountId": int(account_id),
            "extensionId": int(ext_id),
            "lastUpdated": iso(world.now()),
            "changes": items,
        }
        out.append(
            Emission(
                f"{ext_path(account_id, ext_id)}/message-store",
                body,
                {"type": tuple(types), "direction": directions},
            )
        )
    return out


def _direction(world: World, ext_id: str, message_id: int) -> str:
    try:
        return str(world.message(ext_id, str(message_id)).get("direction", ""))
    except SimError:  # a message the extension no longer sees
        return ""


# -- the producers ---------------------------------------------------------------------


class MessageEvents:
    """Producers of message events; `RingCentralSimulator` delegates to one of these."""

    def __init__(self, host: EventHost) -> None:
        self.host = host
        self.deliveries: list[Delivery] = []
        self._pending_transcripts: dict[str, str] = {}

    @property
    def world(self) -> World:
        return self.host.world

    async def _send(self, emissions: Sequence[Emission]) -> None:
        for emission in emissions:
            self.deliveries.extend(await emit(self.host, emission))

    async def _changes(self, mark: int) -> None:
        await self._send(store_change_bodies(self.world, self.world.changes_since(mark)))

    def _owner(self, ext_id: str) -> JSON:
        info = self.world.extension_info(ext_id)
        return {"extensionId": ext_id, "extensionType": info["type"], "name": info["name"]}

    def direct_number(self, ext_id: str) -> str:
        number = self.world.extension_info(ext_id)["contact"].get("businessPhone")
        return str(number or self.world.main_number)

    async def incoming_sms(
        self,
        extension_id: str,
        from_number: str,
        text: str,
        *,
        to_number: str | None = None,
        attachments: Sequence[Upload] = (),
        others: Sequence[str] = (),
    ) -> SimMessage:
        ext_id = self.world.resolve_extension_id(extension_id)
        mark = self.world.change_mark()
        record = self.world.add_inbound_sms(
            ext_id,
            from_number,
            to_number or self.direct_number(ext_id),
            text,
            attachments,
            others=others,
        )
        body = sms_event_body(record, self._owner(ext_id))
        path = f"{ext_path(self.world.account_id, ext_id)}/message-store/instant"
        attrs = {"type": ("SMS",), "direction": ("Inbound",)}
        await self._send([Emission(path, body, attrs)])
        await self._changes(mark)
        return SimMessage(str(record["id"]), ext_id, record)

    async def incoming_voicemail(
        self,
        extension_id: str,
        from_number: str,
        *,
        duration: int = 20,
        from_name: str | None = None,
        transcript: str | None = None,
        transcript_later: bool = False,
        session: tuple[str, str] | None = None,
    ) -> SimMessage:
        ext_id = self.world.resolve_extension_id(extension_id)
        mark = self.world.change_mark()
        record = self.world.add_voicemail(
            ext_id,
            from_number,
            duration=duration,
            transcript=None if transcript_later else transcript,
            from_name=from_name,
            transcript_pending=transcript_later,
            session=session,
        )
        message_id = str(record["id"])
        if transcript_later and transcript is not None:
            self._pending_transcripts[message_id] = transcript
        path = f"{ext_path(self.world.account_id, ext_id)}/voicemail"
        attrs = {"type": ("VoiceMail",), "direction": ("Inbound",)}
        await self._send([Emission(path, message_event_body(record), attrs)])
        await self._changes(mark)
        return SimMessage(message_id, ext_id, record)

    async def finish_transcript(self, message_id: str, text: str | None = None) -> SimMessage:
        """`text` defaults to the transcript given to `incoming_voicemail`."""
        text = text if text is not None else self._pending_transcripts.get(message_id, "")
        self._pending_transcripts.pop(message_id, None)
        mark = self.world.change_mark()
        record = self.world.finish_transcript(message_id, text)
        ext_id = record["uri"].split("/extension/")[1].split("/")[0]
        await self._changes(mark)
        return SimMessage(message_id, ext_id, record)

    async def incoming_fax(
        self, extension_id: str, from_number: str, *, pages: int = 2
    ) -> SimMessage:
        ext_id = self.world.resolve_extension_id(extension_id)
        mark = self.world.change_mark()
        record = self.world.add_inbound_fax(ext_id, from_number, pages=pages)
        path = f"{ext_path(self.world.account_id, ext_id)}/fax"
        attrs = {"type": ("Fax",), "direction": ("Inbound",)}
        await self._send([Emission(path, message_event_body(record), attrs)])
        await self._changes(mark)
        return SimMessage(str(record["id"]), ext_id, record)

    async def pager_message(
        self, from_extension_id: str, to_extension_ids: Sequence[str], text: str
    ) -> SimPager:
        sender_id = self.world.resolve_extension_id(from_extension_id)
        mark = self.world.change_mark()
        sent = self.world.add_pager(sender_id, list(to_extension_ids), text)
        changes = self.world.changes_since(mark)
        received = [
            SimMessage(
                str(c.message_id),
                c.extension_id,
                self.world.message(c.extension_id, str(c.message_id)),
            )
            for c in changes
            if c.message_id != sent["id"] and c.extension_id != sender_id
        ]
        # pager messages arrive only as message-store changes (reference §3.4)
        await self._send(store_change_bodies(self.world, changes))
        return SimPager(SimMessage(str(sent["id"]), sender_id, sent), received)

    async def deliver_changes(self, changes: Sequence[MessageChange]) -> None:
        """Deliver these message-store changes (a sent text's moves, `_rc_outbound`)."""
        await self._send(store_change_bodies(self.world, changes))

    async def flush_changes(self) -> None:
        """Deliver the message-store changes left in the journal (e.g. the bridge marking
        messages read), as RingCentral would."""
        await self._send(store_change_bodies(self.world, self.world.drain_changes()))

"""Webhook deliveries: the envelope `{uuid, event, timestamp, subscriptionId, ownerId, body}`
and its body, chosen by the event filter path in `event` (DOCS event-filters/index.md).

`parse_event` is the one entry point; an unknown filter parses as `UnknownEvent` with the
raw body, so a new RingCentral event never breaks ingestion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter

from ._base import Id, Inbound
from .messages import MessageRecord
from .telephony import TelephonySessionBody

__all__ = [
    "Event",
    "EventKind",
    "FaxEvent",
    "InstantMessageEvent",
    "MessageStoreBody",
    "MessageStoreChange",
    "MessageStoreEvent",
    "SubscriptionReminderBody",
    "SubscriptionReminderEvent",
    "TelephonySessionEvent",
    "UnknownEvent",
    "VoicemailEvent",
    "event_kind",
    "parse_event",
    "parse_ws_notification",
]

EventKind = Literal[
    "instant_message", "voicemail", "fax", "message_store", "telephony_session",
    "subscription_reminder", "unknown",
]  # fmt: skip

# Ids in filters come back resolved (`~` → digits), and may still be `~` for the account.
_SEG = r"[^/?]+"
_KINDS: tuple[tuple[re.Pattern[str], EventKind], ...] = (
    (re.compile(rf"/account/{_SEG}(/extension/{_SEG})?/telephony/sessions$"), "telephony_session"),
    (re.compile(rf"/extension/{_SEG}/message-store/instant$"), "instant_message"),
    (re.compile(rf"/extension/{_SEG}/message-store$"), "message_store"),
    (re.compile(rf"/extension/{_SEG}/voicemail$"), "voicemail"),
    (re.compile(rf"/extension/{_SEG}/fax$"), "fax"),
    (re.compile(r"^/restapi/v1\.0/subscription/[^/?]+$"), "subscription_reminder"),
)


def event_kind(event_filter: str) -> EventKind:
    """Which kind of body an event filter path delivers (query string ignored)."""
    path = event_filter.split("?", 1)[0].rstrip("/")
    for pattern, kind in _KINDS:
        if pattern.search(path):
            return kind
    return "unknown"


class _Envelope(Inbound):
    uuid: str
    event: str
    timestamp: datetime | None = None
    subscription_id: str | None = None
    # Absent in some deliveries (DOCS receive-fax-event.json has no ownerId).
    owner_id: Id | None = None

    kind: ClassVar[EventKind]


class InstantMessageEvent(_Envelope):
    """An SMS/MMS arrived (`…/message-store/instant?type=SMS`)."""

    kind: ClassVar[EventKind] = "instant_message"
    body: MessageRecord


class VoicemailEvent(_Envelope):
    kind: ClassVar[EventKind] = "voicemail"
    body: MessageRecord


class FaxEvent(_Envelope):
    kind: ClassVar[EventKind] = "fax"
    body: MessageRecord


class MessageStoreChange(Inbound):
    type: str  # Fax, SMS, VoiceMail, Pager
    new_count: int = 0  # RingCentral omits zero counts
    updated_count: int = 0
    new_message_ids: tuple[Id, ...] = ()


class MessageStoreBody(Inbound):
    """What changed in a mailbox; no content, so follow with `GET …/message-store`."""

    account_id: Id | None = None
    extension_id: Id | None = None
    last_updated: datetime | None = None
    changes: tuple[MessageStoreChange, ...] = ()


class MessageStoreEvent(_Envelope):
    kind: ClassVar[EventKind] = "message_store"
    body: MessageStoreBody


class TelephonySessionEvent(_Envelope):
    kind: ClassVar[EventKind] = "telephony_session"
    body: TelephonySessionBody


class SubscriptionReminderBody(Inbound):
    expires_in: int | None = None


class SubscriptionReminderEvent(_Envelope):
    """Renewal reminder (`/restapi/v1.0/subscription/~?threshold=…&interval=…`)."""

    kind: ClassVar[EventKind] = "subscription_reminder"
    body: SubscriptionReminderBody = SubscriptionReminderBody()


class UnknownEvent(_Envelope):
    kind: ClassVar[EventKind] = "unknown"
    body: dict[str, Any] = Field(default_factory=dict)


def _discriminate(value: Any) -> str:
    event = value.get("event") if isinstance(value, Mapping) else getattr(value, "event", None)
    return event_kind(event) if isinstance(event, str) else "unknown"


Event = Annotated[
    Annotated[InstantMessageEvent, Tag("instant_message")]
    | Annotated[VoicemailEvent, Tag("voicemail")]
    | Annotated[FaxEvent, Tag("fax")]
    | Annotated[MessageStoreEvent, Tag("message_store")]
    | Annotated[TelephonySessionEvent, Tag("telephony_session")]
    | Annotated[SubscriptionReminderEvent, Tag("subscription_reminder")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_discriminate),
]
"""Any delivery; `type(event)` / `event.kind` says which."""

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: bytes | str | Mapping[str, Any]) -> Event:
    """Validate one delivery (raw JSON or decoded). Mobile-push deliveries wrapped in
    `pn_apns` are unwrapped; webhook deliveries never are."""
    if isinstance(data, bytes | str):
        wrapped_push = b"pn_apns" in data if isinstance(data, bytes) else "pn_apns" in data
        if not wrapped_push:
            return _EVENT.validate_json(data)  # the fast path; big integers stay exact
        decoded: Mapping[str, Any] = json.loads(data)  # json keeps big integers exact too
    else:
        decoded = data
    wrapped = decoded.get("pn_apns")
    if "body" not in decoded and isinstance(wrapped, Mapping):
        decoded = wrapped
    return _EVENT.validate_python(decoded)


def parse_ws_notification(frame: Sequence[Any]) -> Event:
    """A WebSocket frame `[{"type": "ServerNotification", …}, envelope]` → its event."""
    if len(frame) != 2 or not isinstance(frame[0], Mapping):
        raise ValueError("not a WebSocket notification frame")
    if frame[0].get("type") != "ServerNotification":
        raise ValueError(f"not a ServerNotification: {frame[0].get('type')!r}")
    return parse_event(frame[1])

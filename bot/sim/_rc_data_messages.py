"""The message store: records per mailbox, the list query with every documented filter,
lookups, attachment content and a journal of changes for message-store events.

Filters follow reference §4.5 / SPEC `listMessages`. A department's mailbox (the Support
Queue) is shared with its members: `owner=Personal` (the default) shows a user only their
own messages, `Shared` the queue's, `Any` both, a list of extension ids those mailboxes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.sim import media
from bot.sim._rc_data_errors import (
    JSON,
    Content,
    Query,
    SimError,
    first,
    invalid,
    not_found,
    values,
)
from bot.sim._rc_data_paging import (
    API,
    Listing,
    iso,
    paginate,
    parse_bool,
    parse_date,
    parse_page,
    parse_per_page,
)
from bot.sim._rc_data_people import digits

AVAILABILITY = ("Alive", "Deleted", "Purged")
DIRECTIONS = ("Inbound", "Outbound")
MESSAGE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager", "Text")
READ_STATUSES = ("Read", "Unread")


@dataclass
class Message:
    """One record in `mailbox_id`'s store. `body` has no `uri`: it depends on the viewer."""

    mailbox_id: str
    mailbox_type: str  # extension type of the mailbox owner (User, Department, …)
    created: datetime
    body: JSON
    shared_with: tuple[str, ...] = ()  # extension ids that see this mailbox as Shared

    @property
    def id(self) -> int:
        return int(self.body["id"])

    def render(self, viewer_path: str) -> JSON:
        path = f"{viewer_path}/message-store/{self.id}"
        out: JSON = {"uri": path}
        for key, value in self.body.items():
            if key == "attachments":
                value = [{"id": a["id"], "uri": f"{path}/content/{a['id']}", **a} for a in value]
            out[key] = value
        return out


@dataclass(frozen=True)
class MessageChange:
    """A message-store change, for the event body's `changes[]` (reference §3.2)."""

    extension_id: str
    message_id: int
    message_type: str
    kind: str  # "Create" | "Update"


@dataclass
class MessageStore:
    account_path: str
    rng: random.Random
    messages: dict[int, Message] = field(default_factory=dict)
    uploads: dict[tuple[int, int], Content] = field(default_factory=dict)
    conversations: dict[tuple[str, ...], int] = field(default_factory=dict)
    journal: list[MessageChange] = field(default_factory=list)
    tally: dict[str, int] = field(default_factory=dict)  # generated messages per mailbox
    # Every add or change counts one up; message-sync tokens are positions in it.
    revision: int = 0
    revisions: dict[int, int] = field(default_factory=dict)  # message id -> last change

    def touch(self, message_id: int) -> None:
        """The message changed now (what an ISync after this answers)."""
        self.revision += 1
        self.revisions[message_id] = self.revision

    def new_id(self) -> int:
        while (candidate := self.rng.randrange(10**8, 10**9) * 1000 + 8) in self.messages:
            pass
        return candidate

    def conversation(self, *parties: str) -> int:
        """A stable conversation id per set of parties; RingCentral's exceed 2**53."""
        key = tuple(sorted(parties))
        if key not in self.conversations:
            self.conversations[key] = self.rng.randrange(2**60, 2**63)
        return self.conversations[key]

    def add(self, message: Message, *, record: bool = True) -> Message:
        self.messages[message.id] = message
        self.touch(message.id)
        if record:
            for ext_id in (message.mailbox_id, *message.shared_with):
                self.journal.append(
                    MessageChange(ext_id, message.id, message.body["type"], "Create")
                )
        return message

    def visible(self, viewer_id: str, message_id: str) -> Message:
        try:
            message = self.messages[int(message_id)]
        except (ValueError, KeyError):
            raise not_found("messageId") from None
        if viewer_id != message.mailbox_id and viewer_id not in message.shared_with:
            raise not_found("messageId")
        return message

    def content(self, viewer_id: str, message_id: str, attachment_id: str) -> Content:
        message = self.visible(viewer_id, message_id)
        for attachment in message.body.get("attachments", []):
            if str(attachment["id"]) == attachment_id:
                return self._bytes(message, attachment)
        raise not_found("attachmentId")

    def _bytes(self, message: Message, attachment: JSON) -> Content:
        key = (message.id, int(attachment["id"]))
        if key in self.uploads:
            return self.uploads[key]
        kind, att_id = attachment.get("type"), attachment["id"]
        if kind == "AudioRecording":
            return Content(media.wav(), "audio/x-wav", f"{att_id}.wav")
        if kind == "RenderedDocument":
            pages = int(message.body.get("faxPageCount", 1))
            return Content(
                media.pdf(pages, f"Fax from {message.body['from'].get('phoneNumber', '')}"),
                "application/pdf",
                f"{att_id}.pdf",
            )
        if kind == "MmsAttachment":
            return Content(
                media.png(), "image/png", str(attachment.get("fileName", f"{att_id}.png"))
            )
        # Text (SMS/Pager body) and AudioTranscription without an explicit upload
        text = str(message.body.get("subject", ""))
        return Content(text.encode(), "text/plain", f"{att_id}.txt")

    def update(
        self,
        viewer_id: str,
        message_id: str,
        *,
        read_status: str | None,
        availability: str | None,
        now: datetime,
    ) -> Message:
        message = self.visible(viewer_id, message_id)
        if read_status is not None:
            if read_status not in READ_STATUSES:
                raise invalid("readStatus", read_status)
            message.body["readStatus"] = read_status
        if availability is not None:
            if availability not in AVAILABILITY:
                raise invalid("availability", availability)
            message.body["availability"] = availability
        message.body["lastModifiedTime"] = iso(now)
        self.touch(message.id)
        for ext_id in (message.mailbox_id, *message.shared_with):
            self.journal.append(MessageChange(ext_id, message.id, message.body["type"], "Update"))
        return message


def _field_in(key: str, allowed: list[str]) -> Callable[[Message], bool]:
    return lambda message: message.body.get(key) in allowed


def _scope(viewer_id: str, mode: str) -> Callable[[Message], bool]:
    """Whose mailboxes a viewer sees: Personal (own), Shared (queues), Any (both)."""

    def check(message: Message) -> bool:
        own = message.mailbox_id == viewer_id
        shared = viewer_id in message.shared_with
        return own if mode == "Personal" else shared if mode == "Shared" else own or shared

    return check


def _enum(query: Query, name: str, allowed: tuple[str, ...]) -> list[str]:
    found = values(query, name)
    for value in found:
        if value not in allowed:
            raise invalid(name, value)
    return found


def message_list(
    store: MessageStore,
    viewer_id: str,
    viewer_path: str,
    query: Query,
    *,
    now: datetime,
) -> JSON:
    """The list response: filters, newest first, totals; `uri` echoes availability and
    dateFrom defaults as the example does."""
    echo: list[tuple[str, str]] = []
    checks: list[Callable[[Message], bool]] = []

    owners = values(query, "owner")
    owner_types = values(query, "ownerExtensionType")
    vm_owners = values(query, "voicemailOwner")
    # Without `owner`, the shared-message filters imply looking at shared mailboxes too.
    scope = owners or (["Any"] if owner_types or vm_owners else ["Personal"])
    if len(scope) == 1 and scope[0] in ("Any", "Personal", "Shared"):
        checks.append(_scope(viewer_id, scope[0]))
    else:
        checks.append(
            lambda m: (
                m.mailbox_id in scope and (m.mailbox_id == viewer_id or viewer_id in m.shared_with)
            )
        )
    echo += [("owner", o) for o in owners]
    if owner_types:
        echo += [("ownerExtensionType", t) for t in owner_types]
        checks.append(lambda m: m.mailbox_type in owner_types)
    if vm_owners:
        echo += [("voicemailOwner", v) for v in vm_owners]
        checks.append(lambda m: m.body["type"] != "VoiceMail" or m.mailbox_id in vm_owners)

    if (conversation := first(query, "conversationId")) is not None:
        echo.append(("conversationId", conversation))
        checks.append(lambda m: str(m.body.get("conversationId")) == conversation)
    for name, allowed, key in (
        ("messageType", MESSAGE_TYPES, "type"),
        ("direction", DIRECTIONS, "direction"),
        ("readStatus", READ_STATUSES, "readStatus"),
    ):
        if wanted := _enum(query, name, allowed):
            echo += [(name, w) for w in wanted]
            checks.append(_field_in(key, wanted))
    if (phone := first(query, "phoneNumber")) is not None:
        wanted_digits = digits(phone)
        echo.append(("phoneNumber", phone))
        checks.append(
            lambda m: any(
                digits(p.get("phoneNumber", "")) == wanted_digits
                for p in [m.body.get("from") or {}, *m.body.get("to", [])]
            )
        )
    distinct = parse_bool(query, "distinctConversations", False)
    if first(query, "distinctConversations") is not None:
        echo.append(("distinctConversations", "true" if distinct else "false"))

    availability = _enum(query, "availability", AVAILABILITY) or ["Alive"]
    echo += [("availability", a) for a in availability]
    checks.append(lambda m: m.body.get("availability") in availability)
    date_to = parse_date(query, "dateTo")
    upper = date_to or now
    lower = parse_date(query, "dateFrom") or upper - timedelta(hours=24)
    echo.append(("dateFrom", iso(lower)))
    if date_to is not None:
        echo.append(("dateTo", iso(date_to)))
    checks.append(lambda m: lower <= m.created <= upper)

    found = [m for m in store.messages.values() if all(check(m) for check in checks)]
    found.sort(key=lambda m: (m.created, m.id), reverse=True)
    if distinct:
        seen: set[object] = set()
        latest = []
        for message in found:  # newest first, so the first of a conversation is its latest
            key = message.body.get("conversationId", ("message", message.id))
            if key not in seen:
                seen.add(key)
                latest.append(message)
        found = latest
    listing = Listing(
        f"{viewer_path}/message-store", echo, parse_page(query), parse_per_page(query)
    )
    return paginate(found, listing, render=lambda m: m.render(viewer_path))


def message_parts(store: MessageStore, viewer_id: str, viewer_path: str, ids: str) -> list[JSON]:
    """The 207 parts for comma-separated ids, as message-store-get-multi-response.json."""
    parts: list[JSON] = []
    for message_id in (i.strip() for i in ids.split(",") if i.strip()):
        try:
            body = store.visible(viewer_id, message_id).render(viewer_path)
            parts.append({"resourceId": message_id, "status": 200, "body": body})
        except SimError as err:
            parts.append({"resourceId": message_id, "status": err.status, "body": err.body()})
    return parts


def conversation_ref(conversation_id: int) -> JSON:
    return {"id": str(conversation_id), "uri": f"{API}/conversation/{conversation_id}"}

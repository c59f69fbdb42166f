"""A month of messages: SMS/MMS conversations, voicemails, faxes and pager messages."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.sim import media
from bot.sim._rc_data_account import Accounts
from bot.sim._rc_data_calls_gen import MessageSeed, ext_party
from bot.sim._rc_data_errors import JSON, Upload
from bot.sim._rc_data_messages import Message, MessageStore
from bot.sim._rc_data_messages_make import Mailbox, fax, text_message, voicemail
from bot.sim._rc_data_people import OUTSIDERS, Extension

_INBOUND_SMS = (
    "Hi, is the order for Thursday still on track?",
    "Can someone call me back about the invoice? Thanks",
    "Running 10 minutes late, sorry!",
    "Got it, thank you 👍",
    "Do you have the 2-inch fittings in stock?",
    "Please confirm our appointment tomorrow at 9:30",
    "What time do you close today?",
    "Thanks for the quick delivery!",
)
_OUTBOUND_SMS = (
    "Yes, it ships Thursday morning. You'll get tracking by email.",
    "Sure, I'll call you in a few minutes.",
    "No problem, see you soon.",
    "We do, 40 in stock. Want me to hold some?",
    "Confirmed for 9:30 tomorrow.",
    "We're open until 6 pm today.",
    "Your invoice #4471 is attached to the email we sent.",
)
_TRANSCRIPTS = (
    "Hi, this is {name}. I'm calling about my order from last week, it hasn't arrived yet. "
    "Please call me back when you get a chance. Thanks.",
    "Hey, it's {name}. Just wanted to confirm Thursday works for the delivery. Talk soon.",
    "Hello, {name} here. I have a question about the quote you sent. Call me back please.",
)
_PAGER = (
    "Can you cover the phones from 2 to 3?",
    "Customer on line 2 asking for you",
    "Lunch order is in the kitchen 🍕",
    "Reminder: team meeting at 4",
    "Please check the fax from Holloway Dental",
)


def mailbox(ext: Extension) -> Mailbox:
    if ext.type == "Department":
        owner = {"extensionId": ext.id, "extensionType": ext.type, "name": ext.name}
        return Mailbox(ext.id, ext.type, ext.members, owner)
    return Mailbox(ext.id, ext.type)


def _status(rng: random.Random, created: datetime, now: datetime) -> str:
    # Older unread items are rare: people read their messages eventually.
    recent = now - created < timedelta(days=2)
    return "Unread" if rng.random() < (0.6 if recent else 0.1) else "Read"


def _availability(message: Message, tally: dict[str, int]) -> str:
    """Every mailbox gets some Deleted and Purged messages (a count, not dice, so the
    availability filter changes every mailbox's answer)."""
    n = tally[message.mailbox_id] = tally.get(message.mailbox_id, 0) + 1
    return "Deleted" if n % 14 == 4 else "Purged" if n % 23 == 9 else "Alive"


def from_seeds(
    rng: random.Random, store: MessageStore, acc: Accounts, seeds: list[MessageSeed], now: datetime
) -> None:
    for seed in seeds:
        ext = acc.ext(seed.owner_id)
        box = mailbox(ext)
        own = ext_party(ext, seed.own_number)
        own.pop("extensionId")
        message: Message
        if seed.kind == "VoiceMail":
            status = rng.choice(
                (
                    "Completed",
                    "Completed",
                    "CompletedPartially",
                    "NotAvailable",
                    "InProgress",
                    "Failed",
                )
            )
            transcript = None
            if status.startswith("Completed"):
                name = seed.other.get("name", "a customer")
                transcript = rng.choice(_TRANSCRIPTS).format(name=name)
            message = voicemail(
                store,
                box,
                frm=dict(seed.other),
                to=[own],
                created=seed.start,
                duration=seed.duration,
                read_status=_status(rng, seed.start, now),
                transcription_status=status,
                transcript=transcript,
                message_id=seed.message_id,
            )
        else:
            frm, to = (seed.other, own) if seed.direction == "Inbound" else (own, seed.other)
            read = _status(rng, seed.start, now) if seed.direction == "Inbound" else "Read"
            message = fax(
                store,
                box,
                direction=seed.direction,
                frm=dict(frm),
                to=[dict(to)],
                created=seed.start,
                pages=seed.pages,
                read_status=read,
                message_id=seed.message_id,
            )
        message.body["availability"] = _availability(message, store.tally)
        store.add(message, record=False)


def conversations(rng: random.Random, store: MessageStore, acc: Accounts, now: datetime) -> None:
    senders = [
        e
        for e in acc.extensions
        if e.status == "Enabled" and any("SmsSender" in n.features for n in e.numbers)
    ]
    for ext in senders:
        own_number = next(n.phone_number for n in ext.numbers if "SmsSender" in n.features)
        mms_ok = any("MmsSender" in n.features for n in ext.numbers)
        box = mailbox(ext)
        for first_name, last, _company, phone, location in rng.sample(OUTSIDERS, rng.randint(3, 6)):
            conv = store.conversation(own_number, phone)
            # Conversations end recently for some, weeks ago for others.
            recent = rng.random() < 0.4  # so the default 24-hour window shows conversations
            moment = now - timedelta(hours=rng.uniform(0.2, 20 if recent else 24 * 28))
            for turn in range(rng.randint(2, 10)):
                moment -= timedelta(minutes=rng.uniform(1, 240))
                if moment < now - timedelta(days=30):
                    break
                inbound = rng.random() < 0.5 if turn else True
                other: JSON = {"phoneNumber": phone, "location": location}
                if rng.random() < 0.5:
                    other["name"] = f"{first_name} {last}"
                me: JSON = {"phoneNumber": own_number, "name": ext.name}
                uploads: list[Upload] = []
                if rng.random() < 0.12 and (inbound or mms_ok):
                    uploads = [Upload(media.png(8, 6, (200, 80, 40)), "image/png", "photo.png")]
                    if rng.random() < 0.5:
                        uploads.append(
                            Upload(media.png(3, 5, (240, 240, 230)), "image/png", "receipt.png")
                        )
                if inbound:
                    status = "Received"
                    frm, to, text = (
                        other,
                        [{"phoneNumber": own_number, "name": ext.name}],
                        rng.choice(_INBOUND_SMS),
                    )
                else:
                    status = rng.choices(("Delivered", "Sent", "DeliveryFailed"), (85, 10, 5))[0]
                    frm, to, text = me, [other], rng.choice(_OUTBOUND_SMS)
                message = text_message(
                    store,
                    box,
                    kind="SMS",
                    direction="Inbound" if inbound else "Outbound",
                    frm=frm,
                    to=to,
                    text=text,
                    created=moment,
                    read_status=_status(rng, moment, now) if inbound else "Read",
                    status=status,
                    conversation_id=conv,
                    uploads=uploads,
                )
                if status == "DeliveryFailed":
                    message.body["deliveryErrorCode"] = "SMS-CAR-411"
                elif status == "Delivered":
                    message.body["smsDeliveryTime"] = message.body["creationTime"]
                message.body["availability"] = _availability(message, store.tally)
                store.add(message, record=False)


def pager_messages(rng: random.Random, store: MessageStore, acc: Accounts, now: datetime) -> None:
    users = [e for e in acc.extensions if e.type == "User" and e.status == "Enabled"]
    queue = next(e for e in acc.extensions if e.type == "Department")
    for _ in range(24):
        sender = rng.choice(users)
        recipients = [rng.choice([u for u in users if u is not sender])]
        if rng.random() < 0.15:
            recipients = [queue]
        created = (now - timedelta(hours=rng.uniform(0.1, 24 * 30))).replace(microsecond=0)
        send_pager(rng, store, sender, recipients, rng.choice(_PAGER), created, now)


def send_pager(
    rng: random.Random,
    store: MessageStore,
    sender: Extension,
    recipients: list[Extension],
    text: str,
    created: datetime,
    now: datetime,
    *,
    record: bool = False,
) -> Message:
    """The sender's Outbound copy and each recipient's Inbound copy; returns the sender's."""
    to = [ext_party(r) for r in recipients]
    frm = ext_party(sender)
    conv = store.conversation(sender.id, *(r.id for r in recipients))
    to_department = any(r.type == "Department" for r in recipients)
    sent = text_message(
        store,
        mailbox(sender),
        kind="Pager",
        direction="Outbound",
        frm=frm,
        to=to,
        text=text,
        created=created,
        read_status="Read",
        status="Sent",
        conversation_id=conv,
        to_department=to_department,
    )
    store.add(sent, record=record)
    for recipient in recipients:
        received = text_message(
            store,
            mailbox(recipient),
            kind="Pager",
            direction="Inbound",
            frm=frm,
            to=to,
            text=text,
            created=created,
            read_status=_status(rng, created, now),
            status="Received",
            conversation_id=conv,
            to_department=to_department,
        )
        store.add(received, record=record)
    return sent

"""Dead letters (DESIGN §3.10): work that could not be done, read from the work tables
(`inbox`, `posts`, `uploads`, `updates` of posted messages, voicemail transcript
`followups`, and thread replies in `slack_events`, in state `dead`, each with its reason
in `error`), for the `deadletters` CLI and the admin channel; replayed by putting them
back in the queue; and retention (`[retention] days`): old delivered rows and old dead
letters deleted.

A dead letter's id is its table and row, `delivery:12`, `post:34`, `upload:5`,
`update:8`, `reply:7`, or for a transcript the voicemail's message id, `followup:1234`.
Nothing here returns what a person wrote: a delivery's raw body (an SMS text), a post's
notice and a reply's text stay in the database; a dead letter shows its kind, where it
was going and why it failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import (
    Audit,
    AutoReply,
    Delivery,
    Followup,
    Outbound,
    Post,
    Reminder,
    ReminderItem,
    SlackEvent,
    Thread,
    Update,
    Upload,
)

__all__ = [
    "DEAD_LETTER_DAYS",
    "DeadLetter",
    "DeadLetters",
    "DeadSummary",
    "Purged",
    "parse_id",
]

DEAD_LETTER_DAYS = 90  # kept until replayed or this old (DESIGN §3.10)
_Work = Delivery | Post | Upload | Update | Followup | SlackEvent
_TABLES: dict[str, type[_Work]] = {
    "delivery": Delivery,
    "post": Post,
    "upload": Upload,
    "update": Update,  # a posted message not shown again (a transcript, Mark handled)
    "followup": Followup,  # a voicemail's transcript RingCentral kept failing to give
    "reply": SlackEvent,  # a thread reply that could not be texted
}
FORMS = "delivery:N, post:N, upload:N, update:N, followup:N or reply:N"
LIST_MAX = 500


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # delivery:12, post:34, upload:5
    at: datetime  # when the work came in (delivery received, post made)
    what: str  # the delivery's event type; the post's kind and item; the upload's file
    where: str | None  # the channel a post or upload was going to
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class DeadSummary:
    count: int
    newest: DeadLetter | None


@dataclass(frozen=True, slots=True)
class Purged:
    deliveries: int
    audit: int
    dead: int
    texts: int = 0  # `outbound` rows: the texts sent, their receipts followed
    auto_replies: int = 0  # missed calls judged for an auto reply, long over
    reminders: int = 0  # reminders posted (or dead), with the items they listed


def parse_id(text: str) -> tuple[str, int]:
    """`post:34` → ("post", 34); ValueError naming the forms accepted."""
    kind, _, number = text.partition(":")
    if kind not in _TABLES or not number.isdigit():
        raise ValueError(f"{text!r} is no dead letter id ({FORMS})")
    return kind, int(number)


def _row(model: type[_Work], number: int) -> ColumnElement[bool]:
    """The row a dead letter id names: a follow-up is keyed by its voicemail's id."""
    if issubclass(model, Followup):
        return Followup.message_id == str(number)
    return model.id == number


def _event_type(body: str) -> str:
    """What a stored delivery was about (its `event` filter, no query), never its body."""
    try:
        event = json.loads(body).get("event")
    except (ValueError, AttributeError):
        return "unreadable delivery"
    if not isinstance(event, str):
        return "delivery without an event"
    return "delivery of " + event.split("?", 1)[0][:160]


class DeadLetters:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def newest(self, limit: int = LIST_MAX) -> list[DeadLetter]:
        """Newest first."""
        found: list[DeadLetter] = []
        async with self._sessions() as session:
            deliveries = await session.scalars(
                select(Delivery).where(Delivery.state == "dead")
                .order_by(Delivery.received_at.desc()).limit(limit)
            )  # fmt: skip
            found += [self._delivery(row) for row in deliveries]
            posts = await session.scalars(
                select(Post).where(Post.state == "dead")
                .order_by(Post.created_at.desc()).limit(limit)
            )  # fmt: skip
            found += [self._post(row) for row in posts]
            uploads = await session.execute(
                select(Upload, Post.channel, Post.created_at)
                .join(Post, Post.id == Upload.post_id)
                .where(Upload.state == "dead")
                .order_by(Upload.id.desc()).limit(limit)
            )  # fmt: skip
            found += [self._upload(row, channel, at) for row, channel, at in uploads.all()]
            replies = await session.scalars(
                select(SlackEvent).where(SlackEvent.state == "dead")
                .order_by(SlackEvent.created_at.desc()).limit(limit)
            )  # fmt: skip
            found += [self._reply(row) for row in replies]
            updates = await session.execute(
                select(Update, Post).join(Post, Post.id == Update.post_id)
                .where(Update.state == "dead")
                .order_by(Update.next_attempt_at.desc()).limit(limit)
            )  # fmt: skip
            found += [self._update(row, post) for row, post in updates.all()]
            followups = await session.scalars(
                select(Followup).where(Followup.state == "dead")
                .order_by(Followup.created_at.desc()).limit(limit)
            )  # fmt: skip
            found += [self._followup(row) for row in followups]
        found.sort(key=lambda d: d.at, reverse=True)
        return found[:limit]

    async def summary(self) -> DeadSummary:
        letters = await self.newest()
        return DeadSummary(len(letters), letters[0] if letters else None)

    async def get(self, letter_id: str) -> DeadLetter | None:
        """The dead letter `letter_id`, or None (no such row, or not dead)."""
        kind, number = parse_id(letter_id)
        async with self._sessions() as session:
            if kind == "upload":
                found = (
                    await session.execute(
                        select(Upload, Post.channel, Post.created_at)
                        .join(Post, Post.id == Upload.post_id)
                        .where(Upload.id == number, Upload.state == "dead")
                    )
                ).first()
                return self._upload(*found) if found is not None else None
            if kind == "delivery":
                delivery = await session.get(Delivery, number)
                ok = delivery is not None and delivery.state == "dead"
                return self._delivery(delivery) if delivery is not None and ok else None
            if kind == "reply":
                reply = await session.get(SlackEvent, number)
                ok = reply is not None and reply.state == "dead"
                return self._reply(reply) if reply is not None and ok else None
            if kind == "update":
                pair = (
                    await session.execute(
                        select(Update, Post)
                        .join(Post, Post.id == Update.post_id)
                        .where(Update.id == number, Update.state == "dead")
                    )
                ).first()
                return self._update(*pair) if pair is not None else None
            if kind == "followup":
                followup = await session.get(Followup, str(number))
                ok = followup is not None and followup.state == "dead"
                return self._followup(followup) if followup is not None and ok else None
            post = await session.get(Post, number)
            return self._post(post) if post is not None and post.state == "dead" else None

    async def replay(self, letter_ids: list[str], *, now: datetime) -> list[str]:
        """Put these dead letters back in their queue, due now, as new work (attempts and
        age start again); the ids that were dead (the others are left alone). They then go
        through the normal deduplication: a delivery's posts are unique on their kind,
        item and channel."""
        replayed: list[str] = []
        async with self._sessions.begin() as session:
            for letter_id in letter_ids:
                kind, number = parse_id(letter_id)
                model = _TABLES[kind]
                values: dict[str, Any] = {
                    "state": "pending", "attempts": 0, "next_attempt_at": now,
                    "claimed_until": None, "error": None,
                }  # fmt: skip
                if model is Delivery:
                    values["received_at"] = now
                elif model is Post:
                    values["created_at"] = now  # its maximum age counts from the replay
                elif model is SlackEvent:
                    # It may have been texted before it died: looked for before a send.
                    values["state"] = "sending"
                elif model is Followup:
                    values["created_at"] = now  # its transcript is waited for anew
                result = await session.execute(
                    update(model).where(_row(model, number), model.state == "dead")
                    .values(**values)
                )  # fmt: skip
                if _count(result):
                    replayed.append(letter_id)
        return replayed

    async def states(self, letter_ids: list[str]) -> dict[str, str]:
        """Each id's row state now (`pending`, `sending`, `done`, `dead`); gone rows left
        out, except a follow-up's: its row is deleted once its transcript is shown (done)."""
        found: dict[str, str] = {}
        async with self._sessions() as session:
            for letter_id in letter_ids:
                kind, number = parse_id(letter_id)
                model = _TABLES[kind]
                state = await session.scalar(select(model.state).where(_row(model, number)))
                if state is None and model is Followup:
                    state = "done"
                if state is not None:
                    found[letter_id] = state
        return found

    async def all_ids(self) -> list[str]:
        return [letter.id for letter in await self.newest(limit=100_000)]

    async def purge(
        self, *, now: datetime, days: int, reminders_needed: timedelta = timedelta(0)
    ) -> Purged:
        """Retention: delivered inbox rows, audit rows, the texts sent (`outbound`), the
        auto replies done and the reminders posted (or dead) older than `days`, and dead
        letters older than DEAD_LETTER_DAYS, deleted; a reminder not before
        `reminders_needed` either (its items say which steps its posts have had). Posts
        stay (they deduplicate what was shown and hold the threads), except dead ones no
        thread starts from. Remembered numbers (`untextable`) stay: an opt-out lasts until
        a START."""
        kept_from = now - timedelta(days=days)
        dead_from = now - timedelta(days=DEAD_LETTER_DAYS)
        async with self._sessions.begin() as session:
            deliveries = await session.execute(
                delete(Delivery).where(Delivery.state == "done", Delivery.received_at < kept_from)
            )
            audit = await session.execute(delete(Audit).where(Audit.at < kept_from))
            # The texts sent, whatever their state: a text is followed for an hour at most,
            # and one nothing followed (serve without routes) is as old by now.
            texts = await session.execute(delete(Outbound).where(Outbound.created_at < kept_from))
            dead = await session.execute(
                delete(Delivery).where(Delivery.state == "dead", Delivery.received_at < dead_from)
            )
            old_posts = (
                select(Post.id)
                .where(Post.state == "dead", Post.created_at < dead_from)
                .where(Post.id.not_in(select(Thread.parent_post_id)))
            )
            uploads = await session.execute(
                delete(Upload).where(Upload.state == "dead", Upload.next_attempt_at < dead_from)
            )
            await session.execute(delete(Upload).where(Upload.post_id.in_(old_posts)))
            await session.execute(delete(Update).where(Update.post_id.in_(old_posts)))
            updates = await session.execute(
                delete(Update).where(Update.state == "dead", Update.next_attempt_at < dead_from)
            )
            followups = await session.execute(
                delete(Followup).where(Followup.state == "dead", Followup.created_at < dead_from)
            )
            await session.execute(
                delete(SlackEvent).where(
                    SlackEvent.state == "done", SlackEvent.created_at < kept_from
                )
            )
            replies = await session.execute(
                delete(SlackEvent).where(
                    SlackEvent.state == "dead", SlackEvent.created_at < dead_from
                )
            )
            # Auto replies over with (a day's margin: a day is the account zone's, up to 25 h,
            # and (caller, day) is what keeps a caller to one text a day).
            answered = await session.execute(
                delete(AutoReply).where(
                    AutoReply.state == "done", AutoReply.created_at < kept_from - timedelta(days=1)
                )
            )
            old_reminders = select(Reminder.id).where(
                Reminder.state.in_(("done", "dead")),
                Reminder.created_at < min(kept_from, now - reminders_needed),
            )
            await session.execute(
                delete(ReminderItem).where(ReminderItem.reminder_id.in_(old_reminders))
            )
            reminders = await session.execute(
                delete(Reminder).where(Reminder.id.in_(old_reminders))
            )
            posts = await session.execute(delete(Post).where(Post.id.in_(old_posts)))
        return Purged(
            deliveries=_count(deliveries),
            audit=_count(audit),
            dead=_count(dead)
            + _count(uploads)
            + _count(posts)
            + _count(replies)
            + _count(updates)
            + _count(followups),
            texts=_count(texts),
            auto_replies=_count(answered),
            reminders=_count(reminders),
        )

    @staticmethod
    def _delivery(row: Delivery) -> DeadLetter:
        return DeadLetter(
            f"delivery:{row.id}", row.received_at, _event_type(row.body), None,
            row.error or "no reason recorded", row.attempts,
        )  # fmt: skip

    @staticmethod
    def _post(row: Post) -> DeadLetter:
        return DeadLetter(
            f"post:{row.id}", row.created_at, f"{row.kind} {row.item}", row.channel,
            row.error or "no reason recorded", row.attempts,
        )  # fmt: skip

    @staticmethod
    def _reply(row: SlackEvent) -> DeadLetter:
        # Never what was typed: who, where, why.
        return DeadLetter(
            f"reply:{row.id}", row.created_at, f"thread reply by {row.user}", row.channel,
            row.error or "no reason recorded", row.attempts,
        )  # fmt: skip

    @staticmethod
    def _upload(row: Upload, channel: str, at: datetime) -> DeadLetter:
        name = row.filename or row.content_type
        return DeadLetter(
            f"upload:{row.id}", at, f"file {name} of post:{row.post_id}", channel,
            row.error or "no reason recorded", row.attempts,
        )  # fmt: skip

    @staticmethod
    def _update(row: Update, post: Post) -> DeadLetter:
        # When it was last tried: the post itself may be much older.
        return DeadLetter(
            f"update:{row.id}", row.next_attempt_at, f"update of post:{post.id} "
            f"({post.kind} {post.item})", post.channel, row.error or "no reason recorded",
            row.attempts,
        )  # fmt: skip

    @staticmethod
    def _followup(row: Followup) -> DeadLetter:
        return DeadLetter(
            f"followup:{row.message_id}", row.created_at,
            f"transcript of voicemail {row.message_id}", None,
            row.error or "no reason recorded", row.attempts,
        )  # fmt: skip


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

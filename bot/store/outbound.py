"""The texts the bridge sent (DESIGN §3.8, §4 `outbound`): recorded before each send, so
the bridge's own texts are never taken for texts sent outside Slack, then followed until
RingCentral says how they ended (the receipts worker in bot/bridge/receipts.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store.schema import Outbound, Thread

__all__ = [
    "FIRST_CHECK",
    "SERVICE",
    "OutboundLog",
    "OutboundSend",
    "record",
    "text_hash",
    "wake_mailbox",
]

FIRST_CHECK = timedelta(seconds=15)  # DESIGN §3.8: pending texts read at 15 s, 1, 3, 10 …
# The shared session's identity; a connected person's text carries theirs (`person:…`),
# and its status is read with their session (DESIGN §3.8 "with the identity that sent them").
SERVICE = "service"


def text_hash(text: str) -> str:
    """What is kept of a text's words: enough to recognise it, nothing to read."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OutboundSend:
    """A text about to be sent, and where its receipt goes in Slack."""

    origin: str  # reply (thread), sms (/sms), text_back, auto_reply
    from_number: str
    to_numbers: tuple[str, ...]
    text: str
    identity: str = SERVICE
    slack_user: str | None = None
    channel: str | None = None
    message_ts: str | None = None  # the person's message: reactions go on it
    thread_ts: str | None = None  # a failure is explained in this thread
    response_url: str | None = None  # /sms: its reply is updated


class OutboundLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def before_send(self, send: OutboundSend, now: datetime) -> int:
        """Record (from, to, text hash) before RingCentral is asked; the row's id."""
        async with self._sessions.begin() as session:
            row = await record(session, send, now)
        return row.id

    async def placed(self, row_id: int, *, channel: str, message_ts: str) -> None:
        """The message its receipts go on, posted after the text was recorded (an auto
        reply's note in its missed call's thread)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Outbound)
                .where(Outbound.id == row_id)
                .values(channel=channel, message_ts=message_ts)
            )

    async def accepted(
        self,
        row_id: int,
        *,
        message_id: str,
        extension_id: str | None,
        status: str,
    ) -> None:
        """RingCentral took it: follow its status from now on."""
        async with self._sessions.begin() as session:
            row = await session.get(Outbound, row_id)
            if row is None:
                return
            row.message_id, row.extension_id, row.status = message_id, extension_id, status
            row.state, row.next_attempt_at = "pending", row.created_at + FIRST_CHECK

    async def shown(self, row_id: int, receipt: str | None) -> None:
        """The receipt Slack shows now (the worker brings it in step with the status)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Outbound).where(Outbound.id == row_id).values(shown=receipt)
            )

    async def refused(self, row_id: int, *, error_code: str) -> None:
        """RingCentral refused it at once: nothing to follow."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Outbound)
                .where(Outbound.id == row_id)
                .values(status="refused", error_code=error_code[:64], shown="warning", state="done")
            )

    async def known(self, message_ids: Sequence[str]) -> dict[str, Outbound]:
        """Which of these RingCentral message ids are texts the bridge sent."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(Outbound).where(Outbound.message_id.in_(list(message_ids)))
            )
            return {str(row.message_id): row for row in found}

    async def threaded(self, company_number: str, other: str) -> bool:
        """Whether a conversation (our number, the other party or a group's key) has a
        thread in some channel."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(Thread.channel)
                .where(Thread.company_number == company_number, Thread.other_number == other)
                .limit(1)
            )
            return found.first() is not None

    async def ours(
        self, from_number: str, to_numbers: Sequence[str], text: str, since: datetime
    ) -> Outbound | None:
        """The bridge's own record of this text, if it sent it (DESIGN §3.8: its own texts
        are never taken for texts sent outside Slack)."""
        async with self._sessions() as session:
            return (
                await session.scalars(
                    select(Outbound)
                    .where(
                        Outbound.from_number == from_number,
                        Outbound.to_numbers == ",".join(to_numbers),
                        Outbound.text_hash == text_hash(text),
                        Outbound.created_at >= since,
                    )
                    .order_by(Outbound.id.desc())
                    .limit(1)
                )
            ).first()


async def record(session: AsyncSession, send: OutboundSend, now: datetime) -> Outbound:
    """`OutboundLog.before_send` in the caller's transaction (an auto reply records its
    text in the transaction that takes its caller's day)."""
    row = Outbound(
        created_at=now,
        identity=send.identity,
        extension_id=None,
        from_number=send.from_number,
        to_numbers=",".join(send.to_numbers),
        text_hash=text_hash(send.text),
        origin=send.origin,
        slack_user=send.slack_user,
        channel=send.channel,
        message_ts=send.message_ts,
        thread_ts=send.thread_ts,
        response_url=send.response_url,
        message_id=None,
        status="sending",
        state="done",  # nothing to follow until RingCentral accepted it
        checks=0,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def wake_mailbox(session: AsyncSession, extension_id: str | None, *, at: datetime) -> None:
    """A message-store change of this mailbox (it carries counts, not ids): its pending
    texts are read at `at`, unless a read is due sooner already. In the caller's
    transaction (the delivery's)."""
    mailbox: ColumnElement[bool] = Outbound.extension_id.is_(None)
    if extension_id is not None:
        mailbox = or_(mailbox, Outbound.extension_id == extension_id)
    await session.execute(
        update(Outbound)
        .where(mailbox, Outbound.state == "pending", Outbound.next_attempt_at > at)
        .values(next_attempt_at=at)
    )

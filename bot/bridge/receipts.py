"""Following sent texts to their end (DESIGN §3.8): a dispatcher step that reads the
pending texts RingCentral has not finished with, and brings their receipts in Slack up to
date (bot/slack/receipts.py).

When: at 15 s, 1, 3, 10, 30 and 60 min after the send, and soon after an outbound
message-store change of the sender's mailbox (the change carries counts, not ids: every
pending text of that mailbox is read; `wake_mailbox` in bot/store/outbound.py). A change
waits `settle` before its read, so the moves of one text (Sent, then Delivered) and of a
burst of texts are read together. Reads are batched: one `GET …/message-store/{ids}` per
mailbox and 50 ids, with the session that sent the text: a connected person's text is
read with their own session (a user's permissions reach their own mailbox only; the
service user's reach another's only when it is an admin), never with the shared one. A
person no longer connected leaves their texts unread: those receipts end where they are.
A text still on its way after the 60-minute read has "no delivery report".

The rows are claimed with a lease like other work; Slack and RingCentral are called outside
any transaction, and the write-back only lands while the lease is still ours. A failure
backs off and tries again; a row that keeps failing ends (it is only a receipt).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.clock import Clock
from bot.ringcentral import AuthError, RingCentralClient, RingCentralError
from bot.ringcentral.models import MessageRecord
from bot.ringcentral.resources.messages import MESSAGE_BATCH_MAX
from bot.slack import receipts
from bot.slack.receipts import Shown, show
from bot.slack.render import Locale
from bot.slack.render.delivery import FINAL_STATUSES, receipt_for
from bot.store import untextable
from bot.store.outbound import SERVICE, OutboundLog, OutboundSend
from bot.store.schema import Outbound
from bot.store.untextable import FAILURES
from bot.store.work import claim

from .poster import backoff
from .replies import OutgoingReply
from .slack_errors import Failure, read_failure

__all__ = ["SCHEDULE", "SETTLE", "Receipts", "ThreadReplyReceipts"]

log = logging.getLogger("bot.bridge.receipts")

SCHEDULE = tuple(
    timedelta(seconds=s) for s in (15, 60, 3 * 60, 10 * 60, 30 * 60, 60 * 60)
)  # DESIGN §3.8
SETTLE = timedelta(seconds=2)  # a change's read waits for the changes right behind it
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12  # Slack or RingCentral failing this often: the receipt is given up


@dataclass
class Receipts:
    engine: AsyncEngine
    rc: RingCentralClient
    slack: AsyncWebClient
    clock: Clock
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]
    batch: int = 200
    # The client of a session by its identity (`outbound.identity`: "service" or a
    # connected person's; None when it cannot be opened); unset: the shared session's only.
    client_of: Callable[[str], RingCentralClient | None] | None = None

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        now = self._now()
        async with self._sessions.begin() as session:
            rows = await claim(session, Outbound, now=now, lease=LEASE, limit=self.batch)
        if not rows:
            return 0
        mailboxes: dict[tuple[str, str | None], list[Outbound]] = defaultdict(list)
        for row in rows:
            mailboxes[row.identity, row.extension_id].append(row)
        locale = Locale(await self.region(), await self.timezone())
        for (identity, extension_id), mine in mailboxes.items():
            for start in range(0, len(mine), MESSAGE_BATCH_MAX):
                batch = mine[start : start + MESSAGE_BATCH_MAX]
                await self._follow(identity, extension_id, batch, locale)
        return len(rows)

    def _client(self, identity: str) -> RingCentralClient | None:
        if identity == SERVICE:
            return self.rc
        return self.client_of(identity) if self.client_of is not None else None

    async def _follow(
        self, identity: str, extension_id: str | None, rows: Sequence[Outbound], locale: Locale
    ) -> None:
        rc = self._client(identity)
        if rc is None:  # personal connections are off here now: nobody may read them
            for row in rows:
                await self._write(row, state="done")
            return
        messages = rc.messages
        if extension_id:
            messages = messages.for_extension(extension_id)
        try:
            parts = await messages.get_many([str(r.message_id) for r in rows])
        except AuthError as exc:
            if identity == SERVICE:  # the shared sign-in: tried again, as anything else
                await self._not_read(rows, exc)
                return
            # The person's session is gone (disconnected, or refused): their texts stay
            # unread rather than read by another identity.
            log.info("status of %d texts not read: their sender is no longer connected",
                     len(rows))  # fmt: skip
            for row in rows:
                await self._write(row, state="done")
            return
        except Exception as exc:  # RingCentral's refusals and anything else: tried again
            await self._not_read(rows, exc)
            return
        found = {str(p.resource_id): p.body for p in parts}
        for row in rows:
            record = found.get(str(row.message_id))
            if isinstance(record, MessageRecord):
                await self._update(row, record, locale)
            else:  # gone from the store (deleted): nothing more to learn
                await self._write(row, state="done")

    async def _not_read(self, rows: Sequence[Outbound], exc: Exception) -> None:
        reason = getattr(exc, "error_code", "") or type(exc).__name__
        log.info("status of %d texts not read: %s", len(rows), reason)
        wait = getattr(exc, "retry_after", None)
        for row in rows:
            await self._again(row, self._now(), reason, wait)

    async def _update(self, row: Outbound, record: MessageRecord, locale: Locale) -> None:
        now = self._now()
        status = record.message_status or row.status
        error_code = record.delivery_error_code
        last_read = now >= row.created_at + SCHEDULE[-1]
        receipt = receipt_for(status, error_code, final_check=last_read)
        ended = status in FINAL_STATUSES or last_read
        where = _shown(row, _failed_recipients(record) or row.to_numbers.split(","))
        try:
            shown = await show(self.slack, where, receipt, error_code, locale=locale, now=now,
                               session=self.slack.session)  # fmt: skip
        except Exception as exc:  # Slack's failures, classified; anything else retried
            failure = _failure(exc)
            log.warning("receipt of text %s: %s", row.id, failure.reason)
            if failure.kind == "permanent":
                await self._write(row, status=status, error_code=error_code, state="done")
                return
            await self._again(row, now, failure.reason, failure.retry_after, status=status,
                              error_code=error_code)  # fmt: skip
            return
        values: dict[str, object] = {"status": status, "error_code": error_code, "shown": shown}
        if ended:
            values["state"] = "done"
        else:
            values["next_attempt_at"] = _next_read(row.created_at, now)
        written = await self._write(row, checks=row.checks + 1, **values)
        failed = status in ("DeliveryFailed", "SendingFailed")
        if written and failed and error_code is not None and error_code in FAILURES:
            await self._remember(where.to_numbers, error_code, now)

    async def _again(
        self, row: Outbound, now: datetime, reason: str, wait: float | None, **values: object
    ) -> None:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            log.error("receipt of text %s given up: %s", row.id, reason)
            await self._write(row, state="done", **values)
            return
        delay = wait if wait is not None else backoff(row.attempts + 1)
        await self._write(
            row, attempts=row.attempts + 1, next_attempt_at=now + timedelta(seconds=delay),
            **values,
        )  # fmt: skip

    async def _remember(self, numbers: Sequence[str], error_code: str, now: datetime) -> None:
        """Recipients a failure says are not to be texted automatically (a landline, an
        opt-out: bot/store/untextable.py)."""
        async with self._sessions.begin() as session:
            for number in numbers:
                await untextable.remember(session, number, FAILURES[error_code], error_code, now)

    async def _write(self, row: Outbound, **values: object) -> bool:
        """The write-back of claimed work: only while the lease is still ours (True then).
        A text that ended forgets its response_url (a Slack capability, useless after 30
        minutes)."""
        if values.get("state") == "done":
            values["response_url"] = None
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Outbound)
                .where(Outbound.id == row.id, Outbound.claimed_until == row.claimed_until)
                .values(claimed_until=None, **values)
            )
        if not getattr(result, "rowcount", 0):
            log.info("text %s: lease lost, its write-back dropped", row.id)
            return False
        return True


def _failure(exc: Exception) -> Failure:
    """Any exception ends in a retry or the end of the receipt, never a stall."""
    try:
        return read_failure(exc)
    except Exception:  # not a Slack failure read_failure knows
        return Failure("wait", type(exc).__name__)


def _next_read(created_at: datetime, now: datetime) -> datetime:
    for after in SCHEDULE:
        if created_at + after > now:
            return created_at + after
    return now


def _failed_recipients(record: MessageRecord) -> list[str]:
    """A group text's recipients it failed for (each has its status)."""
    failed = ("DeliveryFailed", "SendingFailed")
    return [p.phone_number for p in record.to if p.phone_number and p.message_status in failed]


def _shown(row: Outbound, to_numbers: Sequence[str]) -> Shown:
    return Shown(
        origin=row.origin,
        to_numbers=tuple(to_numbers),
        created_at=row.created_at,
        slack_user=row.slack_user,
        channel=row.channel,
        message_ts=row.message_ts,
        thread_ts=row.thread_ts,
        response_url=row.response_url,
        shown=row.shown,
    )


@dataclass(frozen=True, slots=True)
class _Recorded:
    send: OutboundSend
    row_id: int


@dataclass
class ThreadReplyReceipts:
    """Receipts on a texted thread reply (the dispatcher's `ReplyReceipts`): `before`
    records the text (`OutboundLog.before_send`, so the bridge knows it for its own when
    RingCentral reports it), `after` shows the first receipt on the person's message and
    hands the text to `Receipts` to follow (`bot.slack.receipts.sent`)."""

    outbound: OutboundLog
    slack: AsyncWebClient
    clock: Clock
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]
    # A texted reply takes its untaken conversation for its author (DESIGN §3.12).
    on_texted: Callable[[OutgoingReply], Awaitable[None]] | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def before(self, reply: OutgoingReply) -> object:
        where = receipts.Target(
            "reply", channel=reply.channel, message_ts=reply.ts, thread_ts=reply.thread_ts
        )
        send = OutboundSend(
            origin=where.origin, from_number=reply.from_number, to_numbers=reply.to,
            text=reply.text, identity=reply.identity, slack_user=reply.user, channel=where.channel,
            message_ts=where.message_ts, thread_ts=where.thread_ts,
        )  # fmt: skip
        return _Recorded(send, await self.outbound.before_send(send, self._now()))

    async def after(
        self,
        reply: OutgoingReply,
        handle: object,
        answer: MessageRecord | RingCentralError,
        refusal: str | None,
    ) -> bool:
        """True when a refusal is explained in the thread (the `warning` and its cause)."""
        assert isinstance(handle, _Recorded)  # what `before` returned
        send, row_id = handle.send, handle.row_id
        if self.on_texted is not None and not isinstance(answer, RingCentralError):
            try:
                await self.on_texted(reply)
            except Exception:  # the text is sent: who took the conversation never undoes it
                log.exception("a texted reply did not take its conversation")
        locale = Locale(await self.region(), await self.timezone())
        try:
            await receipts.sent(
                self.slack, self.outbound, row_id, send, answer, locale=locale,
                now=self._now(), refusal=refusal,
            )  # fmt: skip
        except SlackApiError as exc:  # Slack refusing a receipt never undoes a sent text
            log.warning("receipt not shown: %s", exc.response.get("error"))
            return False
        return isinstance(answer, RingCentralError)

"""Auto reply (`auto_reply`, DESIGN §3.12): a live missed call from a mobile number of the
home country gets the route's text, from the number it called, at most once per caller per
day across every route and process, shown in the missed call's thread with its receipt.

Three moments, none of them a network call inside a transaction:
- the delivery's transaction that stores the missed call's posts stores an `auto_replies`
  row too (`candidate`), with the text and channel of the first route in the file that
  matches and has `auto_reply`; a recovered (late) call gets none;
- the auto-reply step (`AutoReplies`, a dispatcher part) claims it, reads what it must
  know of the account (cached an hour) and judges it (`judge`, every condition in one
  pure function); a text to send waits for its missed call's post to be in Slack (or to
  have had its chance: POST_WAIT);
- a text to send takes its caller's day (`day`, unique with the caller) and records the
  text (`bot.store.outbound.record`) in one transaction; then, outside it, the note goes
  into the thread, RingCentral is asked, and the receipt is shown and followed
  (`bot.slack.receipts.sent`, then the receipts worker).

A row whose lease ran out while it was `sending` is never sent again: the text may have
gone, and a customer texted twice by a machine is worse than one not texted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.notices import CallNotice
from bot.ringcentral import AccountFacts, RingCentralClient, RingCentralError
from bot.ringcentral.models import MessageRecord
from bot.slack import receipts
from bot.slack.explain import explain
from bot.slack.render import Locale
from bot.slack.render.delivery import auto_reply_sent
from bot.store.outbound import OutboundLog, OutboundSend, record
from bot.store.pace import Slot, take_slot
from bot.store.schema import AutoReply, Post
from bot.store.untextable import why_not
from bot.store.work import claim, extend, insert_ignoring_duplicates, write_back

from .faults import backoff
from .names import Names
from .routing import Router

__all__ = ["AUTO_REPLY_EVENT", "Account", "AutoReplies", "MissedCall", "Verdict", "judge"]

log = logging.getLogger("bot.bridge.auto_reply")

AUTO_REPLY_EVENT = "ringbridge_auto_reply"  # the metadata of the note in the thread
LEASE = timedelta(seconds=60)
POST_WAIT = timedelta(minutes=5)  # a post not in Slack by then: the text goes without its note
POST_POLL = timedelta(seconds=2)
PACE = timedelta(seconds=1)  # Slack: about one message a second per channel (the poster's)
MAX_ATTEMPTS = 8  # RingCentral or the database failing this often: the reply is given up
MOBILE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

Verdict = Literal[
    "send",
    "late",  # recovered by catch-up, not brought by its event
    "anonymous",  # no number to text
    "extension",  # a colleague
    "own_number",  # one of the account's numbers
    "foreign",  # not of the home country
    "not_mobile",  # a landline (FIXED_LINE), toll-free, …: `phonenumbers` says so
    "opted_out",  # remembered: their STOP, or a text that failed so
    "landline",  # remembered: an earlier text failed as a landline or invalid number
    "no_sms_sender",  # the service user does not own the called number with SmsSender
]


@dataclass(frozen=True, slots=True)
class MissedCall:
    """What the decision reads of a missed call."""

    live: bool
    caller: str | None  # E.164, as RingCentral gave it
    caller_extension: str | None  # set for a call from inside the company
    called: str | None  # our number it called


@dataclass(frozen=True, slots=True)
class Account:
    """What the decision reads of the account (RingCentral's, cached an hour)."""

    region: str  # the home country (ISO code)
    own_numbers: frozenset[str]
    sms_senders: frozenset[str]  # the sending identity's numbers with SmsSender


def judge(call: MissedCall, account: Account, remembered: str | None) -> Verdict:
    """Whether a missed call gets its route's auto reply (DESIGN §3.12), and if not, why.
    `remembered`: why the caller's number is not to be texted automatically (the
    `untextable` memory), or None. Once per caller per day is the database's to say."""
    if not call.live:
        return "late"
    if call.caller_extension or (call.caller and call.caller.isdigit()):
        return "extension"  # RingCentral names the extension, or gives its short number
    if not call.caller or not call.caller.startswith("+"):
        return "anonymous"
    if call.caller in account.own_numbers or call.caller == call.called:
        return "own_number"
    try:
        parsed = phonenumbers.parse(call.caller, account.region)
    except NumberParseException:
        return "anonymous"
    if phonenumbers.region_code_for_number(parsed) != account.region:
        return "foreign"
    if phonenumbers.number_type(parsed) not in MOBILE:
        return "not_mobile"
    if remembered == "opted_out":
        return "opted_out"
    if remembered is not None:
        return "landline"
    if not call.called or call.called not in account.sms_senders:
        return "no_sms_sender"
    return "send"


async def candidate(
    session: AsyncSession, router: Router, notice: CallNotice, now: datetime
) -> bool:
    """In the transaction that stores a missed call's posts: the row the auto-reply step
    judges, when a route gives it an auto reply (True then). A late call gets none."""
    if notice.kind != "missed_call" or notice.late or notice.direction != "Inbound":
        return False
    found = router.auto_reply(notice)
    if found is None:
        return False
    text, channel = found
    return await insert_ignoring_duplicates(
        session,
        AutoReply,
        {
            "item": notice.item,
            "caller": notice.caller.number,
            "caller_extension": notice.caller.extension_number,
            "called": notice.company_number or notice.callee.number,
            "called_at": notice.at,
            "text": text,
            "channel": channel,
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        },
    )


def _report_key(number: str) -> str:
    """The admin report of a number auto replies cannot be sent from."""
    return f"auto_reply:{number}"


class _Wait(Exception):
    """The missed call's post is not in Slack yet: look again shortly."""


class _Busy(Exception):
    """The channel's slot (Slack's pace, bot/store/pace.py) is not free until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"the channel is paced until {until.isoformat()}")
        self.until = until


class _LeaseLost(Exception):
    """The row is no longer ours: what was written for it is rolled back."""


@dataclass
class AutoReplies:
    """The auto-reply step of the dispatcher (see the module)."""

    engine: AsyncEngine
    rc: RingCentralClient
    slack: AsyncWebClient
    clock: Clock
    facts: AccountFacts
    names: Names
    outbound: OutboundLog
    # The admin channel (AdminDesk.problem, .resolved): told once per number the service
    # user cannot text from, and that it was resolved once a reply goes from it.
    problem: Callable[[str, str, str], Awaitable[None]] | None = None
    resolved: Callable[[str, str], Awaitable[None]] | None = None
    batch: int = 20

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        now = self._now()
        async with self._sessions.begin() as session:
            rows = await claim(
                session, AutoReply, now=now, lease=LEASE, limit=self.batch,
                states=("pending", "sending"),
            )  # fmt: skip
        for row in rows:
            try:
                await self._one(row)
            except Exception as exc:  # any failure: tried again, then given up
                await self._again(row, exc)
        return len(rows)

    async def _one(self, row: AutoReply) -> None:
        now = self._now()
        if row.state == "sending":
            log.warning("auto reply %s: interrupted while sending; not sent again", row.id)
            await self._done(row, "interrupted")
            return
        account, zone = await self._account()
        async with self._sessions() as session:
            remembered = await why_not(session, row.caller) if row.caller else None
        call = MissedCall(True, row.caller, row.caller_extension, row.called)
        verdict = judge(call, account, remembered)
        if verdict == "no_sms_sender" and row.called and self.problem is not None:
            await self.problem(
                _report_key(row.called),
                f"Auto reply cannot text from {row.called}",
                f"Missed calls to {row.called} get no auto reply: the service user does not own "
                "that number with the SmsSender feature. Assign the number to the service "
                "user for texting in RingCentral, or take `auto_reply` off its route.",
            )
        if verdict != "send":
            log.info("auto reply %s: not sent (%s)", row.id, verdict)
            await self._done(row, verdict)
            return
        assert row.caller is not None and row.called is not None  # judged above
        if self.resolved is not None:
            await self.resolved(_report_key(row.called), f"Auto replies go from {row.called}.")
        try:
            thread = await self._thread(row, now)
        except _Wait:
            await self._write(row, next_attempt_at=now + POST_POLL)
            return
        channel, thread_ts = thread if thread else (None, None)
        send = OutboundSend(
            origin="auto_reply", from_number=row.called, to_numbers=(row.caller,),
            text=row.text, channel=channel, thread_ts=thread_ts,
        )  # fmt: skip
        day = row.called_at.astimezone(zone).date().isoformat()
        taken = await self._take_day(row, send, day, now)
        if taken is None:
            return
        outbound_id, slot = taken
        await self._send(row, send, outbound_id, zone, slot)

    async def _thread(self, row: AutoReply, now: datetime) -> tuple[str, str] | None:
        """The missed call's post in the route's channel: (channel, ts) once in Slack;
        None when it never will be (no channel, a dead post, POST_WAIT passed)."""
        if row.channel is None:
            return None
        async with self._sessions() as session:
            post = (
                await session.scalars(
                    select(Post).where(
                        Post.kind == "missed_call", Post.item == row.item,
                        Post.channel == row.channel,
                    )
                )
            ).first()  # fmt: skip
        if post is not None and post.ts:
            return post.channel, post.ts
        waiting = post is not None and post.state in ("pending", "sending")
        if waiting and now - row.created_at < POST_WAIT:
            raise _Wait
        return None

    async def _account(self) -> tuple[Account, tzinfo]:
        """The account as the decision reads it (RingCentral's answers, cached an hour)."""
        own = {n.phone_number for n in await self.facts.numbers() if n.phone_number}
        own |= await self.names.company_numbers()
        senders = {n.phone_number for n in await self.facts.numbers_with("SmsSender")}
        account = Account(
            await self.facts.region(),
            frozenset(own),
            frozenset(n for n in senders if n),
        )
        return account, await self.facts.timezone()

    async def _take_day(
        self, row: AutoReply, send: OutboundSend, day: str, now: datetime
    ) -> tuple[int, Slot | None] | None:
        """The caller's day and the text's record, in one transaction; the record's id and
        the channel's slot for the note (Slack's pace, as a post's), or None (another
        missed call took the day, the number was remembered meanwhile, or our lease ran
        out)."""
        timeout = timedelta(seconds=float(self.slack.timeout))
        slot = None
        try:
            async with self._sessions.begin() as session:
                if send.channel and send.thread_ts:  # the note takes the channel's slot
                    busy = await take_slot(session, send.channel, now, PACE + timeout)
                    if busy is not None:
                        raise _Busy(min(busy, now + PACE))
                    slot = Slot.taken(send.channel, now, PACE, timeout)
                remembered = await why_not(session, send.to_numbers[0])
                if remembered is None:
                    sent = await record(session, send, now)
                    if not await extend(
                        session, row, now + LEASE, day=day, state="sending", outbound_id=sent.id
                    ):
                        raise _LeaseLost
                    return sent.id, slot
        except IntegrityError:  # (caller, day) is taken: once per caller per day
            log.info("auto reply %s: the caller had one today", row.id)
            await self._done(row, "already_today")
            return None
        except _LeaseLost:
            log.info("auto reply %s: lease lost before the send; its new holder decides", row.id)
            return None
        except _Busy as busy:  # Slack's pace: the note (and so the text) a moment later
            await self._write(row, next_attempt_at=busy.until)
            return None
        await self._done(row, "opted_out" if remembered == "opted_out" else "landline")
        return None

    async def _send(
        self,
        row: AutoReply,
        send: OutboundSend,
        outbound_id: int,
        zone: tzinfo,
        slot: Slot | None,
    ) -> None:
        """Outside any transaction: the note in the thread (its receipts go on it), the
        text, the first receipt; the row done."""
        assert send.channel is not None or send.thread_ts is None
        region = await self.facts.region()
        locale = Locale(region, zone)
        if send.channel and send.thread_ts and slot is not None:
            note = auto_reply_sent(send.to_numbers[0], send.from_number, send.text, locale=locale)
            try:
                async with asyncio.timeout_at(slot.deadline):  # within its slot
                    posted = await self.slack.chat_postMessage(
                        channel=send.channel, thread_ts=send.thread_ts, text=note.text,
                        blocks=note.blocks,
                        metadata={"event_type": AUTO_REPLY_EVENT, "event_payload": {"id": row.id}},
                    )  # fmt: skip
                slot.answered(self._now())
                ts = str(posted["ts"])
                await self.outbound.placed(outbound_id, channel=send.channel, message_ts=ts)
                send = dataclasses.replace(send, message_ts=ts)
            except SlackApiError as exc:  # the text matters more than its note
                slot.answered(self._now())
                log.warning("auto reply %s: note not posted: %s", row.id, exc.response.get("error"))
            except TimeoutError:  # no answer: the channel stays held; the text still goes
                log.warning("auto reply %s: note not answered in time", row.id)
            async with self._sessions.begin() as session:
                await slot.settle(session)
        answer: MessageRecord | RingCentralError
        try:
            answer = await self.rc.messages.send_sms(send.from_number, list(send.to_numbers),
                                                     send.text)  # fmt: skip
        except RingCentralError as exc:
            answer = exc
        outcome, refusal = "sent", None
        if isinstance(answer, RingCentralError):
            outcome, refusal = "refused", explain(answer, from_number=send.from_number)
            code = getattr(answer, "error_code", "") or type(answer).__name__
            log.warning("auto reply %s refused: %s", row.id, code)
        try:
            await receipts.sent(
                self.slack, self.outbound, outbound_id, send, answer,
                locale=locale, now=self._now(), refusal=refusal,
            )  # fmt: skip
        except SlackApiError as exc:  # Slack refusing a receipt never undoes a sent text
            log.warning("auto reply %s: receipt not shown: %s", row.id, exc.response.get("error"))
        await self._done(row, outcome)

    async def _done(self, row: AutoReply, outcome: str) -> None:
        await self._write(row, state="done", outcome=outcome, error=None)

    async def _again(self, row: AutoReply, exc: Exception) -> None:
        reason = getattr(exc, "error_code", "") or type(exc).__name__
        if row.state == "sending" or row.attempts + 1 >= MAX_ATTEMPTS:
            log.error("auto reply %s given up: %s", row.id, reason, exc_info=exc)
            await self._write(row, state="done", outcome="failed", error=reason[:500])
            return
        log.info("auto reply %s: %s; tried again", row.id, reason)
        wait = getattr(exc, "retry_after", None) or backoff(row.attempts + 1)
        await self._write(
            row, attempts=row.attempts + 1, error=reason[:500],
            next_attempt_at=self._now() + timedelta(seconds=wait),
        )  # fmt: skip

    async def _write(self, row: AutoReply, **values: object) -> None:
        async with self._sessions.begin() as session:
            if not await write_back(session, row, **values):
                log.info("auto reply %s: lease lost, its write-back dropped", row.id)

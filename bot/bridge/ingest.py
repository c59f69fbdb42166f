"""From a stored delivery to the posts it asks for (the first half of the dispatcher).

RingCentral is read first (pager messages a message-store change names, caller names);
then one transaction updates the call's state, inserts the posts (unique on kind, item and
channel, so a message reaching the bridge by two filters is posted once), schedules
transcript follow-ups, and marks the delivery done: all of it or none of it. The
dispatcher stores a batch of deliveries in that transaction: their calls' rows locked in
one statement (`lock_calls`), their posts inserted in one (`insert_posts`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notices import CallNotice, Notice, SmsNotice, VoicemailNotice, dump_notice, group_key
from bot.ringcentral import RingCentralClient, RingCentralError
from bot.ringcentral.models import (
    FaxEvent,
    InstantMessageEvent,
    MessageRecord,
    MessageStoreEvent,
    TelephonySessionEvent,
    UnknownEvent,
    VoicemailEvent,
    parse_event,
)
from bot.ringcentral.resources.messages import MESSAGE_BATCH_MAX
from bot.store.outbound import OutboundLog, wake_mailbox
from bot.store.posts import thread_id
from bot.store.schema import CallState, Followup, Outbound, Post, Thread
from bot.store.untextable import heard
from bot.store.work import insert_all_ignoring_duplicates, insert_ignoring_duplicates

from . import auto_reply, calls
from .classify import (
    PagerFollowup,
    VoicemailFollowup,
    message_store_followups,
    notice_from_event,
    notice_from_message,
    path_extension,
    sent_text,
)
from .followups import TRANSCRIPT_DONE, fetch_transcript
from .names import Names
from .receipts import SETTLE
from .routing import Router
from .subscriptions import OUTBOUND_SMS

log = logging.getLogger("bot.bridge.ingest")

TRANSCRIPT_FIRST_CHECK = timedelta(seconds=30)
OWN_TEXT_WINDOW = timedelta(hours=1)  # a sent record is matched to our send this far back


class Unreadable(Exception):
    """An authentic delivery the bridge cannot understand: it becomes a dead letter."""


class NamesWanted(Exception):
    """A call's notices need names the bridge has not looked up: the transaction is rolled
    back, the names are asked for outside it, and the commit runs again (no network call
    inside a transaction)."""

    def __init__(self, numbers: set[str]) -> None:
        super().__init__(f"{len(numbers)} names to look up")
        self.numbers = numbers


@dataclass
class Ingest:
    rc: RingCentralClient
    watched: calls.Watched
    router: Router
    names: Names
    # Hears of every message-store change (catch-up keeps that mailbox's token current).
    on_message_change: Callable[[MessageStoreEvent], None] | None = None
    # The texts the bridge sent: its own are told from those sent outside Slack.
    outbound: OutboundLog | None = None

    async def prepare(self, body: str) -> tuple[object, list[Notice]]:
        """Parse and read what RingCentral must tell us (outside any transaction)."""
        try:
            event = parse_event(body)
        except (ValidationError, ValueError) as exc:
            raise Unreadable(f"not a RingCentral event: {type(exc).__name__}") from None
        if isinstance(event, UnknownEvent):
            # Authentic, but of a filter the bridge never asked for: keep it to look at
            # (RELIABILITY R14), rather than acknowledge it as done.
            raise Unreadable(f"unknown event filter {event.event[:200]!r}")
        notices: list[Notice] = []
        if isinstance(event, InstantMessageEvent | VoicemailEvent | FaxEvent):
            notice = notice_from_event(event)
            notices = [notice] if notice is not None else []
        elif isinstance(event, MessageStoreEvent):
            if self.on_message_change is not None:
                self.on_message_change(event)
            notices = await self._pager_messages(event) + await self._texts_sent(event)
        notices = [await self._transcript(n) for n in notices]
        return event, [await self.names.enrich(n) for n in notices]

    async def complete(self, notice: Notice) -> Notice:
        """A notice made outside an event (catch-up's): its transcript and names read as
        `prepare` reads an event's."""
        return await self.names.enrich(await self._transcript(notice))

    async def _transcript(self, notice: Notice) -> Notice:
        """A voicemail RingCentral already transcribed arrives without the text: read it
        now, or show it as on its way and let the follow-up fetch it."""
        if not isinstance(notice, VoicemailNotice) or notice.transcript:
            return notice
        if notice.transcript_status not in TRANSCRIPT_DONE:
            return notice
        try:
            status, text = await fetch_transcript(self.rc, notice.message_id, notice.extension_id)
        except RingCentralError as exc:
            log.info("transcript of %s not read yet: %s", notice.message_id, type(exc).__name__)
            status, text = "InProgress", None
        if text is None:
            status = "InProgress"  # a follow-up asks again
        return dataclasses.replace(notice, transcript=text, transcript_status=status)

    async def _pager_messages(self, event: MessageStoreEvent) -> list[Notice]:
        found: list[Notice] = []
        for followup in message_store_followups(event):
            if not isinstance(followup, PagerFollowup):
                continue
            messages = self.rc.messages
            if followup.extension_id:
                messages = messages.for_extension(followup.extension_id)
            for message_id in followup.message_ids:
                notice = notice_from_message(await messages.get(message_id))
                if notice is not None and notice.kind == "internal_message":
                    found.append(notice)
        return found

    async def _texts_sent(self, event: MessageStoreEvent) -> list[Notice]:
        """New texts of a sending mailbox (its outbound SMS changes, DESIGN §3.8): those
        sent outside Slack, and the bridge's own sent elsewhere than in the thread (`/sms`,
        Text back), go into the conversation's thread. The bridge knows its own by message
        id, or else by (from, to, text hash) recorded before the send."""
        if self.outbound is None or OUTBOUND_SMS not in event.event:
            return []
        mailbox = event.body.extension_id or path_extension(event.event) or event.owner_id
        messages = self.rc.messages.for_extension(str(mailbox)) if mailbox else self.rc.messages
        found: list[Notice] = []
        for change in event.body.changes:
            if change.type.lower() != "sms" or not (change.new_count or change.new_message_ids):
                continue
            ids = [str(i) for i in change.new_message_ids]
            if ids:
                known = await self.outbound.known(ids)
                wanted = [i for i in ids if i not in known or await self._shown(known[i])]
                wanted = wanted[:MESSAGE_BATCH_MAX]
                parts = await messages.get_many(wanted) if wanted else []
                records = [p.body for p in parts if isinstance(p.body, MessageRecord)]
            else:  # counts only: the newest outbound texts of the mailbox
                listing = await messages.list(
                    direction="Outbound", message_type="SMS", per_page=change.new_count
                )
                records = list(listing.records)
            for record in records:
                notice = sent_text(record, str(mailbox) if mailbox else None)
                if notice is not None and (notice := await self._whose(notice)) is not None:
                    found.append(notice)
        return found

    async def _shown(self, mine: Outbound) -> bool:
        """Whether a text the bridge sent goes into a thread: not a thread reply (it is
        there already), and only where its conversation has one (read only then)."""
        assert self.outbound is not None
        if mine.origin == "reply":
            return False
        to = mine.to_numbers.split(",")
        other = to[0] if len(to) == 1 else group_key(to)
        return await self.outbound.threaded(mine.from_number, other)

    async def _whose(self, notice: SmsNotice) -> SmsNotice | None:
        """Who sent a text from our number: the bridge (named, unless it is a thread reply,
        already in its thread), or someone outside Slack."""
        assert self.outbound is not None
        to = (notice.sender.number or "", *notice.others)
        mine = await self.outbound.ours(
            notice.company_number, to, notice.text, since=notice.at - OWN_TEXT_WINDOW
        )
        if mine is None:
            return notice
        if mine.origin == "reply":
            return None
        return dataclasses.replace(notice, sent_by=mine.slack_user, via=mine.origin)

    async def commit(
        self,
        session: AsyncSession,
        rc_uuid: str,
        event: object,
        notices: list[Notice],
        now: datetime,
        *,
        calls: dict[str, CallState],
        look_up_names: bool = True,
    ) -> list[dict[str, Any]]:
        """In the caller's transaction: the call's state (its row locked beforehand,
        `lock_calls`, in `calls`, where a new one is added), follow-ups; returns the rows of
        the posts, which the caller inserts (`insert_posts`) and marks the delivery done.
        Raises NamesWanted (the caller rolls back, looks them up and commits again) when
        a call's notices need names not known yet, unless `look_up_names` is False (the
        second time: a name still unknown is left out)."""
        if isinstance(event, TelephonySessionEvent):
            notices = notices + await self._judge_call(session, event, now, calls, look_up_names)
        if isinstance(event, MessageStoreEvent):
            await self._voicemails_updated(session, event, now)
            await self._texts_changed(session, event, now)
        rows: list[dict[str, Any]] = []
        for notice in notices:
            rows += await self.post_rows(session, rc_uuid, notice, now)
        return rows

    async def add_posts(
        self, session: AsyncSession, rc_uuid: str, notice: Notice, now: datetime
    ) -> int:
        """Store the posts `notice` asks for, and what goes with them; how many are new."""
        return await insert_posts(session, await self.post_rows(session, rc_uuid, notice, now))

    async def post_rows(
        self, session: AsyncSession, rc_uuid: str, notice: Notice, now: datetime
    ) -> list[dict[str, Any]]:
        """The rows of the posts `notice` asks for, for `insert_posts`; what goes with them
        (a transcript's follow-up, an auto reply to judge, a STOP heard) is stored now."""
        channels = self.router.channels(notice)
        if not channels:
            log.debug("no route for %s %s", notice.kind, notice.item)
        rows = [
            {
                "rc_uuid": rc_uuid,
                "kind": notice.kind,
                "item": notice.item,
                "channel": channel,
                "thread_key": _thread_key(notice),
                "notice": dump_notice(notice),
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            for channel in channels
            if await _has_thread(session, notice, channel)
        ]
        if isinstance(notice, VoicemailNotice) and notice.transcript_status == "InProgress":
            await insert_ignoring_duplicates(
                session,
                Followup,
                {
                    "message_id": notice.message_id,
                    "extension_id": notice.extension_id,
                    "attempts": 0,
                    "next_attempt_at": now + TRANSCRIPT_FIRST_CHECK,
                    "created_at": now,
                },
            )
        # Auto reply (DESIGN §3.12): a live missed call's text to judge; a STOP or START
        # from a texter is remembered for automated texts.
        if isinstance(notice, CallNotice):
            await auto_reply.candidate(session, self.router, notice, now)
        elif isinstance(notice, SmsNotice) and not notice.outbound and notice.sender.number:
            await heard(session, notice.sender.number, notice.text, now)
        return rows

    async def _judge_call(
        self,
        session: AsyncSession,
        event: TelephonySessionEvent,
        now: datetime,
        rows: dict[str, CallState],
        look_up: bool,
    ) -> list[Notice]:
        session_id = event.body.telephony_session_id
        row = rows.get(session_id)
        state = calls.SessionState.model_validate_json(row.state) if row else None
        state, found = calls.apply(state, event, watched=self.watched, now=now)
        rows[session_id] = await self.save_call(session, row, session_id, state, now)
        named: list[Notice] = []
        wanted: set[str] = set()
        for notice in found:
            enriched, number = self.names.enrich_known(notice)
            named.append(enriched)
            if number is not None:
                wanted.add(number)
        if wanted and look_up:
            raise NamesWanted(wanted)
        return named

    @staticmethod
    async def save_call(
        session: AsyncSession,
        row: CallState | None,
        session_id: str,
        state: calls.SessionState,
        now: datetime,
    ) -> CallState:
        """`state` into the call's `row` (a new row when None, added to `session`)."""
        is_open = not (state.over or state.expired_at is not None)
        if row is None:
            row = CallState(
                session_id=session_id, state=state.model_dump_json(), updated_at=now, open=is_open
            )
            session.add(row)
        else:
            row.state, row.updated_at, row.open = state.model_dump_json(), now, is_open
        return row

    @staticmethod
    async def _voicemails_updated(
        session: AsyncSession, event: MessageStoreEvent, now: datetime
    ) -> None:
        """A transcript may have finished: look at the waiting voicemails now."""
        if any(isinstance(f, VoicemailFollowup) for f in message_store_followups(event)):
            await session.execute(
                update(Followup).where(Followup.state == "pending").values(next_attempt_at=now)
            )

    @staticmethod
    async def _texts_changed(
        session: AsyncSession, event: MessageStoreEvent, now: datetime
    ) -> None:
        """Texts of that mailbox changed (counts, not ids): read its pending ones soon. A
        new text alone changes no status (it is Queued)."""
        if any(c.type.lower() == "sms" and c.updated_count for c in event.body.changes):
            mailbox = event.body.extension_id or path_extension(event.event) or event.owner_id
            await wake_mailbox(session, str(mailbox) if mailbox else None, at=now + SETTLE)


def call_of(event: object) -> str | None:
    """The telephony session `event` is about, if it is a call's."""
    return event.body.telephony_session_id if isinstance(event, TelephonySessionEvent) else None


async def lock_calls(
    session: AsyncSession, session_ids: Iterable[str | None]
) -> dict[str, CallState]:
    """The stored state of the calls `session_ids` name (None: no call), by session id,
    their rows locked for the caller's transaction in one statement, in the order of their
    ids: a process storing events of a call another one is storing waits for it (one
    call's events are applied one after another), never in a cycle (a deadlock), while
    other calls' go on side by side. A call with no row yet gets one from `Ingest.commit`."""
    ids = sorted({i for i in session_ids if i is not None})
    if not ids:
        return {}
    found = await session.scalars(_LOCK_CALLS, {"ids": ids})
    return {row.session_id: row for row in found}


# Built once (every batch with a call's events runs it: issue 10).
_LOCK_CALLS = (
    select(CallState)
    .where(CallState.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(CallState.session_id)
    .with_for_update()
)


async def insert_posts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert `rows` (`Ingest.post_rows`, of one notice or of a batch of deliveries, in
    order) in one statement; a post already there (the same kind, item and channel) is
    left as it is. How many are new."""
    return await insert_all_ignoring_duplicates(session, Post, rows)


async def _has_thread(session: AsyncSession, notice: Notice, channel: str) -> bool:
    """A text sent from our number goes into its conversation's thread, where there is
    one: our own texts start no conversation in Slack (README, "Receipts")."""
    if not isinstance(notice, SmsNotice) or not notice.outbound:
        return True
    key = _thread_key(notice)
    if key is None:
        return False
    return await session.get(Thread, thread_id(key, channel)) is not None


def _thread_key(notice: Notice) -> str | None:
    if notice.kind != "sms" or not notice.sender.number:
        return None
    if notice.others:  # a group MMS: its own thread, per set of other parties (§3.8)
        return f"{notice.company_number}|{group_key(notice.parties)}"
    return f"{notice.company_number}|{notice.sender.number}"

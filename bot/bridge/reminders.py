"""Reminders (`remind_after`, DESIGN §3.12): a dispatcher part that plans, then posts, one
reminder message per channel per interval listing the items still open there.

An item (a missed call, a voicemail, an SMS conversation's first message) is overdue when
`remind_after` after its post it is still open: not marked handled, and for a conversation
not answered either (a texted thread reply, a text sent from our number elsewhere — `/sms`,
Text back, the RingCentral app — or a call placed to the number since its latest text).
Each item is listed at most three times: `remind_after` after its post, then twice and
four times that; a listing that comes late (paused outside the hours, or the channel's
interval) counts as every step it reached, so a weekend is one reminder on Monday, not
three in a row.

Durable and claimed like other work: planning locks the channel's row of
`reminder_channels` (FOR UPDATE; SQLite serialises writers) and writes the reminder and
its items in that one transaction, so two processes never plan two; the message is then a
`reminders` row posted like a post — the channel's slot taken (Slack's pace, shared with
notifications) and the row marked `sending` before the call, looked for by its metadata
if it is found `sending` again — so a restart neither loses nor doubles one. No network
call happens inside a transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import phone
from bot.clock import Clock
from bot.config import MINUTES_A_DAY, Route, WeeklyHours
from bot.notices import SmsNotice, load_notice
from bot.slack.payloads import PostedMessage
from bot.slack.render import Locale
from bot.slack.render.reminder import Overdue, render_reminder
from bot.store.pace import Slot, channel_open, hold, mark_sending
from bot.store.schema import (
    Audit,
    CallState,
    Outbound,
    Post,
    Reminder,
    ReminderChannel,
    ReminderItem,
)
from bot.store.work import claim, insert_ignoring_duplicates, write_back

from . import faults
from ._session import SessionState
from .faults import backoff
from .slack_errors import Failure, read_failure

__all__ = ["EVENT_TYPE", "ChannelRule", "Reminders", "channel_rules"]

log = logging.getLogger("bot.bridge.reminders")

EVENT_TYPE = "ringbridge_reminder"
KINDS = frozenset({"missed_call", "voicemail", "sms"})
STEPS = 3  # listed at remind_after, 2× and 4× it after the post
LEASE = timedelta(seconds=30)
SENDING_MARGIN = timedelta(seconds=5)  # as the poster's: no takeover while a call may land
PLAN_EVERY = timedelta(seconds=1)  # a channel's plan is looked at once a second at most
# An item stays remindable this long after its last step (4× remind_after): a weekend's
# pause resumes on Monday; items older than the feature (or a long outage) stay quiet.
STALE = timedelta(days=4)
ITEMS_MAX = 100  # listed in one reminder; the rest come in the next one
HISTORY_PAGES = 5
LINKS_KEPT = 10_000  # permalinks remembered (a message's never changes)
# A text that failed is no answer.
FAILED_TEXTS = ("refused", "SendingFailed", "DeliveryFailed")


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """What reminds in one channel: the shortest `remind_after` of the routes that post
    there with one, the kinds those routes post, and each such route's hours (None:
    always in)."""

    channel: str
    every: timedelta
    kinds: frozenset[str]
    hours: tuple[WeeklyHours | None, ...]

    def open_at(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Reminders pause outside the hours: open while one of its routes is in."""
        return any(h is None or h.open_at(moment, zone) for h in self.hours)

    def window_start(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """When the hours-window `moment` is in began (`<!here>` at most once per window):
        a range of `hours`, or the account's day for a route without them; None when
        closed."""
        starts = [s for s in (_window_start(h, moment, zone) for h in self.hours) if s is not None]
        return min(starts) if starts else None


def reminders_needed(routes: Iterable[Route]) -> timedelta:
    """How long a reminder's rows are needed at least (retention keeps them so long): its
    items say which of their steps the posts have had, and a post stays remindable until
    its last step (four times its channel's interval) and STALE after it."""
    rules = channel_rules(routes)
    return max((rule.every * 2 ** (STEPS - 1) + STALE for rule in rules), default=timedelta(0))


def channel_rules(routes: Iterable[Route]) -> list[ChannelRule]:
    """The rules of every channel a route with `remind_after` posts to. A `dm` route's
    reminders are not sent (README: a DM has one reader, who sees the message already)."""
    found: dict[str, ChannelRule] = {}
    for route in routes:
        kinds = frozenset(route.events) & KINDS
        if route.remind_after is None or route.channel is None or not kinds:
            continue
        hours = route.hours if isinstance(route.hours, WeeklyHours) else None
        rule = found.get(route.channel)
        if rule is None:
            found[route.channel] = ChannelRule(route.channel, route.remind_after, kinds, (hours,))
        else:  # two routes into one channel: the shorter interval applies
            found[route.channel] = ChannelRule(
                route.channel,
                min(rule.every, route.remind_after),
                rule.kinds | kinds,
                (*rule.hours, hours),
            )
    return list(found.values())


def _window_start(hours: WeeklyHours | None, moment: datetime, zone: ZoneInfo) -> datetime | None:
    local = moment.astimezone(zone)
    if hours is None or not hours.ranges:
        return datetime.combine(local.date(), time(0), tzinfo=zone)
    minute = local.hour * 60 + local.minute
    today = local.weekday()
    starts: list[datetime] = []
    for day, start, end in hours.ranges:
        if day == today and start <= minute < end:
            base = local.date()
        elif day == (today - 1) % 7 and start <= minute + MINUTES_A_DAY < end:
            base = local.date() - timedelta(days=1)
        else:
            continue
        starts.append(datetime.combine(base, time(start // 60, start % 60), tzinfo=zone))
    return max(starts) if starts else None


def _metadata(reminder: Reminder) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"reminder": str(reminder.id)}}


@dataclass
class Reminders:
    engine: AsyncEngine
    slack: AsyncWebClient
    clock: Clock
    rules: Sequence[ChannelRule]
    zone: ZoneInfo
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]  # the account's: the time fallbacks' zone
    pace: float = 1.0  # Slack's per channel, shared with the notifications
    lease: timedelta = LEASE
    batch: int = 20
    _links: dict[int, str] = field(default_factory=dict)  # post id -> its permalink
    _planned_at: datetime | None = None

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._by_channel = {rule.channel: rule for rule in self.rules}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        """Plan the reminders that are due, then post those whose channel's pace allows."""
        return await self._plan() + await self._post_due()

    # -- planning ---------------------------------------------------------------------------

    async def _plan(self) -> int:
        now = self._now()
        if self._planned_at is not None and now < self._planned_at + PLAN_EVERY:
            return 0
        self._planned_at = now
        planned = 0
        for rule in self.rules:
            if not rule.open_at(now, self.zone):
                continue  # paused outside the hours
            try:
                if not await self._due(rule, now):
                    continue
                async with self._sessions.begin() as session:
                    planned += await self._plan_channel(session, rule, now)
            except Exception:  # rolled back: planned again at the next look
                log.exception("reminders for %s: planning failed; tried again", rule.channel)
        return planned

    async def _due(self, rule: ChannelRule, now: datetime) -> bool:
        """A look without a write (most looks find nothing): is a reminder due there?"""
        async with self._sessions() as session:
            last = await session.scalar(
                select(ReminderChannel.last_at).where(ReminderChannel.channel == rule.channel)
            )
            if last is not None and now < last + rule.every:
                return False
            return bool(await self._overdue(session, rule, now))

    async def _plan_channel(self, session: AsyncSession, rule: ChannelRule, now: datetime) -> int:
        """Plan the channel's reminder under its row's lock, looking again there: another
        process may have planned it since `_due`."""
        await insert_ignoring_duplicates(
            session, ReminderChannel, {"channel": rule.channel, "last_at": None, "here_at": None}
        )
        pace = await session.scalar(
            select(ReminderChannel).where(ReminderChannel.channel == rule.channel).with_for_update()
        )
        assert pace is not None  # inserted or already there
        if pace.last_at is not None and now < pace.last_at + rule.every:
            return 0  # one reminder per channel per interval
        overdue = await self._overdue(session, rule, now)
        if not overdue:
            return 0
        window = rule.window_start(now, self.zone)
        here = (
            window is not None
            and any(post.taken_by is None for post, _ in overdue)
            and (pace.here_at is None or pace.here_at < window)
        )
        reminder = Reminder(
            channel=rule.channel, created_at=now, here=here, state="pending", attempts=0,
            next_attempt_at=now,
        )  # fmt: skip
        session.add(reminder)
        await session.flush()
        for post, step in overdue:
            session.add(ReminderItem(reminder_id=reminder.id, post_id=post.id, step=step))
        pace.last_at = now
        if here:
            pace.here_at = now
        log.info(
            "reminder %s planned for %s: %d item(s)%s",
            reminder.id, rule.channel, len(overdue), " with @here" if here else "",
        )  # fmt: skip
        return 1

    async def _overdue(
        self, session: AsyncSession, rule: ChannelRule, now: datetime
    ) -> list[tuple[Post, int]]:
        """The open items of the channel with a step due, and the step each listing is."""
        listed = (
            select(func.coalesce(func.max(ReminderItem.step), 0))
            .where(ReminderItem.post_id == Post.id)
            .scalar_subquery()
        )
        rows = (
            await session.execute(
                select(Post, listed)
                .where(
                    Post.channel == rule.channel,
                    Post.kind.in_(sorted(rule.kinds)),
                    Post.state == "done",
                    Post.thread_ts.is_(None),  # a conversation's first message, not its replies
                    Post.handled_at.is_(None),
                    Post.created_at <= now - rule.every,
                    Post.created_at > now - rule.every * 2 ** (STEPS - 1) - STALE,
                    listed < STEPS,
                )
                .order_by(Post.id)
            )
        ).all()
        found: list[tuple[Post, int]] = []
        for post, step in rows:
            if now < post.created_at + rule.every * 2**step:
                continue  # its next step has not come
            if post.kind == "sms" and not await _open_conversation(session, post):
                continue
            reached = max(
                k for k in range(1, STEPS + 1) if post.created_at + rule.every * 2 ** (k - 1) <= now
            )
            found.append((post, reached))
            if len(found) == ITEMS_MAX:
                break
        return found

    # -- posting ----------------------------------------------------------------------------

    async def _post_due(self) -> int:
        now = self._now()
        async with self._sessions.begin() as session:
            reminders = await claim(
                session, Reminder, now=now, lease=self.lease, limit=self.batch,
                states=("pending", "sending"), where=channel_open(now, Reminder.channel),
                one_per=Reminder.channel,
            )  # fmt: skip
        await asyncio.gather(*(self._post_guarded(r) for r in reminders))
        return len(reminders)

    async def _post_guarded(self, reminder: Reminder) -> None:
        try:
            await self._post(reminder)
        except Exception as exc:  # no poison rows: an attempt counted, then a dead letter
            await faults.unexpected(self._sessions, reminder, exc, "reminder", self._now())

    async def _post(self, reminder: Reminder) -> None:
        if reminder.state == "sending" and await self._reconcile(reminder):
            return
        items = await self._still_open(reminder)
        overdue: list[Overdue] = []
        for post in items:
            link = await self._link(post)
            if link is not None:
                overdue.append(Overdue(load_notice(post.notice), link, post.taken_by))
        if not overdue:
            await self._finish(reminder, state="done", error="nothing left open")
            return
        now = self._now()
        rule = self._by_channel.get(reminder.channel)
        # `<!here>` only for an unclaimed item, and never outside the hours.
        here = (
            reminder.here
            and any(item.taken_by is None for item in overdue)
            and rule is not None
            and rule.open_at(now, self.zone)
        )
        locale = Locale(await self.region(), await self.timezone())
        rendered = render_reminder(overdue, here=here, locale=locale)
        slot = await self._mark_sending(reminder)
        if slot is None:
            return
        try:
            async with asyncio.timeout_at(slot.deadline):  # as a post's: within its slot
                answer = await self.slack.chat_postMessage(
                    channel=reminder.channel, text=rendered.text, blocks=rendered.blocks,
                    metadata=_metadata(reminder), unfurl_links=False, unfurl_media=False,
                )  # fmt: skip
        except SlackApiError as exc:  # Slack answered: the channel's pace runs from now
            slot.answered(self._now())
            await self._settle(slot)
            await self._failed(reminder, read_failure(exc))
            return
        except Exception as exc:  # no answer (classified below): the channel stays held
            await self._failed(reminder, read_failure(exc))
            return
        slot.answered(self._now())
        posted = PostedMessage.model_validate(answer.data)
        await self._finish(reminder, slot, state="done", ts=posted.ts, error=None)

    async def _still_open(self, reminder: Reminder) -> list[Post]:
        """The reminder's items not handled or answered since it was planned."""
        async with self._sessions() as session:
            posts = (
                await session.scalars(
                    select(Post)
                    .join(ReminderItem, ReminderItem.post_id == Post.id)
                    .where(ReminderItem.reminder_id == reminder.id, Post.handled_at.is_(None))
                    .order_by(Post.id)
                )
            ).all()
            return [p for p in posts if p.kind != "sms" or await _open_conversation(session, p)]

    async def _link(self, post: Post) -> str | None:
        """The post's permalink (chat.getPermalink, remembered); None when Slack has no
        such message any more (deleted): it is left out."""
        if post.id in self._links:
            return self._links[post.id]
        if post.ts is None:
            return None  # never posted: nothing to link to
        try:
            answer = await self.slack.chat_getPermalink(channel=post.channel, message_ts=post.ts)
        except SlackApiError as exc:
            if read_failure(exc).reason == "message_not_found":
                return None
            raise
        link = str(answer["permalink"])
        if len(self._links) >= LINKS_KEPT:
            self._links.clear()  # old items are not reminded of any more: start afresh
        self._links[post.id] = link
        return link

    async def _mark_sending(self, reminder: Reminder) -> Slot | None:
        """The channel's slot and `sending`, committed before the call (as a post's)."""
        now = self._now()
        timeout = timedelta(seconds=float(self.slack.timeout))
        until = now + max(self.lease, timeout + SENDING_MARGIN)
        pace = timedelta(seconds=self.pace)
        return await mark_sending(
            self._sessions, reminder, reminder.channel, now,
            pace=pace, call_timeout=timeout, until=until,
        )  # fmt: skip

    async def _settle(self, slot: Slot) -> None:
        async with self._sessions.begin() as session:
            await slot.settle(session)

    async def _reconcile(self, reminder: Reminder) -> bool:
        """Does Slack have this reminder already (the call's answer was lost)?"""
        wanted = _metadata(reminder)
        oldest = f"{reminder.created_at.timestamp() - 60:.6f}"
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                page = await self.slack.conversations_history(
                    channel=reminder.channel, oldest=oldest, include_all_metadata=True,
                    cursor=cursor, limit=200,
                )  # fmt: skip
            except SlackApiError as exc:
                await self._failed(reminder, read_failure(exc))
                return True
            for message in page.get("messages") or []:
                if message.get("metadata") == wanted:
                    log.info("reconciled=found reminder %s in %s", reminder.id, reminder.channel)
                    await self._finish(reminder, state="done", ts=str(message["ts"]), error=None)
                    return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return False

    async def _failed(self, reminder: Reminder, failure: Failure) -> None:
        now = self._now()
        if failure.kind in ("permanent", "join"):
            log.error(
                "dead letter: reminder %s to %s: %s", reminder.id, reminder.channel, failure.reason
            )
            await self._finish(reminder, state="dead", error=failure.reason)
            return
        if failure.kind == "wait" and failure.retry_after is not None:
            delay = failure.retry_after
            async with self._sessions.begin() as session:  # Slack's Retry-After: the channel
                await hold(session, reminder.channel, now + timedelta(seconds=delay))
        else:
            delay = backoff(reminder.attempts + 1)
        state = "sending" if failure.kind == "ambiguous" else "pending"
        log.warning(
            "reminder %s to %s: %s, retry in %.0f s",
            reminder.id, reminder.channel, failure.reason, delay,
        )  # fmt: skip
        await self._finish(
            reminder, state=state, error=failure.reason, attempts=reminder.attempts + 1,
            next_attempt_at=now + timedelta(seconds=delay),
        )  # fmt: skip

    async def _finish(self, reminder: Reminder, slot: Slot | None = None, **values: object) -> None:
        """Write the reminder back (and settle its call's slot, if any, in the same
        transaction, as a post's `_done` does)."""
        async with self._sessions.begin() as session:
            if slot is not None:
                await slot.settle(session)
            if not await write_back(session, reminder, **values):
                log.info("reminder %s: lease lost; its new holder decides", reminder.id)


async def _open_conversation(session: AsyncSession, post: Post) -> bool:
    """Whether a top-level text post is a conversation still waiting for an answer (a
    text we sent is none: it lands at the top level only when its thread was deleted)."""
    notice = load_notice(post.notice)
    if not isinstance(notice, SmsNotice) or notice.outbound:
        return False
    return not await answered(session, post)


async def answered(session: AsyncSession, post: Post) -> bool:
    """Whether an SMS conversation (its first message's post) was answered after its
    latest text: a text from our number in its thread (sent in the RingCentral app, or by
    the bridge elsewhere), a text the bridge sent to it (a thread reply, `/sms`, Text
    back) that did not fail, or a call placed to the number (the RingCentral app, a
    phone, `/call`)."""
    notice = load_notice(post.notice)
    if not isinstance(notice, SmsNotice) or notice.outbound:
        return False
    messages = (
        await session.scalars(
            select(Post).where(
                Post.channel == post.channel,
                or_(Post.id == post.id, and_(Post.thread_ts == post.ts, Post.ts.is_not(None))),
            )
        )
    ).all()
    texts = [(m, load_notice(m.notice)) for m in messages if m.kind == "sms"]
    latest = max(
        (m.created_at for m, n in texts if isinstance(n, SmsNotice) and not n.outbound),
        default=post.created_at,
    )
    if any(isinstance(n, SmsNotice) and n.outbound and m.created_at >= latest for m, n in texts):
        return True
    to = ",".join(notice.parties)
    sent = await session.scalar(
        select(Outbound.id)
        .where(
            Outbound.from_number == notice.company_number,
            Outbound.to_numbers == to,
            Outbound.created_at >= latest,
            Outbound.status.not_in(FAILED_TEXTS),
        )
        .limit(1)
    )
    if sent is not None:
        return True
    if notice.others or not notice.sender.number:
        return False  # a group is called one by one: no call answers it
    return await _called(session, notice.sender.number, latest)


async def _called(session: AsyncSession, number: str, since: datetime) -> bool:
    placed = await session.scalar(
        select(Audit.id)
        .where(
            Audit.action == "ringout",
            Audit.to_number == number,
            Audit.at >= since,
            Audit.result.not_in(("refused", "failed")),
        )
        .limit(1)
    )
    if placed is not None:
        return True
    rows = await session.scalars(
        select(CallState).where(
            CallState.updated_at >= since, CallState.state.contains(number, autoescape=True)
        )
    )
    for row in rows:
        state = SessionState.model_validate_json(row.state)
        for party in state.parties:
            if party.direction == "Outbound" and _same_number(party.callee.number, number):
                return True
    return False


def _same_number(raw: str | None, e164: str) -> bool:
    if not raw:
        return False
    try:
        return phone.parse(raw) == e164
    except ValueError:
        return raw == e164

"""The daily digest (DESIGN §3.12): once a day, at the earliest `digest` time of the routes
into a channel (the account's time zone), one message there summing up what was posted
since the previous digest (at most 24 h back).

Once per channel and local day, however many processes run and whenever they restart:
the digest is a post (kind `digest`, item its local day) inserted with ON CONFLICT DO
NOTHING against the posts' unique (kind, item, channel), in the transaction that reads
what it sums up. The process whose insert lands composed it; the poster then sends it
like any post (Slack's per-channel pace, leases, reconciliation by its metadata, retries,
dead letters). A bridge that was down at the time sends it within `LATE` after; later it
skips that day, as a digest hours late would mislead more than it helps.

The workspace's address (for the links to each open item's message) is asked of Slack
before that transaction, never inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Route
from bot.notices import (
    DigestNotice,
    Notice,
    OpenItem,
    Party,
    SmsNotice,
    TakenCount,
    dump_digest,
    load_notice,
)
from bot.store.posts import DIGEST, thread_id
from bot.store.schema import Post, Thread
from bot.store.work import insert_ignoring_duplicates

from . import faults
from .slack_errors import read_failure

log = logging.getLogger("bot.bridge.digest")

LATE = timedelta(hours=1)  # a bridge that starts this long after the time still sends it
SPAN = timedelta(hours=24)  # the longest a digest looks back
OPEN_ITEMS = 200  # kept in the digest's row; the message shows what fits and counts the rest
ADDRESS_RETRY = timedelta(seconds=30)  # after Slack would not say the workspace's address
COMPOSE_RETRY = timedelta(minutes=5)  # after composing a channel's digest failed
_SUMMED = ("missed_call", "voicemail", "sms")


def digest_times(routes: Sequence[Route]) -> dict[str, time]:
    """Each channel's digest time: the earliest `digest` of the routes posting there."""
    times: dict[str, time] = {}
    for route in routes:
        if route.digest is None or route.channel is None:
            continue  # a `dm` route has no channel to sum up (README)
        known = times.get(route.channel)
        times[route.channel] = route.digest if known is None else min(known, route.digest)
    return times


def due_day(at: time, now: datetime, zone: ZoneInfo, late: timedelta = LATE) -> date | None:
    """The local day whose digest is due at `now` (from its time until `late` after), or
    None. A time the day does not have (DST's gap) is the instant the clock jumps over it
    (zoneinfo: 02:30 on a 02:00→03:00 day is 03:30); one it has twice is its first."""
    today = now.astimezone(zone).date()
    for day in (today, today - timedelta(days=1)):  # a late window may run past midnight
        moment = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if moment <= now < moment + late:
            return day
    return None


@dataclass
class Digests:
    engine: AsyncEngine
    slack: AsyncWebClient
    clock: Clock
    routes: Sequence[Route]  # their channels resolved to ids
    zone: ZoneInfo  # the account's
    late: timedelta = LATE
    _address: str | None = field(default=None, init=False)
    _ask_after: datetime | None = field(default=None, init=False)
    _failed: dict[str, datetime] = field(default_factory=dict, init=False)  # retry after
    # (channel, day) known to be made, by any process: not looked up again each pass.
    _made: set[tuple[str, str]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._times = digest_times(self.routes)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        """Compose the digests that are due and not yet made; how many this call made."""
        now = self._now()
        due = {
            (channel, when.isoformat())
            for channel, at in self._times.items()
            if (when := due_day(at, now, self.zone, self.late)) is not None
        }
        self._made &= due  # what is no longer due is forgotten
        due -= self._made
        if not due:
            return 0
        async with self._sessions() as session:
            made = await session.execute(
                select(Post.channel, Post.item).where(
                    Post.kind == DIGEST, tuple_(Post.channel, Post.item).in_(sorted(due))
                )
            )
            self._made |= {(str(channel), str(item)) for channel, item in made.all()}
        due -= self._made
        if not due:
            return 0
        address = await self._workspace_address(now)
        if address is None:
            return 0
        composed = 0
        for channel, item in sorted(due):
            if now < self._failed.get(channel, now):
                continue
            try:
                async with self._sessions.begin() as session:
                    day = date.fromisoformat(item)
                    composed += await self._compose(session, channel, day, now, address)
                self._made.add((channel, item))  # by this process or, its insert lost, another
            except Exception as exc:  # tried again after a while, within the late window
                self._failed[channel] = now + COMPOSE_RETRY
                log.error(
                    "digest for %s: %s; trying again", channel, faults.reason(exc, "digest"),
                    exc_info=exc,
                )  # fmt: skip
        return composed

    async def _workspace_address(self, now: datetime) -> str | None:
        """`https://team.slack.com/` (auth.test, asked once), or None while Slack will not
        say (tried again after ADDRESS_RETRY: the digest waits for its links)."""
        if self._address is not None:
            return self._address
        if self._ask_after is not None and now < self._ask_after:
            return None
        try:
            answer = await self.slack.auth_test()
        except Exception as exc:  # classified for the log; the next pass asks again
            log.warning("digest: auth.test failed (%s); trying again", read_failure(exc).reason)
            self._ask_after = now + ADDRESS_RETRY
            return None
        url = str(answer.get("url") or "")
        if not url.startswith("https://"):
            log.warning("digest: auth.test gave no workspace address; trying again")
            self._ask_after = now + ADDRESS_RETRY
            return None
        self._address = url if url.endswith("/") else f"{url}/"
        return self._address

    async def _compose(
        self, session: AsyncSession, channel: str, day: date, now: datetime, address: str
    ) -> int:
        previous = await session.scalar(
            select(func.max(Post.created_at)).where(Post.kind == DIGEST, Post.channel == channel)
        )
        since = max(previous, now - SPAN) if previous is not None else now - SPAN
        posts = list(
            (
                await session.scalars(
                    select(Post)
                    .where(
                        Post.channel == channel,
                        Post.kind.in_(_SUMMED),
                        Post.state != "dead",
                        Post.created_at >= since,
                        Post.created_at < now,
                    )
                    .order_by(Post.created_at, Post.id)
                )
            ).all()
        )
        parents = await _conversation_parents(session, channel, posts)
        digest = summarize(posts, parents, day=day, since=since, until=now, address=address)
        made = await insert_ignoring_duplicates(
            session,
            Post,
            {
                "rc_uuid": DIGEST,
                "kind": DIGEST,
                "item": digest.item,
                "channel": channel,
                "thread_key": None,
                "notice": dump_digest(digest),
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            },
        )
        if made:
            log.info("digest for %s on %s composed (since %s)", channel, day, since.isoformat())
        return int(made)


async def _conversation_parents(
    session: AsyncSession, channel: str, posts: list[Post]
) -> dict[str, Post]:
    """Each conversation's current thread parent (the message Take it and Mark handled
    act on), by thread key; a conversation not posted yet: its first text here."""
    parents: dict[str, Post] = {}
    for post in posts:
        if post.kind == "sms" and post.thread_key and post.thread_key not in parents:
            parents[post.thread_key] = post
    for key in list(parents):
        thread = await session.get(Thread, thread_id(key, channel))
        if thread is not None:
            parent = await session.get(Post, thread.parent_post_id)
            if parent is not None:
                parents[key] = parent
    return parents


def summarize(
    posts: Sequence[Post],
    parents: dict[str, Post],
    *,
    day: date,
    since: datetime,
    until: datetime,
    address: str,
) -> DigestNotice:
    """The digest of a channel's `posts` (missed calls, voicemails, texts) and its
    conversations' thread `parents`."""
    counts: dict[str, int] = dict.fromkeys(
        ("missed", "missed_open", "missed_handled", "voicemails", "voicemails_open", "texts"), 0
    )
    taken: dict[str, dict[str, int]] = {}
    still_open: list[tuple[datetime, OpenItem]] = []  # by when each happened

    def took(user: str | None, what: str) -> None:
        if user:
            mine = taken.setdefault(user, {"missed_calls": 0, "voicemails": 0, "conversations": 0})
            mine[what] += 1

    def opened(kind: Literal["missed_call", "voicemail", "sms"], post: Post, party: Party) -> None:
        link = f"{address}archives/{post.channel}/p{post.ts.replace('.', '')}" if post.ts else None
        at = getattr(_notice(post), "at", post.created_at)
        still_open.append((at, OpenItem(kind, party, at, link, post.taken_by)))

    for post in posts:
        if post.kind == "sms":
            counts["texts"] += 1
            continue
        party = getattr(_notice(post), "caller", None) or Party()
        if post.kind == "missed_call":
            counts["missed"] += 1
            took(post.taken_by, "missed_calls")
            if post.handled_by:
                counts["missed_handled"] += 1
            else:
                counts["missed_open"] += 1
                opened("missed_call", post, party)
        else:
            counts["voicemails"] += 1
            took(post.taken_by, "voicemails")
            if not post.handled_by:
                counts["voicemails_open"] += 1
                opened("voicemail", post, party)
    conversations_open = 0
    for parent in parents.values():
        took(parent.taken_by, "conversations")
        if not parent.handled_by:
            conversations_open += 1
            notice = _notice(parent)
            opened("sms", parent, notice.sender if isinstance(notice, SmsNotice) else Party())
    still_open.sort(key=lambda pair: pair[0])
    return DigestNotice(
        kind="digest",
        day=day,
        since=since,
        until=until,
        missed_calls=counts["missed"],
        missed_open=counts["missed_open"],
        missed_handled=counts["missed_handled"],
        voicemails=counts["voicemails"],
        voicemails_open=counts["voicemails_open"],
        conversations=len(parents),
        conversations_open=conversations_open,
        texts=counts["texts"],
        taken=tuple(TakenCount(user, **what) for user, what in sorted(taken.items())),
        still_open=tuple(item for _, item in still_open[:OPEN_ITEMS]),
    )


def _notice(post: Post) -> Notice | None:
    """The post's notice; None for one this release cannot read (it still counts)."""
    try:
        return load_notice(post.notice)
    except ValueError:
        log.warning("digest: post %s has a notice this release cannot read", post.id)
        return None

"""From posts to Slack messages (the second half of the dispatcher).

A post is leased, marked `sending` and committed BEFORE chat.postMessage, and marked
`done` with its ts after. A post found `sending` again (the process died between the two,
or Slack's answer was lost) is first looked for in the channel by its metadata (DESIGN
§3.6: rc_uuid, channel and item identify a post) and posted only if Slack does not have
it. Slack's 429 waits its Retry-After; 5xx and network errors back off exponentially with
full jitter up to a maximum age, then the post is a dead letter; `not_in_channel` joins
the channel once and tries again; other refusals are dead letters at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache, partial
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import bindparam, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.notices import (
    FaxNotice,
    Handled,
    SmsNotice,
    Taken,
    VoicemailNotice,
    load_digest,
    load_notice,
)
from bot.observe import Metrics
from bot.ringcentral import RingCentralError
from bot.slack.payloads import PostedMessage
from bot.slack.render import Locale, Reply, render_digest, render_notice
from bot.store.engine import insert
from bot.store.gate import GatedSessions
from bot.store.pace import Slot, channel_open, hold, settle_slots, take_for_sending
from bot.store.posts import DIGEST, thread_id
from bot.store.schema import Post, Thread, Upload
from bot.store.work import Claim, PerRow, write_back, write_back_many

from . import faults
from .faults import BACKOFF_BASE, BACKOFF_CAP, backoff
from .slack_errors import Failure, read_failure

log = logging.getLogger("bot.bridge.poster")

_T = TypeVar("_T")

# A claim lasts this long: a killed process's rows come due again after it (RELIABILITY
# R4: within 30 s). Slack calls time out well inside it (the dispatcher's client: 10 s).
LEASE = timedelta(seconds=30)
# A file transfer (RingCentral download, then Slack upload) may take longer.
UPLOAD_LEASE = timedelta(minutes=3)
# While a post is being sent its lease covers the Slack call's longest time (the client's
# timeout) and this margin, however short the claim's lease: no other process takes over
# a post whose message may still be on its way (it would find nothing and post it again).
SENDING_MARGIN = timedelta(seconds=5)
THREAD_WAIT = timedelta(seconds=1)  # a reply waits for its thread's first message
# A conversation silent this long is new again: its next text starts a thread (§3.12).
CONVERSATION_SILENCE = timedelta(hours=24)
HISTORY_PAGES = 5  # how far back reconciliation reads a channel
FACTS_UNKNOWN_EVERY = timedelta(minutes=1)  # `Poster._facts_unknown`


def metadata(post: Post) -> dict[str, Any]:
    if post.kind == DIGEST:  # the bridge's own message, not a notification (§3.12)
        return {"event_type": "ringbridge_digest", "event_payload": {"day": post.item}}
    payload: dict[str, Any] = {"rc_uuid": post.rc_uuid, "item": post.item}
    if load_notice(post.notice).late:  # recovered by catch-up (DESIGN §3.10)
        payload["late"] = True
    return {"event_type": f"ringcentral_{post.kind}", "event_payload": payload}


__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "LEASE",
    "Poster",
    "backoff",
    "find_post",
    "handled",
    "metadata",
]


@dataclass
class Poster:
    engine: AsyncEngine
    slack: AsyncWebClient
    clock: Clock
    metrics: Metrics
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]  # the account's: the time fallbacks' zone
    max_age: timedelta = timedelta(hours=24)
    pace: float = 1.0  # Slack: about one message per second per channel, sustained
    batch: int = 50  # channels served in one pass (one post each: Slack's pace)
    lease: timedelta = LEASE
    max_calls: int = 32  # Slack calls in flight at once, across channels
    passes: int = 4  # passes whose calls may be in flight at once (`run_ahead`)

    def __post_init__(self) -> None:
        self._sessions = GatedSessions(self.engine)
        self._joined: set[str] = set()
        self._calls = asyncio.Semaphore(self.max_calls)
        self._passes = asyncio.Semaphore(self.passes)
        self._landing: set[asyncio.Task[int]] = set()
        self._facts_said: datetime | None = None  # when `_facts_unknown` last said so
        self._claims = Claim(
            Post, limit=self.batch, states=("pending", "sending"), where=channel_open,
            one_per=Post.channel,
        )  # fmt: skip

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        """Post what is due: the oldest due post of each channel whose pace allows one,
        concurrently across channels (at most `max_calls` calls at once); serially within
        a channel, since a channel gets one post a pass. The database's part is batched
        (`_ready`, `_land`): a pass is a few transactions, however many posts it carries.
        The number of posts handled, once their calls are answered and recorded."""
        count, landing = await self._pass()
        await landing
        return count

    async def run_ahead(self, landed: Callable[[], None] = lambda: None) -> int:
        """`run_once`, but the pass's calls and their record go on after it returns (the
        posts lane's loop): while Slack answers them, the next pass claims other channels
        and takes their slots. At most `passes` passes in flight; `landed` is called as
        each ends that queued files to upload. The number of posts claimed; `landed()`
        (the method) waits for every pass in flight."""
        await self._passes.acquire()
        try:
            count, landing = await self._pass()
        except BaseException:
            self._passes.release()
            raise
        if not count:
            landing.close()  # nothing to land
            self._passes.release()
            return 0
        task = asyncio.create_task(landing, name="posts-landing")
        self._landing.add(task)

        def done(task: asyncio.Task[int]) -> None:
            self._landing.discard(task)
            self._passes.release()
            if task.cancelled():
                return
            if task.exception() is not None:  # `_land` guards all: a bug
                log.error("posts in flight failed", exc_info=task.exception())
            elif task.result():
                landed()

        task.add_done_callback(done)
        return count

    async def landed(self, *, cancel: bool = False) -> None:
        """Wait for the passes in flight to end (stopping); `cancel`: end them now (their
        posts stay `sending` and are looked for in Slack before being posted again)."""
        while self._landing:
            if cancel:
                for task in self._landing:
                    task.cancel()
            await asyncio.gather(*self._landing, return_exceptions=True)

    async def _pass(self) -> tuple[int, Coroutine[Any, Any, int]]:
        """Claim, and make ready to send: the number of posts claimed, and what sends them
        (the calls and their record, `_land`). The database's part is one transaction
        (`_claim_and_slot`); if it fails, the pass is taken again in steps (`_claim`, then
        `_ready`), which count a failure against the posts it stopped."""
        # Asked before anything is claimed: RingCentral unreachable (or its sign-in
        # refused) while the account's facts are not known yet, the posts wait, unclaimed,
        # with no attempt counted against them (the lane tries again at its next look).
        try:
            locale = await self._locale()
        except RingCentralError as exc:
            self._facts_unknown(exc)
            return 0, _none()
        try:
            claimed = await self._claim_and_slot()
        except Exception as exc:
            log.warning("posts: a pass failed in one transaction (%s); again in steps", exc)
            posts = await self._claim()
            return len(posts), self._land(self._aged(posts), await self._ready(self._live(posts)))
        slots, places = claimed.slots, claimed.places
        rendered = await asyncio.gather(
            *(self._guarded(post, partial(self._render, thread_ts=places[post.id][0],
                                          locale=locale))
              for post in slots),
        )  # fmt: skip
        # A message that cannot be rendered (a bug: the locale is known) is counted against
        # its post (`sending`: looked for in Slack first at its next try); its slot runs out
        # on its own.
        ready = [replace(sending, slot=slots[sending.post]) for sending in rendered if sending]
        ready += await self._ready(claimed.to_find, places)
        return len(claimed.posts), self._land(self._aged(claimed.posts), ready)

    def _facts_unknown(self, exc: RingCentralError) -> None:
        """The posts wait for the account's facts: said once a minute (each pass of the
        lane, every second, would repeat it), a line rather than a traceback."""
        now = self._now()
        if self._facts_said is None or now - self._facts_said >= FACTS_UNKNOWN_EVERY:
            self._facts_said = now
            log.warning(
                "posts wait: the account's home country and time zone cannot be read from "
                "RingCentral yet (%s); asking again at each look",
                type(exc).__name__,
            )

    async def _claim(self, session: AsyncSession | None = None) -> list[Post]:
        """Lease the oldest due post of up to `batch` channels whose pace allows one: in
        `session`'s transaction, or one of its own."""
        if session is None:
            async with self._sessions.begin() as session:
                return await self._claim(session)
        return await self._claims(session, now=self._now(), lease=self.lease)

    def _aged(self, posts: list[Post]) -> list[Post]:
        now = self._now()
        return [post for post in posts if now - post.created_at > self.max_age]

    def _live(self, posts: list[Post]) -> list[Post]:
        now = self._now()
        return [post for post in posts if now - post.created_at <= self.max_age]

    async def _claim_and_slot(self) -> _Claimed:
        """A pass's database work before its calls, in one transaction (on SQLite one turn
        at the writer's lock, not four): the posts claimed, their places in their threads
        found, a reply whose thread's first message is not in Slack yet left waiting, and
        the slots of the others' channels taken, the posts marked `sending` — all but posts
        found `sending`: they are looked for in Slack first (a call: not in a transaction),
        and take their slots after (`_ready`)."""
        now = self._now()
        async with self._sessions.begin() as session:
            posts = await self._claim(session)  # detached: written back by hand
            live = self._live(posts)
            places = await _places(session, live)
            waiting = [post for post in live if _waits(post, places[post.id])]
            await write_back_many(session, waiting, next_attempt_at=now + THREAD_WAIT)
            going = [post for post in live if post not in waiting]
            fresh = [post for post in going if post.state == "pending"]
            to_find = [post for post in going if post.state == "sending"]
            slots = dict(await self._slots_for(session, fresh, now))
        return _Claimed(posts, places, slots, to_find)

    async def _guarded(self, post: Post, step: Callable[[Post], Awaitable[_T]]) -> _T | None:
        """`step(post)`; an exception no step expected is the post's alone (`_unexpected`)."""
        try:
            return await step(post)
        except Exception as exc:  # no poison rows: an attempt counted, then a dead letter
            await self._unexpected([post], exc)
            return None

    async def _unexpected(self, posts: list[Post], exc: Exception) -> None:
        """An exception no step expected: counted against each post it stopped, retried
        with backoff, then a dead letter (`faults.unexpected`)."""
        for post in posts:
            dead = await faults.unexpected(self._sessions, post, exc, "post", self._now())
            self.metrics.slack_posts.labels("dead" if dead else "retry").inc()

    async def _ready(
        self, posts: list[Post], places: dict[int, _Place] | None = None
    ) -> list[_Sending]:
        """`posts` (one a channel) ready to send, step by step: their places in their
        threads found (one transaction; given as `places` when found already, the replies
        left waiting too), those whose thread has no first message yet left waiting, each
        reconciled if `sending` and rendered, then their channels' slots taken and the
        posts marked `sending` (one transaction). A batch's transaction that fails counts
        against each post in it; what fails for one post (reconciling, rendering) is its
        own."""
        if not posts:
            return []
        going = posts
        if places is None:
            places = await self._places_each(posts)
            posts = [post for post in posts if post.id in places]
            waiting = [post for post in posts if _waits(post, places[post.id])]
            try:
                await self._release_many(waiting, self._now() + THREAD_WAIT)
            except Exception as exc:
                await self._unexpected(waiting, exc)
            going = [post for post in posts if post not in waiting]
        prepared = await asyncio.gather(
            *(self._guarded(post, partial(self._prepare, place=places[post.id])) for post in going)
        )
        ready = [sending for sending in prepared if sending is not None]
        try:
            return await self._take_slots(ready)
        except Exception as exc:
            await self._unexpected([sending.post for sending in ready], exc)
            return []

    async def _land(self, aged: list[Post], slotted: list[_Sending]) -> int:
        """Send what `_ready` made ready, the calls side by side, and record what Slack
        took in one transaction (a failure there counts against each post: they stay
        `sending`, so they are looked for in Slack first); and expire the `aged`. The
        number of files queued to upload into the posts' threads."""
        expiring = (self._guarded(post, self._expire) for post in aged)
        calls = (self._guarded_call(sending) for sending in slotted)
        answers = await asyncio.gather(*expiring, *calls)
        posted = [answer for answer in answers if isinstance(answer, _Posted)]
        try:
            uploads = await self._record(posted)
        except Exception as exc:
            await self._unexpected([answer.post for answer in posted], exc)
            return 0
        self.metrics.slack_posts.labels("ok").inc(len(posted))
        return uploads

    async def _expire(self, post: Post) -> None:
        """A post past `max_age`: a dead letter, unless Slack has it after all."""
        if post.state == "sending":
            places = await self._places([post])
            if await self._found_late(post, places[post.id][0]):
                return
        error = f"older than {self.max_age}; last error: {post.error}"
        await self._finish(post, state="dead", error=error)
        log.error("dead letter: post %s to %s: %s", post.id, post.channel, error)
        self.metrics.slack_posts.labels("dead").inc()

    async def _prepare(self, post: Post, place: _Place) -> _Sending | None:
        """The message for `post`, unless a post found `sending` is in Slack already."""
        thread_ts, _ = place
        if post.state == "sending" and await self._reconcile(post, thread_ts):
            return None
        return await self._render(post, thread_ts, await self._locale())

    async def _locale(self) -> Locale:
        """The account's home country and time zone (cached by the account's facts)."""
        return Locale(await self.region(), await self.timezone())

    async def _render(self, post: Post, thread_ts: str | None, locale: Locale) -> _Sending:
        """The message for `post`, into the thread `thread_ts` or starting its own."""
        if post.kind == DIGEST:
            reply = render_digest(load_digest(post.notice), locale=locale)
        else:
            reply = render_notice(
                load_notice(post.notice),
                locale=locale,
                handled=handled(post),
                taken=taken_of(post),
                thread_parent=thread_ts is None,
            )
        return _Sending(post, thread_ts, reply)

    async def _take_slots(self, ready: list[_Sending]) -> list[_Sending]:
        """Take the slots of `ready`'s channels (Slack's pace, shared by every process:
        held for the pace and the call's longest time, `bot.store.pace`) and mark their
        posts `sending`, their leases stretched over the call's longest time, in one
        transaction committed before the calls. Those that may go now, each with its
        slot; a post whose channel's slot is not free yet waits for it, one whose lease
        is no longer ours is left to its new holder."""
        if not ready:
            return []
        posts = [sending.post for sending in ready]
        async with _leases_kept(posts), self._sessions.begin() as session:
            slots = dict(await self._slots_for(session, posts, self._now()))
        return [
            replace(sending, slot=slots[sending.post]) for sending in ready if sending.post in slots
        ]

    async def _slots_for(
        self, session: AsyncSession, posts: list[Post], now: datetime
    ) -> list[tuple[Post, Slot]]:
        """`take_for_sending` in `session`'s transaction: the posts that may go now, each
        with its channel's slot; their leases stretched over the call's longest time."""
        if not posts:
            return []
        timeout = timedelta(seconds=float(self.slack.timeout))
        until = now + max(self.lease, timeout + SENDING_MARGIN)
        return await take_for_sending(
            session, [(post, post.channel) for post in posts], now,
            pace=timedelta(seconds=self.pace), call_timeout=timeout, until=until,
        )  # fmt: skip

    async def _guarded_call(self, sending: _Sending) -> _Posted | None:
        async with self._calls:
            return await self._guarded(sending.post, partial(self._call, sending))

    async def _call(self, sending: _Sending, post: Post) -> _Posted | None:
        """chat.postMessage in the post's slot: what Slack took, or None when it did not
        (the failure recorded: a retry, a wait, a join, a dead letter)."""
        slot, reply, thread_ts = sending.slot, sending.reply, sending.thread_ts
        assert slot is not None  # `_take_slots` gave it one
        try:
            # Cut at the slot's end: a post that reached Slack later could land within the
            # pace of the channel's next one (the slot holds the channel only so long).
            async with asyncio.timeout_at(slot.deadline):
                answer = await self.slack.chat_postMessage(
                    channel=post.channel, text=reply.text, blocks=reply.blocks,
                    thread_ts=thread_ts, metadata=metadata(post),
                    unfurl_links=False, unfurl_media=False,
                )  # fmt: skip
        except SlackApiError as exc:  # Slack answered: whatever it did, it did by now
            slot.answered(self._now())
            await self._settle(slot)
            await self._failed(post, read_failure(exc))
            return None
        except Exception as exc:  # no answer (classified below; anything unknown re-raised):
            await self._failed(post, read_failure(exc))  # the channel stays held
            return None
        slot.answered(self._now())
        posted = PostedMessage.model_validate(answer.data)  # a garbled answer raises here
        if thread_ts and posted.message is not None and posted.message.thread_ts is None:
            # Slack put the reply at the top level without an error: the thread's parent
            # was deleted. The conversation's next message starts a new thread.
            log.info(
                "post %s: thread %s in %s is gone; a new one follows",
                post.id,
                thread_ts,
                post.channel,
            )
            return _Posted(post, posted.ts, None, slot, gone=thread_ts)
        return _Posted(post, posted.ts, thread_ts, slot)

    async def _hold(self, channel: str, seconds: float) -> None:
        """Nothing more to `channel` for `seconds`, from any process (a 429): its posts
        are not claimed until then (`channel_open`)."""
        async with self._sessions.begin() as session:
            await hold(session, channel, self._now() + timedelta(seconds=seconds))

    async def _places(self, posts: list[Post]) -> dict[int, _Place]:
        """Each post's place in its conversation's thread, found for all of them in one
        transaction: the thread's row is made by its first post, which starts it; the
        others go into it (`_place`)."""
        if not any(post.thread_key for post in posts):
            return dict.fromkeys((post.id for post in posts), (None, False))
        async with self._sessions.begin() as session:
            return await _places(session, posts)

    async def _places_each(self, posts: list[Post]) -> dict[int, _Place]:
        """`_places`, and if the batch's transaction fails, each post's alone: what stops
        one conversation's thread (a row the database refuses) is counted against its
        post only, not against every channel's post claimed with it. The places found."""
        try:
            return await self._places(posts)
        except Exception:
            log.warning("posts: thread places failed for a batch of %d; one by one", len(posts))
        alone = await asyncio.gather(*(self._guarded(post, self._place_alone) for post in posts))
        return {post.id: place for post, place in zip(posts, alone, strict=True) if place}

    async def _place_alone(self, post: Post) -> _Place:
        return (await self._places([post]))[post.id]

    async def _thread_gone(self, post: Post, thread_ts: str) -> None:
        async with self._sessions.begin() as session:
            await _forget_thread(session, post, thread_ts)

    async def _reconcile(self, post: Post, thread_ts: str | None) -> bool:
        """Does Slack already have this post? Then record it and say so."""
        try:
            found = await self._find(post, thread_ts)
        except SlackApiError as exc:
            failure = read_failure(exc)
            if thread_ts and failure.reason == "thread_not_found":
                # The parent was deleted: a reply sent to it landed at the top level.
                await self._thread_gone(post, thread_ts)
                return await self._reconcile(post, None)
            if failure.kind == "join" and await self._join(post.channel):
                return await self._reconcile(post, thread_ts)
            await self._failed(post, failure)
            return True
        if found is None:
            return False
        log.info("reconciled=found post %s in %s", post.id, post.channel)
        self.metrics.slack_posts.labels("reconciled").inc()
        await self._done(post, found, thread_ts)
        return True

    async def _found_late(self, post: Post, thread_ts: str | None) -> bool:
        """One last look before a `sending` post becomes a dead letter: its final attempt
        failed ambiguously, so Slack may have it (then it is done, not dead)."""
        try:
            found = await self._find(post, thread_ts)
        except Exception as exc:  # classified; the post is a dead letter either way
            reason = read_failure(exc).reason
            log.warning("last look for post %s in %s: %s", post.id, post.channel, reason)
            return False
        if found is None:
            return False
        log.info("reconciled=found post %s in %s", post.id, post.channel)
        self.metrics.slack_posts.labels("reconciled").inc()
        await self._done(post, found, thread_ts)
        return True

    async def _find(self, post: Post, thread_ts: str | None) -> str | None:
        wanted = metadata(post)
        oldest = f"{post.created_at.timestamp() - 60:.6f}"
        cursor = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                page = await self.slack.conversations_replies(
                    channel=post.channel, ts=thread_ts, include_all_metadata=True,
                    cursor=cursor, limit=200,
                )  # fmt: skip
            else:
                page = await self.slack.conversations_history(
                    channel=post.channel, oldest=oldest, include_all_metadata=True,
                    cursor=cursor, limit=200,
                )  # fmt: skip
            for message in page.get("messages") or []:
                if message.get("metadata") == wanted:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _join(self, channel: str) -> bool:
        if channel in self._joined:
            return False  # joined once already: not_in_channel again is not ours to mend
        self._joined.add(channel)
        try:
            await self.slack.conversations_join(channel=channel)
        except SlackApiError as exc:
            log.error("cannot join %s: %s", channel, read_failure(exc).reason)
            return False
        return True

    async def _failed(self, post: Post, failure: Failure) -> None:
        now = self._now()
        if failure.kind == "join" and await self._join(post.channel):
            await self._release(post, now, state="pending")
            return
        if failure.kind in ("permanent", "join"):
            log.error("dead letter: post %s to %s: %s", post.id, post.channel, failure.reason)
            self.metrics.slack_posts.labels("dead").inc()
            await self._finish(post, state="dead", error=failure.reason)
            return
        if failure.kind == "wait" and failure.retry_after is not None:
            delay = failure.retry_after
            # Slack's Retry-After holds the whole channel (RELIABILITY R5: no request to the
            # same method and channel before it expires), not only this post.
            await self._hold(post.channel, delay)
        else:
            delay = backoff(post.attempts + 1)
        # Slack did not post on a plain refusal; after an ambiguous failure it may have.
        state = "sending" if failure.kind == "ambiguous" else "pending"
        log.warning(
            "post %s to %s: %s, retry in %.0f s", post.id, post.channel, failure.reason, delay
        )
        self.metrics.slack_posts.labels("retry").inc()
        await self._release(
            post, now + timedelta(seconds=delay), state=state, error=failure.reason, attempt=True
        )

    async def _settle(self, slot: Slot) -> None:
        """Slack answered the slot's call: the channel's next slot is the pace after."""
        async with self._sessions.begin() as session:
            await slot.settle(session)

    async def _release(
        self,
        post: Post,
        when: datetime,
        *,
        state: str | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        values: dict[str, object] = {"next_attempt_at": when}
        if state is not None:
            values["state"] = state
        if error is not None:
            values["error"] = error
        if attempt:
            values["attempts"] = post.attempts + 1
        async with self._sessions.begin() as session:
            if not await write_back(session, post, **values):
                log.info("post %s: lease lost; its new holder decides", post.id)

    async def _release_many(self, posts: list[Post], when: datetime) -> None:
        """`_release` for many posts at once (one statement): due again at `when`."""
        if posts:
            async with self._sessions.begin() as session:
                await write_back_many(session, posts, next_attempt_at=when)

    async def _finish(self, post: Post, *, state: str, error: str | None = None) -> None:
        async with self._sessions.begin() as session:
            if not await write_back(session, post, state=state, error=error):
                log.info("post %s: lease lost; its new holder decides", post.id)

    async def _done(self, post: Post, ts: str, thread_ts: str | None) -> None:
        """Record one post as Slack has it (found there by reconciliation)."""
        await self._record([_Posted(post, ts, thread_ts)])

    async def _record(self, posted: list[_Posted]) -> int:
        """Record the posts as Slack has them, in one transaction: each `done` with its
        ts, the slots of their calls settled, a thread's first message its thread's, a
        deleted thread forgotten, and the files that follow a message queued."""
        if not posted:
            return 0
        now = self._now()
        posts = [answer.post for answer in posted]
        async with _leases_kept(posts), self._sessions.begin() as session:
            await settle_slots(session, [answer.slot for answer in posted if answer.slot])
            for answer in posted:
                if answer.gone:
                    await _forget_thread(session, answer.post, answer.gone)
            written = await write_back_many(
                session, posts, state="done",
                ts=PerRow({answer.post.id: answer.ts for answer in posted}),
                thread_ts=PerRow({answer.post.id: answer.thread_ts for answer in posted}),
            )  # fmt: skip
            ours = {post.id for post in written}
            for answer in posted:
                if answer.post.id not in ours:
                    # Slack has it; the process that holds the post now finds it by its
                    # metadata (it is `sending`) rather than posting it again.
                    log.warning(
                        "post %s: lease lost after Slack took it; left to reconcile",
                        answer.post.id,
                    )
            started = [  # the first messages of their threads
                _thread_params(answer.post) | {"t_ts": answer.ts}
                for answer in posted
                if answer.post.id in ours and answer.post.thread_key and answer.thread_ts is None
            ]
            connection = await session.connection()
            if started:
                await connection.execute(_THREAD_STARTED, started)
            uploads = [
                {"post_id": post.id, "uri": uri, "content_type": content_type,
                 "filename": filename, "state": "pending", "attempts": 0, "next_attempt_at": now}
                for post in written
                for uri, content_type, filename in _files(post)
            ]  # fmt: skip
            if uploads:
                await connection.execute(_new_uploads(connection.dialect.name), uploads)
        return len(uploads)


# A post's place in its conversation's thread: the thread_ts to post into, and whether the
# post starts the thread (its message becomes the thread's parent).
_Place = tuple[str | None, bool]


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What a pass's one transaction decided (`Poster._claim_and_slot`)."""

    posts: list[Post]  # claimed
    places: dict[int, _Place]  # the live ones' places in their threads
    slots: dict[Post, Slot]  # those that may be sent now, marked `sending`
    to_find: list[Post]  # found `sending`: looked for in Slack before they are sent


@dataclass(slots=True)
class _Sending:
    """A post on its way: what it says, where in its thread, and its channel's slot."""

    post: Post
    thread_ts: str | None
    reply: Reply
    slot: Slot | None = None


@dataclass(frozen=True, slots=True)
class _Posted:
    """A post Slack has: its message (`ts`) and thread, the slot of the call that made it
    (None when found by reconciliation), and the thread Slack no longer has, if any."""

    post: Post
    ts: str
    thread_ts: str | None
    slot: Slot | None = None
    gone: str | None = None


@contextlib.asynccontextmanager
async def _leases_kept(posts: list[Post]) -> AsyncIterator[None]:
    """Around a transaction that writes `posts` back: if it fails, it is rolled back, and
    the posts keep the leases they had (a write-back gives a row its values before the
    commit), so that the failure is counted against them (`_unexpected`) rather than
    taken for a lease lost, and a post that can never be recorded becomes a dead letter."""
    leases = [(post, post.claimed_until) for post in posts]
    try:
        yield
    except BaseException:
        for post, lease in leases:
            post.claimed_until = lease
        raise


async def _places(session: AsyncSession, posts: list[Post]) -> dict[int, _Place]:
    """Each post's place in its conversation's thread, in `session`'s transaction: the
    thread's row is made by its first post, which starts it; the others go into it
    (`_place`). Four statements, each built once, whatever the number of posts."""
    places: dict[int, _Place] = {post.id: (None, False) for post in posts}
    # In one order everywhere (the threads' rows are locked in it on PostgreSQL).
    threaded = sorted((post for post in posts if post.thread_key), key=_thread_of)
    if not threaded:
        return places
    connection = await session.connection()
    await connection.execute(
        _new_threads(connection.dialect.name),
        [_thread_row(post) | {"parent_post_id": post.id} for post in threaded],
    )
    found = await connection.execute(_THREADS, {"threads": [_thread_of(post) for post in threaded]})
    threads = {
        (company, other, channel): _Thread(parent_id, thread_ts, parent_state, parent_handled)
        for company, other, channel, parent_id, thread_ts, parent_state, parent_handled in found
    }
    previous = await connection.execute(_LAST_BEFORE, {"ids": [post.id for post in threaded]})
    last = {post_id: at for post_id, at in previous if at is not None}
    moved: list[dict[str, Any]] = []
    for post in threaded:
        key = _thread_of(post)
        thread = threads[key]
        places[post.id] = _place(thread, post, last.get(post.id))
        if thread.moved:
            moved.append(
                _thread_params(post) | {"t_parent": thread.parent_post_id, "t_ts": thread.thread_ts}
            )
    if moved:
        await connection.execute(_MOVE_THREAD, moved)
    return places


@dataclass(slots=True)
class _Thread:
    """A conversation's thread as `_places` found it, with its first post's state."""

    parent_post_id: int
    thread_ts: str | None
    parent_state: str | None  # None: the first post is gone (retention)
    parent_handled_at: datetime | None
    moved: bool = False  # a new first post: written back

    def start_with(self, post: Post) -> None:
        """`post` starts the thread (again): it becomes its first post."""
        self.parent_post_id, self.thread_ts, self.moved = post.id, None, True
        self.parent_state, self.parent_handled_at = post.state, post.handled_at


@cache
def _new_threads(dialect: str) -> Any:
    """The threads of a pass's posts, made where there are none (a parameter set each)."""
    return insert(dialect, Thread.__table__).on_conflict_do_nothing()


# The statements of `_places` and `Poster._record`, built once: the threads of a pass's
# posts with their first posts' state; a thread restarted (`_Thread.start_with`); a
# thread's first message recorded.
_THREAD_KEY = (Thread.company_number, Thread.other_number, Thread.channel)
_parent = Post.__table__.alias("parent")
_THREADS = (
    select(*_THREAD_KEY, Thread.parent_post_id, Thread.thread_ts)
    .add_columns(_parent.c.state, _parent.c.handled_at)
    .outerjoin(_parent, _parent.c.id == Thread.parent_post_id)
    .where(tuple_(*_THREAD_KEY).in_(bindparam("threads", expanding=True)))
)
_THIS_THREAD = (
    Thread.company_number == bindparam("t_company"),
    Thread.other_number == bindparam("t_other"),
    Thread.channel == bindparam("t_channel"),
)
_MOVE_THREAD = (
    update(Thread)
    .where(*_THIS_THREAD)
    .values(parent_post_id=bindparam("t_parent"), thread_ts=bindparam("t_ts"))
)
_THREAD_STARTED = update(Thread).where(*_THIS_THREAD).values(thread_ts=bindparam("t_ts"))


def _thread_params(post: Post) -> dict[str, str]:
    """The parameters that name `post`'s thread in `_THIS_THREAD`."""
    company, other, channel = _thread_of(post)
    return {"t_company": company, "t_other": other, "t_channel": channel}


@cache
def _new_uploads(dialect: str) -> Any:
    """Files queued to follow their messages (a parameter set each), each once."""
    return insert(dialect, Upload.__table__).on_conflict_do_nothing()


def _waits(post: Post, place: _Place) -> bool:
    """A reply whose thread's first message is not in Slack yet: it waits for it."""
    thread_ts, starts = place
    return bool(post.thread_key) and thread_ts is None and not starts


def _thread_of(post: Post) -> tuple[str, str, str]:
    """The key of `post`'s thread: (company number, other party, channel)."""
    row = _thread_row(post)
    return row["company_number"], row["other_number"], row["channel"]


def _thread_row(post: Post) -> dict[str, str]:
    assert post.thread_key is not None
    return thread_id(post.thread_key, post.channel)


def _place(thread: _Thread, post: Post, last: datetime | None) -> _Place:
    """Where `post` goes in its conversation's `thread` (the conversation's previous post
    was at `last`): the thread's first post starts it; a thread whose first post became a
    dead letter starts with this one instead; so does one the conversation left: marked
    handled, or silent 24 h (§3.12)."""
    if thread.parent_post_id != post.id:
        if thread.thread_ts is None:
            if thread.parent_state == "dead":
                thread.start_with(post)
        elif _new_again(post, thread, last):
            thread.start_with(post)
    if thread.parent_post_id == post.id:
        return None, True
    return thread.thread_ts, False


def _new_again(post: Post, thread: _Thread, last: datetime | None) -> bool:
    """Whether `post`, a text in a conversation that has a thread, starts a new one: it
    came after the conversation was marked handled, or after 24 h of silence (§3.12)."""
    handled_at = thread.parent_handled_at
    if handled_at and handled_at <= post.created_at:
        return True
    return last is not None and post.created_at - last >= CONVERSATION_SILENCE


def _last_before_statement() -> Any:
    """When each post's conversation (in its channel) had its previous post: a correlated
    subquery a post, for the posts `ids` (an expanding parameter)."""
    earlier = aliased(Post)
    previous = (
        select(func.max(earlier.created_at))
        .where(
            earlier.thread_key == Post.thread_key,
            earlier.channel == Post.channel,
            earlier.id != Post.id,
            earlier.created_at <= Post.created_at,
        )
        .scalar_subquery()
    )
    return select(Post.id, previous).where(Post.id.in_(bindparam("ids", expanding=True)))


_LAST_BEFORE = _last_before_statement()


async def _forget_thread(session: AsyncSession, post: Post, thread_ts: str) -> None:
    """The conversation's thread (its parent `thread_ts`) was deleted: forget it, so that
    its next message starts a new one (DESIGN §3.7)."""
    if post.thread_key:
        forget = delete(Thread).where(*_THIS_THREAD, Thread.thread_ts == bindparam("t_ts"))
        await session.execute(forget, _thread_params(post) | {"t_ts": thread_ts})


def taken_of(post: Post) -> Taken | None:
    """Who took the post's notice, for every rendering of it (a transcript's too)."""
    if post.taken_by and post.taken_at:
        return Taken(post.taken_by, post.taken_at)
    return None


def handled(post: Post) -> Handled | None:
    if post.handled_by and post.handled_at:
        return Handled(post.handled_by, post.handled_at)
    return None


def _files(post: Post) -> list[tuple[str, str, str | None]]:
    """(uri, content type, filename) of what goes into the thread after the message."""
    if post.kind == DIGEST:
        return []
    notice = load_notice(post.notice)
    if isinstance(notice, VoicemailNotice) and notice.audio:
        return [(notice.audio.uri, notice.audio.content_type, notice.audio.filename)]
    if isinstance(notice, FaxNotice) and notice.document:
        return [(notice.document.uri, notice.document.content_type, notice.document.filename)]
    if isinstance(notice, SmsNotice):
        return [(a.uri, a.content_type, a.filename) for a in notice.attachments if a.uri]
    return []


async def _none() -> int:
    """A pass's landing when it claimed nothing."""
    return 0


async def find_post(engine: AsyncEngine, kind: str, item: str) -> list[Post]:
    """The posts of one notice (every channel), for actions that change them."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        return list(
            (await session.scalars(select(Post).where(Post.kind == kind, Post.item == item))).all()
        )

"""The dispatcher: a background task that turns stored deliveries into Slack messages.

Each step: deliveries → posts (`ingest`), calls that went quiet → judged, posts → Slack
(`poster`), files into threads and transcripts (`followups`). Every step claims its rows
with a lease, so a process killed mid-step loses nothing: its rows come due again.

Stopping (the `stop` event of `run`, or `stop()`): no new step and no next part of a step
starts; the delivery being dispatched is finished, and the deliveries claimed but not yet
started are released (their lease cleared) so another process takes them at once. If the
dispatcher is cancelled instead, what it claimed is released the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.clock import Clock
from bot.notices import Notice
from bot.ringcentral import RingCentralError
from bot.store.gate import GatedSessions
from bot.store.inbox import finish_ours, lock_ours, mark_done, release_ours
from bot.store.schema import CallState, Delivery
from bot.store.work import Claim, write_back

from . import calls, faults
from .auto_reply import AutoReplies
from .digest import Digests
from .faults import backoff
from .followups import Transcripts, Updater, Uploader
from .ingest import Ingest, NamesWanted, Unreadable, call_of, insert_posts, lock_calls
from .poster import LEASE, Poster
from .receipts import Receipts
from .reminders import Reminders
from .replies import ReplySender

log = logging.getLogger("bot.bridge.dispatcher")

CALL_QUIET = timedelta(seconds=60)  # a call with no event this long is judged as it stands
# …or this long when every leg we know of has ended: a subscription to one extension never
# sees the other legs, so waiting a full minute would only make the notice late.
ENDED_QUIET = timedelta(seconds=10)
DELIVERY_MAX_AGE = timedelta(hours=24)
READS = 8  # deliveries reading RingCentral at once (pager messages, transcripts, names)

DELIVERIES = "deliveries"
# How long an idle lane of texts or follow-ups rests before looking again when woken
# (`Lane.rest`): a typed reply or a file waits at most this much longer; an idle pass of
# the follow-ups lane is six claims.
REPLIES_REST = 0.1
FOLLOWUPS_REST = 0.25
# The same for the calls that went quiet: a call is judged at least ENDED_QUIET after its
# last event, so a second later changes little, while a look after every pass of
# deliveries was a third of that pass (its own transaction, about 1 ms over SQLite).
QUIET_CALLS_REST = 1.0


@dataclass(frozen=True, slots=True)
class Lane:
    """One kind of work: its parts, done one after another, and the lanes it feeds."""

    name: str
    parts: tuple[Callable[[], Awaitable[int]], ...]
    feeds: tuple[str, ...] = ()
    # Real seconds at least between two passes when the last found nothing, however often
    # the lane is woken: under load the lanes that feed it wake it after every pass, and
    # each idle pass costs its claims (on SQLite, each takes the one writer's lock).
    rest: float = 0.0
    # After a pass that did work, whether to go round again at once rather than wait for a
    # wake as an idle lane does (None: always). A wake during the pass still sends the
    # lane round at once.
    again: Callable[[], bool] | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A delivery read and understood, to be stored."""

    delivery: Delivery
    event: object
    notices: list[Notice]
    now: datetime


@dataclass
class Dispatcher:
    engine: AsyncEngine
    ingest: Ingest
    poster: Poster
    uploader: Uploader
    transcripts: Transcripts
    updater: Updater
    clock: Clock
    replies: ReplySender | None = None  # thread replies to text (DESIGN §3.8)
    receipts: Receipts | None = None  # sent texts followed to their end (DESIGN §3.8)
    reminders: Reminders | None = None  # open items reminded of (DESIGN §3.12)
    auto_replies: AutoReplies | None = None  # missed calls texted back (DESIGN §3.12)
    digests: Digests | None = None  # the daily digest into its channels (DESIGN §3.12)
    idle_wait: float = 1.0  # real seconds between looks when nothing woke us
    batch: int = 100  # deliveries stored per transaction
    _wakes: dict[str, asyncio.Event] = field(default_factory=dict)  # a lane's, while running
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._sessions = GatedSessions(self.engine)
        self._claims = Claim(Delivery, limit=self.batch)
        self._took_all = False  # the last claim of deliveries took fewer than a batch

    def wake(self) -> None:
        """Work was stored (posts by catch-up, a thread reply): every lane looks now
        rather than at its next tick."""
        for wake in self._wakes.values():
            wake.set()

    def delivered(self) -> None:
        """A delivery was stored (the receiver, the WebSocket listener: many a second
        under load): the deliveries lane looks now, and wakes the others if it made work."""
        if DELIVERIES in self._wakes:
            self._wakes[DELIVERIES].set()

    def _posts_landed(self) -> None:
        """A pass of posts in flight was recorded with files to upload into its threads."""
        if "followups" in self._wakes:
            self._wakes["followups"].set()

    def stop(self) -> None:
        """Take no new work: `run` returns after the delivery in hand (see the module)."""
        self._stop.set()
        self.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        watcher = asyncio.create_task(self._stop_on(stop), name="dispatcher-stop")
        try:
            await self._run()
        finally:
            watcher.cancel()

    async def _stop_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stop()

    async def _run(self) -> None:
        """Every lane in a loop of its own (`_lanes`): a lane that found work goes round
        again at once, whatever the others are doing, so a slow RingCentral read or
        upload never holds up a post; a lane that found none waits until it is woken (a
        delivery stored here, work for it made by the lane that feeds it) or `idle_wait`
        has passed (work another process made, or a retry come due)."""
        lanes = self._lanes(ahead=True)
        self._wakes = {lane.name: asyncio.Event() for lane in lanes}
        try:
            await asyncio.gather(*(self._loop(lane) for lane in lanes))
        except BaseException:
            await asyncio.shield(self.poster.landed(cancel=True))
            raise
        await self.poster.landed()  # the posts in flight answered and recorded

    async def _loop(self, lane: Lane) -> None:
        wake = self._wakes[lane.name]
        loop = asyncio.get_running_loop()
        while not self.stopping:
            wake.clear()  # before the pass: a wake during it sends us round again
            started = loop.time()
            try:
                worked = await self._lane(lane)
            except Exception:  # one bad pass must not end the bridge's deliveries
                log.exception("dispatcher step failed")
                worked = 0
            if worked:
                for name in lane.feeds:
                    self._wakes[name].set()
                if lane.again is None or lane.again():
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.idle_wait)
            if lane.rest and not self.stopping:
                await asyncio.sleep(started + lane.rest - loop.time())

    def _lanes(self, *, ahead: bool = False) -> tuple[Lane, ...]:
        """The kinds of work, each a lane whose parts run one after another, so that no
        kind holds up another (uploads and follow-ups never delay posts): deliveries into
        posts, calls that went quiet judged, posts into Slack, texts (thread replies, auto
        replies), and what follows a post or a text (and the reminders and the daily
        digest, which come with time).
        A lane that did work wakes the lanes it `feeds` (only those: an idle lane's pass
        costs its claims, which on SQLite take the one writer's lock); the lanes whose
        work is not a notification's first message `rest` between idle passes. `ahead`
        (`run`'s loops): a pass of posts returns with its calls in flight
        (`Poster.run_ahead`), and their landing wakes what follows a post."""
        post = partial(self.poster.run_ahead, self._posts_landed) if ahead else self.poster.run_once
        return (
            Lane(
                DELIVERIES,
                (self._deliveries,),
                # Only the posts: what a delivery may leave for the other lanes (a missed
                # call's auto reply, a call's update, a transcript) can wait for their next
                # look (`idle_wait`), and waking them for every SMS costs their claims.
                ("posts",),
                # A claim of less than a batch took every delivery due: another claim at
                # once would find none (a transaction of its own, under load one after
                # every delivery). One stored meanwhile has woken the lane.
                again=lambda: not self._took_all,
            ),
            # Calls whose events stopped: judged by the clock, not by a delivery, so not
            # looked for after every pass of deliveries.
            Lane("calls", (self._quiet_calls,), ("posts",), rest=QUIET_CALLS_REST),
            Lane(
                "posts",
                (post,),
                () if ahead else ("replies", "followups"),
            ),
            # Texts wait for no post (an auto reply waits for its missed call's, polling);
            # receipts follow what was texted.
            Lane(
                "replies",
                (
                    self.replies.run_once if self.replies else _nothing,
                    self.auto_replies.run_once if self.auto_replies else _nothing,
                ),
                ("followups",),
                rest=REPLIES_REST,
            ),
            Lane(
                "followups",
                (
                    self.uploader.run_once,
                    self.transcripts.run_once,
                    self.receipts.run_once if self.receipts else _nothing,
                    self.updater.run_once,
                    self.reminders.run_once if self.reminders else _nothing,
                    self.digests.run_once if self.digests else _nothing,
                ),
                rest=FOLLOWUPS_REST,
            ),
        )

    async def step(self) -> int:
        """One pass of every lane, side by side, each lane once; how much was done (tests,
        `drain`, the dead-letter replay: `run` loops each lane on its own instead).
        Stopping ends each lane between its parts."""
        results = await asyncio.gather(
            *(self._lane(lane) for lane in self._lanes()), return_exceptions=True
        )
        for result in results:  # every lane has ended: no pass overlaps the next
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _lane(self, lane: Lane) -> int:
        done = 0
        for part in lane.parts:
            if self.stopping:
                break
            done += await part()
        return done

    async def drain(self, limit: int = 1000) -> None:
        """Step until nothing is due (tests; the demo's replay)."""
        for _ in range(limit):
            if not await self.step():
                return

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def _deliveries(self) -> int:
        now = self._now()
        async with self._sessions.begin() as session:
            deliveries = await self._claims(session, now=now, lease=LEASE)
        self._took_all = len(deliveries) < self.batch
        held = list(deliveries)
        # Stopping, or cancelled (shutdown's grace ran out): another process takes what we
        # hold at once. A step that fails otherwise keeps its leases: the rows come due
        # again when they run out, not in a tight loop.
        try:
            if held and not self.stopping:
                await self._dispatch_batch(held)
                held = []
        except asyncio.CancelledError:
            await asyncio.shield(self._release(held))
            raise
        if held:
            await self._release(held)
        return len(deliveries) - len(held)

    async def _release(self, deliveries: list[Delivery]) -> None:
        """Clear our lease on `deliveries` that are still pending and still ours."""
        try:
            async with self._sessions.begin() as session:
                await release_ours(session, deliveries)
        except Exception:  # the lease runs out by itself: nothing is lost
            log.exception(
                "could not release %d deliveries; their lease will run out", len(deliveries)
            )
            return
        log.info("released %d deliveries for another process", len(deliveries))

    async def _dispatch_batch(self, deliveries: list[Delivery]) -> None:
        """Read RingCentral for every delivery (side by side, at most READS at once),
        then store what they ask for in one transaction, a savepoint each (so one that
        fails is rolled back alone). Caller names a call's notices need are asked for
        between two such transactions, never inside one."""
        reads = asyncio.Semaphore(READS)
        prepared = await asyncio.gather(*(self._prepare(d, reads) for d in deliveries))
        ready = [p for p in prepared if p is not None]
        failed: list[tuple[Delivery, Exception]] = []
        wanted, numbers = await self._commit_all(ready, failed, look_up_names=True)
        if wanted:
            await self.ingest.names.look_up(numbers)
            await self._commit_all(wanted, failed, look_up_names=False)
        for delivery, exc in failed:  # no poison rows: an attempt counted, then a dead letter
            await faults.unexpected(self._sessions, delivery, exc, "delivery", self._now())

    async def _prepare(self, delivery: Delivery, reads: asyncio.Semaphore) -> _Prepared | None:
        """The delivery's event and notices, read outside any transaction; None when it
        was settled here instead (a dead letter, a retry later)."""
        now = self._now()
        try:
            async with reads:
                event, notices = await self.ingest.prepare(delivery.body)
        except Unreadable as exc:
            await self._set(delivery, state="dead", error=str(exc))
            log.error("dead letter %s: %s", delivery.uuid, exc)
            return None
        except RingCentralError as exc:
            error = getattr(exc, "error_code", "") or type(exc).__name__
            if now - delivery.received_at > DELIVERY_MAX_AGE:
                await self._set(delivery, state="dead", error=error)
                log.error("dead letter %s: RingCentral kept failing: %s", delivery.uuid, error)
                return None
            wait = getattr(exc, "retry_after", None) or backoff(delivery.attempts + 1)
            await self._set(
                delivery, error=error, attempts=delivery.attempts + 1,
                next_attempt_at=now + timedelta(seconds=wait),
            )  # fmt: skip
            return None
        except Exception as exc:  # no poison rows: an attempt counted, then a dead letter
            await faults.unexpected(self._sessions, delivery, exc, "delivery", now)
            return None
        return _Prepared(delivery, event, notices, now)

    async def _commit_all(
        self,
        batch: list[_Prepared],
        failed: list[tuple[Delivery, Exception]],
        *,
        look_up_names: bool,
    ) -> tuple[list[_Prepared], set[str]]:
        """Store `batch` in one transaction; (those that want names first, the numbers).
        First all of it at once, in a few statements whatever its size: the deliveries
        still ours marked done (their rows locked and their lease checked by the same
        UPDATE), their calls' rows locked, what each asks for, every post in one INSERT.
        If any delivery fails or wants names, that transaction is rolled back and the
        batch stored again a savepoint each, so that one is set aside alone."""
        if not batch:
            return [], set()
        try:
            async with self._sessions.begin() as session:
                ours = _still_ours(batch, await finish_ours(session, _rows_of(batch)))
                call_rows = await lock_calls(session, (call_of(item.event) for item in ours))
                posts: list[dict[str, Any]] = []
                for item in ours:
                    posts += await self._commit(session, item, call_rows, look_up_names)
                await insert_posts(session, posts)
            return [], set()
        except Exception as exc:  # rolled back; which delivery it was is found below
            log.debug("a batch of %d stored one by one: %s", len(batch), type(exc).__name__)
        wanted: list[_Prepared] = []
        numbers: set[str] = set()
        async with self._sessions.begin() as session:
            stored: list[_Prepared] = []
            # A write, so that on SQLite it opens the write transaction (the savepoints
            # then nest in it, rather than each committing on its own).
            locked = await lock_ours(session, _rows_of(batch))
            for item in _still_ours(batch, locked):
                try:
                    async with session.begin_nested():
                        call_rows = await lock_calls(session, [call_of(item.event)])
                        posts = await self._commit(session, item, call_rows, look_up_names)
                        await insert_posts(session, posts)
                    stored.append(item)
                except NamesWanted as names:  # rolled back: asked for, then stored again
                    wanted.append(item)
                    numbers |= names.numbers
                except Exception as exc:
                    failed.append((item.delivery, exc))
            await mark_done(session, (item.delivery.id for item in stored))
        return wanted, numbers

    async def _commit(
        self,
        session: AsyncSession,
        item: _Prepared,
        call_rows: dict[str, CallState],
        look_up_names: bool,
    ) -> list[dict[str, Any]]:
        """What `item` asks for, but its posts: their rows, for the caller to insert."""
        return await self.ingest.commit(
            session,
            item.delivery.uuid,
            item.event,
            item.notices,
            item.now,
            calls=call_rows,
            look_up_names=look_up_names,
        )

    async def _set(self, delivery: Delivery, **values: object) -> None:
        async with self._sessions.begin() as session:
            if not await write_back(session, delivery, **values):
                log.info("delivery %s: lease lost; its new holder decides", delivery.uuid)

    async def _quiet_calls(self) -> int:
        """Judge calls whose events stopped before they could be judged."""
        now = self._now()
        async with self._sessions.begin() as session:
            rows = list(
                (
                    await session.scalars(
                        select(CallState)
                        .where(CallState.open, CallState.updated_at < now - ENDED_QUIET)
                        .order_by(CallState.updated_at)
                        .limit(200)  # calls still connected are skipped below
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            judged = 0
            for row in rows:
                try:
                    async with session.begin_nested():
                        judged += await self._judge_quiet(session, row, now)
                except Exception as exc:  # one broken call must not hold up the others
                    log.error(
                        "call %s: %s; left unjudged",
                        row.session_id, faults.reason(exc, "call judging"), exc_info=exc,
                    )  # fmt: skip
                    row.open = False
        return judged

    async def _judge_quiet(self, session: AsyncSession, row: CallState, now: datetime) -> int:
        state = calls.SessionState.model_validate_json(row.state)
        quiet = ENDED_QUIET if all(p.final for p in state.parties) else CALL_QUIET
        if now - row.updated_at < quiet:
            return 0  # a leg is still connected or ringing: give it the full minute
        state, notices = calls.expire(state, watched=self.ingest.watched, now=now, quiet=quiet)
        await self.ingest.save_call(session, row, row.session_id, state, now)
        row.open = False  # judged as it stands; a late event reopens it
        for notice in notices:
            await self.ingest.add_posts(session, f"expired:{row.session_id}", notice, now)
        return 1


async def _nothing() -> int:
    return 0


def _rows_of(batch: list[_Prepared]) -> list[Delivery]:
    return [item.delivery for item in batch]


def _still_ours(batch: list[_Prepared], ours: set[int]) -> list[_Prepared]:
    """Those of `batch` the inbox says are still ours (`bot.store.inbox`); the others'
    lease ran out while we read RingCentral: another process has them."""
    return [item for item in batch if item.delivery.id in ours]

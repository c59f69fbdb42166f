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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.clock import Clock
from bot.ringcentral import RingCentralError
from bot.store.schema import CallState, Delivery
from bot.store.work import claim

from . import calls
from .followups import Transcripts, Uploader
from .ingest import Ingest, Unreadable
from .poster import LEASE, Poster, backoff
from .receipts import Receipts
from .replies import ReplySender

log = logging.getLogger("bot.bridge.dispatcher")

CALL_QUIET = timedelta(seconds=60)  # a call with no event this long is judged as it stands
# …or this long when every leg we know of has ended: a subscription to one extension never
# sees the other legs, so waiting a full minute would only make the notice late.
ENDED_QUIET = timedelta(seconds=10)
DELIVERY_MAX_AGE = timedelta(hours=24)


@dataclass
class Dispatcher:
    engine: AsyncEngine
    ingest: Ingest
    poster: Poster
    uploader: Uploader
    transcripts: Transcripts
    clock: Clock
    replies: ReplySender | None = None  # thread replies to text (DESIGN §3.8)
    receipts: Receipts | None = None  # sent texts followed to their end (DESIGN §3.8)
    idle_wait: float = 1.0  # real seconds between looks when nothing woke us
    batch: int = 20
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def wake(self) -> None:
        """A delivery was stored: look now rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Take no new work: `run` returns after the delivery in hand (see the module)."""
        self._stop.set()
        self._wake.set()

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
        while not self.stopping:
            try:
                worked = await self.step()
            except Exception:  # one bad step must not end the bridge's deliveries
                log.exception("dispatcher step failed")
                worked = 0
            if worked:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_wait)

    async def step(self) -> int:
        """One pass over every kind of due work; how much was done. Stopping ends the
        pass between its parts."""
        done = 0
        parts = [
            self._deliveries,
            self._quiet_calls,
            self.poster.run_once,
            self.uploader.run_once,
            self.transcripts.run_once,
        ]
        if self.replies is not None:
            parts.append(self.replies.run_once)
        if self.receipts is not None:
            parts.append(self.receipts.run_once)
        for part in parts:
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
            deliveries = await claim(session, Delivery, now=now, lease=LEASE, limit=self.batch)
        held = list(deliveries)
        # Stopping, or cancelled (shutdown's grace ran out): another process takes what we
        # hold at once. A step that fails otherwise keeps its leases: the rows come due
        # again when they run out, not in a tight loop.
        try:
            while held and not self.stopping:
                await self._dispatch(held[0])
                held.pop(0)
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
                for delivery in deliveries:
                    await session.execute(
                        update(Delivery)
                        .where(
                            Delivery.id == delivery.id,
                            Delivery.state == "pending",
                            Delivery.claimed_until == delivery.claimed_until,
                        )
                        .values(claimed_until=None)
                    )
        except Exception:  # the lease runs out by itself: nothing is lost
            log.exception(
                "could not release %d deliveries; their lease will run out", len(deliveries)
            )
            return
        log.info("released %d deliveries for another process", len(deliveries))

    async def _dispatch(self, delivery: Delivery) -> None:
        now = self._now()
        try:
            event, notices = await self.ingest.prepare(delivery.body)
        except Unreadable as exc:
            await self._set(delivery, state="dead", error=str(exc))
            log.error("dead letter %s: %s", delivery.uuid, exc)
            return
        except RingCentralError as exc:
            error = getattr(exc, "error_code", "") or type(exc).__name__
            if now - delivery.received_at > DELIVERY_MAX_AGE:
                await self._set(delivery, state="dead", error=error)
                log.error("dead letter %s: RingCentral kept failing: %s", delivery.uuid, error)
                return
            wait = getattr(exc, "retry_after", None) or backoff(delivery.attempts + 1)
            await self._set(
                delivery, error=error, attempts=delivery.attempts + 1,
                next_attempt_at=now + timedelta(seconds=wait),
            )  # fmt: skip
            return
        async with self._sessions.begin() as session:
            row = await session.get(Delivery, delivery.id, with_for_update=True)
            if row is None or row.state != "pending":
                return  # another process finished it while we read RingCentral
            await self.ingest.commit(session, row, event, notices, now)

    async def _set(self, delivery: Delivery, **values: object) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Delivery, delivery.id)
            if row is not None:
                for key, value in {"claimed_until": None, **values}.items():
                    setattr(row, key, value)

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
                state = calls.SessionState.model_validate_json(row.state)
                quiet = ENDED_QUIET if all(p.final for p in state.parties) else CALL_QUIET
                if now - row.updated_at < quiet:
                    continue  # a leg is still connected or ringing: give it the full minute
                judged += 1
                state, notices = calls.expire(
                    state, watched=self.ingest.watched, now=now, quiet=quiet
                )
                await self.ingest.save_call(session, row, row.session_id, state, now)
                row.open = False  # judged as it stands; a late event reopens it
                for notice in notices:
                    await self.ingest.add_posts(session, f"expired:{row.session_id}", notice, now)
        return judged

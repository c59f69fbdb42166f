"""The dispatcher: a background task that turns stored deliveries into Slack messages.

Each step: deliveries → posts (`ingest`), calls that went quiet → judged, posts → Slack
(`poster`), files into threads and transcripts (`followups`). Every step claims its rows
with a lease, so a process killed mid-step loses nothing: its rows come due again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.clock import Clock
from bot.ringcentral import RingCentralError
from bot.store.schema import CallState, Delivery
from bot.store.work import claim

from . import calls
from .followups import Transcripts, Uploader
from .ingest import Ingest, Unreadable
from .poster import LEASE, Poster, backoff

log = logging.getLogger("bot.bridge.dispatcher")

CALL_QUIET = timedelta(seconds=60)  # a call with no event this long is judged as it stands
DELIVERY_MAX_AGE = timedelta(hours=24)


@dataclass
class Dispatcher:
    engine: AsyncEngine
    ingest: Ingest
    poster: Poster
    uploader: Uploader
    transcripts: Transcripts
    clock: Clock
    idle_wait: float = 1.0  # real seconds between looks when nothing woke us
    batch: int = 20
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def wake(self) -> None:
        """A delivery was stored: look now rather than at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
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
        """One pass over every kind of due work; how much was done."""
        done = await self._deliveries()
        done += await self._quiet_calls()
        done += await self.poster.run_once()
        done += await self.uploader.run_once()
        done += await self.transcripts.run_once()
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
        for delivery in deliveries:
            await self._dispatch(delivery)
        return len(deliveries)

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
                        .where(CallState.open, CallState.updated_at < now - CALL_QUIET)
                        .limit(self.batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for row in rows:
                state = calls.SessionState.model_validate_json(row.state)
                state, notices = calls.expire(
                    state, watched=self.ingest.watched, now=now, quiet=CALL_QUIET
                )
                await self.ingest.save_call(session, row, row.session_id, state, now)
                row.open = False  # judged as it stands; a late event reopens it
                for notice in notices:
                    await self.ingest.add_posts(session, f"expired:{row.session_id}", notice, now)
        return len(rows)

"""RingCentral events over the WebSocket (DESIGN §3.11): no inbound connection at all.

One process holds the connection: the one holding the subscription's leader lock
(`Leadership`, the same lock as webhook upkeep; the others ask again every `LEAD_RETRY`
seconds, so one takes over within about that when the holder dies). The holder:

- connects (a `wstoken` each time, paced in the Auth group by the client) with the `wsc`
  token kept in the database, so the session of a previous holder, or of its own dropped
  connection, is recovered and its buffered events replayed. A fresh session (no `wsc`, or
  recovery refused) gets ONE subscription request with the webhook's filters;
- stores every notification in the inbox exactly as the webhook receiver does (the same
  `Inbox`: deduplicated on `uuid`, and on its content key, since overlapping connections
  deliver one event under two uuids), an unreadable message as a dead letter; the
  dispatcher is woken as for a webhook;
- opens a new connection shortly before the announced `absoluteTimeout` and closes the old
  one once the new one is subscribed (no gap: the overlap is deduplicated); should that
  fail, the gateway's WSG-903 is followed by a recovery with `wsc`;
- after every reconnect asks for a catch-up pass (an ISync is cheap); with `gap=True` when
  events may have been lost: recovery refused (a new subscription), or a recovered session
  whose replay skipped sequences or filled the whole `recoveryBufferSize`;
- reconnects with backoff, honouring a 429's Retry-After;
- tells the database how the connection is (`WsSessionStore.touch`, every
  `TOUCH_INTERVAL`), which every process's /healthz reads.

The catch-up itself is given by the composition root (`CatchUp`): this module only says
when one is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp

from bot.clock import Clock, pause
from bot.observe import Metrics
from bot.ringcentral import RateLimited, RingCentralClient, RingCentralError
from bot.ringcentral.models.subscriptions import SubscriptionInfo
from bot.ringcentral.ws import (
    Notification,
    WsClosed,
    WsConnection,
    request_ws_token,
)
from bot.store.ws_sessions import WsSessionRecord, WsSessionStore

from ._batch import NotStored
from .content_keys import content_key
from .inbox import Inbox
from .subscriptions import Leadership

__all__ = ["LEAD_RETRY", "TOUCH_INTERVAL", "CatchUp", "ListenerStats", "WebSocketListener"]

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"

log = logging.getLogger("bot.bridge.listener")

CatchUp = Callable[[bool], Awaitable[object]]
"""A catch-up pass (DESIGN §3.10); its argument is True when events may have been lost."""

LEAD_RETRY = 10.0  # seconds between a follower's attempts to take the connection over
TOUCH_INTERVAL = 10.0  # seconds between the holder's word to the database (and lead checks)
HANDOVER_MARGIN = 60.0  # seconds before the absolute timeout to open the next connection
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0  # reconnect waits: the recovery window is 180 s
RETRY_AFTER_MAX = 120.0  # a Retry-After longer than this is waited in steps
STORE_RETRY_MAX = 5.0  # seconds between attempts to store a notification (database down)

How = Literal["new", "recovered", "failed_recovery", "handover"]


@dataclass
class ListenerStats:
    """What this process's listener did (tests read it; /metrics has the same counts)."""

    connections: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    catch_ups: list[bool] = field(default_factory=list)  # each pass asked: its `gap`


class WebSocketListener:
    def __init__(
        self,
        *,
        rc: RingCentralClient,
        session: aiohttp.ClientSession,
        inbox: Inbox,
        store: WsSessionStore,
        leadership: Leadership,
        filters: Sequence[str],
        clock: Clock,
        metrics: Metrics,
        catch_up: CatchUp | None = None,
        remove_webhooks: Callable[[], Awaitable[object]] | None = None,
        on_stored: Callable[[], None] = lambda: None,
        heartbeats: bool = True,
        on_subscribed: Callable[[SubscriptionInfo], Awaitable[None]] | None = None,
    ) -> None:
        self._rc = rc
        self._session = session
        self._inbox = inbox
        self._store = store
        self._leadership = leadership
        self._filters = list(dict.fromkeys(filters))
        self._clock = clock
        self._metrics = metrics
        self.catch_up = catch_up  # settable: the composition root may wire it later
        self._remove_webhooks = remove_webhooks
        # Told of each subscription made (its disabledFilters go to the admin channel).
        self._on_subscribed = on_subscribed
        self._webhooks_removed = remove_webhooks is None
        self.on_stored = on_stored
        self.heartbeats = heartbeats  # off only to test the idle timeout
        self.stats = ListenerStats()
        self.state = "standby"  # standby, connecting, connected, down, closed
        self._catch_up_task: asyncio.Task[None] | None = None
        self._catch_up_wanted: bool | None = None  # None: no pass wanted; else its gap
        # After a recovery: (last sequence seen before, the session's sequence when it came
        # back, the buffer's size, notifications replayed so far).
        self._replay: tuple[int | None, int | None, int, int] | None = None

    def __repr__(self) -> str:
        return f"WebSocketListener(state={self.state!r}, filters={len(self._filters)})"

    @property
    def filters(self) -> list[str]:
        return list(self._filters)

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the connection while this process leads, until `stop`."""
        try:
            while not stop.is_set():
                if not await self._leadership.check():
                    self.state = "standby"
                    await self._pause(stop, self._leadership.retry)
                    continue
                try:
                    await self._lead(stop)
                except Exception:
                    log.exception("the WebSocket listener crashed; starting again")
                    await self._pause(stop, BACKOFF_MAX)
        finally:
            if self._catch_up_task is not None:
                self._catch_up_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._catch_up_task
            if self._leadership.leading and self.state != "standby":
                self.state = "closed"
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._touch("closed"))
            await asyncio.shield(self._leadership.release())

    # -- holding the connection ------------------------------------------------------------

    async def _lead(self, stop: asyncio.Event) -> None:
        """Connect, hold, reconnect, while leading and until `stop`."""
        failures = 0
        while not stop.is_set():
            self.state = "connecting"
            await self._touch("connecting")
            try:
                conn, how = await self._connect()
            except RateLimited as exc:
                # A little past Retry-After (whole seconds): a request inside the penalty
                # would restart it (reference §5, the "429 trap").
                wait = min(max(exc.retry_after, BACKOFF_FIRST), RETRY_AFTER_MAX)
                wait += random.uniform(0.5, 1.5)
                await self._failed(f"rate limited ({exc.group}), retrying in {wait:.0f} s")
                if not await self._pause(stop, wait):
                    return
                continue
            except RingCentralError as exc:
                failures += 1
                wait = _backoff(failures)
                await self._failed(f"{exc}; retrying in {wait:.1f} s")
                if not await self._pause(stop, wait):
                    return
                continue
            self._connected(how)
            await self._after_connect()
            started = self._clock.monotonic()
            ended = await self._hold(conn, stop)
            if ended in ("stop", "lost"):
                return
            if self._clock.monotonic() - started > 2 * BACKOFF_MAX:
                failures = 0
            failures += 1
            # The first attempt at once (the recovery window is short); then backoff.
            if failures > 1 and not await self._pause(stop, _backoff(failures - 1)):
                return

    async def _connect(self, *, fresh: bool = False) -> tuple[WsConnection, How]:
        record = None if fresh else await self._store.load()
        wsc = record.wsc_token if record is not None else None
        token = await request_ws_token(self._rc)
        conn = await WsConnection.open(
            self._session, token, clock=self._clock, wsc=wsc, heartbeats=self.heartbeats
        )
        try:
            if conn.recovered:
                assert record is not None and conn.wsc is not None
                self._expect_replay(conn, record)
                conn.subscription_id = record.subscription_id
                await self._store.save_session(
                    conn.wsc.token, record.sequence, record.subscription_id, self._now()
                )
                return conn, "recovered"
            subscription = await conn.subscribe(self._filters)
            for disabled in subscription.disabled_filters:
                log.warning(
                    "RingCentral does not deliver %s: %s",
                    disabled.filter,
                    " ".join(filter(None, (disabled.reason, disabled.message))),
                )
            if self._on_subscribed is not None:
                try:
                    await self._on_subscribed(subscription)
                except Exception:  # telling the admin must not cost the connection
                    log.exception("could not report the WebSocket subscription's filters")
            assert conn.wsc is not None  # ConnectionDetails always carries it
            await self._store.save_session(
                conn.wsc.token, conn.wsc.sequence, subscription.id, self._now()
            )
        except BaseException:
            await conn.close()
            raise
        self._replay = None
        if fresh:
            return conn, "handover"
        return conn, "failed_recovery" if wsc else "new"

    def _connected(self, how: How) -> None:
        self.state = "connected"
        self.stats.connections[how] += 1
        self._metrics.ws_connection(how)
        log.info("RingCentral WebSocket connected (%s)", how.replace("_", " "))
        if how == "recovered" or how == "handover":
            self._want_catch_up(gap=False)
        elif how == "failed_recovery":
            log.warning("the WebSocket session could not be recovered: events may be missing")
            self._want_catch_up(gap=True)

    async def _after_connect(self) -> None:
        if self._webhooks_removed or self._remove_webhooks is None:
            return
        try:
            await self._remove_webhooks()
            self._webhooks_removed = True
        except RingCentralError as exc:
            log.warning("leftover webhook subscription not removed yet: %s", exc)

    async def _hold(self, conn: WsConnection, stop: asyncio.Event) -> str:
        """Receive until the connection ends ("closed" or the gateway's reason), `stop`
        ("stop"), or the lead is lost ("lost"); hand over before the absolute timeout."""
        stopped = asyncio.ensure_future(stop.wait())
        watch = asyncio.ensure_future(self._watch(conn))
        pump = asyncio.ensure_future(self._pump(conn))
        handover: asyncio.Future[WsConnection | None]
        handover = asyncio.ensure_future(self._handover(conn))
        try:
            while True:
                waiting: set[asyncio.Future[Any]] = {stopped, watch, pump, handover}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopped in done:
                    return "stop"
                if watch in done:
                    watch.result()  # raises what went wrong
                    log.warning("lost the lead: closing the RingCentral WebSocket")
                    return "lost"
                if handover in done:
                    new = handover.result()
                    if new is None:  # failed: WSG-903 comes, and the session is recovered
                        handover = asyncio.get_running_loop().create_future()  # never done
                        continue
                    old, old_pump = conn, pump
                    conn, pump = new, asyncio.ensure_future(self._pump(new))
                    watch.cancel()
                    watch = asyncio.ensure_future(self._watch(conn))
                    # Both deliver meanwhile (content keys dedupe it); the old one's last
                    # events arrive before the answer to its unsubscription.
                    await self._retire(old, old_pump)
                    self._connected("handover")
                    handover = asyncio.ensure_future(self._handover(conn))
                    continue
                if pump in done:
                    exc = pump.exception()
                    if not isinstance(exc, WsClosed):
                        pump.result()  # raises it
                        return "closed"
                    self.stats.closes[exc.error_code] += 1
                    self._metrics.ws_close(exc.error_code)
                    level = logging.INFO if exc.error_code == "WSG-903" else logging.WARNING
                    log.log(level, "%s; reconnecting", exc)
                    return exc.error_code
        finally:
            for task in (stopped, watch, pump, handover):
                task.cancel()
            await conn.close()
            await asyncio.gather(stopped, watch, pump, handover, return_exceptions=True)
            spare = handover.result() if handover.done() and not handover.cancelled() else None
            if isinstance(spare, WsConnection):  # made as the old one ended: not used
                await spare.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._touch(self.state, sequence=conn.last_sequence))

    async def _pump(self, conn: WsConnection) -> None:
        """Store what arrives; raises WsClosed when the connection ends."""
        while True:
            item = await conn.receive()
            if isinstance(item, Notification):
                outcome = await self._keep(item.envelope, content_key(item.envelope))
                self._replayed(conn, item)
            else:
                log.error("unreadable WebSocket message kept as a dead letter: %s", item.problem)
                outcome = await self._keep(item.raw, None)
            self.stats.events[outcome] += 1
            self._metrics.ws_event(outcome)
            if outcome == "stored":
                self.on_stored()

    async def _keep(self, body: bytes, key: str | None) -> str:
        """Store it, trying again while the database fails: nothing else holds it."""
        delay = 0.25
        while True:
            try:
                return await self._inbox.store(body, content_key=key)
            except NotStored:
                log.error("cannot store a WebSocket notification; trying again in %.1f s", delay)
                await self._clock.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX)

    async def _watch(self, conn: WsConnection) -> None:
        """Returns when the lead is lost; meanwhile tells the database all is well."""
        while True:
            await self._clock.sleep(TOUCH_INTERVAL)
            if not await self._leadership.check():
                return
            await self._touch("connected", sequence=conn.last_sequence)

    async def _retire(self, old: WsConnection, pump: asyncio.Future[None]) -> None:
        """End the old connection without losing what it alone still carries: unsubscribe
        it (its pump stores every event sent before the answer), then close it. Had that
        failed, events may be missing: a catch-up covers them."""
        try:
            if old.subscription_id is None:
                raise WsClosed("closed", "its subscription is unknown")
            await old.request("DELETE", f"{SUBSCRIPTION_PATH}/{old.subscription_id}")
        except RingCentralError as exc:
            log.warning("the old WebSocket ended before its handover finished: %s", exc)
            self._want_catch_up(gap=True)
        await old.close()
        await _finish(pump)

    async def _handover(self, conn: WsConnection) -> WsConnection | None:
        """A new connection (a new session, subscribed) just before the absolute timeout."""
        lifetime = conn.details.absolute_timeout
        margin = min(HANDOVER_MARGIN, lifetime / 4)
        await self._clock.sleep_until(conn.opened_at + lifetime - margin)
        try:
            new, _ = await self._connect(fresh=True)
        except Exception as exc:  # RingCentral's refusal, or the database's (not saved)
            why = exc if isinstance(exc, RingCentralError) else type(exc).__name__
            log.warning("no new WebSocket before the absolute timeout (%s): recovering after", why)
            return None
        return new

    # -- replay and catch-up -----------------------------------------------------------------

    def _expect_replay(self, conn: WsConnection, record: WsSessionRecord) -> None:
        end = conn.wsc.sequence if conn.wsc is not None else None
        self._replay = (record.sequence, end, conn.details.recovery_buffer_size, 0)

    def _replayed(self, conn: WsConnection, item: Notification) -> None:
        """After a recovery: did the replay skip events (RingCentral drops the oldest of a
        full buffer without a word)?"""
        replay = self._replay
        if replay is None or item.sequence is None:
            return
        seen, end, size, count = replay
        if end is not None and item.sequence > end:  # live events again: the replay is over
            self._replay = None
            return
        skipped = count == 0 and seen is not None and item.sequence > seen + 1
        count += 1
        if skipped or (size and count >= size):
            log.warning("the recovered WebSocket session lost events: catching up")
            self._replay = None
            self._want_catch_up(gap=True)
            return
        self._replay = (seen, end, size, count)

    def _want_catch_up(self, *, gap: bool) -> None:
        self.stats.catch_ups.append(gap)
        if self.catch_up is None:
            if gap:
                log.warning("events may be missing and no catch-up is available here")
            return
        self._catch_up_wanted = gap or bool(self._catch_up_wanted)
        if self._catch_up_task is None or self._catch_up_task.done():
            self._catch_up_task = asyncio.create_task(self._catch_ups(), name="ws-catch-up")

    async def _catch_ups(self) -> None:
        """One pass at a time; a pass asked for meanwhile runs after (gap if any asked)."""
        assert self.catch_up is not None
        while self._catch_up_wanted is not None:
            gap, self._catch_up_wanted = self._catch_up_wanted, None
            try:
                await self.catch_up(gap)
            except Exception:
                log.exception("catch-up after a WebSocket reconnect failed")

    # -- small things ------------------------------------------------------------------------

    async def _failed(self, why: str) -> None:
        self.state = "down"
        log.warning("RingCentral WebSocket: %s", why)
        await self._touch("down")

    async def _touch(self, state: str, *, sequence: int | None = None) -> None:
        try:
            await self._store.touch(state, self._now(), sequence=sequence)
        except Exception as exc:  # health is best effort: the database may be what failed
            log.warning("cannot record the WebSocket's state: %s", type(exc).__name__)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> bool:
        """Sleep `seconds` of the clock; False when `stop` came first."""
        return await pause(self._clock, stop, seconds)


def _backoff(failures: int) -> float:
    """Full jitter over 1, 2, 4 … 30 s (many processes never retry in step)."""
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))
    return random.uniform(ceiling / 2, ceiling)


async def _finish(task: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, WsClosed, RingCentralError):
        await task

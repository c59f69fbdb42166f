"""Time as an injected dependency.

Everything that waits, expires or renews takes a `Clock`, so tests move time forward
instead of sleeping: `FakeClock.sleep()` returns at once after advancing the clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall time, for expiries shown to people and APIs)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until `monotonic()` reaches `deadline` (waiters on one deadline wake together)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class RealTimers(SystemClock):
    """`clock`'s time of day, with real intervals and sleeps.

    For what keeps time with a peer that keeps real time (RingCentral's WebSocket gateway:
    heartbeats, the handover before its absolute timeout) in a process whose clock may be
    a FakeClock (tests): what it records (`now()`, the holder's word in `ws_sessions`)
    stays in the process's time, comparable with what the rest reads and writes. Over a
    SystemClock it is a SystemClock.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    `sleep_until(d)` advances the clock to `d` if it is not there yet and yields to the
    event loop once, so a sleeper never wakes early, waiters on the same deadline wake
    together, and time never goes back. Wall time and monotonic time move together.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._start = start

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.monotonic() + seconds)

    async def sleep_until(self, deadline: float) -> None:
        self._now = max(self._now, self._start + deadline)
        await asyncio.sleep(0)


async def pause(clock: Clock, stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` of `clock`, or less when `stop` is set first; False when it was.
    Both waits are ended before returning, so no task outlives the pause."""
    stopped = asyncio.ensure_future(stop.wait())
    slept = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({stopped, slept}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stopped, slept):
            task.cancel()
        await asyncio.gather(stopped, slept, return_exceptions=True)
    return not stop.is_set()

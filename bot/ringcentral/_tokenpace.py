"""RingCentral's token endpoint is one per app (DESIGN §3.9, RELIABILITY R27).

Token grants, revocations and WebSocket tokens (`/restapi/oauth/token`, `/revoke`,
`/wstoken`) count in RingCentral's Auth group: about 5 a minute, for the application
whatever the identity asking. So every identity and every process of one app — the
service user, each connected person, a CLI run — takes its turn in one window of the
app's recent token requests (`TokenRequestLog`: `MemoryTokenRequestLog` for one process,
the database's `token_requests` for all of them, `bot.store.DatabaseTokenRequestLog`).

One slot a minute is kept for the service user, whose session every shared feature
depends on: another identity goes only while the window holds fewer than `limit - 1`
requests, the service user while it holds fewer than `limit`. A request is counted from
when it was let go; RingCentral counts it when it arrives, so the window is a little
longer than RingCentral's (`MARGIN`). Waiting happens outside any database transaction
(the log's `take` is one short transaction), on the injected clock; a wait longer than
`max_wait` is refused without sending (RateLimited, `sent=False`), as the rate limiter's.
RingCentral raises an app's limits on request and says so on every answer
(`X-Rate-Limit-Limit`, `-Window`): with `learn`, the pacer follows what it says.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

from ..clock import Clock
from ._errors import RateLimited
from ._ratelimit import AUTH, MAX_WAIT

__all__ = [
    "LIMIT",
    "MARGIN",
    "WINDOW",
    "MemoryTokenRequestLog",
    "TokenPacer",
    "TokenRequestLog",
]

log = logging.getLogger("bot.ringcentral.tokenpace")

LIMIT = 5  # RingCentral's Auth group: 5 requests a minute (reference §5)
WINDOW = 60.0
MARGIN = 2.0  # seconds between letting a request go and RingCentral counting it, at most
RESERVED = 1  # slots of each window only the service user may take
_NUDGE = 0.001  # past the instant a request leaves the window (stored times are rounded)


class TokenRequestLog(Protocol):
    """The app's recent token requests, shared by whoever shares the log."""

    async def take(
        self, app: str, identity: str, *, now: float, window: float, limit: int
    ) -> float | None:
        """Record a request of `identity` at `now` if the app's window ending `now` holds
        fewer than `limit` requests, and answer None; otherwise record nothing and answer
        when (wall-clock seconds) the window will have room."""


class MemoryTokenRequestLog:
    """The window of one process (its clients share it when they share the log)."""

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}

    async def take(
        self, app: str, identity: str, *, now: float, window: float, limit: int
    ) -> float | None:
        del identity
        times = self._times.setdefault(app, deque())
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) < limit:
            times.append(now)
            return None
        return times[len(times) - limit] + window


class TokenPacer:
    """Lets one identity's token requests go in the app's window; see the module
    docstring. `service` marks the service user (it may take the reserved slot)."""

    def __init__(
        self,
        requests: TokenRequestLog,
        clock: Clock,
        *,
        app: str,
        service: bool,
        limit: int = LIMIT,
        window: float = WINDOW + MARGIN,
        max_wait: float = MAX_WAIT,
        learn: bool = True,
    ) -> None:
        self._requests = requests
        self._clock = clock
        self.app = app
        self.service = service
        self.limit = limit
        self.window = window
        self.max_wait = max_wait
        self._learn = learn

    def __repr__(self) -> str:
        return f"TokenPacer(app={self.app!r}, service={self.service!r})"

    def learn(self, limit: int, window: float) -> None:
        """What RingCentral said of the Auth group's limit and window (seconds)."""
        if self._learn and limit > 0 and window > 0:
            self.limit, self.window = limit, window + MARGIN

    async def acquire(self, identity: str) -> None:
        """Wait for a slot in the app's window; RateLimited when it is too far off."""
        limit = self.limit if self.service else max(1, self.limit - RESERVED)
        started = self._clock.monotonic()
        while True:
            now = self._clock.now()
            room_at = await self._requests.take(
                self.app, identity, now=now, window=self.window, limit=limit
            )
            if room_at is None:
                return
            wait = max(0.0, room_at - now) + _NUDGE
            if self._clock.monotonic() + wait - started > self.max_wait:
                log.info("token request refused without sending: wait=%.1f s", wait)
                raise RateLimited(wait, AUTH, error_code="CLIENT-PACING", sent=False)
            log.info("token request of %s waits %.1f s for the app's window", identity, wait)
            await self._clock.sleep(wait)

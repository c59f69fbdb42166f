"""Client-side pacing under RingCentral's rate limits (reference/ringcentral.md §5).

RingCentral counts requests per (user, app) per throttling group in a sliding 60 s window:
Light 50, Medium 40, Heavy 10, Auth 5 a minute by default, and SMS sends are also capped
at 40 a minute. A 429 starts a penalty (`Retry-After`, else "at least 30 s") and every
request sent during the penalty restarts it, so the limiter:

- paces each group (and the SMS sub-bucket) with a local sliding window: a request that
  would exceed it reserves the first free slot and sleeps until then (`clock.sleep_until`);
- counts a request in its window from when its answer came, not from its reserved slot:
  RingCentral counts it when it arrives, which may be later (a burst queues for the
  connection pool), and a window measured from the earlier slot lets the request that
  opens the next window arrive less than a window after it — a 429 and a penalty. A
  request that slept for its slot looks at the window again before it is sent;
- learns each endpoint's real group from `X-Rate-Limit-Group`, and the group's limit and
  window from `X-Rate-Limit-Limit` / `-Window` (RingCentral raises limits on request);
- after a 429 sends nothing to that group until the penalty ends, and keeps the penalty in
  a `PenaltyStore` so that a database-backed store can share it between processes; the
  store is read again at most every `penalty_refresh` seconds per group (1 s for a shared
  store), and always right before sending while a penalty is known (active, or ended
  within the last window: another process may have drawn a new one), so a penalty another
  process met is honoured without a database read per request;
- refuses (RateLimited, `sent=False`) instead of waiting when the wait exceeds `max_wait`,
  or any wait at all for a request started inside `without_waiting()` (a nice-to-have
  request, such as a caller-name lookup: deciding by `wait_time()` first would race with
  concurrent callers taking the last free slots meanwhile).

The sliding windows are per process; only penalties are meant to be shared.
"""

from __future__ import annotations

import contextlib
import logging
import re
from bisect import insort
from collections import deque
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from ..clock import Clock
from ._errors import RateLimited

__all__ = [
    "DEFAULT_LIMITS",
    "GroupStatus",
    "MemoryPenaltyStore",
    "PenaltyStore",
    "RateLimiter",
    "group_of",
]

log = logging.getLogger("bot.ringcentral.ratelimit")

LIGHT, MEDIUM, HEAVY, AUTH, SMS = "Light", "Medium", "Heavy", "Auth", "SMS"
DEFAULT_LIMITS: Mapping[str, int] = {LIGHT: 50, MEDIUM: 40, HEAVY: 10, AUTH: 5, SMS: 40}
WINDOW = 60.0  # RingCentral: limits are "per minute", sliding window
PENALTY_WITHOUT_RETRY_AFTER = 30.0  # RingCentral: "if absent, retry after at least 30 s"
PENALTY_REFRESH = 1.0  # seconds between reads of a shared penalty store, per group
# Longest wait for a slot before refusing: a burst of 100 SMS at 40 a minute (DESIGN §6)
# needs the third window, 120 s plus the answers' time, so 120 s would refuse its tail.
MAX_WAIT = 180.0

# Set inside `without_waiting()`: its requests are sent only if their slot is free now.
_NO_WAIT: ContextVar[bool] = ContextVar("ringcentral_no_wait", default=False)

_EXT = r"/restapi/v1\.0/account/[^/]+/extension/[^/]+"
_ACC = r"/restapi/v1\.0/account/[^/]+"
_ANY = "*"
# (methods, path regex, group), first match wins; groups from SPEC `x-throttling-group`.
_TABLE: list[tuple[str, re.Pattern[str], str]] = [
    (_ANY, re.compile(r"/restapi/oauth/(token|authorize|revoke|wstoken)"), AUTH),
    ("POST", re.compile(r"/restapi/v1\.0/subscription/?"), MEDIUM),
    ("GET", re.compile(r"/restapi/v1\.0/subscription/?"), LIGHT),
    ("GET", re.compile(r"/restapi/v1\.0/subscription/[^/]+"), LIGHT),
    ("PUT DELETE", re.compile(r"/restapi/v1\.0/subscription/[^/]+"), MEDIUM),
    ("POST", re.compile(r"/restapi/v1\.0/subscription/[^/]+/renew"), LIGHT),
    ("POST", re.compile(_EXT + r"/(sms|mms|company-pager)"), MEDIUM),
    ("GET", re.compile(_EXT + r"/phone-number"), LIGHT),
    ("POST", re.compile(_EXT + r"/ring-out"), HEAVY),
    ("GET", re.compile(_EXT + r"/ring-out/[^/]+"), LIGHT),
    ("DELETE", re.compile(_EXT + r"/ring-out/[^/]+"), HEAVY),
    (_ANY, re.compile(_ACC + r"(/extension/[^/]+)?/call-log(-sync)?(/[^/]+)?"), HEAVY),
    ("GET", re.compile(_EXT + r"/message-store(/[^/]+)?"), LIGHT),
    ("GET", re.compile(_EXT + r"/message-store/[^/]+/content/[^/]+"), MEDIUM),
    ("GET", re.compile(_EXT), LIGHT),
    ("POST", re.compile(_ACC + r"/directory/entries/search"), HEAVY),
    ("GET", re.compile(_ACC + r"/directory/entries(/[^/]+)?"), MEDIUM),
    (_ANY, re.compile(_EXT + r"/address-book/contact(/[^/]+)?"), HEAVY),
]
_SMS_SEND = re.compile(_EXT + r"/(sms|mms)")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_ID_SEGMENT = re.compile(r"[^/]*[0-9~][^/]*")


def group_of(method: str, path: str) -> str:
    """The documented throttling group of an endpoint; unknown: Medium for writes, Light
    for reads (the cautious guess for what RingCentral does not list)."""
    method = method.upper()
    for methods, pattern, group in _TABLE:
        if (methods == _ANY or method in methods.split()) and pattern.fullmatch(path):
            return group
    return LIGHT if method in _READS else MEDIUM


def _canonical(group: str) -> str:
    # The header says `light`; group names "may change" (reference §5), so keep unknown ones.
    for known in (LIGHT, MEDIUM, HEAVY, AUTH):
        if group.lower() == known.lower():
            return known
    return group


class PenaltyStore(Protocol):
    """Where penalties live: per (identity, group), as the wall-clock time they end.

    `MemoryPenaltyStore` serves one process; a database-backed store shares penalties
    between processes (DESIGN §3.7: "nothing is sent to that group, by any process").
    """

    async def load(self, identity: str, group: str) -> float | None: ...

    async def save(self, identity: str, group: str, until: float) -> None: ...


class MemoryPenaltyStore:
    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}

    async def load(self, identity: str, group: str) -> float | None:
        return self._until.get((identity, group))

    async def save(self, identity: str, group: str, until: float) -> None:
        self._until[(identity, group)] = until


@dataclass
class GroupStatus:
    """What RingCentral last said about a group (X-Rate-Limit-*) and our local state."""

    limit: int
    window: float = WINDOW
    remaining: int | None = None  # from the last response's X-Rate-Limit-Remaining
    penalty_until: float = 0.0  # wall clock
    # Monotonic times of the requests in the window, sorted: the answer's time once it
    # came, until then the slot reserved (`pending` holds those, sorted).
    sent: deque[float] = field(default_factory=deque)
    pending: deque[float] = field(default_factory=deque)

    def reserve(self, slot: float) -> None:
        insort(self.sent, slot)
        insort(self.pending, slot)

    def unreserve(self, slot: float) -> None:
        for times in (self.sent, self.pending):
            with contextlib.suppress(ValueError):
                times.remove(slot)

    def answered(self, now: float) -> None:
        """A request of this bucket was answered at `now`: count it from now (the oldest
        reservation stands for it: the times are interchangeable counts)."""
        if not self.pending or self.pending[0] > now:
            return
        self.unreserve(self.pending[0])
        insort(self.sent, now)

    def in_window(self, now: float) -> int:
        """Requests counted in the window ending at `now` (not those reserved for later)."""
        sent = self.sent
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        while self.pending and self.pending[0] <= now - self.window:
            self.pending.popleft()
        later = 0
        for slot in reversed(sent):
            if slot <= now:
                break
            later += 1
        return len(sent) - later

    def room_at(self, now: float) -> float:
        """When the window holds at most `limit` of the requests counted by `now` (a
        reservation due by then included): `now` if it already does."""
        count = self.in_window(now)
        if self.limit <= 0 or count <= self.limit:
            return now
        return self.sent[count - self.limit - 1] + self.window


@contextlib.contextmanager
def without_waiting() -> Iterator[None]:
    """RingCentral requests started inside are sent only when their slot is free now:
    otherwise RateLimited (`sent=False`, nothing reserved) at once, instead of a wait."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


class RateLimiter:
    """Per-identity, per-group pacing and 429 penalties; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        *,
        limits: Mapping[str, int] | None = None,
        max_wait: float = MAX_WAIT,
        penalty_store: PenaltyStore | None = None,
        learn_limits: bool = True,
        penalty_refresh: float | None = None,
    ) -> None:
        self._clock = clock
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.max_wait = max_wait
        self._store: PenaltyStore = penalty_store or MemoryPenaltyStore()
        if penalty_refresh is None:  # a process's own memory costs nothing to read
            shared = not isinstance(self._store, MemoryPenaltyStore)
            penalty_refresh = PENALTY_REFRESH if shared else 0.0
        self.penalty_refresh = penalty_refresh
        self._penalty_read: dict[tuple[str, str], float] = {}  # monotonic time of last read
        self._learn_limits = learn_limits
        self._state: dict[tuple[str, str], GroupStatus] = {}
        self._learned: dict[tuple[str, str], str] = {}  # (method, path shape) -> group

    def __repr__(self) -> str:
        return f"RateLimiter(limits={self._limits!r}, max_wait={self.max_wait!r})"

    # -- classification ------------------------------------------------------------------

    def group(self, method: str, path: str) -> str:
        learned = self._learned.get(self._shape(method, path))
        return learned or group_of(method, path)

    def _buckets(self, method: str, path: str) -> tuple[str, ...]:
        group = self.group(method, path)
        if method.upper() == "POST" and _SMS_SEND.fullmatch(path):
            return (group, SMS)
        return (group,)

    @staticmethod
    def _shape(method: str, path: str) -> tuple[str, str]:
        return method.upper(), _ID_SEGMENT.sub("*", path)

    def status(self, group: str, *, identity: str = "default") -> GroupStatus:
        key = (identity, group)
        if key not in self._state:
            limit = self._limits.get(group, self._limits[HEAVY])  # unknown group: cautious
            self._state[key] = GroupStatus(limit=limit)
        return self._state[key]

    # -- waiting -------------------------------------------------------------------------

    def wait_time(self, method: str, path: str, *, identity: str = "default") -> float:
        """Seconds a request sent now would wait (pacing and any known penalty), so a
        command can tell its user "queued, sending in N s"."""
        now = self._clock.monotonic()
        return max(0.0, self._slot(self._buckets(method, path), identity, now) - now)

    def _slot(self, buckets: tuple[str, ...], identity: str, now: float) -> float:
        slot = now
        wall = self._clock.now()
        for name in buckets:
            state = self.status(name, identity=identity)
            state.in_window(now)  # drops what has left the window
            if len(state.sent) >= state.limit > 0:
                slot = max(slot, state.sent[-state.limit] + state.window)
            if state.sent:
                slot = max(slot, state.sent[-1])  # first come, first served
            slot = max(slot, now + state.penalty_until - wall)
        return slot

    async def acquire(self, method: str, path: str, *, identity: str = "default") -> str:
        """Wait for this request's turn; return its group. Raises RateLimited(sent=False)
        when the wait would exceed `max_wait`."""
        buckets = self._buckets(method, path)
        group = buckets[0]
        start = self._clock.monotonic()
        while True:
            await self._sync_penalty(identity, group)
            # No await between computing the slot and reserving it: concurrent callers
            # each get their own slot.
            now = self._clock.monotonic()
            slot = self._slot(buckets, identity, now)
            if slot - start > self.max_wait or (slot > now and _NO_WAIT.get()):
                log.info("refused without sending: group=%s wait=%.1f s", group, slot - now)
                raise RateLimited(slot - now, group, error_code="CLIENT-PACING", sent=False)
            penalised = self.status(group, identity=identity).penalty_until > self._clock.now()
            if not penalised:
                for name in buckets:
                    self.status(name, identity=identity).reserve(slot)
            if slot > now:
                log.debug("waiting %.1f s for group=%s", slot - now, group)
                await self._clock.sleep_until(slot)
                if not penalised:
                    await self._window_room(buckets, identity, slot, start)
            if not penalised:
                # A 429 that arrived while we slept restarts the wait (a request sent
                # during a penalty restarts it); here, another process's as well.
                await self._sync_penalty(identity, group, before_send=True)
                if self.status(group, identity=identity).penalty_until <= self._clock.now():
                    return group

    async def _window_room(
        self, buckets: tuple[str, ...], identity: str, slot: float, start: float
    ) -> None:
        """After sleeping until `slot` (reserved): answers that came after their own slots
        count later than was known when `slot` was chosen, so wait (moving the
        reservation) until the window ending then has room for this request."""
        while True:
            now = max(slot, self._clock.monotonic())
            room_at = max(self.status(name, identity=identity).room_at(now) for name in buckets)
            if room_at <= now:
                return
            for name in buckets:
                state = self.status(name, identity=identity)
                state.unreserve(slot)
                state.reserve(room_at)
            slot = room_at
            if slot - start > self.max_wait or _NO_WAIT.get():
                for name in buckets:
                    self.status(name, identity=identity).unreserve(slot)
                log.info("refused without sending: group=%s wait=%.1f s", buckets[0], slot - now)
                raise RateLimited(slot - now, buckets[0], error_code="CLIENT-PACING", sent=False)
            log.debug("waiting %.2f s more for group=%s", slot - now, buckets[0])
            await self._clock.sleep_until(slot)

    async def _sync_penalty(self, identity: str, group: str, *, before_send: bool = False) -> None:
        state = self.status(group, identity=identity)
        key, now = (identity, group), self._clock.monotonic()
        last = self._penalty_read.get(key)
        known = state.penalty_until > 0 and state.penalty_until + state.window > self._clock.now()
        if last is not None and now - last < self.penalty_refresh and not (before_send and known):
            return
        self._penalty_read[key] = now
        until = await self._store.load(identity, group)
        if until is not None and until > state.penalty_until:
            state.penalty_until = until

    # -- learning from responses ---------------------------------------------------------

    async def record(
        self, method: str, path: str, response: httpx.Response, *, identity: str = "default"
    ) -> str:
        """Learn from a response's X-Rate-Limit-* headers; on 429 start the penalty and
        return the group it applies to."""
        self.answered(method, path, identity=identity)
        group = self.group(method, path)
        said = response.headers.get("X-Rate-Limit-Group")
        if said and _canonical(said) != group:
            log.info("endpoint %s %s is in group %s, not %s", method, path, said, group)
            self._learned[self._shape(method, path)] = group = _canonical(said)
            # This request was counted in the wrong bucket: count it where it belongs
            # (in order: the bucket may hold slots reserved for later).
            insort(self.status(group, identity=identity).sent, self._clock.monotonic())
        state = self.status(group, identity=identity)
        self._learn(state, response.headers)
        if response.status_code == 429:
            delay = _retry_after(response.headers.get("Retry-After"))
            until = self._clock.now() + delay
            if until > state.penalty_until:
                state.penalty_until = until
            await self._store.save(identity, group, state.penalty_until)
            log.warning("429 from RingCentral: group=%s penalty=%.0f s", group, delay)
        return group

    def answered(self, method: str, path: str, *, identity: str = "default") -> None:
        """The request ended (an answer, or no answer): count it in its window from now."""
        now = self._clock.monotonic()
        for name in self._buckets(method, path):
            self.status(name, identity=identity).answered(now)

    def _learn(self, state: GroupStatus, headers: httpx.Headers) -> None:
        limit = _int(headers.get("X-Rate-Limit-Limit"))
        window = _int(headers.get("X-Rate-Limit-Window"))
        remaining = _int(headers.get("X-Rate-Limit-Remaining"))
        if self._learn_limits and limit is not None and limit > 0:
            state.limit = limit
        if self._learn_limits and window is not None and window > 0:
            state.window = float(window)
        state.remaining = remaining
        if remaining is None:
            return
        # RingCentral counts requests we did not see (another process with the same user):
        # when it says fewer remain than we think, count phantom requests from now.
        # Once per response, so not a scan of the whole window (up to `limit` slots).
        now = self._clock.monotonic()
        missing = (state.limit - state.in_window(now)) - remaining
        for _ in range(max(0, missing)):
            insort(state.sent, now)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        seconds = None  # an HTTP date or garbage: RingCentral documents seconds
    if seconds is None or seconds != seconds or seconds < 0:  # NaN as well
        return PENALTY_WITHOUT_RETRY_AFTER
    return seconds

"""Rate limits of the simulator (reference/ringcentral.md §5).

Counted per (user, group) in a sliding 60 s window; a 429 starts a 60 s penalty and every
request sent during the penalty restarts it (the "429 trap"). SMS is also capped at 40
requests a minute (SPEC createSMSMessage) and answers MSG-305 instead of CMN-301.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ._rc_http import SimClock, SimResponse, api_error

DEFAULT_LIMITS = {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}
SMS_LIMIT = 40  # SPEC createSMSMessage: "up to 40 requests per minute"
WINDOW = 60.0
PENALTY = 60.0


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0
    penalty: float = PENALTY


@dataclass
class Verdict:
    headers: dict[str, str]
    refusal: SimResponse | None = None


class RateLimiter:
    def __init__(self, clock: SimClock, limits: dict[str, int] | None = None) -> None:
        self._clock = clock
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.sms_limit = SMS_LIMIT
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._forced: dict[str, _Bucket] = {}  # group -> penalty forced on every identity
        self._bare_429s = 0

    def set_limit(self, group: str, limit: int) -> None:
        if group.lower() == "sms":
            self.sms_limit = limit
        else:
            self.limits[group.capitalize()] = limit

    def throttle(self, group: str, retry_after: float = PENALTY) -> None:
        """Start a penalty now for `group`, whoever asks (requests during it restart it)."""
        self._forced[group.capitalize()] = _Bucket(
            penalty_until=self._clock.monotonic() + retry_after, penalty=retry_after
        )

    def fail_next(self, count: int = 1) -> None:
        """The next `count` API requests get a 429 with no Retry-After and no X-Rate-Limit
        headers, as RingCentral's account-level and global limits answer."""
        self._bare_429s += count

    def reset(self) -> None:
        self._buckets.clear()
        self._forced.clear()
        self._bare_429s = 0

    def check(self, owner: str, group: str, *, sms: bool = False) -> Verdict:
        if self._bare_429s > 0:
            self._bare_429s -= 1
            code, msg = (
                ("MSG-305", "Request rate exceeded")
                if sms
                else ("CMN-301", "Request rate exceeded")
            )
            return Verdict({}, api_error(429, code, msg))
        now = self._clock.monotonic()
        limit = self.limits.get(group, DEFAULT_LIMITS["Light"])
        verdict = self._count(self._bucket(owner, group), limit, group, now, sms=False)
        if verdict.refusal is None and sms:
            sms_verdict = self._count(
                self._bucket(owner, "sms"), self.sms_limit, group, now, sms=True
            )
            if sms_verdict.refusal is not None:
                return sms_verdict
        forced = self._forced.get(group)
        if forced is not None and forced.penalty_until > now:
            forced.penalty_until = now + forced.penalty  # the 429 trap
            return self._refuse(verdict.headers, forced.penalty, sms=sms)
        return verdict

    def _bucket(self, owner: str, group: str) -> _Bucket:
        return self._buckets.setdefault((owner, group), _Bucket())

    def _count(self, b: _Bucket, limit: int, group: str, now: float, *, sms: bool) -> Verdict:
        while b.hits and b.hits[0] <= now - WINDOW:
            b.hits.popleft()
        if b.penalty_until > now:
            # RingCentral: "every request during the penalty interval resets the penalty"
            b.penalty_until = now + b.penalty
            return self._refuse(self._headers(group, limit, 0), b.penalty, sms=sms)
        if len(b.hits) >= limit:
            b.penalty_until = now + b.penalty
            return self._refuse(self._headers(group, limit, 0), b.penalty, sms=sms)
        b.hits.append(now)
        return Verdict(self._headers(group, limit, limit - len(b.hits)))

    @staticmethod
    def _headers(group: str, limit: int, remaining: int) -> dict[str, str]:
        # RingCentral sends the group name lowercase, e.g. "x-rate-limit-group: light"
        return {
            "X-Rate-Limit-Group": group.lower(),
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, remaining)),
            "X-Rate-Limit-Window": str(int(WINDOW)),
        }

    @staticmethod
    def _refuse(headers: dict[str, str], retry_after: float, *, sms: bool) -> Verdict:
        hdrs = {**headers, "Retry-After": str(round(retry_after))}
        if sms:
            return Verdict(hdrs, api_error(429, "MSG-305", "Request rate exceeded", headers=hdrs))
        return Verdict(hdrs, api_error(429, "CMN-301", "Request rate exceeded", headers=hdrs))

"""RingCentral token expiry and rate-limit penalties during load (RELIABILITY R6, R8, R19).

Each SMS comes from a number the bridge has not seen, so each makes one RingCentral REST
call (the caller-name lookup, `address-book/contact`, Heavy group): the load keeps the
bridge's RingCentral client busy. Counted from the RingCentral simulator's request log.

- R6: the simulator expires every access token mid-run (the next call answers 401):
  exactly one `POST /restapi/oauth/token` per expiry.
- R8: the simulator puts the Heavy group under a 429 penalty with Retry-After: after the
  429, no request to that group until Retry-After has passed (a request during the penalty
  would restart it); the notifications still go out (names are optional).

Here on SQLite with one process; `test_postgres.py` has the same with several processes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from ._kit import Bridge, Sender, bridge, exactly_once, make_items, until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

TOKEN_PATH = "/restapi/oauth/token"
CLOCK_SLACK = 0.1  # s: the same wall clock on both sides; covers request latency


def token_windows(log: list[dict[str, Any]], expiries: list[float]) -> list[dict[str, int]]:
    """Per expiry (until the next one): token requests, API requests, 401s."""
    bounds = [*expiries, float("inf")]
    windows = []
    for start, end in itertools.pairwise(bounds):
        inside = [r for r in log if start <= r["time"] < end]
        windows.append(
            {
                "token_requests": sum(
                    1 for r in inside if r["method"] == "POST" and r["path"] == TOKEN_PATH
                ),
                "api_requests": sum(1 for r in inside if r["path"] != TOKEN_PATH),
                "answered_401": sum(1 for r in inside if r["status"] == 401),
            }
        )
    return windows


async def _saw_401(b: Bridge, since: float) -> bool:
    return any(r["status"] == 401 and r["time"] >= since for r in await b.sims.rc_request_log())


async def run_expiries(
    b: Bridge, items: list[Any], expiries: int, every: float, rate: float
) -> tuple[list[float], list[dict[str, Any]]]:
    """Deliver `items` at `rate` while the simulator expires the tokens `expiries` times."""
    at: list[float] = []
    async with Sender(b.target) as sender:
        sending = asyncio.create_task(sender.deliver_all(items, rate=rate))
        try:
            for _ in range(expiries):
                await asyncio.sleep(every)
                at.append(time.time())
                await b.sims.rc_expire_tokens()
                # Until a call saw the 401 (bounded): each window then holds one expiry.
                await until("a 401 after the expiry", lambda: _saw_401(b, at[-1]), 60, every=0.2)
            await asyncio.wait_for(sending, timeout=300)
        finally:
            sending.cancel()
    return at, await b.sims.rc_request_log()


async def test_r6_one_token_request_per_expiry(soak: bool, figures: dict[str, Any]) -> None:
    expiries = 10 if soak else 3
    every = 2.5 if soak else 2.0
    rate = 10.0
    n = int(rate * every * (expiries + 1))
    async with bridge(channel_count=10) as b:
        items = make_items(b.target, n, b.channel_ids, offset=400_000)
        at, log = await run_expiries(b, items, expiries, every, rate)
        count, _ = await exactly_once(b.sims, items, 120)
        log = await b.sims.rc_request_log()
        windows = token_windows(log, at)
        leaks = await b.secrets_in_logs()
        figures.update(
            n=n,
            processes=1,
            expiries=expiries,
            token_requests_per_expiry=[w["token_requests"] for w in windows],
            answered_401_per_expiry=[w["answered_401"] for w in windows],
            api_requests_per_expiry=[w["api_requests"] for w in windows],
            lost=len(count.lost(items)),
            doubled=len(count.doubled(items)),
            secrets_in_logs=len(leaks),
        )
        for i, w in enumerate(windows):
            assert w["answered_401"] >= 1, f"expiry {i}: no call saw the 401: {windows}"
            assert w["token_requests"] == 1, f"expiry {i}: {windows}"
        assert not leaks, leaks


def penalty_breaches(
    log: list[dict[str, Any]], group: str, retry_after: float
) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    """The group's requests, and (429 at, next request at) pairs that came too early."""
    seq = sorted((r for r in log if r["group"] == group), key=lambda r: r["time"])
    early = [
        (prev["time"], nxt["time"])
        for prev, nxt in itertools.pairwise(seq)
        if prev["status"] == 429 and nxt["time"] < prev["time"] + retry_after - CLOCK_SLACK
    ]
    return seq, early


async def test_r8_rate_limit_penalty_respected(soak: bool, figures: dict[str, Any]) -> None:
    retry_after = 60 if soak else 10
    group = "Heavy"  # address-book/contact, the caller-name lookup
    rate = 4.0
    duration = retry_after + 15.0
    n = int(rate * duration)
    async with bridge(channel_count=10) as b:
        items = make_items(b.target, n, b.channel_ids, offset=600_000)
        async with Sender(b.target) as sender:
            sending = asyncio.create_task(sender.deliver_all(items, rate=rate))
            try:
                await asyncio.sleep(3.0)
                throttled_at = time.time()
                await b.sims.rc_throttle(group, retry_after)
                await asyncio.wait_for(sending, timeout=duration + 120)
            finally:
                sending.cancel()
        count, _ = await exactly_once(b.sims, items, 120)
        log = await b.sims.rc_request_log()
        seq, early = penalty_breaches(log, group, retry_after)
        refused = [r for r in seq if r["status"] == 429]
        first_429 = refused[0]["time"] if refused else None
        resumed = [r["time"] for r in seq if first_429 and r["time"] > first_429]
        leaks = await b.secrets_in_logs()
        figures.update(
            n=n,
            processes=1,
            group=group,
            retry_after_s=retry_after,
            group_requests=len(seq),
            answered_429=len(refused),
            requests_too_early=len(early),
            first_after_429_s=round(resumed[0] - first_429, 2) if resumed and first_429 else None,
            throttle_to_first_429_s=round(first_429 - throttled_at, 2) if first_429 else None,
            lost=len(count.lost(items)),
            doubled=len(count.doubled(items)),
            secrets_in_logs=len(leaks),
        )
        assert refused, "the throttled group was never asked: the test did not test"
        assert not early, f"requests during the penalty: {early[:10]}"
        assert resumed, "the group was never used again after the penalty"
        assert not leaks, leaks

"""Slack rate limits and outages during load, SQLite, one process (RELIABILITY R5, R19).

Slack answers every chat.postMessage 429 with Retry-After for a window, then 5xx in
bursts; afterwards it recovers. Pass: 0 lost, 0 duplicated; no chat.postMessage to a
channel before the Retry-After it was given has expired; about one post a second per
channel at most; the backlog drains after recovery (bounded). All times come from the Slack
simulator's call log (its wall clock). CI: seconds-long windows; full (`--soak`): the
RELIABILITY windows (10 min of 429 with Retry-After 30, then 5 min of 5xx bursts).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from typing import Any

import pytest

from ._kit import Sender, bridge, exactly_once, make_items

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

CLOCK_SLACK = 0.1  # s: both sides read the same wall clock; this covers request latency


async def test_r5_slack_429_then_5xx_bursts(soak: bool, figures: dict[str, Any]) -> None:
    n = 500 if soak else 60
    channel_count = 20 if soak else 6
    retry_after = 30 if soak else 2
    window_429 = 600.0 if soak else 6.0
    window_5xx = 300.0 if soak else 4.0
    burst, gap = (20.0, 10.0) if soak else (1.0, 1.0)
    drain_within = 120.0 if soak else 90.0
    async with bridge(channel_count=channel_count) as b:
        items = make_items(b.target, n, b.channel_ids, offset=300_000)
        async with Sender(b.target) as sender:
            started = time.time()
            await b.sims.slack_fail(
                "chat.postMessage", status=429, retry_after=retry_after, times=None
            )
            await sender.deliver_all(items, rate=max(10.0, n / window_429))
            await asyncio.sleep(max(0.0, started + window_429 - time.time()))
            await b.sims.slack_clear_faults()
            bursts = 0
            end_5xx = time.time() + window_5xx
            while time.time() < end_5xx:
                status = 503 if bursts % 2 == 0 else 500
                await b.sims.slack_fail("chat.postMessage", status=status, times=None)
                await asyncio.sleep(burst)
                await b.sims.slack_clear_faults()
                bursts += 1
                await asyncio.sleep(gap)
            recovered = time.time()
            assert await b.healthy() == 200
            count, drained = await exactly_once(b.sims, items, drain_within)
            calls = await b.sims.slack_call_log("chat.postMessage")
            leaks = await b.secrets_in_logs()

        by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for call in calls:
            by_channel[call["channel"]].append(call)
        early: list[tuple[str, float, float]] = []  # (channel, 429 at, next call at)
        min_gap = float("inf")
        max_in_10s = 0
        for channel, seq in by_channel.items():
            seq.sort(key=lambda c: c["time"])
            for prev, nxt in itertools.pairwise(seq):
                min_gap = min(min_gap, nxt["time"] - prev["time"])
                if prev["status"] == 429 and nxt["time"] < prev["time"] + retry_after - CLOCK_SLACK:
                    early.append((channel, prev["time"], nxt["time"]))
            ok_times = [c["time"] for c in seq if c["ok"]]
            for i, at in enumerate(ok_times):
                max_in_10s = max(max_in_10s, sum(1 for t in ok_times[i:] if t - at < 10.0))
        last_ok = max(c["time"] for c in calls if c["ok"])
        figures.update(
            n=n,
            channels=channel_count,
            retry_after_s=retry_after,
            window_429_s=window_429,
            window_5xx_s=window_5xx,
            bursts_5xx=bursts,
            post_calls=len(calls),
            answered_429=sum(1 for c in calls if c["status"] == 429),
            answered_5xx=sum(1 for c in calls if c["status"] >= 500),
            ok=sum(1 for c in calls if c["ok"]),
            posts_too_early_after_429=len(early),
            min_gap_same_channel_s=round(min_gap, 3),
            max_ok_posts_in_10s_per_channel=max_in_10s,
            drained_after_recovery_s=round(last_ok - recovered, 1),
            waited_for_all_s=round(drained, 1),
            lost=len(count.lost(items)),
            doubled=len(count.doubled(items)),
            secrets_in_logs=len(leaks),
        )
        assert not early, f"chat.postMessage before Retry-After expired: {early[:10]}"
        assert min_gap >= 0.9, f"two posts to one channel {min_gap:.3f} s apart"
        assert max_in_10s <= 11, max_in_10s
        assert last_ok - recovered <= drain_within
        assert not leaks, leaks

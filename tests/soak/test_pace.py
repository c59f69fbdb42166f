"""Slack's pace under concurrency (issue #10): many notifications over 40 channels, posted
concurrently across channels by one process (SQLite) or three sharing PostgreSQL, with
SIGKILLs meanwhile: every notification posted exactly once, and never two posts into one
channel less than Slack's pace (one a second) apart, counted where Slack counts it, when
it acts on each post.

Slack here takes a different time for each chat.postMessage (`SLACK_CALL`, drawn per
call), so answers come back in another order than the requests went and a post sent later
can reach Slack first: the pace must hold from Slack's side, not from when each process
decided to post. The full size (RINGBRIDGE_SOAK=1) posts 2,000 with ten kills.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from bot.sim import SimOptions

from ._kit import Sender, bridge, exactly_once, make_items, postgres_available

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

CHANNELS = 40
SLACK_CALL = (0.0, 0.4)  # seconds Slack takes to act on each post, drawn per call
PACE = 1.0  # Slack's: one post a second per channel
BACKLOG_WITHIN = 240.0  # after the sending: kills, restarts, then 1 post/s per channel


def gaps_by_channel(calls: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Seconds between consecutive accepted posts of each channel (Slack's clock)."""
    times: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if call["ok"]:
            times[call["channel"]].append(call["time"])
    return {c: [b - a for a, b in pairwise(sorted(t))] for c, t in times.items()}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_posts_over_40_channels_with_kills_once_each_never_faster_than_slacks_pace(
    database: str, soak: bool, figures: dict[str, Any]
) -> None:
    postgres = database == "postgresql"
    if postgres and not await postgres_available():
        pytest.skip("no PostgreSQL at RINGBRIDGE_SOAK_POSTGRES")
    processes = 3 if postgres else 1  # SQLite: one process (DESIGN §4)
    n = 2000 if soak else 400
    kills_wanted = 10 if soak else 3
    rng = random.Random(10)
    options = SimOptions(slack_latency={"chat.postMessage": SLACK_CALL})
    async with bridge(
        channel_count=CHANNELS, processes=processes, postgres=postgres, sim_options=options
    ) as b:
        items = make_items(b.target, n, b.channel_ids, offset=2_000_000)
        started = time.monotonic()
        kills = 0
        async with Sender(b.target, current_token=b.current_token) as sender:
            rate = 100.0 if soak else 40.0
            sending = asyncio.create_task(sender.deliver_all(items, rate=rate, concurrency=16))
            try:
                while kills < kills_wanted:
                    await asyncio.sleep(rng.uniform(3.0, 6.0))
                    victim = rng.randrange(processes)
                    await b.servers[victim].kill()
                    kills += 1
                    await asyncio.sleep(rng.uniform(0.5, 1.5))
                    await b.servers[victim].start()
                await asyncio.wait_for(sending, timeout=600)
            finally:
                sending.cancel()
            count, drained = await exactly_once(b.sims, items, BACKLOG_WITHIN)
            calls = await b.sims.slack_call_log("chat.postMessage")
        ok = sorted(c["time"] for c in calls if c["ok"])
        gaps = gaps_by_channel(calls)
        closest = {c: min(g) for c, g in gaps.items() if g}
        figures.update(
            database=database, processes=processes, n=n, channels=CHANNELS, kills=kills,
            slack_call_s=SLACK_CALL, total_s=round(time.monotonic() - started, 1),
            drained_after_sending_s=round(drained, 1),
            posts_per_s_at_slack=round((len(ok) - 1) / (ok[-1] - ok[0]), 1),
            posts_per_s_per_channel=round(
                statistics.median(1 / statistics.mean(g) for g in gaps.values() if g), 2
            ),
            post_calls=len(calls), refused_429=sum(1 for c in calls if c["status"] == 429),
            closest_gap_s=round(min(closest.values()), 3),
            closest_gap_per_channel_median_s=round(statistics.median(closest.values()), 3),
            channels_with_a_gap_under_pace=sum(1 for g in closest.values() if g < PACE),
            reconciled_found=sum(s.log_text().count("reconciled=found") for s in b.servers),
            lost=len(count.lost(items)), doubled=len(count.doubled(items)),
        )  # fmt: skip
        assert not sender.given_up, sender.given_up[:20]
        assert kills >= kills_wanted
        # Slack's pace, from Slack's side: the gaps are measured between the moments Slack
        # acted on the posts (its ts), whichever process sent them and however long each
        # call took. A few ms short of the second is a clock's rounding, not a burst.
        under = {c: round(g, 3) for c, g in closest.items() if g < PACE - 0.005}
        assert not under, f"posts closer than the pace (closest per channel): {under}"
        assert figures["refused_429"] == 0

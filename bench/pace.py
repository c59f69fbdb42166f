"""What Slack's shared pace costs and whether it holds (issue 10, item 3).

    python -m bench.pace [--channels 40] [--per-channel 10] [--processes 1]
                         [--database URL] [--slack-call LOW HIGH] [--baseline DIR]

A backlog of posts over `--channels` channels is written to a fresh database, then
`--processes` OS processes each run the bridge's `Poster` (`run_once` in a loop, as the
dispatcher does) until every post is done, against the Slack simulator (in this process)
taking `--slack-call` seconds, drawn per call, to act on each chat.postMessage. Several
processes need PostgreSQL (`--database postgresql+asyncpg://…/name`: that database is
dropped and made again). Measured at Slack's side, from its call log: posts per second
across the channels and per channel, the closest two posts into one channel, 429s.
`--baseline DIR` (a checkout of another version) runs that version's Poster on the same
backlog too, alternately with this one, so that both share the machine's noise. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the worker imports the bot of its PYTHONPATH (this one or --baseline)
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.bridge.poster import Poster

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 600.0


# -- a worker: `python bench/pace.py worker URL SLACK_URL TOKEN` (bot from PYTHONPATH) --------


async def _worker(url: str, slack_url: str, token: str) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.bridge.poster import Poster
    from bot.clock import SystemClock
    from bot.observe import Metrics
    from bot.store import connect

    async def region() -> str:
        return "US"

    async def timezone() -> tzinfo:
        return UTC

    engine = connect(url)
    # As the dispatcher's client (bot.server): a 10 s timeout, no retries of its own.
    slack = AsyncWebClient(token=token, base_url=slack_url, timeout=10, retry_handlers=[])
    poster = Poster(engine, slack, SystemClock(), Metrics(), region=region, timezone=timezone)
    await asyncio.wait_for(post_until_done(engine, poster), DEADLINE)
    await engine.dispose()


async def post_until_done(engine: AsyncEngine, poster: Poster) -> None:
    """`poster.run_once()` in a loop, as a process's dispatcher runs it, until no post is
    left pending or sending (in any process)."""
    from sqlalchemy import func, select

    from bot.store.schema import Post

    left = select(func.count()).where(Post.state.in_(("pending", "sending")))
    while True:
        if await poster.run_once():
            continue
        async with engine.connect() as conn:
            if not await conn.scalar(left):
                return
        await asyncio.sleep(0.05)


async def add_backlog(engine: AsyncEngine, channels: list[str], per_channel: int) -> None:
    """`per_channel` posts (internal messages: nothing to look up) to each channel, due."""
    from sqlalchemy import insert

    from bot.notices import PagerNotice, Party, dump_notice
    from bot.store.schema import Post

    now = datetime.now(UTC) - timedelta(seconds=1)
    rows = []
    for i in range(per_channel * len(channels)):
        notice = PagerNotice(
            kind="internal_message", message_id=f"m{i}",
            sender=Party(name="Dana", extension_number="101"), to=(), text=f"note {i}", at=now,
        )  # fmt: skip
        rows.append(
            {
                "rc_uuid": f"u{i}", "kind": notice.kind, "item": notice.item,
                "channel": channels[i % len(channels)], "notice": dump_notice(notice),
                "state": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now,
            }
        )  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(Post), rows)


# -- the run ---------------------------------------------------------------------------------


async def _backlog(url: str, channels: list[str], per_channel: int) -> None:
    """A fresh database at the latest schema holding the backlog."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from bot.store import connect, create_schema

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = connect(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        try:
            async with admin.connect() as conn:
                name = parsed.database
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await admin.dispose()
    engine = connect(url)
    try:
        await create_schema(engine)
        await add_backlog(engine, channels, per_channel)
    finally:
        await engine.dispose()


async def one_run(args: argparse.Namespace, code: Path, url: str) -> dict[str, Any]:
    """The backlog posted by `args.processes` workers running the Poster of `code`."""
    from bot.sim import SLACK_CHANNEL_PACE, SlackSimulator

    channels = [f"C0BENCH{i:03d}" for i in range(args.channels)]
    await _backlog(url, channels, args.per_channel)
    slack = SlackSimulator(channel_pace=SLACK_CHANNEL_PACE)
    for channel in channels:
        slack.add_channel(channel, channel.lower(), member=True)
    slack.latency["chat.postMessage"] = (args.slack_call[0], args.slack_call[1])
    async with slack.serve():
        env = {**os.environ, "PYTHONPATH": str(code)}
        argv = [sys.executable, __file__, "worker", url, slack.api_url, slack.tokens[0]]
        started = time.monotonic()
        procs = [
            subprocess.Popen(argv, cwd=code, env=env)  # noqa: ASYNC220, S603 - this file
            for _ in range(args.processes)
        ]
        try:
            codes = [await asyncio.to_thread(p.wait, DEADLINE + 30) for p in procs]
        finally:
            for proc in procs:
                proc.kill()
        wall = time.monotonic() - started
        calls = slack.calls("chat.postMessage")
        gaps = {c: list(pairwise(slack.post_times(c))) for c in channels}
        posted = sum(len(slack.messages(c)) for c in channels)
    ok = sorted(c.time for c in calls if c.ok)
    closest = {c: min(b - a for a, b in g) for c, g in gaps.items() if g}
    per_channel = [(len(g)) / (g[-1][1] - g[0][0]) for g in gaps.values() if g]
    return {
        "code": str(code),
        "exit_codes": codes,
        "posted": posted,
        "posts_expected": args.channels * args.per_channel,
        "wall_s": round(wall, 1),
        "posts_per_s_at_slack": round((len(ok) - 1) / (ok[-1] - ok[0]), 2) if ok else 0,
        "posts_per_s_per_channel_median": round(statistics.median(per_channel), 3),
        "closest_gap_s": round(min(closest.values()), 3),
        "closest_gap_per_channel_median_s": round(statistics.median(closest.values()), 3),
        "channels_with_a_gap_under_1s": sum(1 for g in closest.values() if g < 1.0),
        "post_calls": len(calls),
        "refused_429": sum(1 for c in calls if c.status == 429),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pace-") as tmp:
        runs: dict[str, list[dict[str, Any]]] = {"this": [], "baseline": []}
        for i in range(args.runs):
            if args.baseline is not None:  # alternately: both share the machine's noise
                url = args.database or f"sqlite+aiosqlite:///{tmp}/baseline-{i}.db"
                runs["baseline"].append(await one_run(args, args.baseline, url))
            url = args.database or f"sqlite+aiosqlite:///{tmp}/this-{i}.db"
            runs["this"].append(await one_run(args, ROOT, url))
    return {
        "bench": "pace",
        "machine": {"python": platform.python_version(), "load": os.getloadavg()},
        "channels": args.channels,
        "per_channel": args.per_channel,
        "processes": args.processes,
        "slack_call_s": args.slack_call,
        "database": "postgresql" if args.database else "sqlite",
        **{k: v for k, v in runs.items() if v},
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=40)
    parser.add_argument("--per-channel", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database", help="a PostgreSQL URL (dropped and made again)")
    parser.add_argument("--slack-call", type=float, nargs=2, default=(0.0, 0.4))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="a checkout of another version")
    args = parser.parse_args(argv)
    if args.processes > 1 and not args.database:
        parser.error("several processes need PostgreSQL (--database)")
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    return args


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(_worker(*sys.argv[2:5]))
    else:
        print(json.dumps(asyncio.run(main(parse_args(sys.argv[1:]))), default=str))

"""End to end: a RingCentral webhook POST → the Slack API call made (DESIGN §6: p99 < 100 ms
at 100 events/s spread over channels), and the dispatcher keeping up while 200 deliveries/s
are ingested (the backlog gone within 5 s after the sending stops, issue 10).

    python -m bench.end_to_end [--channels N] [--rate R] [--seconds S] [--light-rate R0]
                               [--ingest-rate R2] [--ingest-seconds S2]
                               [--baseline DIR] [--profile cpu|wall]

The simulators run in a child process (wall clock, rate limits raised); the server is
`python -m bot serve` on SQLite with N `[[routes]]`, route i sending the SMS of company
number i to channel i (N channels the bot is a member of). Deliveries are POSTed as
RingCentral does (its headers, the subscription's verification token), at a fixed open-loop
rate, event k to company number k mod N: a channel gets an event every N / R seconds, so
Slack's pace (about one post a second per channel, which the bridge keeps) is not the
bottleneck when N / R > 1. Each company number has one outside sender, so a channel is one
SMS conversation (a thread).

Phases:
- `warm-up` (not counted): one SMS per channel, waiting until each is posted: the
  RingCentral token, the account facts, the senders' names and the threads are in place;
- `latency_light`: the same at a light R0 events/s (what one event costs, no queueing);
- `latency`: R events/s for S seconds; latency = when the Slack simulator received the
  chat.postMessage (its wall clock) - when the POST was sent (this process's wall clock,
  same machine), matched through the post's metadata (`rc_uuid` = the delivery's uuid);
- `dispatch`: R2 deliveries/s for S2 seconds: posts/s achieved while ingesting, the
  backlog (deliveries pending + posts pending or sending, read from the server's SQLite),
  the server's CPU and the load average sampled every second, how long after the sending
  the backlog was gone, and the end-to-end latency of every delivery (by the second it was
  sent: `python -m bench.plot` draws it).
Every phase reports the server's CPU while sending (`server_cpu_share_while_sending`, in
cores) and the load average: on a shared machine they say whether the server was short of
CPU. `--baseline DIR` runs another version's server (a checkout's `bot/`) beside ours on
channels of its own, every phase at the same time: one run, the same machine's noise for
both. `--profile` runs our server under yappi from the end of the warm-up (its figures then
include the profiler's cost). Prints one JSON object; exits 1 if a delivery was not
acknowledged 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench._database import add_webhook_token, read_backlog
from bench._figures import latency_summary
from bench._load import open_loop
from bench._profile import YAPPI_PROFILED, where_time_goes
from bench._servers import cpu_seconds
from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import (
    Delivered,
    ServerProcess,
    SimOptions,
    Simulators,
    WebhookSender,
    sms_envelope,
)

TARGET_P99_MS = 100.0
IDLE_SECONDS = 5.0  # the server measured idle after the warm-up (its CPU share)
TOKEN = "bench-e2e-token-" + "0" * 24
TARGET_DRAINED_S = 5.0  # the backlog gone this long after the sending stops (issue 10)
DRAIN_WAIT_S = 120.0  # looked for this long at most
WAIT_POSTED_S = 120.0  # at most this long for the posts of a phase to arrive


BASELINE_OFFSET = 4000  # the baseline's channels and numbers: beside ours, never the same


def channel(i: int) -> str:
    return f"C0BENCH{i:04d}"


def company(i: int) -> str:
    return f"+1650555{1000 + i:04d}"


def sender(i: int) -> str:
    return f"+1415555{1000 + i:04d}"


def bridge_config(channels: int, offset: int = 0) -> str:
    return "".join(
        f'[[routes]]\nevents = ["sms"]\nchannel = "{channel(i)}"\nnumbers = ["{company(i)}"]\n'
        for i in range(offset, offset + channels)
    )


def bodies(
    prefix: str, count: int, channels: int, start: int = 0, offset: int = 0
) -> list[tuple[str, bytes]]:
    out = []
    for k in range(start, start + count):
        i = offset + k % channels
        uuid = f"{prefix}-{k}"
        out.append(
            (
                uuid,
                sms_envelope(
                    uuid, text=f"e2e {k}", sender=sender(i), to=company(i), subscription_id="bench"
                ),
            )
        )
    return out


async def wait_posted(
    sims: Simulators, uuids: set[str], since: float, within: float = WAIT_POSTED_S
) -> dict[str, float]:
    """rc_uuid -> when its first successful chat.postMessage arrived (simulator clock),
    waiting (at most `within` s) until every one of `uuids` is there."""
    deadline = time.monotonic() + within
    found: dict[str, float] = {}
    while True:
        for call in await sims.slack_post_log(since):
            if call["ok"] and call["rc_uuid"] in uuids and call["rc_uuid"] not in found:
                found[call["rc_uuid"]] = float(call["time"])
        if len(found) >= len(uuids) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def latency_phase(
    sims: Simulators,
    server: ServerProcess,
    sender_: WebhookSender,
    args: argparse.Namespace,
    rate: float,
    make: Callable[[str, int], list[tuple[str, bytes]]],
) -> dict[str, Any]:
    count = int(rate * args.seconds)
    since = time.time()
    assert server.pid is not None
    cpu = cpu_seconds(server.pid)
    done, wall = await open_loop(sender_, make(f"r{rate:g}", count), rate)
    cpu = cpu_seconds(server.pid) - cpu
    acked = {d.uuid: d for d in done if d.status == 200}
    posted = await wait_posted(sims, set(acked), since)
    seconds = [posted[u] - d.sent_at for u, d in acked.items() if u in posted]
    summary = latency_summary(seconds)
    return {
        "rate_per_s": rate,
        "achieved_per_s": round(len(done) / wall, 1),
        "events": len(done),
        "not_200": len(done) - len(acked),
        "posted": len(posted),
        "not_posted": len(acked) - len(posted),
        **summary,
        "ack": {k: v for k, v in latency_summary([d.seconds for d in done]).items() if k != "n"},
        "server_cpu_share_while_sending": round(cpu / wall, 2),
        "load_1m": round(os.getloadavg()[0], 1),
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": summary.get("p99_ms", 1e9) < TARGET_P99_MS and len(posted) == len(acked),
    }


async def dispatch_phase(
    sims: Simulators,
    server: ServerProcess,
    sender_: WebhookSender,
    args: argparse.Namespace,
    make: Callable[[str, int], list[tuple[str, bytes]]],
) -> dict[str, Any]:
    count = int(args.ingest_rate * args.ingest_seconds)
    samples: list[dict[str, Any]] = []
    started = time.time()
    assert server.pid is not None
    pid = server.pid

    async def sample() -> None:
        cpu, at = cpu_seconds(pid), time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            backlog = await asyncio.to_thread(read_backlog, server.database_path)
            cpu_now, now = cpu_seconds(pid), time.monotonic()
            samples.append(
                {
                    "t_s": round(time.time() - started, 1),
                    **backlog,
                    "server_cpu_share": round((cpu_now - cpu) / (now - at), 2),
                    "load_1m": round(os.getloadavg()[0], 1),
                }
            )
            cpu, at = cpu_now, now

    sampler = asyncio.create_task(sample())
    cpu_start = cpu_seconds(pid)
    try:
        done, wall = await open_loop(sender_, make("load", count), args.ingest_rate)
        sent_end = time.time()
        cpu_sending = cpu_seconds(pid) - cpu_start
        at_end = await asyncio.to_thread(read_backlog, server.database_path)
        drained_after = await drained(server, sent_end, DRAIN_WAIT_S)
        posted = await wait_posted(sims, {d.uuid for d in done if d.status == 200}, started)
    finally:
        sampler.cancel()
    posts_per_s, latencies, _ = await phase_posts(sims, done, posted, started, sent_end)
    summary = latency_summary([s for _, s in latencies])
    return {
        "ingest_rate_per_s": args.ingest_rate,
        "seconds": args.ingest_seconds,
        "achieved_ingest_per_s": round(len(done) / wall, 1),
        "deliveries": len(done),
        "not_200": sum(1 for d in done if d.status != 200),
        "ack": {k: v for k, v in latency_summary([d.seconds for d in done]).items() if k != "n"},
        "sending_s": round(sent_end - started, 1),  # longer than asked when the sender fell behind
        "posts_per_s_while_ingesting": posts_per_s,
        "posted": len(posted),
        "end_to_end": summary,
        "backlog_at_end": {**at_end, "total": sum(at_end.values())},
        "drained_s_after_sending": drained_after,
        "server_cpu_share_while_sending": round(cpu_sending / (sent_end - started), 2),
        "backlog_samples": samples,
        "latency_by_second": by_second(latencies),
        "max_channel_pace_posts_per_s": args.channels,  # one a second per channel
        "target_drained_s": TARGET_DRAINED_S,
        "meets_target": drained_after is not None and drained_after <= TARGET_DRAINED_S,
    }


async def phase_posts(
    sims: Simulators,
    done: list[Delivered],
    posted: dict[str, float],
    started: float,
    sent_end: float,
) -> tuple[float, list[tuple[float, float]], list[dict[str, Any]]]:
    """The posts of this phase's deliveries (not another side's): how many a second while
    the sending lasted; (seconds into the phase it was sent, latency) of each delivery
    posted; every successful chat.postMessage of them."""
    sent = {d.uuid: d.sent_at for d in done}
    log = [c for c in await sims.slack_post_log(started) if c["ok"] and c["rc_uuid"] in sent]
    during = sum(1 for c in log if c["time"] <= sent_end)
    latencies = [(sent[u] - started, t - sent[u]) for u, t in posted.items()]
    return round(during / (sent_end - started), 1), latencies, log


async def drained(server: ServerProcess, since: float, within: float) -> float | None:
    """Seconds after `since` when nothing was left to do (no delivery pending, no post
    pending or sending), looking every 0.1 s; None if not within `within` s."""
    while time.time() - since < within:
        backlog = await asyncio.to_thread(read_backlog, server.database_path)
        if not sum(backlog.values()):
            return round(time.time() - since, 2)
        await asyncio.sleep(0.1)
    return None


def by_second(latencies: list[tuple[float, float]]) -> list[dict[str, float]]:
    """End-to-end latency of the deliveries sent in each second of the run (by when
    they were sent): p50, p99 and max in ms."""
    seconds: dict[int, list[float]] = {}
    for sent_at, latency in latencies:
        seconds.setdefault(int(sent_at), []).append(latency)
    out = []
    for second in sorted(seconds):
        summary = latency_summary(seconds[second])
        out.append({"t_s": second, **{k: summary[k] for k in ("n", "p50_ms", "p99_ms", "max_ms")}})
    return out


class Side:
    """One server under measurement (ours, or `--baseline`'s beside it): its own SQLite
    database, channels, numbers and delivery uuids; every phase at the same time as the
    other side's (a barrier between phases), so both meet the same machine."""

    def __init__(self, name: str, offset: int, env: dict[str, str], args: argparse.Namespace):
        self.name, self.offset, self.args = name, offset, args
        self.profile_out: Path | None = None
        python_args: list[str] = []
        env = {"BRIDGE_CONFIG": bridge_config(args.channels, offset), **env}
        if args.profile and name == "ours":
            self._profile_dir = tempfile.TemporaryDirectory(prefix="ringbridge-profile-")
            self.profile_out = Path(self._profile_dir.name) / "serve.prof"
            python_args = ["-c", YAPPI_PROFILED]
            env |= {
                "RINGBRIDGE_PROFILE": str(self.profile_out),
                "RINGBRIDGE_PROFILE_CLOCK": args.profile,
            }
        self.env, self.python_args = env, python_args
        self.result: dict[str, Any] = {}

    def bodies(self, prefix: str, count: int) -> list[tuple[str, bytes]]:
        return bodies(f"{self.name}-{prefix}", count, self.args.channels, offset=self.offset)

    async def run(self, sims: Simulators, info: Any, barrier: asyncio.Barrier) -> None:
        args = self.args
        server = ServerProcess(info, extra_env=self.env, python_args=self.python_args)
        try:
            await server.start()
            await add_webhook_token(server.database_path, TOKEN)
            hook = server.url + WEBHOOK_PATH
            async with WebhookSender(hook, TOKEN, connections=args.connections) as sender_:
                for i in range(50):  # the token is re-read within 1 s; this SMS has no route
                    probe = sms_envelope(f"probe-{i}", to="+14155550100", subscription_id="bench")
                    if (await sender_.send(f"probe-{i}", probe)).status == 200:
                        break
                    await asyncio.sleep(0.1)
                warm = self.bodies("warm", args.channels)
                since = time.time()
                await open_loop(sender_, warm, args.rate)
                warmed = await wait_posted(sims, {u for u, _ in warm}, since)
                if len(warmed) < len(warm):
                    raise RuntimeError(
                        f"warm-up: {len(warmed)} of {len(warm)} posted; server log:\n"
                        + server.log_tail()
                    )
                await asyncio.sleep(2.0)  # every channel's pace slot is free again
                # What the server costs with nothing to do (its lanes looking for work).
                assert server.pid is not None
                cpu, at = cpu_seconds(server.pid), time.monotonic()
                await asyncio.sleep(IDLE_SECONDS)
                idle = (cpu_seconds(server.pid) - cpu) / (time.monotonic() - at)
                self.result["idle_cpu_share"] = round(idle, 3)
                if self.profile_out is not None:
                    assert server.pid is not None
                    os.kill(server.pid, signal.SIGUSR1)  # from here on, warm
                await barrier.wait()
                if args.light_rate:
                    self.result["latency_light"] = await latency_phase(
                        sims, server, sender_, args, args.light_rate, self.bodies
                    )
                    await asyncio.sleep(2.0)
                await barrier.wait()
                self.result["latency"] = await latency_phase(
                    sims, server, sender_, args, args.rate, self.bodies
                )
                await asyncio.sleep(2.0)
                await barrier.wait()
                self.result["dispatch"] = await dispatch_phase(
                    sims, server, sender_, args, self.bodies
                )
        finally:
            await server.close()  # SIGTERM: serve returns, a profile is written
        if self.profile_out is not None:
            self.result["profile"] = {
                "clock": args.profile,
                **where_time_goes(self.profile_out, top=25),
            }
            if args.profile_out is not None:  # kept for `python -m pstats`
                shutil.copyfile(self.profile_out, args.profile_out)
            self._profile_dir.cleanup()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    sims = Simulators(SimOptions())
    info = await sims.start()
    sides = [Side("ours", 0, {}, args)]
    if args.baseline is not None:
        sides.append(
            Side("baseline", BASELINE_OFFSET, {"PYTHONPATH": str(args.baseline.resolve())}, args)
        )
    for side in sides:
        await sims.slack_add_channels(
            [channel(i) for i in range(side.offset, side.offset + args.channels)]
        )
    barrier = asyncio.Barrier(len(sides))
    try:
        await asyncio.gather(*(side.run(sims, info, barrier) for side in sides))
    finally:
        await sims.close()
    result: dict[str, Any] = {"benchmark": "end_to_end", **sides[0].result}
    lat, disp = result["latency"], result["dispatch"]
    if args.baseline is not None:
        base = sides[1].result
        result["baseline"] = {
            "checkout": str(args.baseline),
            **{k: v for k, v in base.items() if k != "profile"},
        }
        result["ours_vs_baseline"] = {
            "p99_ms_at_rate": [lat.get("p99_ms"), base["latency"].get("p99_ms")],
            "posts_per_s_while_ingesting": [
                disp["posts_per_s_while_ingesting"],
                base["dispatch"]["posts_per_s_while_ingesting"],
            ],
            "drained_s_after_sending": [
                disp["drained_s_after_sending"],
                base["dispatch"]["drained_s_after_sending"],
            ],
        }
    result.update(
        {
            "p50_ms": lat.get("p50_ms"),
            "p99_ms": lat.get("p99_ms"),
            "target_p99_ms": TARGET_P99_MS,
            "meets_latency_target": lat["meets_target"],
            "meets_backlog_target": disp["meets_target"],
            "channels": args.channels,
            "database": "SQLite, WAL, synchronous=NORMAL",
            "wall_s": round(time.perf_counter() - t0, 2),
            "python": platform.python_version(),
            "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
            "notes": (
                "latency = Slack simulator's wall clock at chat.postMessage - this process's "
                "wall clock when the webhook POST was sent (same machine), matched by "
                "metadata rc_uuid; SMS round-robin over company numbers, one route and one "
                "channel each, one sender each (posts are thread replies after the warm-up). "
                "Backlog = inbox pending + posts pending/sending. Shared, noisy machine."
            ),
        }
    )
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__)
    parser.add_argument("--channels", type=int, default=400, help="routes and channels")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s, latency phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency phase length")
    parser.add_argument(
        "--light-rate", type=float, default=5.0, help="events/s of a light phase first (0: none)"
    )
    parser.add_argument("--ingest-rate", type=float, default=200.0, help="dispatch phase")
    parser.add_argument("--ingest-seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32, help="webhook sender's")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another version (e.g. `git worktree add /tmp/base main`): its "
        "server runs beside ours, the same phases at the same time (PYTHONPATH)",
    )
    parser.add_argument(
        "--profile",
        choices=("cpu", "wall"),
        help="run the server under yappi after the warm-up (figures then include its cost)",
    )
    parser.add_argument(
        "--profile-out",
        type=Path,
        help="with --profile: keep the whole profile in this file (pstats format)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.channels <= 2000:
        parser.error("--channels: 1 to 2000")
    if not 1 <= args.rate <= 2000 or not 1 <= args.ingest_rate <= 2000:
        parser.error("--rate, --ingest-rate: 1 to 2000")
    if not 0 <= args.light_rate <= 100:
        parser.error("--light-rate: 0 to 100")
    if not 1 <= args.seconds <= 120 or not 1 <= args.ingest_seconds <= 120:
        parser.error("--seconds, --ingest-seconds: 1 to 120")
    if not 1 <= args.connections <= 256:
        parser.error("--connections: 1 to 256")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    result = asyncio.run(run(parse_args(argv)))
    print(json.dumps(result, indent=2))
    failed = result["latency"]["not_200"] or result["dispatch"]["not_200"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Does dispatching scale with processes on PostgreSQL? The same load, 200 deliveries/s for
S seconds over N channels, into 1, 2 and 4 `python -m bot serve` processes sharing one
PostgreSQL database (each process its own webhook endpoint, the deliveries spread over
them round-robin, as a load balancer would): posts a second while ingesting, the backlog
over time, how long after the sending it is gone, and where the machine's CPU went.

    python -m bench.scaling --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/NAME
                            [--processes 1 2 4] [--rate R] [--seconds S] [--channels N]
                            [--profile cpu|wall] [--baseline DIR]

Each process count gets a new database (`NAME_scale<P>`, dropped first) and new servers;
the simulators are shared. Every process claims work with leases (`FOR UPDATE SKIP
LOCKED`) and takes a channel's slot in `channel_pace`, so the processes share the work
without posting twice or faster than a channel's pace. On a machine that also runs
PostgreSQL, the simulators and this load generator, more processes can only help while
a core is idle: the figures say how busy the machine was (`machine_busy_share`: 1.0 is
every core busy) and what the servers and PostgreSQL used of it. `--profile` runs the
1-process server under yappi from the end of the warm-up (its figures then include the
profiler's cost) and adds where its time went. `--baseline DIR` measures another version's
servers (a checkout's `bot/`, on PYTHONPATH) right before ours at each process count, on a
database of their own: the same machine's noise for both. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._database import Backlog, add_webhook_token, fresh_postgres
from bench._figures import latency_summary
from bench._load import open_loop
from bench._profile import YAPPI_PROFILED, where_time_goes
from bench._servers import cpu_seconds, machine_cpu, named_cpu_seconds
from bench.end_to_end import (
    bodies,
    bridge_config,
    by_second,
    channel,
    phase_posts,
    wait_posted,
)
from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import Delivered, ServerProcess, SimOptions, Simulators, WebhookSender, sms_envelope

TOKEN = "bench-scaling-token-" + "0" * 20
TARGET_RATIO = 1.6  # 2 processes dispatch at least this many times what one does
DRAIN_WAIT_S = 120.0


class Spread:
    """Sends each delivery to the next of several servers (round-robin)."""

    def __init__(self, senders: list[WebhookSender]) -> None:
        self._senders = senders
        self._next = 0

    async def send(self, uuid: str, body: bytes) -> Delivered:
        sender = self._senders[self._next % len(self._senders)]
        self._next += 1
        return await sender.send(uuid, body)


class Usage:
    """CPU used between two readings: the servers', PostgreSQL's, the machine's."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._at = self._read()

    def _read(self) -> tuple[float, float, float, float, float]:
        busy, total = machine_cpu()
        servers = sum(cpu_seconds(pid) for pid in self._pids)
        return time.monotonic(), servers, named_cpu_seconds("postgres"), busy, total

    def since(self) -> dict[str, float]:
        """Shares since the last reading (cores used; the machine's busy share of all)."""
        now = self._read()
        (t0, s0, p0, b0, a0), (t1, s1, p1, b1, a1) = self._at, now
        self._at = now
        wall = max(t1 - t0, 1e-6)
        return {
            "servers_cpu_cores": round((s1 - s0) / wall, 2),
            # A backend that ended between the readings takes its seconds with it: a floor.
            "postgres_cpu_cores": round(max(p1 - p0, 0.0) / wall, 2),
            "machine_busy_share": round((b1 - b0) / max(a1 - a0, 1e-6), 2),
            "load_1m": round(os.getloadavg()[0], 1),
        }


async def one_count(
    sims: Simulators,
    info: Any,
    processes: int,
    args: argparse.Namespace,
    baseline: Path | None = None,
) -> dict[str, Any]:
    url = await fresh_postgres(args.postgres, f"scale{processes}" + ("_base" if baseline else ""))
    env = {"BRIDGE_CONFIG": bridge_config(args.channels), "DATABASE_URL": url}
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    profile_dir = None
    python_args: list[str] = []
    if args.profile and processes == 1 and baseline is None:
        profile_dir = tempfile.TemporaryDirectory(prefix="ringbridge-profile-")
        profile_out = Path(profile_dir.name) / "serve.prof"
        python_args = ["-c", YAPPI_PROFILED]
        env |= {"RINGBRIDGE_PROFILE": str(profile_out), "RINGBRIDGE_PROFILE_CLOCK": args.profile}
    servers = [
        ServerProcess(info, extra_env=env, python_args=python_args) for _ in range(processes)
    ]
    backlog = Backlog(url)
    try:
        for server in servers:
            await server.start()
        await add_webhook_token(url, TOKEN)
        senders = [
            WebhookSender(s.url + WEBHOOK_PATH, TOKEN, connections=args.connections)
            for s in servers
        ]
        for sender in senders:
            await sender.__aenter__()
        try:
            for sender in senders:
                await _accepted(sender)
            warm = bodies(f"warm{processes}", args.channels, args.channels)
            since = time.time()
            await open_loop(Spread(senders), warm, args.rate)
            if len(await wait_posted(sims, {u for u, _ in warm}, since)) < len(warm):
                raise RuntimeError("warm-up: not every post arrived")
            await asyncio.sleep(2.0)
            if profile_dir is not None:
                assert servers[0].pid is not None
                os.kill(servers[0].pid, signal.SIGUSR1)  # from here on, warm
            result = await _measure(sims, servers, senders, backlog, processes, args)
        finally:
            for sender in senders:
                await sender.__aexit__(None, None, None)
    finally:
        await backlog.close()
        for server in servers:
            await server.close()  # SIGTERM: serve returns, a profile is written
    if profile_dir is not None:
        with profile_dir:
            stats = Path(profile_dir.name) / "serve.prof"
            result["profile"] = {"clock": args.profile, **where_time_goes(stats, top=25)}
    return result


async def _accepted(sender: WebhookSender) -> None:
    """Wait until the server takes the token (it re-reads tokens within 1 s)."""
    for i in range(50):
        probe = sms_envelope(f"probe-{i}", to="+14155550100", subscription_id="bench")
        if (await sender.send(f"probe-{i}", probe)).status == 200:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server never accepted the bench's verification token")


async def _measure(
    sims: Simulators,
    servers: list[ServerProcess],
    senders: list[WebhookSender],
    backlog: Backlog,
    processes: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    count = int(args.rate * args.seconds)
    pids = [s.pid for s in servers if s.pid is not None]
    samples: list[dict[str, Any]] = []
    started = time.time()

    async def sample() -> None:
        usage = Usage(pids)
        while True:
            await asyncio.sleep(1.0)
            samples.append(
                {"t_s": round(time.time() - started, 1), **await backlog.read(), **usage.since()}
            )

    sampler = asyncio.create_task(sample())
    usage = Usage(pids)
    work_before = await backlog.work_done()
    try:
        done, wall = await open_loop(
            Spread(senders), bodies(f"load{processes}", count, args.channels), args.rate
        )
        sent_end = time.time()
        while_sending = usage.since()
        at_end = await backlog.read()
        drained = None
        while time.time() - sent_end < DRAIN_WAIT_S:
            if not sum((await backlog.read()).values()):
                drained = round(time.time() - sent_end, 2)
                break
            await asyncio.sleep(0.1)
        posted = await wait_posted(sims, {d.uuid for d in done if d.status == 200}, started)
        work = {k: v - work_before[k] for k, v in (await backlog.work_done()).items()}
    finally:
        sampler.cancel()
    posts_per_s, latencies, log = await phase_posts(sims, done, posted, started, sent_end)
    return {
        "processes": processes,
        "achieved_ingest_per_s": round(len(done) / wall, 1),
        "not_200": sum(1 for d in done if d.status != 200),
        "posts_per_s_while_ingesting": posts_per_s,
        "posted": len(posted),
        "posted_twice": len(log) - len({c["rc_uuid"] for c in log}),
        "end_to_end": latency_summary([s for _, s in latencies]),
        "backlog_at_end": {**at_end, "total": sum(at_end.values())},
        "drained_s_after_sending": drained,
        # Every process's transactions (and this bench's few reads), per delivery settled.
        "transactions_per_delivery": round(
            work["transactions"] / max(work["deliveries_settled"], 1), 2
        ),
        "while_sending": while_sending,
        "backlog_samples": samples,
        "latency_by_second": by_second(latencies),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    sims = Simulators(SimOptions())
    info = await sims.start()
    await sims.slack_add_channels([channel(i) for i in range(args.channels)])
    runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, Any]] = []
    try:
        for processes in args.processes:
            if args.baseline is not None:
                base_runs.append(await one_count(sims, info, processes, args, args.baseline))
            runs.append(await one_count(sims, info, processes, args))
    finally:
        await sims.close()
    rates = {r["processes"]: r["posts_per_s_while_ingesting"] for r in runs}
    ratios = {f"{p}_vs_1": round(rates[p] / rates[1], 2) for p in rates if p != 1 and rates.get(1)}
    baseline: dict[str, Any] = {}
    if base_runs:
        base_rates = {r["processes"]: r["posts_per_s_while_ingesting"] for r in base_runs}
        baseline = {
            "baseline": {
                "checkout": str(args.baseline),
                "runs": base_runs,
                "posts_per_s_by_processes": base_rates,
                "ours_vs_baseline": {
                    p: round(rates[p] / base_rates[p], 2) for p in rates if base_rates.get(p)
                },
            }
        }
    return {
        "benchmark": "scaling",
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "channels": args.channels,
        "runs": runs,
        "posts_per_s_by_processes": rates,
        "ratios": ratios,
        "target_2_vs_1": TARGET_RATIO,
        "meets_target": ratios.get("2_vs_1", 0.0) >= TARGET_RATIO,
        "database": "PostgreSQL 15, same machine",
        "wall_s": round(time.perf_counter() - t0, 2),
        "python": platform.python_version(),
        "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
        **baseline,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--postgres", required=True, help="a base URL (its database name)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries/s")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=400)
    parser.add_argument("--connections", type=int, default=16, help="per server")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another version (`git clone -q REPO DIR`): its servers measured "
        "before ours at each process count (PYTHONPATH)",
    )
    parser.add_argument(
        "--profile",
        choices=("cpu", "wall"),
        help="run the 1-process server under yappi after the warm-up (its figures then "
        "include the profiler's cost)",
    )
    args = parser.parse_args(argv)
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    if not all(1 <= p <= 8 for p in args.processes):
        parser.error("--processes: 1 to 8 each")
    if not 1 <= args.rate <= 2000 or not 1 <= args.seconds <= 120:
        parser.error("--rate 1 to 2000, --seconds 1 to 120")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    result = asyncio.run(run(parse_args(argv)))
    print(json.dumps(result, indent=2))
    return 1 if any(r["not_200"] for r in result["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Idle memory and start time of `serve` (DESIGN §6: < 120 MB RSS; ready in < 2 s).

    python -m bench.footprint [--runs N] [--idle S]

Starts `python -m bot serve` (SQLite, notifications on: one route, PUBLIC_URL set, so it
makes its webhook subscription at start, as deployed) N times against the simulators (in a
child process). Start time = from spawning the process until `/healthz` answers 200 (what
a platform's health check waits for). Idle RSS = VmRSS of the server process (from
/proc, Linux) after S seconds with no traffic, and its peak (VmHWM). Prints one JSON
object with the medians and each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.sim import CHANNEL, ServerProcess, SimOptions, Simulators

TARGET_RSS_MB = 120.0
TARGET_READY_S = 2.0
BRIDGE_CONFIG = f'[[routes]]\nevents = ["sms", "voicemail", "missed_call"]\nchannel = "{CHANNEL}"\n'


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MB (10^6 bytes), from /proc (Linux)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return found


async def one_run(sims: Simulators, idle: float) -> dict[str, Any]:
    server = ServerProcess(sims.info, public_url=True, extra_env={"BRIDGE_CONFIG": BRIDGE_CONFIG})
    try:
        await server.start()
        ready = server.ready_seconds
        await asyncio.sleep(idle)
        assert server.pid is not None
        memory = rss_mb(server.pid)
    finally:
        await server.close()
    return {"ready_s": round(ready, 3), "rss_mb": memory["VmRSS"], "peak_rss_mb": memory["VmHWM"]}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    sims = Simulators(SimOptions())
    await sims.start()
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(args.runs):
            runs.append(await one_run(sims, args.idle))
    finally:
        await sims.close()
    ready = statistics.median(r["ready_s"] for r in runs)
    rss = statistics.median(r["rss_mb"] for r in runs)
    return {
        "benchmark": "footprint",
        "ready_s_median": ready,
        "idle_rss_mb_median": rss,
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
        "target_ready_s": TARGET_READY_S,
        "target_rss_mb": TARGET_RSS_MB,
        "meets_target": {"ready": ready < TARGET_READY_S, "rss": rss < TARGET_RSS_MB},
        "runs": runs,
        "idle_s": args.idle,
        "wall_s": round(time.perf_counter() - t0, 2),
        "python": platform.python_version(),
        "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
        "notes": (
            "ready = spawn -> /healthz 200 (polled every 20 ms); RSS from /proc/<pid>/status "
            "after idle_s without traffic, notifications on (subscription made at start). "
            "Shared, noisy machine."
        ),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds before reading RSS")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 0 <= args.idle <= 120:
        parser.error("--runs: 1 to 50; --idle: 0 to 120 seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if not sys.platform.startswith("linux"):
        print(json.dumps({"benchmark": "footprint", "skipped": "needs Linux /proc"}))
        return 0
    print(json.dumps(asyncio.run(run(parse_args(argv))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

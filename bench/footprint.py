"""Start time and memory of `serve` (DESIGN §6: ready in < 2 s; idle RSS < 120 MB).

    python -m bench.footprint [--runs N] [--idle S] [--load-rate R] [--load-seconds S2]

`python -m bot serve` on SQLite against the simulators (in a child process), notifications
on (one route, PUBLIC_URL set: it makes its webhook subscription at start, as deployed).
Bytecode of `bot/` is compiled first, as an installed package has it (pip compiles on
install); a start without it pays the compilation once (see `notes`).

Each of N runs:
- `first start`: a new database (every migration runs); ready = from spawning the process
  until `/healthz` answers 200 (what a platform's health check waits for), and the CPU
  seconds the process had used by then (user + system, from /proc: what the start costs,
  far steadier than the wall time on a shared machine);
- `restart`: SIGTERM, then the same on that database (at its schema: the usual start);
- idle RSS: VmRSS after S seconds without traffic.
Then once, `loaded`: R webhook deliveries a second for S2 seconds into the last server,
each routed to the channel (the dispatcher posts them at Slack's pace: a backlog builds
up); VmRSS sampled every second, at the end, and VmHWM (the peak). And `imports`: what
`python -X importtime -c "import bot.__main__"` says (the median of 5), with the packages
that take longest. `--baseline DIR` (a checkout of another version) starts that version's
`bot/` the same way in each run, interleaved: before and after in one run.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bot
from bench._database import read_backlog
from bench._load import open_loop
from bench._servers import cpu_seconds, rss_mb
from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import CHANNEL, ServerProcess, SimOptions, Simulators, WebhookSender, sms_envelope

TARGET_RSS_MB = 120.0
TARGET_READY_S = 2.0
BRIDGE_CONFIG = f'[[routes]]\nevents = ["sms", "voicemail", "missed_call"]\nchannel = "{CHANNEL}"\n'
TOKEN_WAIT_S = 20.0  # at most this long for the server's own webhook subscription


def server_token(database: Path) -> str | None:
    """The verification token of the subscription the server made (read beside it)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as c:
        try:
            row = c.execute("SELECT verification_token FROM subscriptions LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return None
    return str(row[0]) if row else None


async def one_run(
    sims: Simulators, idle: float, baseline: Path | None = None
) -> tuple[dict[str, Any], ServerProcess]:
    """A first start and a restart; the server is left running (the caller closes it).
    `baseline`: another version's checkout, run instead (PYTHONPATH)."""
    env = {"BRIDGE_CONFIG": BRIDGE_CONFIG}
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)  # absolute (parse_args)
    server = ServerProcess(sims.info, public_url=True, extra_env=env)
    try:
        await server.start()
        assert server.pid is not None
        first = {"ready_s": round(server.ready_seconds, 3), "cpu_s": cpu_seconds(server.pid)}
        await server.terminate()
        await server.start()
        assert server.pid is not None
        restart = {"ready_s": round(server.ready_seconds, 3), "cpu_s": cpu_seconds(server.pid)}
        await asyncio.sleep(idle)
        memory = rss_mb(server.pid)
    except BaseException:
        await server.close()
        raise
    run = {"first_start": first, "restart": restart, "idle_rss_mb": memory["VmRSS"]}
    return run, server


async def loaded(server: ServerProcess, rate: float, seconds: float) -> dict[str, Any]:
    """RSS while `rate` deliveries a second arrive for `seconds`."""
    assert server.pid is not None
    deadline = time.monotonic() + TOKEN_WAIT_S
    while (token := server_token(server.database_path)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the server made no webhook subscription")
        await asyncio.sleep(0.2)
    before = rss_mb(server.pid)["VmRSS"]
    samples: list[float] = []

    async def sample() -> None:
        while True:
            await asyncio.sleep(1.0)
            samples.append(rss_mb(server.pid)["VmRSS"] if server.pid else 0.0)

    count = int(rate * seconds)
    bodies = [
        (f"load-{i}", sms_envelope(f"load-{i}", text=f"load {i}", sender=f"+1415555{i % 50:04d}"))
        for i in range(count)
    ]
    sampler = asyncio.create_task(sample())
    try:
        async with WebhookSender(server.url + WEBHOOK_PATH, token) as sender:
            done, wall = await open_loop(sender, bodies, rate)
    finally:
        sampler.cancel()
    memory = rss_mb(server.pid)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "achieved_per_s": round(len(done) / wall, 1),
        "not_200": sum(1 for d in done if d.status != 200),
        "rss_before_mb": before,
        "rss_end_mb": memory["VmRSS"],
        "rss_max_sampled_mb": max(samples, default=memory["VmRSS"]),
        "peak_rss_mb": memory["VmHWM"],
        "backlog_at_end": await asyncio.to_thread(read_backlog, server.database_path),
    }


def import_times(rounds: int = 5) -> dict[str, Any]:
    """`python -X importtime -c "import bot.__main__"`: the total (median) and the packages
    taking longest in the median round (their own time, children excluded)."""
    totals: list[tuple[float, Counter[str]]] = []
    for _ in range(rounds):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import bot.__main__"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        own: Counter[str] = Counter()
        total = 0.0
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative_us, name = line[len("import time:") :].split("|")
            module = name.strip()
            parts = module.split(".")
            own[".".join(parts[:2]) if parts[0] == "bot" else parts[0]] += int(self_us)
            if module == "bot.__main__":
                total = int(cumulative_us) / 1000
        totals.append((total, own))
    totals.sort(key=lambda t: t[0])
    median_total, own = totals[len(totals) // 2]
    return {
        "total_ms_median": round(median_total, 1),
        "total_ms_each": [round(t, 1) for t, _ in totals],
        "largest_ms": {k: round(v / 1000, 1) for k, v in own.most_common(8)},
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    compileall.compile_dir(Path(bot.__file__).parent, quiet=1)
    sims = Simulators(SimOptions())
    await sims.start()
    runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, Any]] = []
    load: dict[str, Any] = {}
    try:
        for i in range(args.runs):
            if args.baseline is not None:  # interleaved: both share the machine's noise
                result, server = await one_run(sims, args.idle, args.baseline)
                await server.close()
                base_runs.append(result)
            result, server = await one_run(sims, args.idle)
            runs.append(result)
            try:
                if i == args.runs - 1 and args.load_seconds > 0:
                    load = await loaded(server, args.load_rate, args.load_seconds)
            finally:
                await server.close()
    finally:
        await sims.close()
    imports = await asyncio.to_thread(import_times)

    def median(phase: str, what: str, among: list[dict[str, Any]] = runs) -> float:
        return round(statistics.median(r[phase][what] for r in among), 3)

    ready = median("restart", "ready_s")
    rss = statistics.median(r["idle_rss_mb"] for r in runs)
    return {
        "benchmark": "footprint",
        "ready_s_median": {"restart": ready, "first_start": median("first_start", "ready_s")},
        "cpu_s_at_ready_median": {
            "restart": median("restart", "cpu_s"),
            "first_start": median("first_start", "cpu_s"),
        },
        "idle_rss_mb_median": rss,
        "loaded": load,
        "baseline": (
            {
                "path": str(args.baseline),
                "ready_s_median": {
                    p: median(p, "ready_s", base_runs) for p in ("restart", "first_start")
                },
                "cpu_s_at_ready_median": {
                    p: median(p, "cpu_s", base_runs) for p in ("restart", "first_start")
                },
                "idle_rss_mb_median": statistics.median(r["idle_rss_mb"] for r in base_runs),
                "runs": base_runs,
            }
            if base_runs
            else None
        ),
        "imports": imports,
        "target_ready_s": TARGET_READY_S,
        "target_rss_mb": TARGET_RSS_MB,
        "meets_target": {
            "ready": ready < TARGET_READY_S and median("first_start", "ready_s") < TARGET_READY_S,
            "rss": rss < TARGET_RSS_MB,
        },
        "runs": runs,
        "idle_s": args.idle,
        "wall_s": round(time.perf_counter() - t0, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
        "notes": (
            "ready = spawn -> /healthz 200 (polled every 20 ms); cpu = the server process's "
            "user+system seconds at that moment; restart = the same database, at its schema; "
            "RSS from /proc/<pid>/status. Bytecode compiled beforehand (without it, the first "
            "start of a new install compiles bot/ once: about 0.2 s more here). Shared, noisy "
            "machine: load_average is at the end of the run."
        ),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds before reading RSS")
    parser.add_argument("--load-rate", type=float, default=200.0, help="deliveries/s")
    parser.add_argument("--load-seconds", type=float, default=20.0, help="0: no loaded phase")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of another version, started the same way"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50 or not 0 <= args.idle <= 120:
        parser.error("--runs: 1 to 50; --idle: 0 to 120 seconds")
    if not 1 <= args.load_rate <= 2000 or not 0 <= args.load_seconds <= 300:
        parser.error("--load-rate: 1 to 2000; --load-seconds: 0 to 300")
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if not sys.platform.startswith("linux"):
        print(json.dumps({"benchmark": "footprint", "skipped": "needs Linux /proc"}))
        return 0
    print(json.dumps(asyncio.run(run(parse_args(argv))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

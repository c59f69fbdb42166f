"""The 200 deliveries/s run of `bench.end_to_end` as a picture: the backlog (deliveries
pending, posts pending or sending), the end-to-end latency of the deliveries sent in each
second (p50, p99) and the server's CPU over time, from the JSON the benchmark printed.

    python -m bench.end_to_end ... > run.json && python -m bench.plot run.json bench/dispatch.png

Needs matplotlib (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    run = result["dispatch"]
    samples, seconds = run["backlog_samples"], run["latency_by_second"]
    fig, (backlog, latency, cpu) = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    fig.suptitle(
        f"{run['ingest_rate_per_s']:.0f} deliveries/s for {run['seconds']:.0f} s over "
        f"{result['channels']} channels ({result['database']})",
        fontsize=10,
    )
    t = [s["t_s"] for s in samples]
    backlog.plot(t, [s["pending_deliveries"] for s in samples], label="deliveries pending")
    backlog.plot(t, [s["pending_posts"] for s in samples], label="posts pending or sending")
    sending = run.get("sending_s") or run["deliveries"] / run["achieved_ingest_per_s"]
    backlog.axvline(sending, color="grey", linestyle=":", label="sending stops")
    backlog.set_ylabel("backlog (rows)")
    backlog.legend(fontsize=8)
    ts = [s["t_s"] + 0.5 for s in seconds]
    latency.plot(ts, [s["p50_ms"] for s in seconds], label="p50")
    latency.plot(ts, [s["p99_ms"] for s in seconds], label="p99")
    latency.axhline(100, color="red", linestyle="--", linewidth=0.8, label="target p99 100 ms")
    latency.set_yscale("log")
    latency.set_ylabel("webhook → Slack (ms)\nby second sent")
    latency.legend(fontsize=8)
    cpu.plot(t, [s["server_cpu_share"] for s in samples], label="server CPU (cores)")
    cpu.plot(t, [s["load_1m"] / 10 for s in samples], label="load average / 10")
    cpu.set_ylabel("machine")
    cpu.set_xlabel("seconds since the first delivery")
    cpu.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    plot(json.loads(Path(args[0]).read_text()), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Slash command acknowledgement latency (DESIGN §6: p99 < 25 ms; RELIABILITY R9: < 1 s).

    python -m bench.slash_ack [--commands N] [--concurrency C] [--burst-interval S]
                              [--sequential-interval S] [--in-process]

Starts the RingCentral and Slack simulators (in a child process, wall clock, rate limits
raised, no OpenAPI validation) and the real server — by default `python -m bot serve` in a
subprocess configured by environment variables, as a deployment runs it — then sends signed
slash commands over loopback HTTP, a mix of `/sms <number> <text>`, `/calllog today`,
`/call <number> from <number>` and `/ringcentral help`, and times each one from sending the
request until the response is read (what Slack's 3 s clock sees).

Three phases of N commands each:
- `sequential`: one at a time, one every 40 ms (or as soon as the last is acked, if later);
- `bursts`, the top-level figures: C commands sent at the same instant, a burst every
  0.25 s, as when several people type at once;
- `saturation`: C in flight, each sent as soon as one is acked: the server at full load,
  where latency is C / throughput whatever the ack path costs.
A warm-up (not counted) first sends each command once and waits for its replies, so the
RingCentral token, the account facts and the learned rate limits are in place. After each
phase it waits for the background work and checks that every command was answered.

Prints one JSON object on stdout; exits 1 if a command went unanswered or was not acked 200.

`/sms` sends are capped (`SMS_PER_MINUTE`): RingCentral allows 40 SMS a minute and the
bridge paces them client-side, so more would only make the run wait for the pacing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench._figures import latency_summary, metric_value
from bench._servers import InProcessServer, Server, metrics_text
from bench._slash import Ack, SlashClient
from bot.sim import ServerProcess, SimOptions, SimStats, Simulators

TARGET_P99_MS = 25.0  # DESIGN §6
SLACK_LIMIT_MS = 3000.0
SMS_PER_MINUTE = 40  # RingCentral's SMS cap; the bridge paces /sms sends under it
TO = "+1 415 555 0123"
FIRST_LEG = "+1 650 555 0111"

# command -> the text typed, and the replies at the response_url that mean "done"
COMMANDS: dict[str, tuple[str, int]] = {
    "/ringcentral": ("help", 0),  # answered in the ack itself
    "/calllog": ("today", 1),
    "/call": (f"{TO} from {FIRST_LEG}", 2),  # "calling…", then the final status
    "/sms": (f"{TO} bench message {{i}}", 1),
}
OTHERS = ("/calllog", "/call", "/ringcentral")


@dataclass(frozen=True)
class Planned:
    command: str
    text: str


@dataclass(frozen=True)
class Sent:
    command: str
    response_url: str
    ack: Ack

    @property
    def acked_with_answer(self) -> bool:
        """The ack itself carries the reply (`/ringcentral help`)."""
        try:
            body = json.loads(self.ack.body)
        except ValueError:
            return False
        return isinstance(body, dict) and bool(body.get("text") or body.get("blocks"))


def plan(count: int, sms: int, start: int = 0) -> list[Planned]:
    """`count` commands: `sms` of them `/sms`, spread evenly; the rest cycle the others."""
    out: list[Planned] = []
    others = 0
    for i in range(count):
        if sms and (i * sms) // count != ((i + 1) * sms) // count:
            name = "/sms"
        else:
            name, others = OTHERS[others % len(OTHERS)], others + 1
        text = COMMANDS[name][0].replace("{i}", str(start + i))
        out.append(Planned(name, text))
    return out


async def send_all(
    client: SlashClient,
    url: str,
    planned: Sequence[Planned],
    urls: Sequence[str],
    workers: int,
    *,
    burst_interval: float | None = None,
) -> tuple[list[Sent], float]:
    """Send `planned`. Without `burst_interval`: `workers` at a time, each sending its next
    as soon as its last is acked (closed loop). With it: bursts of `workers` commands sent
    at the same instant, one burst every `burst_interval` seconds (or right after the last
    burst is acked, if that takes longer)."""
    results: list[Sent | None] = [None] * len(planned)

    async def one(i: int) -> None:
        p = planned[i]
        ack = await client.send(url, p.command, p.text, urls[i])
        results[i] = Sent(p.command, urls[i], ack)

    started = time.perf_counter()
    if burst_interval is None:
        indexes = iter(range(len(planned)))

        async def worker() -> None:
            for i in indexes:
                await one(i)

        await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    else:
        for burst, first in enumerate(range(0, len(planned), workers)):
            delay = started + burst * burst_interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await asyncio.gather(
                *(one(i) for i in range(first, min(first + workers, len(planned))))
            )
    wall = time.perf_counter() - started
    return [r for r in results if r is not None], wall


def unanswered(sent: Sequence[Sent], stats: SimStats) -> dict[str, int]:
    """Commands whose replies are not all in yet, by command."""
    missing: dict[str, int] = {}
    for s in sent:
        needed = COMMANDS[s.command][1]
        done = (
            s.acked_with_answer
            if needed == 0
            else stats.response_posts.get(s.response_url, 0) >= needed
        )
        if not done:
            missing[s.command] = missing.get(s.command, 0) + 1
    return missing


async def settle(
    sims: Simulators, sent: Sequence[Sent], within: float
) -> tuple[SimStats, dict[str, int], float]:
    """Wait (at most `within` seconds) until every command in `sent` has its replies."""
    started = time.perf_counter()
    deadline = started + within
    while True:
        stats = await sims.stats()
        missing = unanswered(sent, stats)
        if not missing or time.perf_counter() >= deadline:
            return stats, missing, time.perf_counter() - started
        await asyncio.sleep(0.1)


def phase_figures(sent: Sequence[Sent], wall: float, concurrency: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "commands": len(sent),
        "concurrency": concurrency,
        **latency_summary([s.ack.seconds for s in sent]),
        "rate_per_s": round(len(sent) / wall, 1) if wall > 0 else None,
    }
    figures["by_command"] = {
        name: {
            k: v
            for k, v in latency_summary([s.ack.seconds for s in sent if s.command == name]).items()
            if k in ("n", "p50_ms", "p99_ms", "max_ms")
        }
        for name in COMMANDS
        if any(s.command == name for s in sent)
    }
    return figures


async def server_ack_totals(server: Server) -> tuple[float, float]:
    text = await metrics_text(server.url)
    return (
        metric_value(text, "ringbridge_slack_ack_seconds_sum"),
        metric_value(text, "ringbridge_slack_ack_seconds_count"),
    )


async def measured_phase(
    server: Server,
    sims: Simulators,
    client: SlashClient,
    planned: Sequence[Planned],
    concurrency: int,
    settle_timeout: float,
    burst_interval: float | None = None,
) -> tuple[dict[str, Any], list[Sent]]:
    url = f"{server.url}/slack/events"
    urls = await sims.response_urls(len(planned))
    before = await server_ack_totals(server)
    sent, wall = await send_all(
        client, url, planned, urls, concurrency, burst_interval=burst_interval
    )
    after = await server_ack_totals(server)
    _, missing, waited = await settle(sims, sent, settle_timeout)
    figures = phase_figures(sent, wall, concurrency)
    count = after[1] - before[1]
    # What the server's own histogram saw (its handler only: no HTTP parsing, no transport).
    figures["server_side_mean_ms"] = (
        round((after[0] - before[0]) / count * 1000, 3) if count else None
    )
    figures["background_settled_s"] = round(waited, 2)
    figures["unanswered"] = missing
    return figures, sent


PHASES = ("sequential", "bursts", "saturation")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    sms_quota = min(args.commands // 4, (SMS_PER_MINUTE - 2) // len(PHASES))
    sims = Simulators(SimOptions())
    info = await sims.start()
    server: Server = InProcessServer(info) if args.in_process else ServerProcess(info)
    all_sent: list[Sent] = []
    phases: dict[str, dict[str, Any]] = {}
    try:
        await server.start()
        url = f"{server.url}/slack/events"
        async with SlashClient(info, connections=args.concurrency) as client:
            # Warm-up: each command once, waiting for its replies (token, account facts and
            # learned rate limits in place), then a few more; none of it is counted.
            warm = [Planned(n, COMMANDS[n][0].replace("{i}", "warm")) for n in COMMANDS]
            for p in warm:
                (sent,), _ = await send_all(client, url, [p], await sims.response_urls(1), 1)
                all_sent.append(sent)
                await settle(sims, [sent], args.settle_timeout)
            extra = plan(args.warmup, 0)
            warm_sent, _ = await send_all(
                client, url, extra, await sims.response_urls(len(extra)), 1
            )
            all_sent.extend(warm_sent)
            await settle(sims, all_sent, args.settle_timeout)

            for n, name in enumerate(PHASES):
                figures, sent_now = await measured_phase(
                    server,
                    sims,
                    client,
                    plan(args.commands, sms_quota, start=n * args.commands),
                    1 if name == "sequential" else args.concurrency,
                    args.settle_timeout,
                    burst_interval={
                        "sequential": args.sequential_interval,
                        "bursts": args.burst_interval,
                    }.get(name),
                )
                phases[name] = figures
                all_sent.extend(sent_now)
        stats, missing, _ = await settle(sims, all_sent, args.settle_timeout)
    finally:
        await server.close()
        await sims.close()

    top = phases["bursts"]
    non_200 = sum(1 for s in all_sent if s.ack.status != 200)
    result: dict[str, Any] = {
        "benchmark": "slash_ack",
        "commands": args.commands,
        "mode": server.mode,
        "p50_ms": top["p50_ms"],
        "p90_ms": top["p90_ms"],
        "p99_ms": top["p99_ms"],
        "max_ms": top["max_ms"],
        "mean_ms": top["mean_ms"],
        "concurrency": args.concurrency,
        "burst_interval_s": args.burst_interval,
        "sequential_interval_s": args.sequential_interval,
        "rate_per_s": top["rate_per_s"],
        "by_command": top["by_command"],
        "server_side_mean_ms": top["server_side_mean_ms"],
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": {name: f["p99_ms"] < TARGET_P99_MS for name, f in phases.items()},
        "within_slack_3s": all(f["max_ms"] < SLACK_LIMIT_MS for f in phases.values()),
        "sequential": phases["sequential"],
        "saturation": phases["saturation"],
    }
    result["sanity"] = {
        "commands_sent": len(all_sent),
        "warmup_not_counted": len(warm) + len(extra),
        "acks_not_200": non_200,
        "answered_in_ack": sum(1 for s in all_sent if s.acked_with_answer),
        "replies_at_response_urls": stats.replies,
        "unanswered": missing,
        "ringcentral_requests": stats.rc_requests,
        "ringcentral_statuses": {str(k): v for k, v in sorted(stats.rc_statuses.items())},
        "ringcentral_endpoints": dict(sorted(stats.rc_endpoints.items())),
        "slack_api_calls": stats.slack_api_calls,
        "sms_per_phase": sms_quota,
    }
    result["server_ready_s"] = round(server.ready_seconds, 3)
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    result["python"] = platform.python_version()
    result["machine"] = {"cores": os.cpu_count(), "arch": platform.machine()}
    result["notes"] = (
        "latency = request sent -> response read, over loopback keep-alive HTTP. Top level: "
        "N commands in bursts of C sent at once, a burst every burst_interval_s. "
        "`sequential`: N more, one at a time, one every sequential_interval_s. "
        "`saturation`: N more, C in flight, closed loop (latency there is C / throughput). "
        "Simulators run in a separate process from this client"
        + ("; the server shares this client's event loop" if args.in_process else "")
    )
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.slash_ack", description=__doc__)
    parser.add_argument("--commands", type=int, default=300, help="commands per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="burst size / in flight")
    parser.add_argument("--burst-interval", type=float, default=0.25, help="seconds between bursts")
    parser.add_argument(
        "--sequential-interval", type=float, default=0.04, help="seconds between sequential ones"
    )
    parser.add_argument("--warmup", type=int, default=12, help="extra warm-up commands")
    parser.add_argument("--in-process", action="store_true", help="server in this process")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="seconds")
    args = parser.parse_args(argv)
    if not 1 <= args.commands <= 10_000:
        parser.error("--commands: 1 to 10000")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency: 1 to 256")
    if not 0 < args.burst_interval <= 10:
        parser.error("--burst-interval: above 0, at most 10 seconds")
    if not 0 <= args.sequential_interval <= 10:
        parser.error("--sequential-interval: 0 to 10 seconds")
    if not 0 <= args.warmup <= 1000:
        parser.error("--warmup: 0 to 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    sanity = result["sanity"]
    return 1 if sanity["unanswered"] or sanity["acks_not_200"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""End to end over RingCentral's WebSocket against webhooks, in one run (DESIGN §6: the
WebSocket's p99 the same as the webhook's at 100 events/s).

    python -m bench.websocket [--channels N] [--rate R] [--seconds S] [--light-rate R0]

For each transport in turn, fresh simulators (a child process, wall clock, limits raised)
and a fresh `python -m bot serve` on SQLite with N `[[routes]]` (route i: the SMS of
company number i to channel i): `webhook` with PUBLIC_URL (the simulator POSTs each event
to the server), `websocket` without (the server holds the WebSocket; the simulator sends
each event on it). The events are made by the simulated account itself, in the
simulator's process, on a fixed schedule (open loop): SMS k to company number k mod N, so
both transports carry the very same traffic.

Latency = when the Slack simulator received the chat.postMessage (its wall clock) - when
the simulator made the SMS (the same machine's wall clock), matched by the post's
metadata `item` (the message id). Phases per transport: a warm-up (one SMS per channel,
not counted), `light` (R0 events/s: what one event costs), `load` (R events/s for S s).
`same_p99` holds when the WebSocket's p99 at R is within 20 % (or 10 ms) of the
webhook's. Prints one JSON object.
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
from typing import Any, Literal

from bench._figures import latency_summary
from bot.sim import ServerProcess, SimOptions, Simulators

Transport = Literal["webhook", "websocket"]
WAIT_POSTED_S = 180.0  # at most this long for a phase's posts to arrive
SAME_RATIO, SAME_MS = 1.2, 10.0


def channel(i: int) -> str:
    return f"C0WS{i:04d}"


def company(i: int) -> str:
    return f"+1650555{1000 + i:04d}"


def sender(i: int) -> str:
    return f"+1415555{1000 + i:04d}"


def bridge_config(channels: int) -> str:
    return "".join(
        f'[[routes]]\nevents = ["sms"]\nchannel = "{channel(i)}"\nnumbers = ["{company(i)}"]\n'
        for i in range(channels)
    )


async def wait_posted(sims: Simulators, items: set[str], since: float) -> dict[str, float]:
    """message id -> when its first successful chat.postMessage arrived (simulator clock)."""
    deadline = time.monotonic() + WAIT_POSTED_S
    found: dict[str, float] = {}
    while True:
        for call in await sims.slack_post_log(since):
            if call["ok"] and call["item"] in items and call["item"] not in found:
                found[call["item"]] = float(call["time"])
        if len(found) >= len(items) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def phase(
    sims: Simulators, args: argparse.Namespace, count: int, rate: float, name: str
) -> dict[str, Any]:
    n = args.channels
    since = time.time()
    made = await sims.rc_sms_load(
        count,
        rate,
        senders=[sender(i) for i in range(n)],
        to_numbers=[company(i) for i in range(n)],
        prefix=name,
    )
    wall = max(t for _, t in made) - min(t for _, t in made) if made else 0.0
    posted = await wait_posted(sims, {m for m, _ in made}, since)
    seconds = [posted[m] - at for m, at in made if m in posted]
    return {
        "rate_per_s": rate,
        "achieved_per_s": round(len(made) / wall, 1) if wall else None,
        "events": len(made),
        "posted": len(posted),
        "not_posted": len(made) - len(posted),
        **latency_summary(seconds),
    }


async def measure(transport: Transport, args: argparse.Namespace) -> dict[str, Any]:
    sims = Simulators(SimOptions())
    info = await sims.start()
    result: dict[str, Any] = {}
    try:
        await sims.slack_add_channels([channel(i) for i in range(args.channels)])
        server = ServerProcess(
            info,
            extra_env={"BRIDGE_CONFIG": bridge_config(args.channels)},
            public_url=transport == "webhook",
        )
        try:
            await server.start()
            await _ready(sims, server, transport)
            warm = await phase(sims, args, args.channels, args.rate, "warm")
            if warm["not_posted"]:
                raise RuntimeError(f"{transport} warm-up not posted:\n{server.log_tail()}")
            await asyncio.sleep(2.0)  # every channel's pace slot is free again
            if args.light_rate:
                count = max(1, int(args.light_rate * args.seconds))
                result["light"] = await phase(sims, args, count, args.light_rate, "light")
                await asyncio.sleep(2.0)
            count = int(args.rate * args.seconds)
            result["load"] = await phase(sims, args, count, args.rate, "load")
            gateway = await sims.rc_websocket()
            result["ws_connections"] = gateway["live_connections"]
        finally:
            await server.close()
    finally:
        await sims.close()
    return result


async def _ready(sims: Simulators, server: ServerProcess, transport: Transport) -> None:
    """The webhook subscription made, or the WebSocket connected and subscribed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        subs = [s for s in await sims.rc_subscriptions() if s["status"] == "Active"]
        made = bool(subs) and (transport == "webhook") == bool(subs[0]["address"])
        if made and (transport == "webhook" or await _connected(server)):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{transport}: not subscribed within 30 s:\n{server.log_tail()}")


async def _connected(server: ServerProcess) -> bool:
    _, body = await server.health()
    return body.get("websocket") == "connected"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    webhook = await measure("webhook", args)
    websocket = await measure("websocket", args)
    hook_p99 = webhook["load"].get("p99_ms", float("nan"))
    ws_p99 = websocket["load"].get("p99_ms", float("nan"))
    same = ws_p99 <= max(hook_p99 * SAME_RATIO, hook_p99 + SAME_MS)
    return {
        "benchmark": "websocket",
        "webhook": webhook,
        "websocket": websocket,
        "p99_ms": {"webhook": hook_p99, "websocket": ws_p99},
        "p99_ratio": round(ws_p99 / hook_p99, 2) if hook_p99 else None,
        "same_p99": same
        and not webhook["load"]["not_posted"]
        and not websocket["load"]["not_posted"],
        "channels": args.channels,
        "database": "SQLite, WAL, synchronous=NORMAL",
        "wall_s": round(time.perf_counter() - t0, 2),
        "python": platform.python_version(),
        "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
        "notes": (
            "latency = Slack simulator's wall clock at chat.postMessage - the RingCentral "
            "simulator's wall clock when it made the SMS (same machine), matched by the "
            "post's metadata item; same traffic over both transports, one after the other. "
            "same_p99: the WebSocket's p99 within 20 % (or 10 ms) of the webhook's. "
            "Shared, noisy machine."
        ),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.websocket", description=__doc__)
    parser.add_argument("--channels", type=int, default=200, help="routes and channels")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s, load phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="phase length")
    parser.add_argument(
        "--light-rate", type=float, default=5.0, help="events/s of a light phase (0: none)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.channels <= 2000:
        parser.error("--channels: 1 to 2000")
    if not 1 <= args.rate <= 1000:
        parser.error("--rate: 1 to 1000")
    if not 0 <= args.light_rate <= 100:
        parser.error("--light-rate: 0 to 100")
    if not 1 <= args.seconds <= 25:  # the simulator process answers a request within 30 s
        parser.error("--seconds: 1 to 25")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    result = asyncio.run(run(parse_args(argv)))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

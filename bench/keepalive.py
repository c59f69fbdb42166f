"""What keep-alive saves on the bridge's calls to Slack and RingCentral (issue 10, item 4).

    python -m bench.keepalive [--calls N] [--rtt-ms R ...]

The bridge has one shared session per service (`bot.server`): Slack's clients share one
aiohttp session, RingCentral's client one httpx client. Here the same clients, built the
same way, make N calls one after another (as the dispatcher posts within a channel), with
and without keep-alive, in one run:
- Slack: `chat.postMessage` through `AsyncWebClient(session=shared)`, against the same
  client given no session, which is what slack_sdk does then: a new aiohttp session, so a
  new connection, for every call (the bridge before issue 8);
- RingCentral: `GET …/extension/~` through `RingCentralClient` over httpx with the
  server's limits, against the same with `max_keepalive_connections=0` (a connection
  closed after each answer). Login not timed.
The simulators run in a child process. Loopback makes a new connection almost free, while
a real one costs a TCP and a TLS 1.3 handshake (2 round trips) before the request (1 round
trip): each `--rtt-ms` R runs both services through a proxy (`bench._proxy.DelayProxy`)
that holds a new connection's first byte 2R ms and every chunk R/2 ms each way (R per
request); R = 0 is bare loopback. Connections are counted by the simulators (and the
proxy). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bench._figures import latency_summary
from bench._proxy import DelayProxy
from bot.ringcentral import Credentials, RingCentralClient
from bot.sim import CHANNEL, SimInfo, SimOptions, Simulators


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """Seconds of each of `count` calls, one after another (after one call not counted:
    the kept arm then has its connection, as a running server has)."""
    await call()
    seconds: list[float] = []
    for _ in range(count):
        t = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - t)
    return seconds


def summary(seconds: list[float]) -> dict[str, Any]:
    total = sum(seconds)
    return {
        "calls_per_s": round(len(seconds) / total, 1),
        **{k: v for k, v in latency_summary(seconds).items() if k != "n"},
    }


async def slack_arm(api_url: str, token: str, count: int, keep: bool) -> list[float]:
    session = aiohttp.ClientSession() if keep else None
    client = AsyncWebClient(token=token, base_url=api_url, session=session, timeout=10)
    i = 0

    async def post() -> None:
        nonlocal i
        i += 1
        await client.chat_postMessage(channel=CHANNEL, text=f"keep-alive bench {i}")

    try:
        return await timed(post, count)
    finally:
        if session is not None:
            await session.close()


async def ringcentral_arm(info: SimInfo, server_url: str, count: int, keep: bool) -> list[float]:
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        # The server's limits (bot.server); none kept alive for the other arm.
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8 if keep else 0),
    )
    rc = RingCentralClient(
        http=http,
        credentials=Credentials(
            client_id=info.rc_client_id, client_secret=info.rc_client_secret, jwt=info.rc_jwt
        ),
        server_url=server_url,
        media_url=info.rc_media_url,
    )
    try:
        return await timed(rc.account.extension, count)  # the first one logs in
    finally:
        await rc.close()
        await http.aclose()


async def one_rtt(sims: Simulators, rtt: float, count: int) -> dict[str, Any]:
    info = sims.info
    proxies = {
        "slack": DelayProxy(info.slack_api_url, setup=2 * rtt, one_way=rtt / 2),
        "ringcentral": DelayProxy(info.rc_server_url, setup=2 * rtt, one_way=rtt / 2),
    }
    urls = {name: await proxy.start() for name, proxy in proxies.items()}
    result: dict[str, Any] = {}
    try:
        for service in ("slack", "ringcentral"):
            seconds: dict[bool, list[float]] = {True: [], False: []}
            connections = dict.fromkeys((True, False), 0)
            at_proxy = dict.fromkeys((True, False), 0)
            # Interleaved halves (kept, new, kept, new): both arms share the machine's noise.
            for keep in (True, False, True, False):
                half = count // 2
                before, opened = await sims.stats(), proxies[service].opened
                if service == "slack":
                    got = await slack_arm(urls["slack"], info.slack_bot_token, half, keep)
                else:
                    got = await ringcentral_arm(info, urls["ringcentral"], half, keep)
                after = await sims.stats()
                seconds[keep] += got
                connections[keep] += (
                    after.slack_connections - before.slack_connections
                    if service == "slack"
                    else after.rc_connections - before.rc_connections
                )
                at_proxy[keep] += proxies[service].opened - opened
            kept, new = summary(seconds[True]), summary(seconds[False])
            result[service] = {
                "kept": {**kept, "calls": len(seconds[True]), "connections": connections[True]},
                "new_each_call": {
                    **new,
                    "calls": len(seconds[False]),
                    "connections": connections[False],
                },
                "connections_at_proxy": {"kept": at_proxy[True], "new_each_call": at_proxy[False]},
                "saved_per_call_ms": round(new["mean_ms"] - kept["mean_ms"], 2),
                "speedup": round(new["mean_ms"] / kept["mean_ms"], 2),
            }
    finally:
        for proxy in proxies.values():
            await proxy.close()
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    sims = Simulators(SimOptions(slack_channel_pace=None))  # one channel, many posts
    await sims.start()
    by_rtt: dict[str, Any] = {}
    try:
        for rtt_ms in args.rtt_ms:
            by_rtt[f"rtt_{rtt_ms:g}_ms"] = await one_rtt(sims, rtt_ms / 1000, args.calls)
    finally:
        await sims.close()
    return {
        "benchmark": "keepalive",
        "calls_per_arm": args.calls,
        "results": by_rtt,
        "wall_s": round(time.perf_counter() - t0, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
        "notes": (
            "calls one after another, in interleaved halves, each half after one call not "
            "counted (connections include it); kept = the bridge's shared session/client, "
            "new_each_call = the same client with no kept connection. rtt R: the proxy delays "
            "a new connection's first byte by 2R (TCP + TLS 1.3 handshakes) and each chunk "
            "by R/2 each way; R = 0 is bare loopback (no TLS at all, so it understates). "
            "connections = counted by the simulator. Shared, noisy machine."
        ),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.keepalive", description=__doc__)
    parser.add_argument("--calls", type=int, default=100, help="per arm")
    parser.add_argument(
        "--rtt-ms", type=float, nargs="+", default=[0.0, 20.0], help="round trips to emulate"
    )
    args = parser.parse_args(argv)
    if not 2 <= args.calls <= 5000 or not all(0 <= r <= 500 for r in args.rtt_ms):
        parser.error("--calls: 2 to 5000; --rtt-ms: 0 to 500 each")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    print(json.dumps(asyncio.run(run(parse_args(argv))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

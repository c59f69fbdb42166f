"""The bridge's RingCentral client against the official `ringcentral` Python SDK (DESIGN §6:
≥ 5 times faster in wall time, same simulator, same 100 requests, 80 ms added latency, limits
raised to 1000/min).

    python -m bench.rc_client [--requests N] [--latency S] [--concurrency C]

The official SDK is not a dependency of the bridge; install it into the venv to run this:

    .venv/bin/pip install ringcentral

Without it the comparison is skipped (the JSON says so) and only our client is measured.

The RingCentral simulator runs in a child process with `latency` added to every request and
the Light/Medium/Heavy/Auth limits at 1000 requests a minute. Both clients log in with the
same JWT first (not timed), then make the same N requests: alternately the extension's
info (`GET …/extension/~`, Light) and its call log (`GET …/extension/~/call-log`, Heavy).
The SDK as documented: synchronous, one call at a time (run in a worker thread); it opens a
new `requests.Session` — a new connection — for every call. Ours: `RingCentralClient` over
httpx with keep-alive, C requests in flight (the server's httpx limits: 16 connections).
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
from typing import Any

import httpx

from bot.sim import SimInfo, SimOptions, Simulators

TARGET_SPEEDUP = 5.0
LIMIT_PER_MIN = 1000
INSTALL = ".venv/bin/pip install ringcentral"
PATHS = ("/restapi/v1.0/account/~/extension/~", "/restapi/v1.0/account/~/extension/~/call-log")


async def ours(info: SimInfo, count: int, concurrency: int) -> dict[str, Any]:
    from bot.ringcentral import Credentials, RingCentralClient

    http = httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
    )
    rc = RingCentralClient(
        http=http,
        credentials=Credentials(
            client_id=info.rc_client_id, client_secret=info.rc_client_secret, jwt=info.rc_jwt
        ),
        server_url=info.rc_server_url,
        media_url=info.rc_media_url,
    )
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            if i % 2 == 0:
                await rc.account.extension()
            else:
                await rc.call_log.list()

    try:
        await one(0)  # login (not timed)
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        wall = time.perf_counter() - started
    finally:
        await rc.close()
        await http.aclose()
    return {"wall_s": round(wall, 3), "rate_per_s": round(count / wall, 1)}


def official(info: SimInfo, count: int) -> dict[str, Any]:
    from ringcentral import SDK  # type: ignore[import-untyped]

    platform_ = SDK(info.rc_client_id, info.rc_client_secret, info.rc_server_url).platform()
    platform_.login(jwt=info.rc_jwt)  # not timed
    started = time.perf_counter()
    for i in range(count):
        platform_.get(PATHS[i % 2]).json_dict()
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 3), "rate_per_s": round(count / wall, 1)}


def sdk_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("ringcentral")
    except Exception:  # not installed
        return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    limits = dict.fromkeys(("Light", "Medium", "Heavy", "Auth"), LIMIT_PER_MIN)
    sims = Simulators(SimOptions(latency=args.latency, limits=limits))
    info = await sims.start()
    result: dict[str, Any] = {"benchmark": "rc_client"}
    try:
        before = (await sims.stats()).rc_requests
        our = await ours(info, args.requests, args.concurrency)
        mid = await sims.stats()
        version = sdk_version()
        sdk: dict[str, Any] | None = None
        if version is not None:
            sdk = await asyncio.to_thread(official, info, args.requests)
        after = await sims.stats()
    finally:
        await sims.close()
    speedup = round(sdk["wall_s"] / our["wall_s"], 2) if sdk else None
    result.update(
        {
            "speedup": speedup,
            "target_speedup": TARGET_SPEEDUP,
            "meets_target": None if speedup is None else speedup >= TARGET_SPEEDUP,
            "requests": args.requests,
            "latency_s": args.latency,
            "limits_per_min": LIMIT_PER_MIN,
            "ringbridge": {**our, "concurrency": args.concurrency},
            "official_sdk": (
                {**sdk, "version": version, "concurrency": 1}
                if sdk
                else {"skipped": f"the `ringcentral` package is not installed: {INSTALL}"}
            ),
            "simulator": {
                "requests_ours_incl_login": mid.rc_requests - before,
                "requests_sdk_incl_login": after.rc_requests - mid.rc_requests if sdk else 0,
                "statuses": {str(k): v for k, v in sorted(after.rc_statuses.items())},
            },
            "wall_s": round(time.perf_counter() - t0, 2),
            "python": platform.python_version(),
            "machine": {"cores": os.cpu_count(), "arch": platform.machine()},
            "notes": (
                "same simulator process, same requests (extension info and call-log GETs "
                "alternately), login not timed; speedup = SDK wall / ours. Shared, noisy machine."
            ),
        }
    )
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rc_client", description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.08, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=8, help="ours: requests in flight")
    args = parser.parse_args(argv)
    if not 2 <= args.requests <= 2000 or not 0 <= args.latency <= 2:
        parser.error("--requests: 2 to 2000; --latency: 0 to 2 seconds")
    if not 1 <= args.concurrency <= 16:
        parser.error("--concurrency: 1 to 16")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    result = asyncio.run(run(parse_args(argv)))
    print(json.dumps(result, indent=2))
    if result["speedup"] is None:
        print(f"official SDK comparison skipped; install it with: {INSTALL}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

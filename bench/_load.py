"""Load shapes for webhook deliveries: a closed loop (as fast as answers come) and an open
loop (on schedule, whatever the answers take)."""

from __future__ import annotations

import asyncio
import time

from bot.sim import Delivered, WebhookSender


async def closed_loop(
    sender: WebhookSender, bodies: list[tuple[str, bytes]], concurrency: int
) -> tuple[list[Delivered], float]:
    """`concurrency` senders, each sending its next as soon as its last is answered;
    (every delivery, wall seconds)."""
    results: list[Delivered] = []
    items = iter(bodies)

    async def worker() -> None:
        for uuid, body in items:
            results.append(await sender.send(uuid, body))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return results, time.perf_counter() - started


async def open_loop(
    sender: WebhookSender, bodies: list[tuple[str, bytes]], rate: float
) -> tuple[list[Delivered], float]:
    """One delivery every 1/`rate` seconds, on schedule whatever the answers take;
    (every delivery, wall seconds)."""
    tasks: list[asyncio.Task[Delivered]] = []
    started = time.perf_counter()
    for i, (uuid, body) in enumerate(bodies):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(sender.send(uuid, body)))
    done = list(await asyncio.gather(*tasks))
    return done, time.perf_counter() - started

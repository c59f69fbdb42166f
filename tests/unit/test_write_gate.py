"""The write gate (SQLite's one writer taken in turn within a process): `first` writers go
ahead of the `turn` writers waiting, and a waiter cancelled never leaves the gate held."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.store.gate import WriteGate

Entry = Callable[[], AbstractAsyncContextManager[None]]


async def settle() -> None:
    """Let every task that can run, run (and queue at the gate)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Writers:
    """Writers of one gate, each holding it until told to finish; the order they got it."""

    def __init__(self, gate: WriteGate) -> None:
        self.gate = gate
        self.order: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    def start(self, name: str, entry: Entry) -> asyncio.Task[None]:
        self.release[name] = asyncio.Event()

        async def write() -> None:
            async with entry():
                self.order.append(name)
                await self.release[name].wait()

        return asyncio.create_task(write(), name=name)

    async def finish(self, name: str) -> None:
        self.release[name].set()
        await settle()


async def test_first_writers_go_ahead_of_every_turn_writer_waiting() -> None:
    gate = WriteGate()
    writers = Writers(gate)
    tasks = [writers.start("holder", gate.turn)]
    await settle()
    for name in ("turn-1", "turn-2"):
        tasks.append(writers.start(name, gate.turn))
        await settle()
    tasks.append(writers.start("first-1", gate.first))
    await settle()
    tasks.append(writers.start("turn-3", gate.turn))
    tasks.append(writers.start("first-2", gate.first))
    await settle()
    assert writers.order == ["holder"]  # one writer at a time

    for name in ("holder", "first-1", "first-2", "turn-1", "turn-2", "turn-3"):
        await writers.finish(name)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    # (the `turn` writers a `first` one went ahead of may queue again behind a later one)
    assert writers.order[:3] == ["holder", "first-1", "first-2"]
    assert sorted(writers.order[3:]) == ["turn-1", "turn-2", "turn-3"]


async def test_a_first_writer_waits_only_for_the_writer_in_hand() -> None:
    gate = WriteGate()
    writers = Writers(gate)
    tasks = [writers.start("turn-holder", gate.turn)]
    await settle()
    tasks += [writers.start(f"turn-{i}", gate.turn) for i in range(3)]
    await settle()
    tasks.append(writers.start("first", gate.first))
    await settle()
    await writers.finish("turn-holder")
    assert writers.order == ["turn-holder", "first"]
    for name in ("first", "turn-0", "turn-1", "turn-2"):
        await writers.finish(name)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_a_cancelled_first_writer_does_not_hold_back_the_turn_writers() -> None:
    gate = WriteGate()
    writers = Writers(gate)
    holder = writers.start("holder", gate.turn)
    await settle()
    first = writers.start("first", gate.first)
    await settle()
    waiting = writers.start("turn", gate.turn)  # waits for the first writer to go
    await settle()
    first.cancel()
    await settle()
    await writers.finish("holder")
    await writers.finish("turn")
    await asyncio.wait_for(asyncio.gather(holder, waiting), 5)
    assert first.cancelled()
    assert writers.order == ["holder", "turn"]


async def test_cancelled_waiters_leave_the_gate_free() -> None:
    gate = WriteGate()
    writers = Writers(gate)
    holder = writers.start("holder", gate.turn)
    await settle()
    cancelled = [writers.start("first-x", gate.first), writers.start("turn-x", gate.turn)]
    await settle()
    for task in cancelled:
        task.cancel()
    await settle()
    await writers.finish("holder")
    await holder
    # the gate is free: a `turn` and a `first` writer each get it at once
    for name, entry in (("after-turn", gate.turn), ("after-first", gate.first)):
        task = writers.start(name, entry)
        await settle()
        assert writers.order[-1] == name
        await writers.finish(name)
        await asyncio.wait_for(task, 5)
    assert all(task.cancelled() for task in cancelled)


async def test_a_writer_cancelled_while_writing_gives_the_gate_to_the_next() -> None:
    gate = WriteGate()
    writers = Writers(gate)
    holder = writers.start("holder", gate.first)
    await settle()
    nxt = writers.start("next", gate.turn)
    await settle()
    holder.cancel()
    await settle()
    assert writers.order == ["holder", "next"]
    await writers.finish("next")
    await asyncio.wait_for(nxt, 5)

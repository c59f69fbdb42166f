"""SQLite's one writer, taken in turn inside the process (issue #10).

SQLite lets one connection write at a time. A connection that finds the lock taken sleeps
in SQLite's busy handler (1, 2, 5 … up to 100 ms between tries) and tries again, so under
load the writers of one process — the receiver's group commit, the dispatcher's lanes —
lose time sleeping while the lock is free, and the one that wins is whoever wakes first:
an acknowledgement can wait behind a stream of the dispatcher's writes. The gate queues
the process's hot writers instead: one at a time, and the receiver's commit (`first`)
ahead of every other writer waiting (the others in about the order they came: one that a
`first` writer sent back queues again). Other writers (Slack actions, the CLI)
still meet SQLite's busy handler, now against one gated writer at a time.

PostgreSQL has row locks and many writers: there is no gate (`write_gate` is None).

A gated transaction must not wait for another gated one (a nested `begin` of gated
sessions would wait for itself): gated code takes its transactions one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["GatedSessions", "Sessions", "WriteGate", "write_gate"]


class Sessions(Protocol):
    """What work code needs of a session factory: an `async_sessionmaker`, or
    `GatedSessions`."""

    def __call__(self) -> AsyncSession: ...

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]: ...


class WriteGate:
    """One writer at a time; `first` writers ahead of the others waiting."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._first = 0  # `first` writers waiting or writing
        self._clear = asyncio.Event()
        self._clear.set()

    @contextlib.asynccontextmanager
    async def first(self) -> AsyncIterator[None]:
        """Write as soon as the writer in hand is done (the receiver: an acknowledgement
        waits for it)."""
        self._first += 1
        self._clear.clear()
        try:
            async with self._lock:
                yield
        finally:
            self._first -= 1
            if not self._first:
                self._clear.set()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Write in turn, after every `first` writer waiting."""
        while True:
            await self._clear.wait()
            await self._lock.acquire()
            if not self._first:
                break
            self._lock.release()  # a `first` writer came while we queued: it goes ahead
        try:
            yield
        finally:
            self._lock.release()


_gates: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> WriteGate | None:
    """The gate of `engine`'s database within this process; None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    gate = _gates.get(engine.sync_engine)
    if gate is None:
        gate = _gates[engine.sync_engine] = WriteGate()
    return gate


class GatedSessions:
    """Sessions of `engine` whose transactions (`begin`) take the write gate in turn: what
    a hot writer of the dispatcher uses where it would use an `async_sessionmaker`. A
    session without `begin` (a read) takes no gate."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._gate = write_gate(engine)

    def __call__(self) -> AsyncSession:
        return self._sessions()

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]:
        if self._gate is None:
            return self._sessions.begin()
        return self._gated()

    @contextlib.asynccontextmanager
    async def _gated(self) -> AsyncIterator[AsyncSession]:
        assert self._gate is not None
        async with self._gate.turn(), self._sessions.begin() as session:
            yield session

"""Group commit for the webhook receiver (DESIGN §6).

One transaction per delivery spends most of its time in the round trips of BEGIN, INSERT
and COMMIT (aiosqlite's thread, the WAL write), and reached 0.17 of a bare handler's rate on
SQLite. Here concurrent deliveries share one transaction instead:

- `write(values)` queues the row and waits for the transaction that holds it; it returns
  only after that transaction COMMITTED (True: the row is new; False: its key was already
  stored), or raises `NotStored` if it failed. The caller answers 200 only on a return, so
  nothing is acknowledged before it is durable.
- One writer task at a time takes up to `max_rows` queued rows, lingering at most
  `max_wait` seconds for more when rows are still arriving (never on the first batch after
  a quiet spell: a lone delivery is written at once), and writes them in ONE
  `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING key`. Duplicates inside a
  batch are folded before the INSERT (the first one in the queue is the "new" one);
  duplicates of rows stored earlier are skipped by the unique index.
- That INSERT is one Core statement built once and executed with the batch's rows as
  parameters (SQLAlchemy's "insertmanyvalues" renders the multi-row VALUES from its cached
  compilation). Building `insert(Model).values([...])` per batch instead sent every row
  through the ORM's bulk path and a fresh SQL compilation: profiled under the ingest
  benchmark, that was about 70 % of the server's CPU, more than the HTTP handling, and
  it held ingest to 0.3 of a bare handler.
- A failed transaction fails every row of its batch (the receiver answers 500 to each;
  RingCentral sends them again), and the next batch is tried afresh.
- The writer exists only while there is work: it ends when the queue is empty, and the
  next `write` starts another. So an idle server has no task to stop; `close()` refuses new
  rows and waits until the queue has drained.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import insert
from bot.store.gate import write_gate
from bot.store.schema import Base

log = logging.getLogger("bot.bridge.receiver")

MAX_ROWS = 100  # rows per transaction
MAX_WAIT = 0.002  # seconds a batch may wait for more rows (only while rows keep coming)


class NotStored(Exception):
    """The transaction holding the row failed (or the writer is closed): not durable."""


@dataclass
class _Queued:
    key: str
    values: dict[str, Any]
    done: asyncio.Future[bool]


@dataclass
class BatchStats:
    """What the writer did (for tests and benchmarks)."""

    batches: int = 0
    rows: int = 0
    failed_batches: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> how many


class GroupWriter:
    """Rows of `model`, unique on `key`, inserted in shared transactions."""

    def __init__(
        self,
        engine: AsyncEngine,
        model: type[Base],
        key: str,
        *,
        max_rows: int = MAX_ROWS,
        max_wait: float = MAX_WAIT,
    ) -> None:
        if max_rows < 1 or max_wait < 0:
            raise ValueError("max_rows must be >= 1 and max_wait >= 0")
        self._engine = engine
        self._gate = write_gate(engine)  # SQLite: the receiver writes first
        self._key = key
        table = model.__table__
        assert isinstance(table, Table)  # a mapped class of ours: one table
        self._statement = (
            insert(engine.dialect.name, table).on_conflict_do_nothing().returning(table.c[key])
        )
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._queue: deque[_Queued] = deque()
        self._full = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = BatchStats()

    async def write(self, values: dict[str, Any]) -> bool:
        """Store `values` durably; True if its key is new, False if already stored."""
        if self._closed:
            raise NotStored("the writer is closed")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(str(values[self._key]), values, done))
        if len(self._queue) >= self.max_rows:
            self._full.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._run(), name="group-commit")
        # If our caller is cancelled the row may still be written; it was never acked, and
        # a retry of it is a duplicate, which is harmless.
        return await done

    async def close(self) -> None:
        """Refuse new rows; return once every queued row is committed or failed."""
        self._closed = True
        writer = self._writer
        if writer is not None:
            await asyncio.shield(writer)

    async def _run(self) -> None:
        lingering = False  # only after a batch of more than one row: rows are arriving
        try:
            while self._queue:
                if lingering and len(self._queue) < self.max_rows and self.max_wait > 0:
                    # A real-time bound on added latency, not a business delay: no Clock.
                    self._full.clear()
                    try:
                        async with asyncio.timeout(self.max_wait):
                            await self._full.wait()
                    except TimeoutError:
                        pass
                batch = [self._queue.popleft() for _ in range(min(self.max_rows, len(self._queue)))]
                if len(self._queue) < self.max_rows:
                    self._full.clear()
                await self._commit(batch)
                lingering = len(batch) > 1
        finally:
            self._writer = None
            # Only if this task was cancelled (the loop is closing): nothing left waiting.
            while self._queue:
                _fail(self._queue.popleft().done, NotStored("the writer was stopped"))

    async def _commit(self, batch: list[_Queued]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for item in batch:
            rows.setdefault(item.key, item.values)
        try:
            async with (
                self._gate.first() if self._gate else nullcontext(),
                self._engine.begin() as conn,
            ):
                new = set((await conn.execute(self._statement, list(rows.values()))).scalars())
        except BaseException as exc:
            self.stats.failed_batches += 1
            if isinstance(exc, Exception):
                # The driver's own message only: SQLAlchemy's would carry every row.
                reason = str(getattr(exc, "orig", None) or exc)[:200]
                log.error(
                    "could not store %d deliveries: %s: %s", len(batch), type(exc).__name__, reason
                )
            failure = NotStored(f"{type(exc).__name__}")
            for item in batch:
                _fail(item.done, failure)
            if not isinstance(exc, Exception):
                raise  # cancelled: the finally in _run fails what is still queued
            return
        self.stats.batches += 1
        self.stats.rows += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        self.stats.sizes[len(batch)] = self.stats.sizes.get(len(batch), 0) + 1
        for item in batch:
            fresh = item.key in new
            new.discard(item.key)  # a second copy in the same batch is a duplicate
            if not item.done.done():
                item.done.set_result(fresh)


def _fail(done: asyncio.Future[bool], exc: Exception) -> None:
    if not done.done():
        done.set_exception(exc)

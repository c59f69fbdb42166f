"""Group commit for the webhook receiver (DESIGN §6).

One transaction per delivery spends most of its time in the round trips of BEGIN, INSERT
and COMMIT (aiosqlite's thread, the WAL write), and reached 0.17 of a bare handler's rate on
SQLite. Here concurrent deliveries share one transaction instead:

- `write(values)` queues the row and waits for the transaction that holds it; it returns
  only after that transaction COMMITTED (True: the row is new; False: its key was already
  stored), or raises `NotStored` if it failed. The caller answers 200 only on a return, so
  nothing is acknowledged before it is durable.
- One writer task at a time takes up to `max_rows` queued rows and writes them in ONE
  `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING key`. Before it takes a
  batch it yields to the event loop as long as that adds rows (for at most `max_wait`):
  the requests the server has already read join it, and it never waits on a timer for
  requests not yet sent (a lone delivery is written at once; under a closed loop of
  senders, a timed linger was the server idling while every sender waited for it).
  Duplicates inside a batch are folded before the INSERT (the first one in the queue is
  the "new" one); duplicates of rows stored earlier are skipped by the unique index.
- That INSERT is compiled by SQLAlchemy once per batch size, not built per batch: an ORM
  `insert(Model).values([...])` per batch was about 70 % of the server's CPU under the
  ingest benchmark. On PostgreSQL it is one cached Core statement executed with the rows
  as parameters ("insertmanyvalues"). On SQLite the compiled SQL runs on aiosqlite itself,
  each value through its column's type: SQLAlchemy's async adaptation took five trips to
  aiosqlite's thread and 0.8 to 1.1 ms of CPU for a batch of 16 rows, this takes two and
  0.35 to 0.4 ms.
- The writer keeps one connection from batch to batch while rows keep coming (a checkout
  and the pool's rollback at check-in per batch were another trip and more CPU).
- A failed transaction fails every row of its batch (the receiver answers 500 to each;
  RingCentral sends them again), and the next batch is tried afresh, on a new connection.
- The writer exists only while there is work: it ends when the queue is empty, and the
  next `write` starts another. So an idle server has no task to stop; `close()` refuses new
  rows and waits until the queue has drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Dialect, Insert, Table, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from bot.store.engine import insert
from bot.store.gate import write_gate
from bot.store.schema import Base

log = logging.getLogger("bot.bridge.receiver")

MAX_ROWS = 100  # rows per transaction
MAX_WAIT = 0.002  # seconds a batch may gather rows that are arriving (never a timed wait)


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
        self._on_sqlite = engine.dialect.name == "sqlite"
        self._defaults = _constant_defaults(table) if self._on_sqlite else {}
        self._rendered: dict[tuple[tuple[str, ...], int], _Rendered] = {}
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._queue: deque[_Queued] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = BatchStats()

    async def write(self, values: dict[str, Any]) -> bool:
        """Store `values` durably; True if its key is new, False if already stored."""
        if self._closed:
            raise NotStored("the writer is closed")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(str(values[self._key]), values, done))
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
        try:
            while self._queue:  # again after the close: rows may have come during it
                conn: AsyncConnection | None = None  # kept while rows keep coming
                try:
                    while self._queue:
                        await self._gather()
                        batch = [
                            self._queue.popleft()
                            for _ in range(min(self.max_rows, len(self._queue)))
                        ]
                        conn = await self._commit(conn, batch)
                finally:
                    # Before the writer is done: `close()` returns with it back in the pool.
                    if conn is not None:
                        await conn.close()
        finally:
            self._writer = None
            # Only if this task was cancelled (the loop is closing): nothing left waiting.
            while self._queue:
                _fail(self._queue.popleft().done, NotStored("the writer was stopped"))

    async def _gather(self) -> None:
        """Let the deliveries the server has already read join the batch: yield to the loop
        as long as that adds rows, up to `max_rows` and for at most `max_wait` seconds.

        Never a timed wait: the rows that can join are the requests already received, whose
        handlers are ready to run; waiting for requests not yet sent only idles the server
        (its clients are waiting for the 200s of this very batch)."""
        loop = asyncio.get_running_loop()
        # A real-time bound on added latency, not a business delay: no Clock.
        deadline = loop.time() + self.max_wait
        while len(self._queue) < self.max_rows:
            queued = len(self._queue)
            await asyncio.sleep(0)
            if len(self._queue) == queued or loop.time() >= deadline:
                return

    async def _commit(
        self, conn: AsyncConnection | None, batch: list[_Queued]
    ) -> AsyncConnection | None:
        """Write `batch` in one transaction on `conn` (a new connection if None) and settle
        its rows; the connection for the next batch: the same one, or None after a failure
        (the next batch then starts on a fresh one)."""
        rows: dict[str, dict[str, Any]] = {}
        for item in batch:
            rows.setdefault(item.key, item.values)
        try:
            if conn is None:
                conn = await self._engine.connect()
            async with self._gate.first() if self._gate else contextlib.nullcontext():
                new = await self._insert(conn, list(rows.values()))
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
            if conn is not None:
                with contextlib.suppress(Exception):  # it failed already; it goes either way
                    await conn.close()
            if not isinstance(exc, Exception):
                raise  # cancelled: the finally in _run fails what is still queued
            return None
        self.stats.batches += 1
        self.stats.rows += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        self.stats.sizes[len(batch)] = self.stats.sizes.get(len(batch), 0) + 1
        for item in batch:
            fresh = item.key in new
            new.discard(item.key)  # a second copy in the same batch is a duplicate
            if not item.done.done():
                item.done.set_result(fresh)
        return conn

    async def _insert(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
        """INSERT `rows` and COMMIT, in one transaction on `conn`; the keys that were new."""
        if not self._on_sqlite:
            async with conn.begin():
                return set((await conn.execute(self._statement, rows)).scalars())
        # SQLite: the SQL SQLAlchemy compiled, run on aiosqlite itself in two trips to its
        # thread (the INSERT with its RETURNING rows, the COMMIT) instead of SQLAlchemy's
        # five (a cursor, the INSERT, its rows, closing the cursor, the COMMIT). A failure
        # leaves the transaction open: the caller then closes `conn`, the pool rolls back.
        columns = tuple(dict.fromkeys([*rows[0], *self._defaults]))
        rendered = self._rendered.get((columns, len(rows)))
        if rendered is None:  # once for each batch size
            rendered = _Rendered(self._statement, columns, len(rows), self._engine.dialect)
            self._rendered[(columns, len(rows))] = rendered
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # a live connection: it was just checked out
        returned = await driver.execute_fetchall(
            rendered.sql, rendered.parameters(rows, self._defaults)
        )
        await driver.commit()
        return {key for (key,) in returned}


class _Rendered:
    """An INSERT of `count` rows of `columns`, compiled by SQLAlchemy for a positional
    driver (aiosqlite): its SQL, and the rows' values in its parameters' order, each
    through its column's type as SQLAlchemy's own execution would."""

    def __init__(
        self, statement: Insert, columns: tuple[str, ...], count: int, dialect: Dialect
    ) -> None:
        table = statement.table
        assert isinstance(table, Table)
        names = {f"{c}_{i}": (i, c) for i in range(count) for c in columns}
        compiled = statement.values(
            [
                {c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns}
                for i in range(count)
            ]
        ).compile(dialect=dialect)
        assert compiled.positiontup is not None  # aiosqlite's paramstyle is positional
        self.sql = str(compiled)
        processors = {
            c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns
        }
        self._order: list[tuple[int, str, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup:
            # Every parameter is one of ours (a KeyError otherwise): none is left for
            # SQLAlchemy to fill in when it executes (a default), which it does not here.
            i, column = names[name]
            self._order.append((i, column, processors[column]))

    def parameters(self, rows: list[dict[str, Any]], defaults: dict[str, Any]) -> list[Any]:
        parameters = []
        for i, column, process in self._order:
            row = rows[i]
            value = row[column] if column in row else defaults[column]
            parameters.append(value if process is None else process(value))
        return parameters


def _constant_defaults(table: Table) -> dict[str, Any]:
    """Each column's default (a constant: `default=` in the model), for the rows that leave
    it out, as SQLAlchemy fills them in when it executes an INSERT."""
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.default is None:
            continue
        if not isinstance(column.default, ScalarElementColumnDefault):
            raise TypeError(f"{table.name}.{column.key}: only constant defaults are supported")
        defaults[column.key] = column.default.arg
    return defaults


def _fail(done: asyncio.Future[bool], exc: Exception) -> None:
    if not done.done():
        done.set_exception(exc)

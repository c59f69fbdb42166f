"""SQLAlchemy's aiosqlite adapter, with a statement run in one trip to aiosqlite's thread.

aiosqlite runs each call on its connection in a thread of its own, and SQLAlchemy's
adapter makes a statement four such calls: open a cursor, execute, fetch the rows, close
the cursor. Each is a trip there and back (a queue, a thread's wake-up, the event loop's),
and on SQLite a write transaction holds the one writer's lock across all of them
(`bot.store.gate`): under load the trips, not SQLite, were most of a transaction's time.
Here a statement is one function run in that thread: cursor, execute, rows and cursor
closed, in one trip (`_Cursor`). Everything else is SQLAlchemy's adapter as it is:
transactions, errors, server-side cursors (`stream`, which keep theirs).

It leans on one private part of aiosqlite, `Connection._execute` (run a function in the
connection's thread, in its queue's order), and on the insides of SQLAlchemy 2.1's
adapter, which it subclasses: with another SQLAlchemy, or an aiosqlite without that
function, `module()` returns None and the engine keeps SQLAlchemy's own adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
import sqlalchemy
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

__all__ = ["module"]

ADAPTED = "2.1."  # the SQLAlchemy whose aiosqlite adapter `_Cursor` is written against

# What a statement left: (description, rows or None, rowcount, lastrowid).
_Result = tuple[Any, list[Any] | None, int, int | None]
_NOTHING: _Result = (None, None, -1, None)


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Result:
    """In aiosqlite's thread: the statement, whole."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor with nothing open in aiosqlite's thread: each statement runs there whole
    (`_run`) and leaves its rows here."""

    __slots__ = ("_result",)

    def __init__(self, adapt_connection: Any) -> None:  # no cursor opened: no trip
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._result = _NOTHING

    @property
    def description(self) -> Any:
        return self._result[0]

    @property
    def rowcount(self) -> int:
        return self._result[2]

    @property
    def lastrowid(self) -> Any:
        return self._result[3]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # the rows are all here already

    async def _async_soft_close(self) -> None:
        pass  # nothing open in the thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            self._result = await_(self._in_thread(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        rows = self._result[1]
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _in_thread(self, operation: Any, parameters: Any, many: bool) -> _Result:
        async with self._adapt_connection._execute_mutex:
            driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            run = driver._execute  # private: see the module's docstring
            result: _Result = await run(_run, driver._conn, operation, parameters, many)  # type: ignore[no-untyped-call]
            return result


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor


class _Module(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`create_engine(module=…)`):
    its own, but for the cursor."""

    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def module() -> _Module | None:
    """The module for `create_async_engine(…, module=…)` on `sqlite+aiosqlite`, or None
    (then SQLAlchemy's own is used) with another SQLAlchemy than `ADAPTED`, or an aiosqlite
    without `Connection._execute`."""
    if not sqlalchemy.__version__.startswith(ADAPTED):
        return None
    if not callable(getattr(aiosqlite.Connection, "_execute", None)):
        return None
    return _Module(aiosqlite, sqlite3)

"""The deliveries lane's writes to the inbox (`bot.bridge.dispatcher`), fenced by the lease
as `bot.store.work.write_back` is: a statement changes only the rows still pending under
the lease this process took (`claimed_until` unchanged), so a process slower than its
lease never stores, or frees, a delivery another process has taken over.

The lane runs these many times a second (issue 10), so each statement is built once, on
the table rather than the mapped class, with its ids as one expanding parameter, and run
on the session's connection: building a statement and its cache key every time, and
SQLAlchemy's ORM-enabled UPDATE, cost more than SQLite's work (README, Performance).
Rows claimed together share their lease; each distinct lease among `deliveries` is one
statement (an expanding parameter cannot be part of an executemany).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.schema import Delivery
from bot.store.work import by_lease

__all__ = ["finish_ours", "lock_ours", "mark_done", "release_ours"]

_INBOX = cast(Table, Delivery.__table__)
_IDS = _INBOX.c.id.in_(bindparam("ids", expanding=True))
_OURS = and_(_IDS, _INBOX.c.state == "pending", _INBOX.c.claimed_until == bindparam("lease"))
_DONE_VALUES: dict[str, Any] = {"state": "done", "error": None, "claimed_until": None}

_FINISH = update(_INBOX).where(_OURS).values(_DONE_VALUES).returning(_INBOX.c.id)
# A write that changes nothing: on SQLite it opens the write transaction (savepoints then
# nest in it, rather than each committing on its own); on PostgreSQL it locks the rows.
_LOCK = update(_INBOX).where(_OURS).values(attempts=_INBOX.c.attempts).returning(_INBOX.c.id)
_DONE = update(_INBOX).where(_IDS).values(_DONE_VALUES)
_RELEASE = update(_INBOX).where(_OURS).values(claimed_until=None)


async def finish_ours(session: AsyncSession, deliveries: Sequence[Delivery]) -> set[int]:
    """Mark done those of `deliveries` still ours, in the caller's transaction (their rows
    locked until it ends): the ids marked. For a batch stored all at once, so that the
    deliveries' lock, their lease check and their end are one statement."""
    return await _ours(session, _FINISH, deliveries)


async def lock_ours(session: AsyncSession, deliveries: Sequence[Delivery]) -> set[int]:
    """Lock those of `deliveries` still ours for the caller's transaction, changing
    nothing: their ids. `mark_done` ends those then stored."""
    return await _ours(session, _LOCK, deliveries)


async def mark_done(session: AsyncSession, ids: Iterable[int]) -> None:
    """Mark done the deliveries `ids`, rows `lock_ours` holds in this transaction."""
    ids = list(ids)
    if ids:
        await (await session.connection()).execute(_DONE, {"ids": ids})


async def release_ours(session: AsyncSession, deliveries: Sequence[Delivery]) -> int:
    """Clear our lease on those of `deliveries` still ours, so that another process takes
    them at once; how many."""
    released = 0
    conn = await session.connection()
    for lease, rows in by_lease(deliveries).items():
        result = await conn.execute(_RELEASE, {"ids": _ids(rows), "lease": lease})
        released += result.rowcount or 0
    return released


async def _ours(session: AsyncSession, statement: Any, deliveries: Sequence[Delivery]) -> set[int]:
    ours: set[int] = set()
    conn = await session.connection()
    for lease, rows in by_lease(deliveries).items():
        found = await conn.execute(statement, {"ids": _ids(rows), "lease": lease})
        ours.update(found.scalars())
    return ours


def _ids(deliveries: list[Delivery]) -> list[int]:
    return [delivery.id for delivery in deliveries]

"""The work tables (inbox, posts, uploads) and how a process claims rows of them.

A claim sets `claimed_until` (a lease) on rows that are due and not leased, in one
statement: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING *` on
PostgreSQL, so several processes never take the same row; on SQLite (one process; writers
are serialised) the same statement without the lock clause, which SQLAlchemy drops there.
A process that dies holding a lease lets it run out; the row is then due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.store.schema import Base, Delivery, Outbound, Post, SlackEvent, Upload

__all__ = [
    "claim",
    "insert_ignoring_duplicates",
    "release_leases",
]

Row = TypeVar("Row", Delivery, Post, Upload, SlackEvent, Outbound)


async def claim(
    session: AsyncSession,
    model: type[Row],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    states: Sequence[str] = ("pending",),
    where: ColumnElement[bool] | None = None,
) -> list[Row]:
    """Lease up to `limit` due rows of `model` in `states`, oldest first."""
    due = and_(
        model.state.in_(states),
        model.next_attempt_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )
    if where is not None:
        due = and_(due, where)
    candidates = (
        select(model.id)
        .where(due)
        .order_by(model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(model)
        .where(model.id.in_(candidates.scalar_subquery()))
        .values(claimed_until=now + lease)
        .returning(model)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.scalars(statement)).all())
    rows.sort(key=lambda row: row.id)
    return rows


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Base], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def release_leases(engine: AsyncEngine) -> int:
    """Clear every lease: at the start of the one process a SQLite database has, the
    leases left are those of its own previous life (killed), so they are due at once."""
    released = 0
    async with engine.begin() as conn:
        for model in (Delivery, Post, Upload, SlackEvent, Outbound):
            result = await conn.execute(
                update(model).where(model.claimed_until.is_not(None)).values(claimed_until=None)
            )
            released += result.rowcount or 0
    return released

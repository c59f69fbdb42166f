"""The work tables (inbox, posts, uploads) and how a process claims rows of them.

A claim sets `claimed_until` (a lease) on rows that are due and not leased, in one
statement: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING *` on
PostgreSQL, so several processes never take the same row; on SQLite (one process; writers
are serialised) the same statement without the lock clause, which SQLAlchemy drops there.
A process that dies holding a lease lets it run out; the row is then due again.

Every write-back of claimed work goes through `write_back`: it changes the row only while
the lease is still the one this process took (`claimed_until` unchanged), so a process
that was slower than its lease (paused, or a network call longer than the lease) can never
overwrite what the process that took the row over has done. A holder that needs longer
extends its lease the same way, before the long step (`extend`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, bindparam, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from bot.store.engine import insert
from bot.store.schema import (
    AutoReply,
    Base,
    Delivery,
    Followup,
    Outbound,
    Post,
    Reminder,
    SlackEvent,
    Update,
    Upload,
)

__all__ = [
    "WORK",
    "Claim",
    "PerRow",
    "by_lease",
    "claim",
    "extend",
    "insert_all_ignoring_duplicates",
    "insert_ignoring_duplicates",
    "release_leases",
    "write_back",
    "write_back_many",
]

Row = TypeVar(
    "Row", Delivery, Post, Upload, Outbound, Followup, Update, SlackEvent, Reminder, AutoReply
)
# Every table of claimed work (a lease in `claimed_until`).
WORK: tuple[
    type[
        Delivery | Post | Upload | Outbound | Followup | Update | SlackEvent | Reminder | AutoReply
    ],
    ...,
] = (Delivery, Post, Upload, Outbound, Followup, Update, SlackEvent, Reminder, AutoReply)


def _key(model: type[Base]) -> tuple[ColumnElement[Any], str]:
    """The table's primary key column (an id, or a voicemail's message id) and its name."""
    (column,) = inspect(model).primary_key
    return column, str(column.key)


async def claim(
    session: AsyncSession,
    model: type[Row],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    states: Sequence[str] = ("pending",),
    where: ColumnElement[bool] | None = None,
    one_per: Any = None,  # a mapped column
) -> list[Row]:
    """Lease up to `limit` due rows of `model` in `states`, oldest first; with `one_per`
    (a column: a post's channel), only the oldest due row of each value of it."""
    statement, order = _claim_statement(model, now, now + lease, limit, states, where, one_per)
    return await _claimed(session, statement, order)


class Claim(Generic[Row]):
    """`claim` with its statement built once, for a lane that claims many times a second:
    building the statement (and its cache key) every time was a quarter of a claim's time
    (README, Performance). `where` is given the claim's moment as a bound parameter
    (e.g. `bot.store.pace.channel_open`)."""

    def __init__(
        self,
        model: type[Row],
        *,
        limit: int,
        states: Sequence[str] = ("pending",),
        where: Callable[[ColumnElement[datetime]], ColumnElement[bool]] | None = None,
        one_per: Any = None,  # a mapped column
    ) -> None:
        now: ColumnElement[datetime] = bindparam("now")
        self._model: type[Row] = model
        self._statement, self._order = _claim_statement(
            model, now, bindparam("until"), limit, states, where(now) if where else None,
            one_per, core=True,
        )  # fmt: skip

    async def __call__(
        self, session: AsyncSession, *, now: datetime, lease: timedelta
    ) -> list[Row]:
        """The rows claimed, detached (in no session; what is written to them is written
        back by hand, `write_back`), oldest first."""
        found = await session.execute(self._statement, {"now": now, "until": now + lease})
        rows = [_detached(self._model, values) for values in found.mappings()]
        rows.sort(key=lambda row: getattr(row, self._order.key))
        return rows


def _detached(model: type[Row], values: Mapping[Any, Any]) -> Row:
    """A row of `model` read as columns, as the ORM would have loaded it and let go: its
    loading is most of a claim's time otherwise (README, Performance)."""
    row = model(**values)
    make_transient_to_detached(row)
    return row


def _claim_statement(
    model: type[Row],
    now: datetime | ColumnElement[datetime],
    until: datetime | ColumnElement[datetime],
    limit: int,
    states: Sequence[str],
    where: ColumnElement[bool] | None,
    one_per: Any,
    *,
    core: bool = False,
) -> tuple[Any, Any]:
    """The claim's `UPDATE … RETURNING` (see `claim`), and the column its rows are sorted by;
    `core`: on the table, returning its columns (not the ORM's objects)."""
    due = and_(
        model.state.in_(states),
        model.next_attempt_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )
    if where is not None:
        due = and_(due, where)
    key, _ = _key(model)
    order = model.id if hasattr(model, "id") else model.next_attempt_at
    if one_per is not None:
        # No row lock in a grouped query: the UPDATE below checks `due` again on the row
        # as it is when it gets its lock, so two processes never both take one row.
        oldest = func.min(key)
        candidates = select(oldest).where(due).group_by(one_per).order_by(oldest).limit(limit)
        chosen = and_(key.in_(candidates.scalar_subquery()), due)
    else:
        candidates = (
            select(key).where(due).order_by(order).limit(limit).with_for_update(skip_locked=True)
        )
        chosen = key.in_(candidates.scalar_subquery())
    if core:
        table: Any = model.__table__
        statement = update(table).where(chosen).values(claimed_until=until).returning(*table.c)
    else:
        statement = (
            update(model)
            .where(chosen)
            .values(claimed_until=until)
            .returning(model)
            .execution_options(synchronize_session=False)
        )
    return statement, order


async def _claimed(session: AsyncSession, statement: Any, order: Any, **params: Any) -> list[Row]:
    rows: list[Row] = list((await session.scalars(statement, params or None)).all())
    rows.sort(key=lambda row: getattr(row, order.key))
    return rows


async def write_back(session: AsyncSession, row: Row, **values: Any) -> bool:
    """Write `values` to the claimed `row` if its lease is still ours, and end the lease
    (unless `values` sets `claimed_until`); True when written. False: the lease ran out
    and another process may hold the row now: nothing is written, and the caller leaves
    the row to it. `row` (a detached copy) takes the values when written."""
    return bool(await write_back_many(session, [row], **values))


@dataclass(frozen=True, slots=True)
class PerRow:
    """A value of `write_back_many` that differs from row to row: by the row's key (a row
    it does not name keeps the value it has)."""

    by_key: Mapping[Any, Any]


async def write_back_many(session: AsyncSession, rows: Sequence[Row], **values: Any) -> list[Row]:
    """`write_back` for many claimed rows of one table: `values` (each the same for every
    row, or a `PerRow`) are written to the rows whose lease is still ours, which take
    them. The rows written; the others are another process's now.

    One `UPDATE … WHERE key IN (…) AND claimed_until = lease RETURNING key` for each lease
    among the rows (rows claimed together share theirs) writes the values every row
    shares and finds the rows still ours; the `PerRow` values follow for those (one
    statement, a parameter set a row: the lease was checked, in this transaction). The
    statements are built once for each shape of write (`_write_back`): built every time,
    they were half a write's time (README, Performance)."""
    if not rows:
        return []
    model = type(rows[0])
    _, name = _key(model)
    values = {"claimed_until": None, **values}
    shared = {column: value for column, value in values.items() if not isinstance(value, PerRow)}
    per_row = {column: value for column, value in values.items() if isinstance(value, PerRow)}
    written: list[Row] = []
    for lease, group in by_lease(rows).items():
        statement = _write_back(model, tuple(shared), lease is None)
        found = await session.execute(
            statement,
            {"wb_keys": [getattr(row, name) for row in group], "wb_lease": lease}
            | {f"wb_{column}": value for column, value in shared.items()},
        )
        ours = set(found.scalars().all())
        written += [row for row in group if getattr(row, name) in ours]
    # Each row's own values: one statement for the rows named by the same `PerRow`s.
    named: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in written:
        key = getattr(row, name)
        own = {
            column: value.by_key[key] for column, value in per_row.items() if key in value.by_key
        }
        for column, value in own.items():
            setattr(row, column, value)
        if own:
            named[tuple(own)].append({"wb_key": key} | {f"wb_{c}": v for c, v in own.items()})
    for columns, params in named.items():
        await session.execute(_write_each(model, columns), params)
    for row in written:
        for column, value in shared.items():
            setattr(row, column, value)
    return written


def by_lease(rows: Sequence[Row]) -> dict[datetime | None, list[Row]]:
    """Claimed `rows` by their lease (rows claimed together share theirs): a lease-fenced
    write is one statement for each."""
    grouped: dict[datetime | None, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.claimed_until].append(row)
    return grouped


@cache
def _write_back(model: type[Base], columns: tuple[str, ...], unleased: bool) -> Any:
    """`write_back_many`'s statement for rows of `model` under one lease (none: `unleased`),
    setting `columns` (bound parameters `wb_<column>`)."""
    table: Any = model.__table__
    key = table.c[_key(model)[1]]
    lease = (
        table.c.claimed_until.is_(None)
        if unleased
        else table.c.claimed_until == bindparam("wb_lease")
    )
    return (
        update(table)
        .where(key.in_(bindparam("wb_keys", expanding=True)), lease)
        .values({column: bindparam(f"wb_{column}") for column in columns})
        .returning(key)
    )


@cache
def _write_each(model: type[Base], columns: tuple[str, ...]) -> Any:
    """`columns` of one row of `model` by its key (a parameter set a row)."""
    table: Any = model.__table__
    key = table.c[_key(model)[1]]
    return (
        update(table)
        .where(key == bindparam("wb_key"))
        .values({column: bindparam(f"wb_{column}") for column in columns})
    )


async def extend(session: AsyncSession, row: Row, until: datetime, **values: Any) -> bool:
    """Hold the claimed `row` until `until` (before a step that may outlast the lease),
    with `values`; False when the lease is no longer ours (then do not take the step)."""
    return await write_back(session, row, claimed_until=until, **values)


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Base], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new."""
    statement = (
        insert(session.get_bind().dialect.name, model).values(**values).on_conflict_do_nothing()
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def insert_all_ignoring_duplicates(
    session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    """`insert_ignoring_duplicates` for many rows (each with the same keys) in one
    statement: SQLAlchemy's "insertmanyvalues" sends `INSERT … VALUES (…), (…) … ON CONFLICT
    DO NOTHING RETURNING` (a round trip per 1,000 rows), from a statement built once. A row
    that repeats an earlier one of `rows` is a duplicate too. How many rows are new."""
    if not rows:
        return 0
    statement = _insert_all(session.get_bind().dialect.name, model)
    return len((await session.execute(statement, list(rows))).all())


@cache
def _insert_all(dialect: str, model: type[Base]) -> Any:
    table: Any = model.__table__
    return insert(dialect, table).on_conflict_do_nothing().returning(*table.primary_key)


async def release_leases(engine: AsyncEngine) -> int:
    """Clear every lease: at the start of the one process a SQLite database has, the
    leases left are those of its own previous life (killed), so they are due at once."""
    released = 0
    async with engine.begin() as conn:
        for model in WORK:
            result = await conn.execute(
                update(model).where(model.claimed_until.is_not(None)).values(claimed_until=None)
            )
            released += result.rowcount or 0
    return released

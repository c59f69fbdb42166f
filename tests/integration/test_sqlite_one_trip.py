"""SQLite through `bot.store._sqlite`: a statement is one trip to aiosqlite's thread, and
SQLAlchemy gets from it what it got from its own adapter (rows, counts, new ids, errors,
streamed results)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import _sqlite as one_trip
from bot.store.engine import connect

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", String(20), unique=True),
)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_a_statement_is_one_trip_to_the_thread(
    sqlite: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = 0
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        nonlocal trips
        trips += 1
        return await run(self, fn, *args)  # type: ignore[no-untyped-call]

    async with sqlite.connect() as conn:
        await conn.execute(select(1))  # the connection's own first trips (BEGIN) done
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        rows = (await conn.execute(insert(notes).returning(notes.c.id), [{"text": "a"}])).all()
        assert trips == 1 and len(rows) == 1
        assert (await conn.execute(select(notes.c.text))).scalars().all() == ["a"]
        assert trips == 2  # SQLAlchemy's adapter: 4 a statement (cursor, execute, rows, close)


async def test_rows_counts_ids_and_errors_are_sqlalchemys_as_before(sqlite: AsyncEngine) -> None:
    async with sqlite.begin() as conn:
        first = await conn.execute(insert(notes).values(text="one"))
        assert first.inserted_primary_key == (1,)  # lastrowid
        many = await conn.execute(insert(notes), [{"text": "two"}, {"text": "three"}])
        assert many.rowcount == 2
        changed = await conn.execute(
            update(notes).where(notes.c.id > 1).values(text=notes.c.text + "!")
        )
        assert changed.rowcount == 2
        returned = await conn.execute(
            update(notes)
            .where(notes.c.id == 1)
            .values(text="uno")
            .returning(notes.c.id, notes.c.text)
        )
        assert returned.all() == [(1, "uno")]
        assert (
            await conn.execute(update(notes).where(notes.c.id == 99).values(text="x"))
        ).rowcount == 0
    with pytest.raises(exc.IntegrityError):
        async with sqlite.begin() as conn:
            await conn.execute(insert(notes).values(text="uno"))  # unique: refused, rolled back
    async with sqlite.connect() as conn:
        streamed = await conn.stream(select(notes.c.text).order_by(notes.c.id))
        assert [text async for (text,) in streamed] == ["uno", "two!", "three!"]


async def test_another_sqlalchemy_keeps_its_own_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_Cursor` subclasses the insides of SQLAlchemy 2.1's adapter: with another version
    (or an aiosqlite without `Connection._execute`) the engine is SQLAlchemy's own."""
    monkeypatch.setattr(one_trip, "ADAPTED", "9.9.")
    assert one_trip.module() is None
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(1))).scalar() == 1
            raw = await conn.get_raw_connection()
            assert not isinstance(raw.dbapi_connection, one_trip._Connection)
    finally:
        await engine.dispose()
    monkeypatch.undo()
    monkeypatch.delattr(aiosqlite.Connection, "_execute")
    assert one_trip.module() is None

"""A benchmark's view of the server's SQLite database: the verification token it accepts
(written as `subscriptions sync` would write it) and the work it has not finished (read
only, beside the running server)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.sim import SMS_EVENT
from bot.store import SubscriptionRecord, SubscriptionStore, connect, create_schema


async def add_webhook_token(
    database: Path | str, token: str, subscription_id: str = "bench"
) -> None:
    """Make the server at `database` (a SQLite file, or a URL) accept `token` (a
    subscription row, as `subscriptions sync` would write it); the receiver re-reads tokens
    within a second of an unknown one."""
    url = database if isinstance(database, str) else f"sqlite+aiosqlite:///{database}"
    engine = connect(url)
    try:
        await SubscriptionStore(engine).save(
            SubscriptionRecord(
                id=subscription_id,
                address="http://127.0.0.1/ringcentral/webhook",
                verification_token=token,
                filters=(SMS_EVENT,),
                expires_at=None,
                status="Active",
                created_at=datetime.now(UTC),
            )
        )
    finally:
        await engine.dispose()


def _read_only(database: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5))


def read_backlog(database: Path) -> dict[str, int]:
    """Work the server has not finished: deliveries pending, posts pending or sending."""
    with _read_only(database) as c:
        deliveries = c.execute("SELECT count(*) FROM inbox WHERE state = 'pending'").fetchone()
        posts = c.execute(
            "SELECT count(*) FROM posts WHERE state IN ('pending', 'sending')"
        ).fetchone()
    return {"pending_deliveries": int(deliveries[0]), "pending_posts": int(posts[0])}


def read_inbox_uuids(database: Path) -> set[str]:
    """The uuid of every stored webhook delivery."""
    with _read_only(database) as c:
        return {str(r[0]) for r in c.execute("SELECT uuid FROM inbox")}


async def fresh_postgres(base: str, name: str) -> str:
    """An empty PostgreSQL database `<base's database>_<name>` (dropped first if there) at
    the latest schema (as `python -m bot db upgrade` leaves it), its URL."""
    url = make_url(base)
    own = f"{url.database}_{name}"
    admin = connect(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{own}"'))
    finally:
        await admin.dispose()
    made = url.set(database=own).render_as_string(hide_password=False)
    engine = connect(made)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()
    return made


class Backlog:
    """`read_backlog` for any database URL, over one engine kept open."""

    def __init__(self, url: str) -> None:
        self._engine = connect(url)

    async def read(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            deliveries = await conn.scalar(
                text("SELECT count(*) FROM inbox WHERE state = 'pending'")
            )
            posts = await conn.scalar(
                text("SELECT count(*) FROM posts WHERE state IN ('pending', 'sending')")
            )
        return {"pending_deliveries": int(deliveries or 0), "pending_posts": int(posts or 0)}

    async def work_done(self) -> dict[str, int]:
        """Deliveries settled so far (stored as posts, or set aside) and the transactions
        PostgreSQL has counted in the database (its statistics, up to a second late)."""
        async with self._engine.connect() as conn:
            settled = await conn.scalar(text("SELECT count(*) FROM inbox WHERE state <> 'pending'"))
            transactions = await conn.scalar(
                text(
                    "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                    " WHERE datname = current_database()"
                )
            )
        return {"deliveries_settled": int(settled or 0), "transactions": int(transactions or 0)}

    async def close(self) -> None:
        await self._engine.dispose()

"""A benchmark's view of the server's SQLite database: the verification token it accepts
(written as `subscriptions sync` would write it) and the work it has not finished (read
only, beside the running server)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.sim import SMS_EVENT
from bot.store import SubscriptionRecord, SubscriptionStore, connect


async def add_webhook_token(database: Path, token: str, subscription_id: str = "bench") -> None:
    """Make the server at `database` accept `token` (a subscription row, as `subscriptions
    sync` would write it); the receiver re-reads tokens within a second of an unknown one."""
    engine = connect(f"sqlite+aiosqlite:///{database}")
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

"""What the work queues and the webhook subscription look like now, for `/healthz` and
`/metrics` (`bot.observe`): plain numbers and strings out, read in one connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.schema import (
    AdminReport,
    Delivery,
    Post,
    SlackEvent,
    Subscription,
    Upload,
    UTCDateTime,
    WsSession,
)
from bot.store.subscriptions import PENDING

__all__ = ["QUEUES", "Stats", "read_stats"]

# Every (queue, state) counted, 0 when absent, so that a dashboard's series never vanish.
QUEUES: dict[str, tuple[type[Delivery | Post | Upload | SlackEvent], tuple[str, ...]]] = {
    "deliveries": (Delivery, ("pending", "dead")),
    "posts": (Post, ("pending", "sending", "dead")),
    "uploads": (Upload, ("pending", "dead")),
    "replies": (SlackEvent, ("pending", "sending", "dead")),  # thread replies to text
}


@dataclass(frozen=True, slots=True)
class Stats:
    """`queue_depth`: deliveries not yet dispatched; `oldest_pending_seconds`: the age of
    the oldest of them (0 when none); `items`: rows by (queue, state). `subscription_*`:
    the newest subscription this bridge made (None when it has none). `websocket_*`: the
    WebSocket holder's last word (`bot.store.ws_sessions`; None when none held one)."""

    queue_depth: int
    oldest_pending_seconds: float
    items: dict[tuple[str, str], int] = field(default_factory=dict)
    subscription_status: str | None = None
    subscription_expires_at: datetime | None = None
    websocket_state: str | None = None
    websocket_seen_at: datetime | None = None
    admin_problems: int = 0  # open problems of the admin channel (DESIGN §3.10)
    signin_refused: bool = False  # among them, RingCentral refusing the JWT (any process)


async def read_stats(engine: AsyncEngine, now: datetime) -> Stats:
    """Raises what the database raises: the caller decides what a failure means."""
    async with engine.connect() as conn:
        depth, oldest = await _pending(conn, now)
        items: dict[tuple[str, str], int] = {}
        for queue, (model, states) in QUEUES.items():
            query = (
                select(model.state, func.count(model.id))
                .where(model.state.in_(states))
                .group_by(model.state)
            )
            counts: dict[str, int] = dict((await conn.execute(query)).all())
            items.update({(queue, state): int(counts.get(state, 0)) for state in states})
        # The newest by created_at: during a switch, the one replacing the other. A row
        # whose creation at RingCentral is under way has no status worth showing yet.
        newest = (
            await conn.execute(
                select(Subscription.status, Subscription.expires_at)
                .where(Subscription.id.not_like(f"{PENDING}%"))
                .order_by(Subscription.created_at.desc())
                .limit(1)
            )
        ).first()
        ws = (
            await conn.execute(
                select(WsSession.state, WsSession.seen_at)
                .order_by(WsSession.seen_at.desc())
                .limit(1)
            )
        ).first()
        open_keys = set(
            await conn.scalars(select(AdminReport.key).where(AdminReport.state == "open"))
        )
    status, expires_at = (newest.status, newest.expires_at) if newest else (None, None)
    ws_state, ws_seen = (ws.state, ws.seen_at) if ws else (None, None)
    return Stats(
        depth, oldest, items, status, expires_at, ws_state, ws_seen,
        len(open_keys), "signin" in open_keys,
    )  # fmt: skip


async def _pending(conn: AsyncConnection, now: datetime) -> tuple[int, float]:
    oldest_received = func.min(Delivery.received_at, type_=UTCDateTime)
    query = select(func.count(Delivery.id), oldest_received).where(Delivery.state == "pending")
    count, oldest = (await conn.execute(query)).one()
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(0.0, age)

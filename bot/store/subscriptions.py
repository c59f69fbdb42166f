from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Subscription

# The id prefix of a row stored before RingCentral has named the subscription (its
# creation is under way): the token is kept first, so the handshake can be verified.
PENDING = "pending:"


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: str
    address: str
    verification_token: str
    filters: tuple[str, ...]
    expires_at: datetime | None
    status: str
    created_at: datetime

    def __repr__(self) -> str:  # the token never reaches a log
        return f"SubscriptionRecord(id={self.id!r}, status={self.status!r})"


class SubscriptionStore:
    """The subscriptions this bridge made, shared by every process through the database:
    a subscription made by `subscriptions sync` is accepted at once by every server."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def save(self, record: SubscriptionRecord) -> None:
        async with self._sessions.begin() as session:
            await session.merge(
                Subscription(
                    id=record.id,
                    address=record.address,
                    verification_token=record.verification_token,
                    filters=json.dumps(list(record.filters)),
                    expires_at=record.expires_at,
                    status=record.status,
                    created_at=record.created_at,
                )
            )

    async def all(self) -> list[SubscriptionRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Subscription).order_by(Subscription.created_at))
            return [_record(row) for row in rows]

    async def get(self, subscription_id: str) -> SubscriptionRecord | None:
        async with self._sessions() as session:
            row = await session.get(Subscription, subscription_id)
            return _record(row) if row else None

    async def delete(self, subscription_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Subscription).where(Subscription.id == subscription_id))

    async def tokens(self) -> set[str]:
        """Every verification token a delivery may carry (old and new during a switch)."""
        async with self._sessions() as session:
            return set(await session.scalars(select(Subscription.verification_token)))


def _record(row: Subscription) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        address=row.address,
        verification_token=row.verification_token,
        filters=tuple(json.loads(row.filters)),
        expires_at=row.expires_at,
        status=row.status,
        created_at=row.created_at,
    )

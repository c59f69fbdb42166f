from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import Audit


@dataclass(frozen=True, slots=True)
class AuditEntry:
    slack_user: str
    action: str
    to_number: str
    result: str
    from_number: str | None = None
    ringcentral_id: str | None = None
    error: str | None = None
    at: datetime | None = None


class AuditLog:
    """The record of what people did to RingCentral through Slack."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, entry: AuditEntry) -> None:
        async with self._sessions.begin() as session:
            session.add(
                Audit(
                    at=entry.at or datetime.now(UTC),
                    slack_user=entry.slack_user,
                    action=entry.action,
                    from_number=entry.from_number,
                    to_number=entry.to_number,
                    ringcentral_id=entry.ringcentral_id,
                    result=entry.result,
                    error=entry.error,
                )
            )

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Audit).order_by(Audit.id.desc()).limit(limit))
            return [
                AuditEntry(
                    slack_user=row.slack_user,
                    action=row.action,
                    to_number=row.to_number,
                    result=row.result,
                    from_number=row.from_number,
                    ringcentral_id=row.ringcentral_id,
                    error=row.error,
                    at=row.at,
                )
                for row in rows
            ]

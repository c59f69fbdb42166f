"""The admin channel's problems (`admin_reports`, DESIGN §3.10): one row per problem, what
its Slack message must say, and the message once posted.

`open()` and `resolve()` change what the message must say (and bump `version`) only when
that changes, so a problem met again and again is one message, updated at most when its
words change. `claim()` leases the rows whose message lags (`shown < version`); the caller
talks to Slack outside any transaction and writes back with `shown()` or `failed()`, which
change nothing unless the lease is still the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import AdminReport

__all__ = ["AdminReports", "ReportRecord"]

TITLE_MAX = 200


@dataclass(frozen=True, slots=True)
class ReportRecord:
    key: str
    title: str
    detail: str
    state: str  # open | resolved
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    version: int
    shown: int
    channel: str | None
    ts: str | None
    attempts: int
    claimed_until: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


def _record(row: AdminReport) -> ReportRecord:
    return ReportRecord(
        key=row.key,
        title=row.title,
        detail=row.detail,
        state=row.state,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        version=row.version,
        shown=row.shown,
        channel=row.channel,
        ts=row.ts,
        attempts=row.attempts,
        claimed_until=row.claimed_until,
    )


class AdminReports:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def open(self, key: str, title: str, detail: str, *, now: datetime) -> bool:
        """The problem `key` is there, and its message must say `title` and `detail`; True
        when that is news (a new problem, one back after it was resolved, or new words).
        A problem back after it was resolved gets a new message: the old one, far up the
        channel, says it was resolved and nobody would see it change."""
        title = title[:TITLE_MAX]
        async with self._sessions.begin() as session:
            row = await session.get(AdminReport, key, with_for_update=True)
            if row is None:
                session.add(
                    AdminReport(
                        key=key, title=title, detail=detail, state="open", opened_at=now,
                        updated_at=now, resolved_at=None, version=1, shown=0, channel=None,
                        ts=None, attempts=0, next_attempt_at=now, claimed_until=None,
                    )
                )  # fmt: skip
                return True
            if row.state == "open" and (row.title, row.detail) == (title, detail):
                return False
            if row.state != "open":
                row.state, row.opened_at, row.resolved_at = "open", now, None
                row.ts = row.channel = None  # a new message
            row.title, row.detail, row.updated_at = title, detail, now
            self._changed(row, now)
            return True

    async def resolve(self, key: str, detail: str, *, now: datetime) -> bool:
        """The problem `key` is gone: its message says so with `detail`. True when it was
        open."""
        async with self._sessions.begin() as session:
            row = await session.get(AdminReport, key, with_for_update=True)
            if row is None or row.state != "open":
                return False
            row.state, row.resolved_at, row.detail, row.updated_at = "resolved", now, detail, now
            self._changed(row, now)
            return True

    @staticmethod
    def _changed(row: AdminReport, now: datetime) -> None:
        row.version += 1
        row.attempts, row.next_attempt_at, row.error = 0, now, None

    async def get(self, key: str) -> ReportRecord | None:
        async with self._sessions() as session:
            row = await session.get(AdminReport, key)
            return _record(row) if row is not None else None

    async def all(self, *, open_only: bool = False) -> list[ReportRecord]:
        query = select(AdminReport).order_by(AdminReport.opened_at, AdminReport.key)
        if open_only:
            query = query.where(AdminReport.state == "open")
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def claim(
        self, *, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[ReportRecord]:
        """Lease up to `limit` reports whose message lags what it must say."""
        due = and_(
            AdminReport.shown < AdminReport.version,
            AdminReport.next_attempt_at <= now,
            or_(AdminReport.claimed_until.is_(None), AdminReport.claimed_until < now),
        )
        candidates = (
            select(AdminReport.key)
            .where(due)
            .order_by(AdminReport.opened_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(AdminReport)
            .where(AdminReport.key.in_(candidates.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(AdminReport)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            rows = list((await session.scalars(statement)).all())
            return sorted((_record(r) for r in rows), key=lambda r: r.opened_at)

    async def shown(self, claimed: ReportRecord, *, channel: str, ts: str) -> bool:
        """Slack shows `claimed.version` in message `ts`; False (nothing written) when the
        lease is no longer ours."""
        return await self._write_back(
            claimed, shown=claimed.version, channel=channel, ts=ts, claimed_until=None,
            attempts=0, error=None,
        )  # fmt: skip

    async def failed(self, claimed: ReportRecord, *, error: str, retry_at: datetime) -> bool:
        """Slack refused or failed: try again at `retry_at`."""
        return await self._write_back(
            claimed, attempts=claimed.attempts + 1, error=error, next_attempt_at=retry_at,
            claimed_until=None,
        )  # fmt: skip

    async def _write_back(self, claimed: ReportRecord, **values: object) -> bool:
        """Fenced: only while the lease taken by `claim()` is still ours."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(AdminReport)
                .where(
                    AdminReport.key == claimed.key,
                    AdminReport.claimed_until == claimed.claimed_until,
                )
                .values(**values)
            )
            return bool(getattr(result, "rowcount", 0))

    async def forget_message(self, key: str) -> None:
        """The report's message is gone (deleted in Slack): the next post makes a new one."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(AdminReport).where(AdminReport.key == key).values(ts=None, channel=None)
            )

    async def count_open(self) -> int:
        async with self._sessions() as session:
            query = select(func.count()).select_from(AdminReport)
            return int(await session.scalar(query.where(AdminReport.state == "open")) or 0)

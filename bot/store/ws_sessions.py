"""The RingCentral WebSocket session, kept in the database (DESIGN §3.11).

One row per bridge identity: the session's `wsc` token and the last notification
sequence seen, so that a process taking over recovers the session instead of opening a
new one; and the holder's word on the connection (`state`, `seen_at`), which every
process's /healthz reads. Plain values in and out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import WsSession

__all__ = ["WS_STATES", "WsSessionRecord", "WsSessionStore"]

# connecting: no connection yet (or between two); connected: events flow; down: the last
# attempt failed and the next one waits (backoff, a 429); closed: the holder stopped.
WS_STATES = ("connecting", "connected", "down", "closed")


@dataclass(frozen=True, slots=True)
class WsSessionRecord:
    wsc_token: str | None
    sequence: int | None
    subscription_id: str | None
    state: str
    changed_at: datetime
    seen_at: datetime

    def __repr__(self) -> str:  # the wsc token recovers a session: never in a log
        return (
            f"WsSessionRecord(state={self.state!r}, subscription_id={self.subscription_id!r}, "
            f"sequence={self.sequence!r})"
        )


class WsSessionStore:
    """The row of `key` (the service identity: new credentials never pick up another
    app's session)."""

    def __init__(self, engine: AsyncEngine, key: str) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.key = key

    async def load(self) -> WsSessionRecord | None:
        async with self._sessions() as session:
            row = await session.get(WsSession, self.key)
            return _record(row) if row is not None else None

    async def save_session(
        self, wsc_token: str, sequence: int | None, subscription_id: str | None, now: datetime
    ) -> None:
        """A session to recover from now on (a new one, or the same after a recovery)."""
        async with self._sessions.begin() as session:
            row = await session.get(WsSession, self.key, with_for_update=True)
            if row is None:
                session.add(
                    WsSession(
                        key=self.key,
                        wsc_token=wsc_token,
                        sequence=sequence,
                        subscription_id=subscription_id,
                        state="connected",
                        changed_at=now,
                        seen_at=now,
                    )
                )
                return
            if row.state != "connected":
                row.changed_at = now
            row.wsc_token, row.sequence, row.subscription_id = wsc_token, sequence, subscription_id
            row.state, row.seen_at = "connected", now

    async def touch(self, state: str, now: datetime, *, sequence: int | None = None) -> None:
        """The holder's word on the connection (and the last sequence it saw)."""
        if state not in WS_STATES:
            raise ValueError(f"unknown WebSocket state {state!r}")
        async with self._sessions.begin() as session:
            row = await session.get(WsSession, self.key, with_for_update=True)
            if row is None:
                session.add(
                    WsSession(
                        key=self.key,
                        sequence=sequence,
                        state=state,
                        changed_at=now,
                        seen_at=now,
                    )
                )
                return
            if row.state != state:
                row.state, row.changed_at = state, now
            row.seen_at = now
            if sequence is not None:
                row.sequence = sequence

    async def forget(self) -> None:
        """The session cannot be recovered (RingCentral refused it): start afresh."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(WsSession)
                .where(WsSession.key == self.key)
                .values(wsc_token=None, sequence=None, subscription_id=None)
            )


def _record(row: WsSession) -> WsSessionRecord:
    return WsSessionRecord(
        wsc_token=row.wsc_token,
        sequence=row.sequence,
        subscription_id=row.subscription_id,
        state=row.state,
        changed_at=row.changed_at,
        seen_at=row.seen_at,
    )

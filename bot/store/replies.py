"""Thread replies stored before Slack gets its ack (DESIGN §3.8, `slack_events`), and the
claimed work of sending them.

Every write-back of a claimed row goes through `write_back`, which changes the row only
while the lease is still the one this process took: a process whose lease ran out (a
long RingCentral call, a pause) finds the row taken over and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import SlackEvent
from bot.store.work import claim, insert_ignoring_duplicates

__all__ = ["StoredReply", "ThreadReplies"]


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A claimed reply: the row's identity, its lease, and the event as Slack sent it."""

    id: int
    event: Mapping[str, Any]
    channel: str
    ts: str
    thread_ts: str
    user: str
    state: str  # "pending", or "sending" when an earlier attempt may have texted it
    attempts: int
    created_at: datetime
    claimed_until: datetime | None


class ThreadReplies:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def store(
        self,
        *,
        event_id: str,
        client_msg_id: str | None,
        event: Mapping[str, Any],
        channel: str,
        ts: str,
        thread_ts: str,
        user: str,
        now: datetime,
    ) -> bool:
        """Keep the reply for the dispatcher; False when Slack sent it before (the same
        event id, or the same message under another id)."""
        async with self._sessions.begin() as session:
            return await insert_ignoring_duplicates(
                session,
                SlackEvent,
                {
                    "event_id": event_id,
                    "client_msg_id": client_msg_id,
                    "channel": channel,
                    "ts": ts,
                    "thread_ts": thread_ts,
                    "user": user,
                    "body": json.dumps(event),
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "told": False,
                },
            )

    async def outcome(self, channel: str, ts: str) -> str | None:
        """What became of the reply posted as `ts` in `channel` ("texted", "internal:…"),
        None when it is not one we know (or not decided yet)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(SlackEvent.outcome)
                .where(SlackEvent.channel == channel, SlackEvent.ts == ts)
                .order_by(SlackEvent.id)
            )
            return found.first()

    async def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[StoredReply]:
        async with self._sessions.begin() as session:
            rows = await claim(
                session,
                SlackEvent,
                now=now,
                lease=lease,
                limit=limit,
                states=("pending", "sending"),
            )
        return [
            StoredReply(
                row.id,
                json.loads(row.body),
                row.channel,
                row.ts,
                row.thread_ts,
                row.user,
                row.state,
                row.attempts,
                row.created_at,
                row.claimed_until,
            )
            for row in rows
        ]

    async def write_back(self, reply: StoredReply, *, release: bool = True, **values: Any) -> bool:
        """Change the claimed row only while the lease is still ours (and clear the lease,
        unless `release` is False); False when another process has taken it over. A reply
        done with keeps no copy of its event (a dead letter keeps it, to be replayed)."""
        if release:
            values["claimed_until"] = None
        if values.get("state") == "done":
            values["body"] = "{}"  # what was typed is needed no longer: not kept

        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SlackEvent)
                .where(SlackEvent.id == reply.id, SlackEvent.claimed_until == reply.claimed_until)
                .values(**values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def told_before(self, channel: str, thread_ts: str, user: str) -> bool:
        """Whether this person was already told, in this thread, why a reply stayed in
        the team."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(
                    exists().where(
                        SlackEvent.channel == channel,
                        SlackEvent.thread_ts == thread_ts,
                        SlackEvent.user == user,
                        SlackEvent.told,
                    )
                )
            )
        return bool(found)

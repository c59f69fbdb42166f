"""Who is whom: the `user_links` rows a link refresh writes (bot.bridge.people) and the
commands, DM routes and App Home read (DESIGN §3.9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.schema import UserLink

LINKED = ("email", "config")  # the `how` of a row that makes its Slack person the extension


@dataclass(frozen=True, slots=True)
class Link:
    extension_id: str
    extension_number: str | None
    name: str | None
    email: str | None
    direct_number: str | None
    slack_user: str | None
    how: str  # email | config | conflict | unmatched
    detail: str | None = None
    dm_channel: str | None = None

    @property
    def linked(self) -> bool:
        return self.slack_user is not None and self.how in LINKED


class Links:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def replace(self, links: Sequence[Link], at: datetime) -> None:
        """The refresh's whole answer, in one transaction: readers see the old set or the
        new one."""
        async with self._sessions.begin() as session:
            await session.execute(delete(UserLink))
            session.add_all(
                UserLink(
                    extension_id=link.extension_id,
                    extension_number=link.extension_number,
                    name=link.name,
                    email=link.email,
                    direct_number=link.direct_number,
                    slack_user=link.slack_user,
                    how=link.how,
                    detail=link.detail,
                    dm_channel=link.dm_channel,
                    updated_at=at,
                )
                for link in links
            )

    async def all(self) -> list[Link]:
        async with self._sessions() as session:
            rows = await session.scalars(select(UserLink).order_by(UserLink.extension_number))
            return [_link(row) for row in rows]

    async def of_user(self, slack_user: str) -> Link | None:
        """The extension `slack_user` is, if linked."""
        async with self._sessions() as session:
            row = (
                await session.scalars(
                    select(UserLink).where(
                        UserLink.slack_user == slack_user, UserLink.how.in_(LINKED)
                    )
                )
            ).first()
        return _link(row) if row is not None else None

    async def refreshed_at(self) -> datetime | None:
        async with self._sessions() as session:
            row = (
                await session.scalars(select(UserLink.updated_at).order_by(UserLink.id).limit(1))
            ).first()
        return row


def _link(row: UserLink) -> Link:
    return Link(
        row.extension_id,
        row.extension_number,
        row.name,
        row.email,
        row.direct_number,
        row.slack_user,
        row.how,
        row.detail,
        row.dm_channel,
    )

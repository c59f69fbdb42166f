"""Asking for a posted message to be shown again (`updates`, DESIGN §3.7): the dispatcher's
updater claims the row and makes the chat.update, retried like a post. Called in the
transaction that changed what the message shows, so the change and the update to show it
commit together."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.engine import insert
from bot.store.schema import Update


async def queue_update(
    session: AsyncSession, post_id: int, now: datetime, *, delay: timedelta = timedelta(0)
) -> None:
    """The post's message is to be updated from `now + delay`: a new row, or the existing
    one due again with its revision one higher (an update in flight then runs once more)."""
    due = now + delay
    statement = insert(session.get_bind().dialect.name, Update).values(
        post_id=post_id, revision=1, state="pending", attempts=0, next_attempt_at=due
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Update.post_id],
        set_={
            "revision": Update.revision + 1,
            "state": "pending",
            "attempts": 0,
            "error": None,
            "next_attempt_at": due,
        },
    )
    await session.execute(statement)

"""Numbers automated texts must not go to (DESIGN §3.12, `untextable`): remembered from
RingCentral's own word, never guessed. A text that failed as a landline or an invalid
number marks its recipient `landline`; one that failed because the recipient opted out, or
an inbound STOP, marks it `opted_out`, and their START forgets that.

An opt-out is kept per number, not per (our number, their number): stricter than the
carriers (who count it per sending number or campaign), and the safe side for texts nobody
typed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.engine import insert
from bot.store.schema import Untextable

__all__ = ["FAILURES", "heard", "remember", "why_not"]

# RingCentral's delivery error codes that say something lasting about the recipient
# (DOCS sms-errors.md; their words in bot/slack/render/delivery.py).
FAILURES: Mapping[str, str] = {
    "SMS-UP-410": "landline",  # destination number invalid, unallocated, or does not support SMS
    "SMS-CAR-411": "landline",  # the carrier: invalid destination number
    "SMS-CAR-400": "landline",  # the carrier: the destination does not support SMS
    "SMS-RC-413": "opted_out",
    "SMS-UP-413": "opted_out",
    "SMS-CAR-413": "opted_out",
}
# The keywords carriers act on (CTIA): a text that is only one of them.
_STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
_START = frozenset({"START", "UNSTOP"})


async def remember(
    session: AsyncSession, number: str, why: str, error_code: str | None, now: datetime
) -> None:
    """`number` is not to be texted automatically (`landline` or `opted_out`); in the
    caller's transaction. A later reason replaces an earlier one."""
    values = {"number": number, "why": why, "error_code": error_code, "at": now}
    statement = insert(session.get_bind().dialect.name, Untextable).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["number"], set_={"why": why, "error_code": error_code, "at": now}
        )
    )


async def heard(session: AsyncSession, number: str, text: str, now: datetime) -> None:
    """An inbound text from `number`: STOP opts them out, START back in (a landline
    remembered stays: it cannot have texted, and nothing is lost by keeping it)."""
    word = text.strip().strip(".!").upper()
    if word in _STOP:
        await remember(session, number, "opted_out", None, now)
    elif word in _START:
        await session.execute(
            delete(Untextable).where(Untextable.number == number, Untextable.why == "opted_out")
        )


async def why_not(session: AsyncSession, number: str) -> str | None:
    """Why `number` is not to be texted automatically, or None."""
    row = await session.get(Untextable, number)
    return row.why if row is not None else None

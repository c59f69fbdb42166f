"""Retention (`[retention] days`, DESIGN §3.10) on a real database: delivered inbox rows and
audit rows older than the setting are deleted, dead letters after 90 days; what is pending,
recent, or holds a conversation's thread stays. Run by the leading process only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.bridge.reminders import reminders_needed
from bot.bridge.retention import Retention
from bot.clock import FakeClock
from bot.config import Route
from bot.store.deadletters import DeadLetters
from bot.store.schema import (
    Audit,
    AutoReply,
    Delivery,
    Outbound,
    Post,
    Reminder,
    ReminderItem,
    Thread,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def delivery(uuid: str, state: str, age_days: float) -> Delivery:
    at = NOW - timedelta(days=age_days)
    return Delivery(uuid=uuid, received_at=at, body="{}", state=state, attempts=0,
                    next_attempt_at=at)  # fmt: skip


def post(item: str, state: str, age_days: float) -> Post:
    at = NOW - timedelta(days=age_days)
    return Post(rc_uuid="u", kind="sms", item=item, channel="C1", notice="{}", state=state,
                attempts=0, created_at=at, next_attempt_at=at)  # fmt: skip


async def rows(engine: AsyncEngine, column: object) -> list[object]:
    async with AsyncSession(engine) as session:
        return sorted(await session.scalars(select(column)))  # type: ignore[call-overload]


async def test_old_delivered_rows_and_old_dead_letters_go_the_rest_stays(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        session.add_all([
            delivery("old-done", "done", 31), delivery("new-done", "done", 29),
            delivery("old-pending", "pending", 40), delivery("dead-89", "dead", 89),
            delivery("dead-91", "dead", 91),
            post("dead-91", "dead", 91), post("dead-91-thread", "dead", 91),
            post("old-done", "done", 400),
            Audit(at=NOW - timedelta(days=31), slack_user="U1", action="sms",
                  to_number="+1", result="sent"),
            Audit(at=NOW - timedelta(days=1), slack_user="U1", action="sms",
                  to_number="+2", result="sent"),
        ])  # fmt: skip
    async with AsyncSession(engine) as session, session.begin():
        parent = await session.scalar(select(Post.id).where(Post.item == "dead-91-thread"))
        assert parent is not None
        session.add(Thread(company_number="+1", other_number="+2", channel="C1",
                           parent_post_id=parent))  # fmt: skip

    clock = FakeClock(NOW.timestamp())
    purged = await Retention(DeadLetters(engine), clock, days=30).run_once()

    assert purged is not None and (purged.deliveries, purged.audit, purged.dead) == (1, 1, 2)
    assert await rows(engine, Delivery.uuid) == ["dead-89", "new-done", "old-pending"]
    assert await rows(engine, Post.item) == ["dead-91-thread", "old-done"]
    assert await rows(engine, Audit.to_number) == ["+2"]


def text_sent(to: str, state: str, age_days: float) -> Outbound:
    at = NOW - timedelta(days=age_days)
    return Outbound(created_at=at, identity="service", from_number="+16505550100",
                    to_numbers=to, text_hash="0" * 64, origin="reply", status="Delivered",
                    state=state, next_attempt_at=at)  # fmt: skip


async def test_texts_sent_older_than_the_setting_go_whatever_their_state(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        session.add_all([
            text_sent("+1-old-done", "done", 31), text_sent("+1-old-pending", "pending", 31),
            text_sent("+1-new-done", "done", 29), text_sent("+1-new-pending", "pending", 1),
        ])  # fmt: skip

    purged = await Retention(DeadLetters(engine), FakeClock(NOW.timestamp()), days=30).run_once()

    assert purged is not None and purged.texts == 2
    assert await rows(engine, Outbound.to_numbers) == ["+1-new-done", "+1-new-pending"]


def auto_reply(caller: str, state: str, age_days: float) -> AutoReply:
    at = NOW - timedelta(days=age_days)
    return AutoReply(item=f"call-{caller}", caller=caller, called_at=at, text="Sorry we missed you",
                     state=state, attempts=0, created_at=at, next_attempt_at=at)  # fmt: skip


async def test_auto_replies_done_go_a_day_after_the_setting_those_in_hand_stay(
    engine: AsyncEngine,
) -> None:
    # A day's margin past the setting: (caller, day) keeps a caller to one text a day, and a
    # day of the account's zone can be 25 hours long.
    async with AsyncSession(engine) as session, session.begin():
        session.add_all([
            auto_reply("+1-old-done", "done", 32), auto_reply("+1-margin-done", "done", 30.5),
            auto_reply("+1-old-pending", "pending", 32), auto_reply("+1-new-done", "done", 2),
        ])  # fmt: skip

    purged = await Retention(DeadLetters(engine), FakeClock(NOW.timestamp()), days=30).run_once()

    assert purged is not None and purged.auto_replies == 1
    assert await rows(engine, AutoReply.caller) == [
        "+1-margin-done", "+1-new-done", "+1-old-pending",
    ]  # fmt: skip


def reminder(state: str, age_days: float) -> Reminder:
    at = NOW - timedelta(days=age_days)
    return Reminder(channel="C1", created_at=at, state=state, attempts=0,
                    next_attempt_at=at)  # fmt: skip


async def test_reminders_posted_go_with_their_items_once_no_item_can_be_reminded_again(
    engine: AsyncEngine,
) -> None:
    """A reminder's items say which steps its posts have had: they go after the setting,
    but never while a post they list could still be reminded of (four times the longest interval,
    and STALE, after it), else it would be reminded of again. A reminder not yet posted
    stays."""
    async with AsyncSession(engine) as session, session.begin():
        listed = post("open-call", "done", 40)
        reminders = {
            "old-done": reminder("done", 31), "old-dead": reminder("dead", 31),
            "needed": reminder("done", 20), "recent": reminder("done", 2),
            "old-pending": reminder("pending", 31),
        }  # fmt: skip
        session.add_all([listed, *reminders.values()])
        await session.flush()
        ids = {name: r.id for name, r in reminders.items()}
        session.add_all(
            ReminderItem(reminder_id=id_, post_id=listed.id, step=1) for id_ in ids.values()
        )
    # remind_after 5 days: a post is remindable for 4 x 5 days + STALE (4 days) = 24 days.
    needed = reminders_needed([Route(events=["sms"], channel="C1", remind_after="120h")])
    assert needed == timedelta(days=24)

    retention = Retention(DeadLetters(engine), FakeClock(NOW.timestamp()), days=10,
                          reminders_needed=needed)  # fmt: skip
    purged = await retention.run_once()

    assert purged is not None and purged.reminders == 2
    kept = {ids[name] for name in ("needed", "recent", "old-pending")}
    assert set(await rows(engine, Reminder.id)) == kept
    assert set(await rows(engine, ReminderItem.reminder_id)) == kept
    assert await rows(engine, Post.item) == ["open-call"]  # a post is never retention's

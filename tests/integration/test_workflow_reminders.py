"""Reminders (DESIGN §3.12, `remind_after`): one message per channel per interval listing
the open items, each linked to its message and naming who took it; each item at
`remind_after`, twice and four times it after its post, then never again; handling or
answering (a texted reply, a text sent elsewhere, a call to the number) stops them;
`<!here>` only for unclaimed items, once per hours-window, never outside `hours`; durable,
so a restart or a second process neither loses nor doubles one.

The real server between both simulators on a FakeClock (2026-01-01T00:00Z, a Wednesday
16:00 in the simulated account's US/Pacific), `remind_after = "20s"`."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.bridge.reminders import EVENT_TYPE
from bot.clock import FakeClock
from bot.config import BridgeConfig, Route
from bot.sim import RingCentralSimulator
from bot.slack.render import MARK_HANDLED_ACTION, TAKE_IT_ACTION
from bot.store.schema import Post, Reminder
from tests.bridge import CALLS, TEXTS, USER, Bridge, running_bridge
from tests.databases import fresh_database
from tests.integration.test_notifications import readable
from tests.integration.test_workflow_take_it import click

CALLER = "+14155550123"
OTHER = "+14155550188"
START = 1767225600.0  # the FakeClock's start, 2026-01-01T00:00Z


def _config(*, hours: str | None = None) -> BridgeConfig:
    extra = {"hours": hours} if hours else {}
    return BridgeConfig(
        routes=[
            Route.model_validate(
                {"events": ["missed_call", "voicemail"], "channel": CALLS,
                 "remind_after": "20s", **extra}
            ),
            Route.model_validate({"events": ["sms"], "channel": TEXTS, "remind_after": "20s"}),
        ]
    )  # fmt: skip


def _bridge(
    rc: RingCentralSimulator, clock: FakeClock, url: str, *, hours: str | None = None
) -> AbstractAsyncContextManager[Bridge]:
    return running_bridge(rc, clock, _config(hours=hours), database_url=url)


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return await fresh_database(tmp_path)


@pytest.fixture
async def live(rc_sim: RingCentralSimulator, clock: FakeClock, url: str) -> Any:
    async with _bridge(rc_sim, clock, url) as bridge:
        await bridge.subscribe()
        yield bridge


def reminders(bridge: Bridge, channel: str = CALLS) -> list[dict[str, Any]]:
    return [
        m
        for m in bridge.channel(channel)
        if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE
    ]


def notifications(bridge: Bridge, channel: str = CALLS) -> list[dict[str, Any]]:
    return [m for m in bridge.channel(channel) if m not in reminders(bridge, channel)]


def link_to(message: dict[str, Any]) -> str:
    """The archive link of a message, as chat.getPermalink gives it (p + ts without dot)."""
    return f"/p{message['ts'].replace('.', '')}|"


def here(message: dict[str, Any]) -> bool:
    return "<!here>" in str(message.get("text")) or "<!here>" in str(message.get("blocks"))


async def missed_call(bridge: Bridge, caller: str = CALLER) -> float:
    """A missed call posted; when its post was made (the bridge's clock)."""
    await bridge.rc.call("missed", caller=caller, extension_id=bridge.rc.extension_id)
    await bridge.dispatch(horizon=5)
    return await posted_at(bridge, CALLS)


async def posted_at(bridge: Bridge, channel: str) -> float:
    async with bridge.engine.connect() as conn:
        latest = await conn.scalar(select(func.max(Post.id)).where(Post.channel == channel))
        post = (await conn.execute(select(Post.created_at).where(Post.id == latest))).scalar()
    assert post is not None
    return post.timestamp()


async def at(bridge: Bridge, moment: float, *, horizon: float = 1.5) -> None:
    """The clock moved on to `moment`; the dispatcher does what is due then and within
    `horizon` (a reminder waits for its channel's slot when a post took it)."""
    assert moment >= bridge.clock.now(), "the test's steps took longer than planned"
    bridge.clock.advance(moment - bridge.clock.now())
    await bridge.dispatch(horizon=horizon)


async def test_a_reminder_comes_after_the_interval_then_twice_and_four_times_it_and_never_again(
    live: Bridge,
) -> None:
    posted = await missed_call(live)
    (call,) = notifications(live)

    await at(live, posted + 19, horizon=0)
    assert reminders(live) == []  # not before

    await at(live, posted + 20)
    (first,) = reminders(live)
    assert link_to(call) in str(first["blocks"])
    assert "nobody has taken it yet" in readable(first)
    assert here(first)  # unclaimed, in the (all-day) hours, the first of the day

    await at(live, posted + 39, horizon=0)
    assert len(reminders(live)) == 1
    await at(live, posted + 40)
    assert len(reminders(live)) == 2
    assert not here(reminders(live)[1])  # once per hours-window (a day without `hours`)
    await at(live, posted + 80)
    assert len(reminders(live)) == 3
    for later in (160, 320, 3600):
        await at(live, posted + later)
    assert len(reminders(live)) == 3  # at most three times
    assert all(link_to(call) in str(m["blocks"]) for m in reminders(live))


async def test_one_reminder_per_interval_lists_each_overdue_item_once(live: Bridge) -> None:
    first_posted = await missed_call(live, CALLER)
    live.clock.advance(10 - (live.clock.now() - first_posted))
    second_posted = await missed_call(live, OTHER)
    first, second = notifications(live)
    assert second_posted - first_posted < 20

    await at(live, first_posted + 20)
    (one,) = reminders(live)
    assert str(one["blocks"]).count(link_to(first)) == 1
    assert link_to(second) not in str(one["blocks"])

    # The second call is due at its 20 s, but the channel had a reminder less than 20 s ago.
    await at(live, second_posted + 20)
    assert len(reminders(live)) == 1

    await at(live, first_posted + 40)
    (_, both) = reminders(live)
    assert str(both["blocks"]).count(link_to(first)) == 1
    assert str(both["blocks"]).count(link_to(second)) == 1
    assert "2 items" in readable(both)


async def test_marking_it_handled_stops_its_reminders(live: Bridge) -> None:
    posted = await missed_call(live)
    (call,) = notifications(live)
    await at(live, posted + 20)
    assert len(reminders(live)) == 1

    await click(live, MARK_HANDLED_ACTION, USER, ts=call["ts"])
    for later in (40, 80, 160):
        await at(live, posted + later)
    assert len(reminders(live)) == 1


async def test_a_taken_item_names_its_taker_and_pings_nobody(live: Bridge) -> None:
    posted = await missed_call(live)
    (call,) = notifications(live)
    await click(live, TAKE_IT_ACTION, USER, ts=call["ts"])

    await at(live, posted + 20)
    (reminder,) = reminders(live)
    assert f"taken by <@{USER}>" in readable(reminder)
    assert not here(reminder)


async def test_outside_the_hours_reminders_pause_and_never_ping(
    rc_sim: RingCentralSimulator, clock: FakeClock, url: str
) -> None:
    # Wednesday 16:00 there: the hours are over until Thursday 09:00 (17 h on).
    async with _bridge(rc_sim, clock, url, hours="Mon-Fri 09:00-16:00") as bridge:
        await bridge.subscribe()
        posted = await missed_call(bridge)
        for later in (20, 40, 80, 3600, 16 * 3600):
            await at(bridge, posted + later)
        assert reminders(bridge) == []

        opening = START + 17 * 3600  # Thursday 09:00 there
        await at(bridge, opening)
        (reminder,) = reminders(bridge)  # every step passed: listed once, not three times
        assert here(reminder)  # the first of this hours-window, for an unclaimed item
        for later in (20, 40, 80, 3600):
            await at(bridge, opening + later)
        assert len(reminders(bridge)) == 1


# -- answered: each way stops a conversation's reminders ----------------------------------


def company(bridge: Bridge) -> str:
    return bridge.rc.world.numbers_with_feature(bridge.rc.extension_id, "SmsSender")[0]


async def _thread_reply(live: Bridge, parent: dict[str, Any]) -> None:
    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="Yes, until 6", thread_ts=parent["ts"]
    )
    await live.settle()
    await live.dispatch(horizon=0)


async def _from_the_app(live: Bridge, _parent: dict[str, Any]) -> None:
    await live.rc.text_from_app(live.rc.extension_id, company(live), [CALLER], "On my way")
    await live.rc.settle_texts()
    await live.dispatch(horizon=10)


async def _sms_command(live: Bridge, _parent: dict[str, Any]) -> None:
    await live.command("/sms", f"{CALLER} See you at 6")
    await live.dispatch(horizon=0)


async def _call_back(live: Bridge, _parent: dict[str, Any]) -> None:
    await live.rc.call("outbound", caller=CALLER, extension_id=live.rc.extension_id, pace=False)
    await live.dispatch(horizon=0)


async def _nothing(live: Bridge, _parent: dict[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    ("answer", "reminded"),
    [
        (_nothing, True),
        (_thread_reply, False),
        (_from_the_app, False),
        (_sms_command, False),
        (_call_back, False),
    ],
    ids=["unanswered", "texted-reply", "ringcentral-app", "sms-command", "call"],
)
async def test_a_conversation_is_reminded_of_until_it_is_answered(
    live: Bridge, answer: Any, reminded: bool
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?",
                               to_number=company(live))  # fmt: skip
    await live.dispatch(horizon=5)
    posted = await posted_at(live, TEXTS)
    (parent,) = live.channel(TEXTS)

    await answer(live, parent)
    await at(live, posted + 20)

    if reminded:
        (reminder,) = reminders(live, TEXTS)
        assert link_to(parent) in str(reminder["blocks"])
    else:
        assert reminders(live, TEXTS) == []


async def test_a_new_text_after_the_answer_makes_it_open_again(live: Bridge) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?",
                               to_number=company(live))  # fmt: skip
    await live.dispatch(horizon=5)
    posted = await posted_at(live, TEXTS)
    (parent,) = live.channel(TEXTS)
    await _thread_reply(live, parent)
    await at(live, posted + 20)
    assert reminders(live, TEXTS) == []

    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "and tomorrow?",
                               to_number=company(live))  # fmt: skip
    await live.dispatch(horizon=5)
    await at(live, posted + 40)
    (reminder,) = reminders(live, TEXTS)
    assert link_to(parent) in str(reminder["blocks"])


# -- durable: a restart or a second process neither loses nor doubles one ------------------


async def test_a_restart_neither_loses_nor_doubles_a_reminder(
    rc_sim: RingCentralSimulator, clock: FakeClock, url: str
) -> None:
    async with _bridge(rc_sim, clock, url) as first:
        await first.subscribe()
        posted = await missed_call(first)
        await at(first, posted + 20)
        assert len(reminders(first)) == 1
        seen = [dict(m) for m in first.channel(CALLS)]
        # The process dies after Slack took the reminder, before it wrote that down.
        async with first.engine.begin() as conn:
            await conn.execute(
                update(Reminder).values(state="sending", ts=None, claimed_until=None)
            )

    async with _bridge(rc_sim, clock, url) as second:
        second.slack.workspace.channels[CALLS].messages.extend(seen)  # what Slack keeps
        await second.subscribe()
        await at(second, posted + 21)
        assert reminders(second) == seen[-1:]  # found by its metadata, not posted again
        assert second.slack.calls("chat.postMessage") == []

        await at(second, posted + 40)  # the next step is not lost either
        assert len(reminders(second)) == 2


async def test_two_processes_on_one_database_post_one_reminder(live: Bridge) -> None:
    mine = live.notifications.dispatcher.reminders
    assert mine is not None
    other = dataclasses.replace(mine, _links={}, _planned_at=None)  # a second process's
    posted = await missed_call(live)
    live.clock.advance(posted + 20 - live.clock.now())

    for _ in range(3):
        await asyncio.gather(mine.run_once(), other.run_once(), mine.run_once())
        live.clock.advance(1)
    await live.dispatch(horizon=0)
    assert len(reminders(live)) == 1


async def test_outside_text_in_a_reminder_stays_escaped(live: Bridge) -> None:
    await live.rc.call(
        "missed", caller=CALLER, extension_id=live.rc.extension_id, from_name="<!channel> Bob"
    )
    await live.dispatch(horizon=5)
    posted = await posted_at(live, CALLS)

    await at(live, posted + 20)
    (reminder,) = reminders(live)
    assert "&lt;!channel&gt; Bob" in readable(reminder)
    assert "<!channel>" not in str(reminder)
    assert reminder["metadata"]["event_type"] == "ringbridge_reminder"


async def test_the_shorter_remind_after_of_two_routes_into_one_channel_applies(
    rc_sim: RingCentralSimulator, clock: FakeClock, url: str
) -> None:
    config = BridgeConfig(
        routes=[
            Route.model_validate(
                {"events": ["missed_call"], "channel": CALLS, "remind_after": "1m"}
            ),
            Route.model_validate(
                {"events": ["voicemail"], "channel": CALLS, "remind_after": "20s"}
            ),
        ]
    )
    async with running_bridge(rc_sim, clock, config, database_url=url) as bridge:
        await bridge.subscribe()
        posted = await missed_call(bridge)
        await at(bridge, posted + 19, horizon=0)
        assert reminders(bridge) == []
        await at(bridge, posted + 20)
        (reminder,) = reminders(bridge)
        assert link_to(notifications(bridge)[0]) in str(reminder["blocks"])


async def test_here_at_most_once_per_hours_window(
    rc_sim: RingCentralSimulator, clock: FakeClock, url: str
) -> None:
    # Wednesday 16:00 there: two stretches of hours, 16:00-16:05 and 16:06-23:00.
    async with _bridge(rc_sim, clock, url, hours="Wed 16:00-16:05; Wed 16:06-23:00") as bridge:
        await bridge.subscribe()
        posted = await missed_call(bridge, CALLER)
        for later in (20, 40, 80):
            await at(bridge, posted + later)
        assert [here(m) for m in reminders(bridge)] == [True, False, False]

        await at(bridge, START + 350, horizon=0)  # 16:05:50, between the two stretches
        second = await missed_call(bridge, OTHER)
        await at(bridge, second + 20)  # 16:06 and after: a new stretch
        *_, last = reminders(bridge)
        assert len(reminders(bridge)) == 4
        assert here(last)


async def test_a_reminder_slack_took_but_whose_answer_was_lost_is_not_posted_twice(
    live: Bridge,
) -> None:
    posted = await missed_call(live)
    live.slack.fail("chat.postMessage", status=500, channel=CALLS, store=True)

    await at(live, posted + 20, horizon=10)  # the retry comes within its backoff (≤ 2 s)

    assert len(reminders(live)) == 1
    async with live.engine.connect() as conn:
        (state,) = (await conn.execute(select(Reminder.state))).scalars().all()
    assert state == "done"


async def test_a_reminder_waits_out_slacks_retry_after(live: Bridge) -> None:
    posted = await missed_call(live)
    live.slack.fail("chat.postMessage", status=429, retry_after=5, channel=CALLS)

    await at(live, posted + 20, horizon=0)
    assert reminders(live) == []
    await at(live, posted + 25)
    assert len(reminders(live)) == 1

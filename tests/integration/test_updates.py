"""Updates and threads that survive Slack's failures (issue #9 item 7, DESIGN §3.7): a
message's update (a transcript arrived, Mark handled) is retried like a post rather than
lost when its chat.update fails, and a conversation whose thread parent was deleted gets a
new thread instead of scattering its messages over the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.sim import RingCentralSimulator
from bot.slack.render import MARK_HANDLED_ACTION
from bot.store.schema import Update
from tests.bridge import CALLS, TEXTS, USER, Bridge, running_bridge
from tests.conftest import fresh_database
from tests.integration.test_notifications import readable

CALLER = "+14155550123"


@pytest.fixture
async def live(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    url = await fresh_database(tmp_path)
    # Slack on the wall clock: its signed requests (the clicks) must be fresh for Bolt.
    async with running_bridge(rc_sim, clock, database_url=url) as running:
        await running.subscribe()
        yield running


async def mark_handled(bridge: Bridge, message: dict[str, Any]) -> None:
    """USER clicks Mark handled on `message`; the click's work is done on return."""
    await bridge.slack.send_block_action(
        bridge.events_url, action_id=MARK_HANDLED_ACTION, channel_id=CALLS,
        message_ts=message["ts"], user_id=USER,
    )  # fmt: skip
    await bridge.settle()


async def update_states(bridge: Bridge) -> list[str]:
    async with bridge.engine.connect() as conn:
        return list((await conn.execute(select(Update.state))).scalars().all())


async def test_a_transcript_whose_update_fails_is_shown_on_a_later_try(live: Bridge) -> None:
    voicemail = await live.rc.incoming_voicemail(
        live.rc.extension_id, CALLER, duration=42, transcript="Please call me back",
        transcript_later=True,
    )  # fmt: skip
    await live.dispatch()
    (posted,) = live.channel(CALLS)
    assert "Transcript on its way" in readable(posted)

    live.slack.fail("chat.update", status=500, times=2)  # Slack fails twice, then answers
    await live.rc.finish_transcript(voicemail.id)
    await live.dispatch()

    (shown,) = live.channel(CALLS)
    assert shown["ts"] == posted["ts"]
    assert "Please call me back" in readable(shown)
    assert [c.status for c in live.slack.calls("chat.update")] == [500, 500, 200]
    assert await update_states(live) == ["done"]


async def test_mark_handled_whose_update_fails_is_shown_by_the_dispatcher(live: Bridge) -> None:
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)

    live.slack.fail("chat.update", error="request_timeout")  # the click's own update fails
    await mark_handled(live, message)
    (unchanged,) = live.channel(CALLS)
    assert f"<@{USER}>" not in readable(unchanged)

    await live.dispatch(horizon=60)

    (handled,) = live.channel(CALLS)
    assert f"<@{USER}>" in readable(handled)
    assert [c.response.get("ok") for c in live.slack.calls("chat.update")] == [False, True]


async def test_a_click_whose_update_works_leaves_nothing_to_update(live: Bridge) -> None:
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)

    await mark_handled(live, message)
    await live.dispatch(horizon=60)

    assert len(live.slack.calls("chat.update")) == 1  # the click's own, not made twice
    assert await update_states(live) == ["done"]


async def test_after_a_thread_parent_is_deleted_the_conversation_starts_a_new_thread(
    live: Bridge,
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "first")
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    await live.slack.delete_message(TEXTS, parent["ts"])  # someone deletes the thread's parent

    for text in ("second", "third", "fourth"):
        await live.rc.incoming_sms(live.rc.extension_id, CALLER, text)
        await live.dispatch()

    top = live.channel(TEXTS)
    # At most one message lands loose at the top level (the one Slack moved there); the
    # next starts a new thread, and the later ones go into it.
    assert 1 <= len(top) <= 2, [readable(m) for m in top]
    new_parent = top[-1]
    thread = live.slack.thread(TEXTS, new_parent["ts"])
    assert "fourth" in readable(thread[-1])
    texts = [readable(m) for m in top] + [readable(m) for m in thread[1:]]
    for text in ("second", "third", "fourth"):
        assert sum(text in t for t in texts) == 1, texts  # each once

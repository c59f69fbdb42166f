"""The delivery promises (DESIGN §3.6, §3.7, RELIABILITY R1/R2/R5): every notification
reaches its channel once, whatever Slack answers.

Each test drives the real server between both simulators on one FakeClock (the Slack
simulator included, so its recorded call times are fake time) and checks what a person
would see in the channel, then the Slack-side facts (which calls, when).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.bridge.poster import BACKOFF_BASE, BACKOFF_CAP
from bot.clock import FakeClock
from bot.server import METRICS
from bot.sim import Call, RingCentralSimulator, SlackFault, SlackSimulator
from bot.store.schema import Post, Upload
from tests.bridge import CALLS, TEXTS, Bridge, running_bridge
from tests.conftest import fresh_database

CALLER = "+14155550123"
DAY = 24 * 3600.0


@pytest.fixture
async def live(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    """The bridge with the Slack simulator on the same FakeClock, subscribed."""
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, slack_clock=clock, database_url=url) as running:
        await running.subscribe()
        yield running


# -- Slack faults on one channel ----------------------------------------------------------


@pytest.fixture
def slack_fault(live: Bridge) -> Callable[..., SlackFault]:
    """`slack_fault(channel, times=1, store=…, answer=…)`: the next `times` chat.postMessage
    calls to `channel` fail with a 500. `store=True`: Slack stores the message first, then
    fails (the ambiguous case: "we cannot know whether it posted"). `answer` is "500" (an
    HTTP 500) or "disconnect" (the connection drops before any answer, a network error)."""

    def add(
        channel: str, *, times: int = 1, store: bool = False, answer: str = "500"
    ) -> SlackFault:
        return live.slack.fail(  # the test may change the fault later
            "chat.postMessage",
            status=500,
            times=times,
            channel=channel,
            store=store,
            disconnect=answer == "disconnect",
        )

    return add


# -- helpers ------------------------------------------------------------------------------


def posts_to(slack: SlackSimulator, channel: str) -> list[Call]:
    """Every chat.postMessage request for `channel`, answered or not, oldest first."""
    return [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel]


def items(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["metadata"]["event_payload"]["item"]) for m in messages]


async def post_rows(bridge: Bridge, channel: str | None = None) -> list[Post]:
    query = select(Post).order_by(Post.id)
    if channel is not None:
        query = query.where(Post.channel == channel)
    async with AsyncSession(bridge.engine) as session:
        return list((await session.scalars(query)).all())


def dead_letters(bridge: Bridge) -> float:
    """The dead-letter count an operator sees on /metrics."""
    registry = bridge.server.app[METRICS].registry
    found = registry.get_sample_value("ringbridge_slack_posts_total", {"outcome": "dead"})
    return found or 0.0


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (real time, the dispatcher running) until `condition` holds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def step(bridge: Bridge) -> None:
    """Run the dispatcher on what is due now, without moving the clock."""
    await bridge.notifications.dispatcher.drain()


def number(i: int) -> str:
    return f"+1415555{i:04d}"


# -- not_in_channel -----------------------------------------------------------------------


async def test_not_in_channel_joins_once_then_posts(live: Bridge) -> None:
    live.slack.add_channel(TEXTS, "texts", member=False)  # public; the bot is not in it
    await live.rc.incoming_sms(live.rc.extension_id, number(1), "first")
    await live.rc.incoming_sms(live.rc.extension_id, number(2), "second")
    await live.dispatch()

    messages = live.channel(TEXTS)
    assert len(messages) == 2
    assert len(set(items(messages))) == 2
    assert len(live.slack.calls("conversations.join")) == 1
    join = live.slack.calls("conversations.join")[0]
    assert join.params["channel"] == TEXTS
    refused = [c for c in posts_to(live.slack, TEXTS) if not c.ok]
    assert [c.response["error"] for c in refused] == ["not_in_channel"]
    assert refused[0].time <= join.time <= live.slack.post_times(TEXTS)[0]
    assert {p.state for p in await post_rows(live, TEXTS)} == {"done"}


# -- pacing -------------------------------------------------------------------------------


async def test_a_burst_of_texts_from_new_numbers_is_not_held_up_by_name_lookups(
    live: Bridge,
) -> None:
    """Unknown callers' names come from the address book, in RingCentral's Heavy group
    (10 a minute): past that pace a notice goes without the name rather than waiting,
    also when the lookups run side by side (a batch's deliveries are read together)."""
    start = live.clock.now()
    for i in range(20):
        await live.rc.incoming_sms(live.rc.extension_id, number(i), f"text {i}")
    await live.dispatch()

    times = live.slack.post_times(TEXTS)
    assert len(times) == 20
    assert times[0] - start <= 1.5  # no wait for a lookup before the first post either
    assert max(b - a for a, b in pairwise(times)) <= 1.5


async def test_a_burst_to_one_channel_is_paced_near_one_post_per_second(live: Bridge) -> None:
    # Callers named by the event itself: no contact lookups (paced by RingCentral's
    # limits) stand between the notifications and Slack.
    for i in range(20):
        await live.rc.call(
            "missed", caller=number(i), extension_id=live.rc.extension_id, from_name=f"C {i}"
        )
    await live.dispatch()

    messages = live.channel(CALLS)
    assert len(messages) == 20
    assert len(set(items(messages))) == 20  # each once
    times = live.slack.post_times(CALLS)
    assert len(times) == 20 == len(posts_to(live.slack, CALLS))  # no refused attempts
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 0.9, gaps
    assert max(gaps) <= 1.5, gaps  # near one per second, not slower
    assert live.slack.max_posts_in(CALLS, 1.0) == 1


# -- 5xx: backoff, then a dead letter -----------------------------------------------------


async def test_5xx_backs_off_with_jitter_then_dead_letters_after_a_day_while_others_post(
    live: Bridge, slack_fault: Callable[..., SlackFault], caplog: pytest.LogCaptureFixture
) -> None:
    slack_fault(TEXTS, times=100_000)  # Slack answers 500 for this channel, all day
    start = live.clock.now()
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "never arrives")
    await live.dispatch(horizon=600)

    # Another channel posts meanwhile, promptly.
    await live.rc.call("missed", caller=number(7), extension_id=live.rc.extension_id)
    called_at = live.clock.now()
    await live.dispatch(horizon=1200)
    assert len(live.channel(CALLS)) == 1
    assert live.slack.post_times(CALLS)[0] - called_at < 5
    (row,) = await post_rows(live, TEXTS)
    assert row.state == "sending"  # a 500 is ambiguous: looked for before each retry
    assert live.channel(TEXTS) == []

    # The first 30 minutes retry by retry (a day of it is ~600 retries at the 5 min cap).
    attempts = [c.time for c in posts_to(live.slack, TEXTS)]
    assert len(attempts) >= 12  # ~9 while the ceiling doubles, then ~1 in 150 s
    gaps = [b - a for a, b in pairwise(attempts)]
    for n, gap in enumerate(gaps, start=1):  # full jitter under an exponential ceiling
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1))
        assert gap <= ceiling + 1.0, (n, gap)  # (+1: the channel's pace)
    late = gaps[8:]  # past the cap's doubling
    assert sum(gaps[:4]) / 4 < 10 < sum(late) / len(late)  # growing
    assert len({round(g, 3) for g in late}) == len(late)  # jittered, not a fixed schedule
    # Before each retry it looked for the message (it was not there).
    assert len(live.slack.calls("conversations.history")) >= len(attempts) - 1

    # Then most of the day goes by; it keeps trying until the post is 24 h old.
    live.clock.advance(start + DAY - 900 - live.clock.now())
    with caplog.at_level(logging.ERROR, logger="bot.bridge"):
        await live.dispatch(horizon=3600)

    (row,) = await post_rows(live, TEXTS)
    assert row.state == "dead"
    assert "older than" in str(row.error) and "internal_error" in str(row.error)
    assert dead_letters(live) == 1
    assert live.channel(TEXTS) == []  # nothing was posted
    assert live.slack.post_times(TEXTS) == []
    attempts = [c.time for c in posts_to(live.slack, TEXTS)]
    assert DAY - 900 <= attempts[-1] - start <= DAY  # retried to the end of the day
    assert len([t for t in attempts if t - start >= DAY - 900]) >= 2
    dead = [r for r in caplog.records if r.levelno >= logging.ERROR and TEXTS in r.getMessage()]
    assert dead, "an error log names the channel of the dead letter"
    assert len(live.channel(CALLS)) == 1


async def test_a_last_ambiguous_attempt_slack_kept_is_found_not_dead_lettered(
    live: Bridge, slack_fault: Callable[..., SlackFault]
) -> None:
    fault = slack_fault(CALLS, times=100_000)
    start = live.clock.now()
    await live.rc.incoming_voicemail(live.rc.extension_id, CALLER, duration=12)
    await live.dispatch(horizon=60)
    assert live.channel(CALLS) == []

    # The day's last attempt: Slack keeps the message but answers 500; the next look is
    # past the maximum age.
    live.clock.advance(start + DAY - 0.5 - live.clock.now())
    fault.store = True
    await live.dispatch(horizon=3600)

    (message,) = live.channel(CALLS)  # the voicemail, once
    assert {c.status for c in posts_to(live.slack, CALLS)} == {500}  # not posted again
    (row,) = await post_rows(live, CALLS)
    assert (row.state, row.ts) == ("done", message["ts"])
    assert dead_letters(live) == 0
    (audio,) = live.slack.files().values()  # and its audio follows into the thread
    assert (audio.content or b"")[:4] == b"RIFF"


# -- 429 ----------------------------------------------------------------------------------


async def test_429_waits_retry_after_before_posting_to_that_channel_again(live: Bridge) -> None:
    live.slack.fail("chat.postMessage", status=429, retry_after=30)
    await live.rc.incoming_sms(live.rc.extension_id, number(1), "first")
    await live.rc.incoming_sms(live.rc.extension_id, number(2), "second")
    await live.dispatch()

    calls = posts_to(live.slack, TEXTS)
    limited = calls[0]
    assert limited.status == 429
    later = calls[1:]
    assert later, "retried"
    assert all(c.time >= limited.time + 30 for c in later), [c.time - limited.time for c in later]
    assert all(c.ok for c in later)
    messages = live.channel(TEXTS)
    assert len(messages) == 2 == len(set(items(messages)))  # each exactly once


# -- permanent refusals -------------------------------------------------------------------


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_blocks"])
async def test_a_permanent_refusal_is_a_dead_letter_at_once(
    live: Bridge, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    live.slack.fail("chat.postMessage", error=error)
    with caplog.at_level(logging.ERROR, logger="bot.bridge"):
        await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello")
        await live.dispatch(horizon=DAY)

    assert len(posts_to(live.slack, TEXTS)) == 1  # no retry
    assert live.channel(TEXTS) == []
    (row,) = await post_rows(live, TEXTS)
    assert (row.state, row.error) == ("dead", error)
    assert dead_letters(live) == 1
    assert any(TEXTS in r.getMessage() and error in r.getMessage() for r in caplog.records)


# -- ambiguous failures and reconciliation ------------------------------------------------


@pytest.mark.parametrize("answer", ["500", "disconnect"])
async def test_a_post_slack_stored_before_failing_is_reconciled_not_reposted(
    live: Bridge,
    slack_fault: Callable[..., SlackFault],
    answer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_fault(TEXTS, store=True, answer=answer)
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello")
    await step(live)

    (row,) = await post_rows(live, TEXTS)
    assert row.state == "sending"  # we cannot know whether Slack posted it
    assert len(live.channel(TEXTS)) == 1

    with caplog.at_level(logging.INFO, logger="bot.bridge"):
        await live.dispatch()

    (message,) = live.channel(TEXTS)  # once
    assert len(posts_to(live.slack, TEXTS)) == 1  # never posted again
    history = live.slack.calls("conversations.history")
    assert history and history[0].params.get("channel") == TEXTS
    (row,) = await post_rows(live, TEXTS)
    assert (row.state, row.ts) == ("done", message["ts"])
    assert any("reconciled=found" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("answer", ["500", "disconnect"])
async def test_a_sending_post_slack_does_not_have_is_posted_once_after_looking(
    live: Bridge, slack_fault: Callable[..., SlackFault], answer: str
) -> None:
    slack_fault(TEXTS, store=False, answer=answer)
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello")
    await step(live)

    (row,) = await post_rows(live, TEXTS)
    assert row.state == "sending"
    assert live.channel(TEXTS) == []

    await live.dispatch()

    (message,) = live.channel(TEXTS)
    first, second = posts_to(live.slack, TEXTS)
    (looked,) = live.slack.calls("conversations.history")
    assert first.time <= looked.time <= second.time  # looked before posting again
    assert live.slack.calls().index(looked) < live.slack.calls().index(second)
    (row,) = await post_rows(live, TEXTS)
    assert (row.state, row.ts) == ("done", message["ts"])


async def test_a_thread_reply_stored_before_failing_is_found_in_the_thread(
    live: Bridge, slack_fault: Callable[..., SlackFault]
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?")
    await live.dispatch()
    (parent,) = live.channel(TEXTS)

    slack_fault(TEXTS, store=True)
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello again")
    live.clock.advance(2)  # past the channel's pace
    await step(live)
    reply_row = (await post_rows(live, TEXTS))[1]
    assert reply_row.state == "sending"

    await live.dispatch()

    assert len(live.channel(TEXTS)) == 1
    thread = live.slack.thread(TEXTS, parent["ts"])
    assert len(thread) == 2  # the parent and the reply, once
    assert "hello again" in str(thread[1].get("text"))
    replies = live.slack.calls("conversations.replies")
    assert replies and replies[0].params.get("ts") == parent["ts"]
    assert len(posts_to(live.slack, TEXTS)) == 2
    reply_row = (await post_rows(live, TEXTS))[1]
    assert (reply_row.state, reply_row.ts, reply_row.thread_ts) == (
        "done", thread[1]["ts"], parent["ts"],
    )  # fmt: skip


async def crash_after_slack_ok(bridge: Bridge, channel: str) -> list[Post]:
    """Put `channel`'s done posts back as a crash between Slack's ok and our commit
    leaves them: `sending`, no ts, the lease run out."""
    rows = [p for p in await post_rows(bridge, channel) if p.state == "done"]
    async with bridge.engine.begin() as conn:
        await conn.execute(
            update(Post)
            .where(Post.id.in_([p.id for p in rows]))
            .values(
                state="sending",
                ts=None,
                thread_ts=None,
                claimed_until=None,
            )
        )
    return rows


async def test_after_a_crash_between_slack_ok_and_commit_nothing_is_posted_twice(
    live: Bridge,
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, number(1), "one")
    await live.rc.incoming_sms(live.rc.extension_id, number(2), "two")
    await live.dispatch()
    before = live.channel(TEXTS)
    assert len(before) == 2
    rows = await crash_after_slack_ok(live, TEXTS)

    live.clock.advance(120)  # the restarted process finds them later
    await live.dispatch()

    assert live.channel(TEXTS) == before  # once each
    assert len(posts_to(live.slack, TEXTS)) == 2
    after = await post_rows(live, TEXTS)
    assert [(p.state, p.ts) for p in after] == [("done", p.ts) for p in rows]


async def test_after_a_crash_a_thread_reply_is_found_through_replies(live: Bridge) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "first")
    await live.dispatch()
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "second")
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    assert len(live.slack.thread(TEXTS, parent["ts"])) == 2
    async with live.engine.begin() as conn:
        reply = (await post_rows(live, TEXTS))[1]
        await conn.execute(
            update(Post)
            .where(Post.id == reply.id)
            .values(state="sending", ts=None, thread_ts=None, claimed_until=None)
        )

    live.clock.advance(120)
    await live.dispatch()

    assert len(live.slack.thread(TEXTS, parent["ts"])) == 2
    assert len(posts_to(live.slack, TEXTS)) == 2
    assert live.slack.calls("conversations.replies")
    (_, row) = await post_rows(live, TEXTS)
    assert (row.state, row.ts) == ("done", reply.ts)


# -- uploads ------------------------------------------------------------------------------


async def test_a_text_is_posted_while_a_voicemail_audio_download_hangs(live: Bridge) -> None:
    """The running dispatcher (not a test's drain): each kind of work goes round on its
    own, so an upload stuck on RingCentral holds up no notification behind it."""
    download = live.rc.stall(r"/content/")
    asked: list[str] = []
    live.rc.on_arrival = lambda _method, path: asked.append(path)
    stop = asyncio.Event()
    running = asyncio.create_task(live.notifications.dispatcher.run(stop))
    try:
        await live.rc.incoming_voicemail(live.rc.extension_id, CALLER, duration=12)
        await until(lambda: any("/content/" in path for path in asked))
        await live.rc.incoming_sms(live.rc.extension_id, number(7), "while the audio hangs")
        await until(lambda: len(live.channel(TEXTS)) == 1)

        (text,) = live.channel(TEXTS)
        assert "while the audio hangs" in text["text"]
        assert not live.slack.files()  # the audio is still on its way
    finally:
        download.set()
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    await live.dispatch()
    assert len(live.channel(CALLS)) == 1
    assert len(live.slack.files()) == 1  # and arrives once released


async def test_a_voicemail_audio_upload_failing_once_is_retried_and_arrives_once(
    live: Bridge,
) -> None:
    live.slack.fail("files.getUploadURLExternal", status=500)
    await live.rc.incoming_voicemail(live.rc.extension_id, CALLER, duration=12)
    await live.dispatch()

    (message,) = live.channel(CALLS)
    (audio,) = live.slack.files().values()
    assert (audio.content or b"")[:4] == b"RIFF"
    thread = live.slack.thread(CALLS, message["ts"])
    assert sum(len(m.get("files") or []) for m in thread) == 1
    tries = live.slack.calls("files.getUploadURLExternal")
    assert [c.status for c in tries] == [500, 200]
    assert len(live.slack.calls("files.completeUploadExternal")) == 1
    async with live.engine.connect() as conn:
        (state,) = (await conn.execute(select(Upload.state))).scalars().all()
    assert state == "done"

"""Dead updates and transcript follow-ups are dead letters like the rest (DESIGN §3.4,
§3.10): listed and shown (what, where, why; never a message's words), counted in the admin
channel's summary, and replayed once the cause is fixed. The real server between both
simulators."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from bot.sim.ringcentral import SimMessage
from bot.store.deadletters import DeadLetters
from bot.store.schema import Post
from tests.bridge import CALLS, Bridge
from tests.integration.test_delivery import live as live  # the bridge, Slack on its clock

CALLER = "+14155550123"


async def posted_voicemail(live: Bridge) -> SimMessage:
    """A voicemail posted in its channel, its transcript not there yet ("call me back")."""
    voicemail = await live.rc.incoming_voicemail(
        live.rc.extension_id, CALLER, duration=20, transcript="call me back", transcript_later=True
    )
    await live.dispatch(horizon=10)
    return voicemail


def now(bridge: Bridge) -> datetime:
    return datetime.fromtimestamp(bridge.clock.now(), UTC)


async def test_a_dead_update_is_listed_and_its_replay_shows_the_transcript(
    live: Bridge,
) -> None:
    voicemail = await posted_voicemail(live)
    live.slack.fail("chat.update", error="cant_update_message", times=None)
    await live.rc.finish_transcript(voicemail.id)
    await live.dispatch(horizon=600)
    (message,) = live.channel(CALLS)
    assert "call me back" not in str(message)

    letters = DeadLetters(live.engine)
    (letter,) = await letters.newest()
    assert letter.id.startswith("update:") and letter.where == CALLS
    assert letter.reason == "cant_update_message" and "voicemail" in letter.what
    assert "call me back" not in str(letter)
    assert await letters.get(letter.id) == letter
    assert (await letters.summary()).count == 1  # the admin channel's count

    live.slack.clear_faults()
    assert await letters.replay([letter.id], now=now(live)) == [letter.id]
    await live.dispatch(horizon=60)

    assert "call me back" in str(live.channel(CALLS))
    assert await letters.states([letter.id]) == {letter.id: "done"}
    assert await letters.newest() == []


async def test_a_dead_transcript_follow_up_is_listed_and_its_replay_shows_it(
    live: Bridge,
) -> None:
    voicemail = await posted_voicemail(live)
    (posted,) = live.channel(CALLS)
    async with live.engine.begin() as conn:  # a notice this release cannot read: it raises
        kept = (await conn.execute(Post.__table__.select())).one().notice
        await conn.execute(update(Post).values(notice='{"version": 99}'))
    await live.rc.finish_transcript(voicemail.id)
    await live.dispatch(horizon=3600)

    letters = DeadLetters(live.engine)
    (letter,) = await letters.newest()
    assert letter.id == f"followup:{voicemail.id}"
    assert letter.what == f"transcript of voicemail {voicemail.id}"
    assert letter.reason.startswith("unexpected ValueError in transcript")
    assert await letters.get(letter.id) == letter

    async with live.engine.begin() as conn:  # the cause fixed (the release that reads it)
        await conn.execute(update(Post).values(notice=kept))
    assert await letters.replay([letter.id], now=now(live)) == [letter.id]
    await live.dispatch(horizon=60)

    assert live.channel(CALLS)[0]["ts"] == posted["ts"]
    assert "call me back" in str(live.channel(CALLS))
    assert await letters.states([letter.id]) == {letter.id: "done"}
    assert await letters.newest() == []

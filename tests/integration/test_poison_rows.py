"""No poison rows (issue #9 item 2, RELIABILITY R21): an exception no step expects — here a
RingCentral or Slack answer of the wrong shape — at each stage (a delivery's ingest, a
post, an upload, a transcript follow-up) counts an attempt, backs off, and after the limit
leaves the row a dead letter with its reason; the other notifications keep flowing.

Before, such an exception aborted the dispatcher's whole step: the row kept its lease,
came back every lease forever with attempts never growing, and being oldest it came first.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot.bridge.faults import UNEXPECTED_LIMIT
from bot.ringcentral.models import MessageStoreEvent
from bot.store.schema import Delivery, Followup, Post, Upload
from tests.bridge import CALLS, TEXTS, Bridge
from tests.integration.test_delivery import live as live  # the bridge, Slack on its clock

CALLER = "+14155550123"
OTHER = "+14155550199"


async def rows(bridge: Bridge, model: type) -> list:  # type: ignore[type-arg]
    async with bridge.engine.connect() as conn:
        return list((await conn.execute(select(model))).all())


def spread(times: list[float]) -> None:
    """Tried again and again, later each time (backoff): never in one burst."""
    assert len(times) == UNEXPECTED_LIMIT, times
    assert times[-1] - times[0] > 2.0, times


async def test_a_delivery_whose_handling_raises_the_unexpected_ends_a_dead_letter(
    live: Bridge,
) -> None:
    """Injected through the ingest's own seam (the hook that hears of every message-store
    change): a pager message's change raises what no step expects."""
    ingest = live.notifications.dispatcher.ingest

    def explode(event: MessageStoreEvent) -> None:
        if any(c.type.lower() == "pager" for c in event.body.changes):
            raise ZeroDivisionError("injected: secret plan")

    ingest.on_message_change = explode
    other = next(e for e in live.rc.world.extension_ids() if e != live.rc.extension_id)
    await live.rc.pager_message(other, [live.rc.extension_id], "Lunch at 12? secret plan")
    await live.rc.incoming_sms(live.rc.extension_id, OTHER, "still flowing")
    await live.dispatch(horizon=3600)

    assert "still flowing" in str(live.channel(TEXTS))  # the other notification was posted
    dead = [d for d in await rows(live, Delivery) if d.state == "dead"]
    assert dead, "the pager change's deliveries end as dead letters"
    for delivery in dead:
        assert delivery.attempts == UNEXPECTED_LIMIT
        assert delivery.error.startswith("unexpected ZeroDivisionError in delivery at bot/")
        assert "secret plan" not in delivery.error  # a reason, never a value
    assert {d.state for d in await rows(live, Delivery)} == {"dead", "done"}


async def test_a_post_slack_answers_without_its_ts_ends_a_dead_letter(live: Bridge) -> None:
    live.slack.fail("chat.postMessage", garbled=True, times=None, channel=CALLS)
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id, from_name="A")
    await live.rc.incoming_sms(live.rc.extension_id, OTHER, "still flowing")
    await live.dispatch(horizon=3600)

    assert "still flowing" in str(live.channel(TEXTS))
    tries = [c.time for c in live.slack.calls("chat.postMessage") if c.params["channel"] == CALLS]
    spread(tries)
    (post,) = [p for p in await rows(live, Post) if p.channel == CALLS]
    assert (post.state, post.attempts) == ("dead", UNEXPECTED_LIMIT)
    assert post.error.startswith("unexpected ValidationError in post at bot/bridge/poster.py")
    assert post.error.endswith("of PostedMessage: channel, ts")
    # Each retry first looked for the message (the garbled answer may have followed a post).
    assert len(live.slack.calls("conversations.history")) >= UNEXPECTED_LIMIT - 1


async def test_an_upload_slack_answers_garbled_ends_a_dead_letter(live: Bridge) -> None:
    live.slack.fail("files.completeUploadExternal", garbled=True, times=None)
    await live.rc.incoming_voicemail(live.rc.extension_id, CALLER, duration=12)
    await live.rc.incoming_sms(live.rc.extension_id, OTHER, "still flowing")
    await live.dispatch(horizon=3600)

    assert len(live.channel(CALLS)) == 1  # the voicemail's message
    assert "still flowing" in str(live.channel(TEXTS))
    spread([c.time for c in live.slack.calls("files.completeUploadExternal")])
    (upload,) = await rows(live, Upload)
    assert (upload.state, upload.attempts) == ("dead", UNEXPECTED_LIMIT)
    assert upload.error.startswith("unexpected TypeError in upload")


async def test_a_transcript_that_cannot_be_shown_ends_a_dead_letter(live: Bridge) -> None:
    """The voicemail's stored notice is one this release cannot read (a newer release
    wrote it): showing the transcript raises what no step expects."""
    voicemail = await live.rc.incoming_voicemail(
        live.rc.extension_id, CALLER, duration=20, transcript="call me", transcript_later=True
    )
    await live.dispatch(horizon=10)
    (message,) = live.channel(CALLS)
    async with live.engine.begin() as conn:
        await conn.execute(
            update(Post).where(Post.channel == CALLS).values(notice='{"version": 99}')
        )
    await live.rc.finish_transcript(voicemail.id)
    before = len(live.rc.requests)
    await live.rc.incoming_sms(live.rc.extension_id, OTHER, "still flowing")
    await live.dispatch(horizon=3600)

    assert "still flowing" in str(live.channel(TEXTS))
    assert live.channel(CALLS) == [message]  # unchanged, still there
    reads = [
        r.time
        for r in live.rc.requests[before:]
        if r.method == "GET" and r.path.endswith(voicemail.id)
    ]
    spread(reads)
    (followup,) = await rows(live, Followup)
    assert (followup.state, followup.attempts) == ("dead", UNEXPECTED_LIMIT)
    assert followup.error.startswith("unexpected ValueError in transcript at bot/")

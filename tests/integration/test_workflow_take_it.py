"""Take it (DESIGN §3.12): missed calls, voicemails and a new SMS conversation's first
message carry a Take it button (the conversation Mark handled too); the message then names
who took it; someone else's later click tells them who has it and changes nothing; a
texted thread reply takes an untaken conversation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.render import MARK_HANDLED_ACTION, TAKE_IT_ACTION
from tests.bridge import CALLS, EITHER, TEXTS, USER, Bridge
from tests.integration.test_notice_flows import button
from tests.integration.test_notifications import buttons, readable

CALLER = "+14155550123"
BOB = "U0BOB"


async def click(
    live: Bridge, action: str, user: str, *, ts: str = "", value: str = "", channel: str = CALLS
) -> Any:
    """A button click on the message `ts` (its button's value), or with `value` as given."""
    found = {"message_ts": ts} if ts else {"value": value}
    delivery = await live.slack.send_block_action(
        live.events_url, action_id=action, channel_id=channel, user_id=user, **found
    )
    await live.settle()
    return delivery


@pytest.fixture
async def live(bridge: Bridge) -> Bridge:
    await bridge.subscribe()
    bridge.slack.add_user(BOB, "bob", real_name="Bob Example")
    return bridge


@EITHER
async def test_take_it_names_who_took_it_and_a_second_click_changes_nothing(
    live: Bridge,
) -> None:
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)
    assert buttons(message) == ["Call back", "Text back", "Take it", "Mark handled"]

    await click(live, TAKE_IT_ACTION, USER, ts=message["ts"])

    (taken,) = live.channel(CALLS)
    assert f"Taken by <@{USER}>" in readable(taken)
    assert buttons(taken) == ["Call back", "Text back", "Mark handled"]

    late = await click(live, TAKE_IT_ACTION, BOB, value=button(message, TAKE_IT_ACTION)["value"])

    assert f"<@{USER}> has already taken it" in str(live.replies(late))
    assert live.channel(CALLS) == [taken]

    # Handling it keeps the name of who took it.
    await click(live, MARK_HANDLED_ACTION, BOB, ts=message["ts"])
    (handled,) = live.channel(CALLS)
    assert f"Taken by <@{USER}>" in readable(handled)
    assert f"Handled by <@{BOB}>" in readable(handled)
    assert buttons(handled) == ["Call back", "Text back"]


async def test_a_voicemail_taken_keeps_its_taker_when_the_transcript_arrives(
    live: Bridge,
) -> None:
    await live.rc.call(
        "voicemail", caller=CALLER, extension_id=live.rc.extension_id, transcript_later=True
    )
    await live.dispatch()
    voicemails = [
        m for m in live.channel(CALLS) if m["metadata"]["event_type"] == "ringcentral_voicemail"
    ]
    (message,) = voicemails
    assert "Take it" in buttons(message)

    await click(live, TAKE_IT_ACTION, BOB, ts=message["ts"])
    await live.rc.finish_transcript(message["metadata"]["event_payload"]["item"], "Call me back")
    await live.dispatch()

    (updated,) = [m for m in live.channel(CALLS) if m["ts"] == message["ts"]]
    assert "Call me back" in readable(updated)
    assert f"Taken by <@{BOB}>" in readable(updated)
    assert "Take it" not in buttons(updated)


async def test_a_voicemail_is_marked_handled_like_a_missed_call(live: Bridge) -> None:
    # A voicemail is open until marked handled (reminders, the digest, App Home): it needs
    # the button, and keeps who handled it when its transcript comes later.
    await live.rc.call(
        "voicemail", caller=CALLER, extension_id=live.rc.extension_id, transcript_later=True
    )
    await live.dispatch()
    (message,) = [
        m for m in live.channel(CALLS) if m["metadata"]["event_type"] == "ringcentral_voicemail"
    ]
    assert buttons(message)[-2:] == ["Take it", "Mark handled"]

    await click(live, MARK_HANDLED_ACTION, BOB, ts=message["ts"])
    late = await click(
        live, MARK_HANDLED_ACTION, USER, value=button(message, MARK_HANDLED_ACTION)["value"]
    )
    await live.rc.finish_transcript(message["metadata"]["event_payload"]["item"], "Call me back")
    await live.dispatch()

    (handled,) = [m for m in live.channel(CALLS) if m["ts"] == message["ts"]]
    assert f"Handled by <@{BOB}>" in readable(handled)
    assert "Call me back" in readable(handled)
    assert "Mark handled" not in buttons(handled) and "Take it" not in buttons(handled)
    assert f"Already handled by <@{BOB}>" in str(live.replies(late))


async def test_an_sms_conversation_gets_take_it_and_mark_handled_on_its_first_message(
    live: Bridge,
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?")
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello?")
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    _, later = live.slack.thread(TEXTS, parent["ts"])
    assert buttons(parent) == ["Take it", "Mark handled"]
    assert buttons(later) == []  # a reply in the thread carries none

    await click(live, TAKE_IT_ACTION, BOB, ts=parent["ts"], channel=TEXTS)
    await click(live, MARK_HANDLED_ACTION, USER, ts=parent["ts"], channel=TEXTS)
    (handled,) = [m for m in live.channel(TEXTS) if m["ts"] == parent["ts"]]
    assert f"Taken by <@{BOB}>" in readable(handled)
    assert f"Handled by <@{USER}>" in readable(handled)
    assert buttons(handled) == []


async def test_a_texted_thread_reply_takes_an_untaken_conversation(live: Bridge) -> None:
    company = live.rc.world.numbers_with_feature(live.rc.extension_id, "SmsSender")[0]
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?", to_number=company)
    await live.dispatch()
    (parent,) = live.channel(TEXTS)

    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="Yes, until 6", thread_ts=parent["ts"], user_id=BOB
    )
    await live.settle()
    await live.dispatch(horizon=0)  # the stored reply is texted by the dispatcher
    assert len(live.rc.requests_to(r"/sms$", "POST")) == 1
    (taken,) = [m for m in live.channel(TEXTS) if m["ts"] == parent["ts"]]
    assert f"Taken by <@{BOB}>" in readable(taken)
    assert buttons(taken) == ["Mark handled"]

    # A second person's texted reply leaves it with the first.
    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="See you", thread_ts=parent["ts"], user_id=USER
    )
    await live.settle()
    await live.dispatch(horizon=0)
    (still,) = [m for m in live.channel(TEXTS) if m["ts"] == parent["ts"]]
    assert f"Taken by <@{BOB}>" in readable(still)


async def test_a_text_after_handling_or_a_day_of_silence_starts_a_new_conversation(
    live: Bridge,
) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?")
    await live.dispatch()
    (first,) = live.channel(TEXTS)
    await click(live, MARK_HANDLED_ACTION, USER, ts=first["ts"], channel=TEXTS)

    live.clock.advance(60)
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "one more thing")
    await live.dispatch()
    first_again, second = live.channel(TEXTS)
    assert first_again["ts"] == first["ts"]
    assert buttons(second) == ["Take it", "Mark handled"]

    live.clock.advance(3600)  # within a day: the conversation goes on in its thread
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "still there?")
    await live.dispatch()
    assert len(live.channel(TEXTS)) == 2
    assert len(live.slack.thread(TEXTS, second["ts"])) == 2

    live.clock.advance(25 * 3600)  # a day of silence: new again
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello again")
    await live.dispatch()
    *_, third = live.channel(TEXTS)
    assert len(live.channel(TEXTS)) == 3
    assert "hello again" in readable(third)
    assert buttons(third) == ["Take it", "Mark handled"]

    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "and later ones go there")
    await live.dispatch()
    assert len(live.channel(TEXTS)) == 3
    assert len(live.slack.thread(TEXTS, third["ts"])) == 2

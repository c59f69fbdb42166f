"""Notifications driven by the simulated account's own events, and the buttons on them:
missed calls, transcripts that come later, files in threads, Call back, Text back, Mark
handled, and SMS answered from the thread."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.phone import format_display
from bot.server import DEPS
from bot.slack.render import CALL_BACK_ACTION, MARK_HANDLED_ACTION, TEXT_BACK_ACTION
from tests.bridge import CALLS, EITHER, TEXTS, USER, Bridge
from tests.integration.test_notifications import buttons, golden, readable

CALLER = "+14155550123"


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    (found,) = [
        element
        for block in message.get("blocks", [])
        for element in block.get("elements", [])
        if element.get("action_id") == action_id
    ]
    return found


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["metadata"]["event_type"]).removeprefix("ringcentral_") for m in messages]


@pytest.fixture(params=["webhook", "websocket"])
def ringcentral_events(request: pytest.FixtureRequest) -> str:
    """Every flow, golden files included, with RingCentral's events by webhook and over its
    WebSocket (no PUBLIC_URL, DESIGN §3.11): the same either way."""
    return str(request.param)


@pytest.fixture
async def live(bridge: Bridge) -> Bridge:
    if bridge.listener is None:  # over the WebSocket, the listener subscribed already
        await bridge.subscribe()
    return bridge


async def test_missed_call_names_the_caller_and_offers_the_four_buttons(live: Bridge) -> None:
    await live.rc.call(
        "missed", caller=CALLER, extension_id=live.rc.extension_id, from_name="Ann Lee"
    )
    await live.dispatch()

    (message,) = live.channel(CALLS)
    golden("missed_call", message)
    assert kinds([message]) == ["missed_call"]
    text = readable(message)
    assert "Missed call" in text
    assert "Ann Lee" in text
    assert format_display(CALLER) in text
    assert buttons(message) == ["Call back", "Text back", "Take it", "Mark handled"]


async def test_an_ivr_leg_that_hands_the_call_on_is_no_missed_call(live: Bridge) -> None:
    await live.rc.call("ivr_answered", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()

    assert sorted(kinds(live.channel(CALLS))) == ["answered_call", "call"]


async def test_answered_then_finished_call_shows_who_answered_and_how_long(live: Bridge) -> None:
    await live.rc.call("answered", caller=CALLER, extension_id=live.rc.extension_id, talk=95)
    await live.dispatch()

    answered, finished = live.channel(CALLS)
    assert kinds([answered, finished]) == ["answered_call", "call"]
    assert "answered" in readable(answered)
    assert "0:01:35" in readable(finished)


async def test_calls_out_of_order_and_twice_still_post_once_each(live: Bridge) -> None:
    await live.rc.call(
        "missed", caller=CALLER, extension_id=live.rc.extension_id, shuffle_seed=3, duplicate=1
    )
    await live.dispatch()

    assert kinds(live.channel(CALLS)) == ["missed_call"]


async def test_voicemail_transcript_arrives_later_and_updates_the_message(live: Bridge) -> None:
    voicemail = await live.rc.incoming_voicemail(
        live.rc.extension_id, CALLER, duration=42, transcript="Please call me back about the lease",
        transcript_later=True,
    )  # fmt: skip
    await live.dispatch()
    (posted,) = live.channel(CALLS)
    assert "Transcript on its way" in readable(posted)
    assert "0:00:42" in readable(posted)
    (audio,) = live.slack.files().values()
    assert audio.content[:4] == b"RIFF"  # the WAV, uploaded into the voicemail's thread

    await live.rc.finish_transcript(voicemail.id)
    await live.dispatch()

    (updated,) = live.channel(CALLS)
    assert updated["ts"] == posted["ts"]
    assert "Please call me back about the lease" in readable(updated)
    assert "Transcript on its way" not in readable(updated)


async def test_fax_pdf_goes_into_the_thread(live: Bridge) -> None:
    await live.rc.incoming_fax(live.rc.extension_id, CALLER, pages=3)
    await live.dispatch()

    (message,) = live.channel(CALLS)
    assert "3 pages" in readable(message)
    (pdf,) = live.slack.files().values()
    assert pdf.content.startswith(b"%PDF")


async def test_mms_images_go_into_the_conversation_thread(live: Bridge) -> None:
    from bot.sim import Upload

    image = Upload(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png", "photo.png")
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "look", attachments=[image])
    await live.dispatch()

    (message,) = live.channel(TEXTS)
    assert ">look" in readable(message)
    files = list(live.slack.files().values())
    assert [f.content for f in files] == [image.body]


async def test_pager_message_posts_as_an_internal_message(live: Bridge) -> None:
    other = next(e for e in live.rc.world.extension_ids() if e != live.rc.extension_id)
    await live.rc.pager_message(other, [live.rc.extension_id], "Lunch at 12? & <b>")
    await live.dispatch()

    (message,) = live.channel(TEXTS)
    assert kinds([message]) == ["internal_message"]
    assert "Lunch at 12? &amp; &lt;b&gt;" in readable(message)


@EITHER
async def test_call_back_rings_the_users_phone_then_the_caller(live: Bridge) -> None:
    first_leg = "+16505550111"
    deps = live.server.app[DEPS]
    deps.commands = deps.commands.model_copy(update={"ringout_from": first_leg})
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)

    click = await live.slack.send_block_action(
        live.events_url, action_id=CALL_BACK_ACTION, channel_id=CALLS, message_ts=message["ts"]
    )
    await live.settle()

    (ringout,) = [r.json for r in live.rc.requests_to(r"/ring-out$", "POST")]
    assert ringout["to"] == {"phoneNumber": CALLER}
    assert ringout["from"] == {"phoneNumber": first_leg}
    assert all(not r.get("replace_original") for r in live.replies(click))
    assert live.channel(CALLS)[0]["blocks"] == message["blocks"]  # the notice is untouched


@EITHER
async def test_text_back_opens_a_modal_and_sends_the_typed_text(live: Bridge) -> None:
    company = live.rc.world.numbers_with_feature(live.rc.extension_id, "SmsSender")[0]
    await live.rc.call(
        "missed", caller=CALLER, extension_id=live.rc.extension_id, to_number=company
    )
    await live.dispatch()
    (message,) = live.channel(CALLS)

    await live.slack.send_block_action(
        live.events_url, action_id=TEXT_BACK_ACTION, channel_id=CALLS, message_ts=message["ts"]
    )
    await live.settle()
    (opened,) = live.slack.calls("views.open")
    view = opened.params["view"]
    assert (json.loads(view) if isinstance(view, str) else view)["callback_id"] == "text_back_modal"
    typed = 'Sorry I missed you — "call" me & I\'ll <answer>'

    await live.slack.send_view_submission(
        live.events_url,
        values={"text_back_text": {"text_back_text": {"type": "plain_text_input", "value": typed}}},
    )
    await live.settle()

    (sms,) = [r.json for r in live.rc.requests_to(r"/sms$", "POST")]
    assert sms["text"] == typed
    assert sms["to"] == [{"phoneNumber": CALLER}]
    assert sms["from"] == {"phoneNumber": company}
    assert "Sent" in str(live.slack.ephemerals(CALLS, USER))


@EITHER
async def test_text_back_refuses_an_empty_message_in_the_modal(live: Bridge) -> None:
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)
    await live.slack.send_block_action(
        live.events_url, action_id=TEXT_BACK_ACTION, channel_id=CALLS, message_ts=message["ts"]
    )
    await live.settle()

    answer = await live.slack.send_view_submission(
        live.events_url,
        values={"text_back_text": {"text_back_text": {"type": "plain_text_input", "value": "  "}}},
    )

    assert json.loads(answer.body)["response_action"] == "errors"
    assert live.rc.requests_to(r"/sms$", "POST") == []


@EITHER
async def test_mark_handled_names_the_handler_and_a_second_click_changes_nothing(
    live: Bridge,
) -> None:
    live.slack.add_user("U0BOB", "bob", real_name="Bob Example")
    await live.rc.call("missed", caller=CALLER, extension_id=live.rc.extension_id)
    await live.dispatch()
    (message,) = live.channel(CALLS)

    await live.slack.send_block_action(
        live.events_url, action_id=MARK_HANDLED_ACTION, channel_id=CALLS,
        message_ts=message["ts"], user_id=USER,
    )  # fmt: skip
    await live.settle()

    (handled,) = live.channel(CALLS)
    assert f"<@{USER}>" in readable(handled)
    assert "Mark handled" not in buttons(handled)
    golden("missed_call_handled", handled, ours=f"<@{USER}>")

    late = await live.slack.send_block_action(
        live.events_url, action_id=MARK_HANDLED_ACTION, channel_id=CALLS,
        value=button(message, MARK_HANDLED_ACTION)["value"], user_id="U0BOB",
    )  # fmt: skip
    await live.settle()

    assert f"Already handled by <@{USER}>" in str(live.replies(late))
    assert live.channel(CALLS) == [handled]


@EITHER
async def test_a_forged_button_value_does_nothing(live: Bridge) -> None:
    await live.slack.send_block_action(
        live.events_url, action_id=CALL_BACK_ACTION, channel_id=CALLS, value='{"n":"; rm -rf"}'
    )
    await live.settle()

    assert live.rc.requests_to(r"/ring-out$", "POST") == []


@EITHER
async def test_a_reply_in_the_sms_thread_goes_out_as_sms_with_exactly_the_typed_text(
    live: Bridge,
) -> None:
    company = live.rc.world.numbers_with_feature(live.rc.extension_id, "SmsSender")[0]
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "are you open?", to_number=company)
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    typed = "Yes & until 6 <pm> :+1:"

    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text=typed, thread_ts=parent["ts"]
    )
    await live.settle()
    await live.dispatch()

    (sms,) = [r.json for r in live.rc.requests_to(r"/sms$", "POST")]
    assert sms["text"] == "Yes & until 6 <pm> 👍"
    assert sms["to"] == [{"phoneNumber": CALLER}]
    assert sms["from"] == {"phoneNumber": company}


@EITHER
async def test_bot_messages_in_the_thread_send_nothing(live: Bridge) -> None:
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, "hello")
    await live.dispatch()
    (parent,) = live.channel(TEXTS)

    await live.slack.send_event(
        live.events_url,
        {"type": "message", "channel": TEXTS, "thread_ts": parent["ts"], "ts": "9.1",
         "text": "bot echo", "bot_id": "B0OTHER", "user": "U0OTHERBOT"},
    )  # fmt: skip
    await live.settle()
    await live.dispatch()

    assert live.rc.requests_to(r"/sms$", "POST") == []

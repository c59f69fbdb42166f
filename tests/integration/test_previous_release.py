"""Messages the previous release posted keep working after an upgrade: their buttons carry
values in its encoding and their notices sit in the posts table without a version. A
missed call is built here exactly as it left them (the message in the Slack simulator, its
row in the database), and its buttons are clicked through the real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.server import DEPS
from bot.store.schema import Post
from tests.bridge import CALLS, USER, Bridge
from tests.integration.test_notifications import buttons, readable

CALLER = "+14155550123"
COMPANY = "+16505550101"
ITEM = "s-ee86bfac6f13046be485e5d9489dca83:p-ee86bfac6f13046be485e5d9489dca83-2"
FIRST_LEG = "+16505550111"

# The previous release's missed call (tests/golden/pipeline_missed_call.json as it was),
# its button values byte for byte.
OLD_TEXT = "Missed call from Ann Lee (415) 555-0123"
OLD_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "verbatim": True,
            "text": ":telephone_receiver: *Missed call* from *Ann Lee* (415) 555-0123\nTo *Dana "
            "Whitfield* (650) 555-0101 · <!date^1767225600^{date_short_pretty} {time}|"
            "2026-01-01 00:00 UTC>",
        },
    },
    {
        "type": "actions",
        "block_id": "notice_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "call_back",
                "text": {"type": "plain_text", "text": "Call back", "emoji": True},
                "value": '{"n":"+14155550123","m":"Ann Lee"}',
            },
            {
                "type": "button",
                "action_id": "text_back",
                "text": {"type": "plain_text", "text": "Text back", "emoji": True},
                "value": '{"n":"+14155550123","f":"+16505550101"}',
            },
            {
                "type": "button",
                "action_id": "mark_handled",
                "text": {"type": "plain_text", "text": "Mark handled", "emoji": True},
                "value": '{"k":"missed_call","i":"' + ITEM + '"}',
            },
        ],
    },
]
# Its row's notice, as the previous release stored it: the notice object, no version.
OLD_NOTICE = (
    '{"kind":"missed_call","session_id":"s-ee86bfac6f13046be485e5d9489dca83",'
    '"party_id":"p-ee86bfac6f13046be485e5d9489dca83-2","direction":"Inbound",'
    '"caller":{"number":"+14155550123","name":"Ann Lee","extension_number":null},'
    '"callee":{"number":"+16505550101","name":"Dana Whitfield","extension_number":null},'
    '"at":"2026-01-01T00:00:00Z","answered_by":null,"duration":null,"result":null,'
    '"extension_id":"62264425008","company_number":"+16505550101"}'
)


@pytest.fixture
async def old_message(bridge: Bridge) -> dict[str, Any]:
    """The previous release's missed call in #calls, and its row in the posts table."""
    slack = AsyncWebClient(token=bridge.slack.tokens[0], base_url=bridge.slack.api_url)
    posted = await slack.chat_postMessage(
        channel=CALLS,
        text=OLD_TEXT,
        blocks=OLD_BLOCKS,
        metadata={
            "event_type": "ringcentral_missed_call",
            "event_payload": {"rc_uuid": "7f0c1f9e-old", "item": ITEM},
        },
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    async with bridge.engine.begin() as conn:
        await conn.execute(
            Post.__table__.insert().values(
                rc_uuid="7f0c1f9e-old", kind="missed_call", item=ITEM, channel=CALLS,
                notice=OLD_NOTICE, state="done", attempts=1, created_at=at,
                next_attempt_at=at, ts=str(posted["ts"]),
            )
        )  # fmt: skip
    (message,) = bridge.channel(CALLS)
    assert message["blocks"][1]["elements"][2]["value"] == '{"k":"missed_call","i":"' + ITEM + '"}'
    return message


async def test_its_call_back_rings_the_users_phone_then_the_caller(
    bridge: Bridge, old_message: dict[str, Any]
) -> None:
    deps = bridge.server.app[DEPS]
    deps.commands = deps.commands.model_copy(update={"ringout_from": FIRST_LEG})

    await bridge.slack.send_block_action(
        bridge.events_url, action_id="call_back", channel_id=CALLS, message_ts=old_message["ts"]
    )
    await bridge.settle()

    (ringout,) = [r.json for r in bridge.rc.requests_to(r"/ring-out$", "POST")]
    assert ringout["to"] == {"phoneNumber": CALLER}
    assert ringout["from"] == {"phoneNumber": FIRST_LEG}


async def test_its_mark_handled_renders_the_stored_row_with_the_handler(
    bridge: Bridge, old_message: dict[str, Any]
) -> None:
    await bridge.slack.send_block_action(
        bridge.events_url, action_id="mark_handled", channel_id=CALLS,
        message_ts=old_message["ts"], user_id=USER,
    )  # fmt: skip
    await bridge.settle()

    (handled,) = bridge.channel(CALLS)
    assert handled["ts"] == old_message["ts"]
    text = readable(handled)
    assert f"Handled by <@{USER}>" in text
    assert "*Missed call* from *Ann Lee* (415) 555-0123" in text
    # Re-rendered by this release: the account's zone (the simulator's US/Pacific).
    assert "|2025-12-31 16:00 PST>" in text
    assert buttons(handled) == ["Call back", "Text back"]


async def test_its_text_back_opens_the_modal_and_sends_from_the_number_called(
    bridge: Bridge, old_message: dict[str, Any]
) -> None:
    await bridge.slack.send_block_action(
        bridge.events_url, action_id="text_back", channel_id=CALLS, message_ts=old_message["ts"]
    )
    await bridge.settle()
    (opened,) = bridge.slack.calls("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["private_metadata"] == f'{{"to":"{CALLER}","from":"{COMPANY}","channel":"{CALLS}"}}'

    await bridge.slack.send_view_submission(
        bridge.events_url,
        values={"text_back_text": {"text_back_text": {"type": "plain_text_input", "value": "Hi"}}},
    )
    await bridge.settle()

    (sms,) = [r.json for r in bridge.rc.requests_to(r"/sms$", "POST")]
    assert (sms["to"], sms["from"]) == ([{"phoneNumber": CALLER}], {"phoneNumber": COMPANY})


@pytest.mark.parametrize("known_from", [True, False])
async def test_a_text_back_modal_it_opened_still_sends(bridge: Bridge, known_from: bool) -> None:
    """A modal open during the upgrade: its private_metadata in the previous encoding (with
    `null` for a company number it did not know: the SMS then goes from the service user's)."""
    company = bridge.rc.world.numbers_with_feature(bridge.rc.extension_id, "SmsSender")[0]
    sender = json.dumps(company) if known_from else "null"
    metadata = f'{{"to": "{CALLER}", "from": {sender}, "channel": "{CALLS}"}}'

    await bridge.slack.send_view_submission(
        bridge.events_url,
        callback_id="text_back_modal",
        private_metadata=metadata,
        values={"text_back_text": {"text_back_text": {"type": "plain_text_input", "value": "Hi"}}},
    )
    await bridge.settle()

    (sms,) = [r.json for r in bridge.rc.requests_to(r"/sms$", "POST")]
    assert sms["to"] == [{"phoneNumber": CALLER}]
    assert (sms["from"], sms["text"]) == ({"phoneNumber": company}, "Hi")
    assert "Sent" in str(bridge.slack.ephemerals(CALLS, USER))

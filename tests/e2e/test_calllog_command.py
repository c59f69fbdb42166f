"""`/calllog` end to end: filters reach RingCentral, pages turn, one call shows its legs."""

from __future__ import annotations

import json
import re

import pytest

from bot.slack.render import CALLLOG_ACTION
from tests.bridge import CHANNEL, EITHER, Bridge


def call_log_queries(bridge: Bridge) -> list[dict[str, list[str]]]:
    return [r.query for r in bridge.rc.requests_to(r"/call-log$", "GET")]


def page_buttons(reply: dict[str, object]) -> dict[str, str]:
    """Button label → value."""
    found = {}
    for block in reply.get("blocks", []):  # type: ignore[attr-defined]
        for element in block.get("elements", []):
            if element.get("action_id") == CALLLOG_ACTION:
                found[element["text"]["text"]] = element["value"]
    return found


def record_ids(text: str) -> list[str]:
    return re.findall(r"`([A-Za-z0-9_-]{8,})`", text)


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("inbound", {"direction": ["Inbound"]}),
        ("outbound 7d", {"direction": ["Outbound"]}),
        ("type:fax 30d", {"type": ["Fax"]}),
        ("transport:voip 30d", {"transport": ["VoIP"]}),
        ("recording:all 30d", {"recordingType": ["All"]}),
        ("detailed", {"view": ["Detailed"]}),
        ("deleted", {"showDeleted": ["true"]}),
        ("blocked", {"showBlocked": ["true"]}),
        ("+1 650 555 0100 30d", {"phoneNumber": ["16505550100"]}),
        ("5", {"perPage": ["5"]}),
    ],
)
async def test_calllog_filters_reach_ringcentral(
    bridge: Bridge, typed: str, query: dict[str, list[str]]
) -> None:
    delivery = await bridge.command("/calllog", typed)

    (sent,) = call_log_queries(bridge)
    for key, values in query.items():
        assert sent[key] == values
    assert "Calls" in bridge.reply_text(delivery)


@EITHER
async def test_calllog_hides_blocked_calls_unless_asked(bridge: Bridge) -> None:
    await bridge.command("/calllog", "")

    assert call_log_queries(bridge)[0]["showBlocked"] == ["false"]


@EITHER
async def test_calllog_filters_change_what_the_person_sees(bridge: Bridge) -> None:
    everything = await bridge.command("/calllog", "30d 50")
    faxes = await bridge.command("/calllog", "type:fax 30d 50")

    all_ids = record_ids(bridge.reply_text(everything))
    fax_ids = record_ids(bridge.reply_text(faxes))
    assert fax_ids
    assert set(fax_ids) != set(all_ids)


@EITHER
async def test_next_and_previous_page_through_the_call_log(bridge: Bridge) -> None:
    first = await bridge.command("/calllog", "30d 5")
    (reply,) = bridge.replies(first)
    assert "Previous" not in page_buttons(reply)

    click = await bridge.slack.send_block_action(
        bridge.events_url, action_id=CALLLOG_ACTION, channel_id=CHANNEL,
        value=page_buttons(reply)["Next"],
    )  # fmt: skip
    await bridge.settle()

    (second,) = bridge.replies(click)
    assert second["replace_original"] is True
    assert call_log_queries(bridge)[-1]["page"] == ["2"]
    assert set(record_ids(str(second))).isdisjoint(record_ids(str(reply)))
    back = json.loads(page_buttons(second)["Previous"])
    assert back["p"] == 1


@EITHER
async def test_missed_shows_only_unanswered_inbound_calls(bridge: Bridge) -> None:
    delivery = await bridge.command("/calllog", "missed 30d")

    assert call_log_queries(bridge)[0]["direction"] == ["Inbound"]
    text = bridge.reply_text(delivery)
    assert "Accepted" not in text and "Call connected" not in text


@EITHER
async def test_calllog_record_id_shows_the_call_with_its_legs(bridge: Bridge) -> None:
    listing = await bridge.command("/calllog", "30d detailed 20")
    record_id = record_ids(bridge.reply_text(listing))[0]

    delivery = await bridge.command("/calllog", record_id)

    (get,) = bridge.rc.requests_to(rf"/call-log/{re.escape(record_id)}$", "GET")
    assert get.query["view"] == ["Detailed"]
    text = bridge.reply_text(delivery)
    assert record_id in text
    assert "Leg" in text or "leg" in text


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("type:sms", "type:voice|fax"),
        ("sideways", None),
        ("session:123 today", "cannot be combined"),
    ],
)
async def test_bad_calllog_input(bridge: Bridge, typed: str, says: str | None) -> None:
    delivery = await bridge.command("/calllog", typed)

    if says is None:  # an unknown word is a record id: RingCentral says there is none
        assert "no such record" in bridge.reply_text(delivery)
    else:
        assert says in bridge.reply_text(delivery)
        assert call_log_queries(bridge) == []

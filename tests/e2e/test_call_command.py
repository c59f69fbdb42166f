"""`/call` end to end: RingOut from Slack, the reply following the call, Cancel."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.server import DEPS
from bot.slack.render import RINGOUT_CANCEL_ACTION
from bot.store import AuditLog
from tests.bridge import CHANNEL, EITHER, USER, Bridge

TO = "+14155550123"
FIRST = "+16505550111"


def ringouts(bridge: Bridge) -> list[dict[str, object]]:
    return [r.json for r in bridge.rc.requests_to(r"/ring-out$", "POST")]


def buttons(message: dict[str, object]) -> list[dict[str, object]]:
    return [
        element
        for block in message.get("blocks", [])  # type: ignore[attr-defined]
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


@EITHER
async def test_call_rings_the_first_leg_then_the_other_party(bridge: Bridge) -> None:
    delivery = await bridge.command("/call", f"+1 415 555 0123 from {FIRST} prompt")

    assert ringouts(bridge) == [
        {"from": {"phoneNumber": FIRST}, "to": {"phoneNumber": TO}, "playPrompt": True}
    ]
    replies = bridge.replies(delivery)
    assert 2 <= len(replies) <= 5  # Slack takes at most 5 responses per response_url
    assert all(r.get("replace_original") for r in replies[1:])
    final = replies[-1]
    assert "Connected" in str(final)
    assert buttons(final) == []  # no Cancel once the call is connected
    assert buttons(replies[0])[0]["action_id"] == RINGOUT_CANCEL_ACTION
    (entry,) = await AuditLog(bridge.engine).recent()
    assert (entry.action, entry.from_number, entry.to_number, entry.result) == (
        "ringout", FIRST, TO, "placed",
    )  # fmt: skip


@EITHER
async def test_the_reply_names_a_busy_callee(bridge: Bridge) -> None:
    bridge.rc.ringout_script().callee_status = "Busy"

    delivery = await bridge.command("/call", f"{TO} from {FIRST}")

    assert "Busy" in bridge.reply_text(delivery)


@EITHER
async def test_call_defaults_to_the_configured_first_leg(bridge: Bridge) -> None:
    bridge.server.app[DEPS].commands = bridge.server.app[DEPS].commands.model_copy(
        update={"ringout_from": FIRST}
    )

    await bridge.command("/call", TO)

    assert ringouts(bridge)[0]["from"] == {"phoneNumber": FIRST}


async def test_call_from_a_label_uses_that_number(bridge: Bridge) -> None:
    await bridge.command("/call", f"{TO} from mobile")

    assert ringouts(bridge)[0]["from"] == {"phoneNumber": "+14155550161"}


@EITHER
async def test_without_a_first_leg_the_reply_says_what_to_configure(bridge: Bridge) -> None:
    delivery = await bridge.command("/call", TO)

    assert "ringout_from" in bridge.reply_text(delivery)
    assert ringouts(bridge) == []


@pytest.mark.parametrize(
    ("typed", "says"),
    [("bob", "is not a phone number"), (f"{TO} from Garage", "No phone is labelled")],
)
async def test_bad_call_input_gets_an_error_and_no_ringout(
    bridge: Bridge, typed: str, says: str
) -> None:
    delivery = await bridge.command("/call", typed)

    assert says in bridge.reply_text(delivery)
    assert ringouts(bridge) == []


@EITHER
async def test_cancel_hangs_up_while_the_first_leg_rings(bridge: Bridge) -> None:
    bridge.rc.ringout_script().caller_after = 10_000  # the first phone keeps ringing
    bridge.server.app[DEPS].ringout_give_up_after = 20_000
    delivery = await bridge.slack.send_command(bridge.events_url, "/call", f"{TO} from {FIRST}")
    for _ in range(500):  # the first reply, with its Cancel button
        if bridge.replies(delivery):
            break
        await asyncio.sleep(0.01)
    (cancel,) = buttons(bridge.replies(delivery)[0])

    click = await bridge.slack.send_block_action(
        bridge.events_url, action_id=RINGOUT_CANCEL_ACTION, channel_id=CHANNEL,
        user_id=USER, value=str(cancel["value"]),
    )  # fmt: skip
    await bridge.settle()

    (deleted,) = bridge.rc.requests_to(r"/ring-out/", "DELETE")
    assert deleted.status == 204
    assert deleted.path.endswith(json.loads(str(cancel["value"]))["id"])
    assert "Cancelled" in bridge.reply_text(click)


@EITHER
async def test_cancel_after_the_first_leg_answered_says_it_is_too_late(bridge: Bridge) -> None:
    delivery = await bridge.command("/call", f"{TO} from {FIRST}")
    (cancel,) = buttons(bridge.replies(delivery)[0])

    click = await bridge.slack.send_block_action(
        bridge.events_url, action_id=RINGOUT_CANCEL_ACTION, channel_id=CHANNEL,
        value=str(cancel["value"]),
    )  # fmt: skip
    await bridge.settle()

    assert "Too late to cancel" in bridge.reply_text(click)

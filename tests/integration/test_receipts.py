"""SMS that tells the truth (DESIGN §3.8): a texted thread reply gets `outbox_tray` when
RingCentral accepts it, then `white_check_mark` when RingCentral reports it delivered, or
`warning` and a thread message naming the cause; `/sms` replies are updated the same way.
The real server between both simulators; RingCentral's simulator moves each sent text on
and sends the outbound message-store changes (counts only) a real account sends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.bridge.subscriptions import event_filters
from bot.slack.render import TEXT_BACK_ACTION
from bot.store.schema import Outbound
from tests.bridge import CALLS, EITHER, TEXTS, USER, Bridge

CUSTOMER = "+14155550123"
FRIEND = "+14155550188"


@pytest.fixture
async def live(bridge: Bridge) -> Bridge:
    if bridge.listener is None:
        await bridge.subscribe()
    return bridge


def company(bridge: Bridge) -> str:
    return bridge.rc.world.numbers_with_feature(bridge.rc.extension_id, "SmsSender")[0]


async def reply_in_thread(
    live: Bridge, typed: str, *, customer: str = CUSTOMER, before: Any = None
) -> dict[str, Any]:
    """A customer texts in, a person replies in the thread (`before` that, `before(live)`);
    the reply as Slack has it."""
    await live.rc.incoming_sms(live.rc.extension_id, customer, "are you open?",
                               to_number=company(live))  # fmt: skip
    await live.dispatch()
    parent = next(m for m in live.channel(TEXTS) if customer[-4:] in str(m))
    if before is not None:
        before(live)
    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text=typed, thread_ts=parent["ts"]
    )
    await live.settle()
    await live.dispatch(horizon=0)  # the reply is texted by the dispatcher (durable path)
    return next(m for m in live.slack.thread(TEXTS, parent["ts"]) if m.get("user") == USER)


def reactions(live: Bridge, message: dict[str, Any]) -> list[str]:
    found = next(m for m in live.slack.thread(TEXTS, message["thread_ts"])
                 if m["ts"] == message["ts"])  # fmt: skip
    return [r["name"] for r in found.get("reactions", [])]


def receipt_messages(live: Bridge, message: dict[str, Any]) -> list[str]:
    return [
        str(m["text"])
        for m in live.slack.thread(TEXTS, message["thread_ts"])
        if (m.get("metadata") or {}).get("event_type") == "ringbridge_receipt"
    ]


async def follow(live: Bridge) -> None:
    """RingCentral moves the text on (its changes delivered), the bridge reads them: within
    10 s, before the first scheduled read (15 s), so only the changes can have told it."""
    await live.rc.settle_texts()
    await live.dispatch(horizon=10)


@EITHER
@pytest.mark.parametrize("ringcentral_events", ["webhook", "websocket"])
async def test_a_plain_reply_gets_the_tray_then_the_check_mark(live: Bridge) -> None:
    reply = await reply_in_thread(live, "Yes, until 6")

    assert reactions(live, reply) == ["outbox_tray"]
    assert live.slack.ephemerals(TEXTS, USER) == []  # receipts, not ephemerals

    await follow(live)

    assert reactions(live, reply) == ["white_check_mark"]
    assert receipt_messages(live, reply) == []


@pytest.mark.parametrize(
    ("arrange", "cause"),
    [
        (lambda b: b.rc.sms_outcome(CUSTOMER, "opted_out"), "opted out"),
        (lambda b: b.rc.set_texting_registration(company(b), None),
         "not registered for business texting"),
        (lambda b: b.rc.sms_outcome(CUSTOMER, "landline"), "landline"),
        (lambda b: b.rc.sms_outcome(CUSTOMER, "carrier_rejected"), "carrier rejected"),
    ],
)  # fmt: skip
async def test_a_failed_text_gets_a_warning_and_its_cause_in_the_thread(
    live: Bridge, arrange: Any, cause: str
) -> None:
    arrange(live)
    reply = await reply_in_thread(live, "See you at 5")

    await follow(live)

    assert reactions(live, reply) == ["warning"]
    (said,) = receipt_messages(live, reply)
    assert cause in said
    assert "(415) 555-0123" in said


async def test_a_carrier_that_never_reports_keeps_the_tray_and_says_so(live: Bridge) -> None:
    live.rc.sms_outcome(CUSTOMER, "no_report")
    reply = await reply_in_thread(live, "See you at 5")

    await follow(live)

    assert reactions(live, reply) == ["outbox_tray"]
    (said,) = receipt_messages(live, reply)
    assert "No delivery report" in said


async def test_a_text_never_reported_has_no_delivery_report_after_an_hour(live: Bridge) -> None:
    live.rc.sms_outcome(CUSTOMER, "silent")  # stays Sent for ever
    reply = await reply_in_thread(live, "See you at 5")
    await live.rc.settle_texts()

    await live.dispatch(horizon=2 * 3600)  # the reads at 15 s … 60 min

    assert reactions(live, reply) == ["outbox_tray"]
    (said,) = receipt_messages(live, reply)
    assert "No delivery report" in said
    reads = live.rc.requests_to(r"/message-store/\d+(,\d+)*$", "GET")
    assert len(reads) <= 7  # the change's read and the six scheduled ones at most


async def test_a_refused_send_gets_the_warning_and_the_reason_at_once(live: Bridge) -> None:
    reply = await reply_in_thread(
        live, "See you at 5", before=lambda b: b.rc.throttle("Medium", retry_after=60)
    )

    assert reactions(live, reply) == ["warning"]
    (said,) = receipt_messages(live, reply)
    assert "limit" in said


@pytest.mark.parametrize(
    ("arrange", "cause"),
    [
        (lambda b: b.rc.sms_outcome(CUSTOMER, "opted_out"), "opted out"),
        (lambda b: b.rc.set_texting_registration(company(b), None),
         "not registered for business texting"),
    ],
)  # fmt: skip
async def test_sms_to_an_opted_out_number_or_from_an_unregistered_one_tells_the_user(
    live: Bridge, arrange: Any, cause: str
) -> None:
    arrange(live)

    delivery = await live.command("/sms", f"{CUSTOMER} are you coming?")
    assert "Sent to" in live.reply_text(delivery)
    await follow(live)

    sent, outcome = live.replies(delivery)  # the reply, then the same reply replaced
    assert "Sent to" in str(sent)
    assert outcome.get("replace_original") is True
    assert cause in str(outcome["text"])


async def test_sms_delivered_says_delivered(live: Bridge) -> None:
    delivery = await live.command("/sms", f"{CUSTOMER} are you coming?")
    await follow(live)

    assert "Delivered to" in str(live.replies(delivery)[-1]["text"])


def status_reads(live: Bridge) -> int:
    return len(live.rc.requests_to(r"/message-store/\d+(,\d+)*$", "GET"))


async def test_one_text_costs_at_most_two_status_reads(live: Bridge) -> None:
    reply = await reply_in_thread(live, "Yes")
    reads_before = status_reads(live)

    await follow(live)

    assert reactions(live, reply) == ["white_check_mark"]
    assert 1 <= status_reads(live) - reads_before <= 2  # DESIGN §6


async def test_a_burst_of_texts_is_read_in_one_batch(live: Bridge) -> None:
    customers = [f"+1415555012{n}" for n in range(5)]
    for customer in customers:
        await live.rc.incoming_sms(live.rc.extension_id, customer, "hi", to_number=company(live))
    await live.dispatch()
    replies = []
    for parent in live.channel(TEXTS):
        await live.slack.send_message(
            live.events_url, channel_id=TEXTS, text="Hello", thread_ts=parent["ts"]
        )
        await live.settle()
        await live.dispatch(horizon=0)  # the reply is texted by the dispatcher (durable path)
        replies += [m for m in live.slack.thread(TEXTS, parent["ts"]) if m.get("user") == USER]
    reads_before = status_reads(live)

    await follow(live)

    assert [reactions(live, r) for r in replies] == [["white_check_mark"]] * 5
    assert status_reads(live) - reads_before <= 2


async def test_sms_to_a_number_without_a_conversation_starts_no_thread(live: Bridge) -> None:
    await live.command("/sms", f"{CUSTOMER} hello")
    await follow(live)

    assert live.channel(TEXTS) == []


def test_the_subscription_asks_for_outbound_sms_changes_of_the_sending_mailbox() -> None:
    filters = event_filters(["sms"], ["11"], senders=["11"])

    assert "/restapi/v1.0/account/~/extension/11/message-store?type=SMS&direction=Outbound" in (
        filters
    )


async def test_a_group_mms_is_its_own_thread_and_a_reply_goes_to_all_from_our_number(
    live: Bridge,
) -> None:
    ours, me = company(live), live.rc.extension_id
    await live.rc.incoming_sms(me, CUSTOMER, "just me", to_number=ours)
    await live.rc.incoming_sms(me, CUSTOMER, "hi all", to_number=ours, others=[FRIEND])
    await live.dispatch()

    one, group = live.channel(TEXTS)  # two conversations, two threads
    assert "hi all" in str(group) and "hi all" not in str(one)
    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="Hello both", thread_ts=group["ts"]
    )
    await live.settle()
    await live.dispatch(horizon=0)  # the reply is texted by the dispatcher (durable path)

    (sms,) = [r.json for r in live.rc.requests_to(r"/sms$", "POST")]
    assert sms["from"] == {"phoneNumber": ours}  # the target, not to[0]
    assert sorted(p["phoneNumber"] for p in sms["to"]) == sorted([CUSTOMER, FRIEND])


async def conversation(live: Bridge) -> dict[str, Any]:
    await live.rc.incoming_sms(live.rc.extension_id, CUSTOMER, "are you open?",
                               to_number=company(live))  # fmt: skip
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    return parent


def in_thread(live: Bridge, parent: dict[str, Any], words: str) -> list[str]:
    return [str(m) for m in live.slack.thread(TEXTS, parent["ts"]) if words in str(m)]


@pytest.mark.parametrize("ringcentral_events", ["webhook", "websocket"])
async def test_a_text_sent_from_the_ringcentral_app_appears_in_its_thread_once(
    live: Bridge,
) -> None:
    parent = await conversation(live)

    await live.rc.text_from_app(live.rc.extension_id, company(live), [CUSTOMER], "On my way")
    await follow(live)

    (shown,) = in_thread(live, parent, "On my way")
    assert "Sent outside Slack" in shown
    assert len(live.channel(TEXTS)) == 1  # into the thread, not a new one


async def test_the_bridges_own_texts_are_never_taken_for_outside_ones(live: Bridge) -> None:
    parent = await conversation(live)
    await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="From the thread", thread_ts=parent["ts"]
    )
    await live.dispatch(horizon=0)  # the reply is texted by the dispatcher (durable path)
    await live.command("/sms", f"{CUSTOMER} From the command")

    await follow(live)

    (typed,) = in_thread(live, parent, "From the thread")  # the person's own, once
    assert "Sent outside Slack" not in typed
    (named,) = in_thread(live, parent, "From the command")
    assert f"Sent by <@{USER}> with /sms" in named


async def test_without_reactions_write_a_failure_is_still_explained(live: Bridge) -> None:
    live.slack.remove_scopes("reactions:write")
    live.rc.sms_outcome(CUSTOMER, "opted_out")
    reply = await reply_in_thread(live, "See you at 5")

    await follow(live)

    assert reactions(live, reply) == []
    (said,) = receipt_messages(live, reply)
    assert "opted out" in said


async def test_a_refused_sms_is_said_once(live: Bridge) -> None:
    live.rc.throttle("Medium", retry_after=60)

    delivery = await live.command("/sms", f"{CUSTOMER} are you there?")
    await follow(live)

    (refused,) = live.replies(delivery)
    assert "limit" in str(refused)


async def test_text_back_to_an_opted_out_caller_tells_the_person(live: Bridge) -> None:
    live.rc.sms_outcome(CUSTOMER, "opted_out")
    await live.rc.call("missed", caller=CUSTOMER, extension_id=live.rc.extension_id,
                       to_number=company(live))  # fmt: skip
    await live.dispatch()
    (message,) = live.channel(CALLS)
    await live.slack.send_block_action(
        live.events_url, action_id=TEXT_BACK_ACTION, channel_id=CALLS, message_ts=message["ts"]
    )
    await live.settle()
    value = {"type": "plain_text_input", "value": "Sorry I missed you"}
    await live.slack.send_view_submission(
        live.events_url, values={"text_back_text": {"text_back_text": value}}
    )
    await live.settle()

    await follow(live)

    sent, outcome = live.slack.ephemerals(CALLS, USER)
    assert "Sent" in str(sent)
    assert "opted out" in str(outcome)


async def test_a_receipt_slack_refuses_for_a_while_is_shown_later(live: Bridge) -> None:
    reply = await reply_in_thread(live, "See you")
    live.slack.fail("reactions.add", status=503, times=2)

    await live.rc.settle_texts()
    await live.dispatch(horizon=600)  # its retries back off

    assert reactions(live, reply) == ["white_check_mark"]


async def test_a_receipt_whose_message_is_gone_ends_quietly(live: Bridge) -> None:
    reply = await reply_in_thread(live, "See you")
    live.slack.fail("reactions.add", error="message_not_found", times=None)

    await follow(live)

    async with live.engine.connect() as conn:
        states = (await conn.execute(select(Outbound.state))).scalars().all()
    assert states == ["done"]  # given up, not retried for ever
    assert reactions(live, reply) == ["outbox_tray"]

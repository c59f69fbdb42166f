"""`/sms` end to end: signed Slack requests into the real server, RingCentral simulated."""

from __future__ import annotations

import time

import pytest

from bot.sim.ringcentral import RingCentralSimulator
from bot.store import AuditLog
from tests.bridge import EITHER, USER, Bridge

TO = "+14155550123"


def sent_sms(bridge: Bridge) -> list[dict[str, object]]:
    return [r.json for r in bridge.rc.requests_to(r"/sms$", "POST")]


def service_sms_number(rc: RingCentralSimulator) -> str:
    return rc.world.numbers_with_feature(rc.extension_id, "SmsSender")[0]


@EITHER
async def test_sms_sends_hi_to_the_typed_number(bridge: Bridge) -> None:
    delivery = await bridge.command("/sms", "+1 415 555 0123 hi")

    assert delivery.status == 200
    (body,) = sent_sms(bridge)
    assert body["text"] == "hi"
    assert body["to"] == [{"phoneNumber": TO}]
    assert body["from"] == {"phoneNumber": service_sms_number(bridge.rc)}
    read = bridge.reply_text(delivery)
    assert "Sent to *(415) 555-0123*" in read
    assert ">hi" in read


AWKWARD = [
    'She said "don\'t" & left',
    "a < b > c && d",
    "<!channel> <@U123> <https://evil|https://bank>",
    "emoji 😀👍🏽 and 家族 and שלום and مرحبا",
    "https://example.com/a?b=1&c=2#frag",
    "token=abc&text=injected&to=+19995550000",
    'payload={"json": true}',
    "  leading and trailing spaces  ",
    "line one\nline two",
    "100% sure; 50% off: $5 #1 @here",
    "x" * 1000,
    "x" * 998 + "😀",  # a 4-byte emoji ends exactly at 1000 UTF-16 units
]


@EITHER
@pytest.mark.parametrize("typed", AWKWARD)
async def test_sms_sends_exactly_the_typed_text(bridge: Bridge, typed: str) -> None:
    delivery = await bridge.command("/sms", f"{TO} {typed}")

    assert [b["text"] for b in sent_sms(bridge)] == [typed], bridge.reply_text(delivery)


@EITHER
@pytest.mark.parametrize(
    ("typed", "slack_markup", "phone_shows"),
    [
        ("Tom & Jerry <3", {}, "Tom & Jerry <3"),
        ("see the docs", {"links": {"the docs": "https://example.com/d?a=1&b=2"}},
         "see https://example.com/d?a=1&b=2"),
        ("ask @alice today", {"mentions": {"@alice": USER}}, "ask @Alice today"),
        ("ask @alice today", {"mentions": {"@alice": f"{USER}|alice"}}, "ask @Alice today"),
        ("thanks :+1: :tada:", {}, "thanks 👍 🎉"),
    ],
)  # fmt: skip
async def test_slack_markup_reaches_ringcentral_as_plain_text(
    bridge: Bridge, typed: str, slack_markup: dict[str, dict[str, str]], phone_shows: str
) -> None:
    await bridge.command("/sms", f"{TO} {typed}", **slack_markup)  # type: ignore[arg-type]

    assert [b["text"] for b in sent_sms(bridge)] == [phone_shows]


@EITHER
@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("hello there", "`hello` is not a phone number"),
        (TO, "What should the text to +14155550123 say?"),
        (f"{TO} " + "x" * 1001, "1001 characters long"),
        (f"{TO} " + "x" * 999 + "😀", "1001 characters long"),
        ("list type:telegram", "type:sms|fax|voicemail|pager"),
        ("show", "/sms show &lt;id&gt;"),
    ],
)
async def test_bad_input_gets_a_short_error_and_no_ringcentral_call(
    bridge: Bridge, typed: str, says: str
) -> None:
    calls_before = len(bridge.rc.requests_to(r"/sms$|/message-store"))

    delivery = await bridge.command("/sms", typed)

    assert says in bridge.reply_text(delivery)
    assert len(bridge.rc.requests_to(r"/sms$|/message-store")) == calls_before
    (reply,) = bridge.replies(delivery)
    assert reply.get("response_type", "ephemeral") == "ephemeral"


@EITHER
async def test_every_sms_sent_is_audited(bridge: Bridge) -> None:
    await bridge.command("/sms", f"{TO} first")

    (entry,) = await AuditLog(bridge.engine).recent()
    assert (entry.slack_user, entry.action, entry.to_number, entry.result) == (
        USER, "sms", TO, "sent",
    )  # fmt: skip
    assert entry.from_number == service_sms_number(bridge.rc)
    assert entry.ringcentral_id is not None


@EITHER
async def test_rate_limit_is_explained_and_audited(bridge: Bridge) -> None:
    bridge.rc.throttle("Medium", retry_after=60)

    delivery = await bridge.command("/sms", f"{TO} are you there?")

    read = bridge.reply_text(delivery)
    assert "limit" in read
    assert "try again in" in read
    (entry,) = await AuditLog(bridge.engine).recent()
    assert entry.result == "rate_limited"


FORM = "application/x-www-form-urlencoded"
COMMAND = f"command=%2Fsms&text=%2B14155550123+hi&user_id={USER}&channel_id=C0GENERAL"


async def test_a_forged_signature_gets_401_and_no_ringcentral_call(bridge: Bridge) -> None:
    forged = await bridge.slack.post_signed(
        bridge.events_url, COMMAND.encode(), FORM, headers={"X-Slack-Signature": "v0=" + "0" * 64}
    )

    assert forged.status == 401
    await bridge.settle()
    assert sent_sms(bridge) == []


async def test_a_body_altered_after_signing_gets_401(bridge: Bridge) -> None:
    signed = bridge.slack.sign(COMMAND.encode())
    altered = COMMAND.replace("hi", "ho").encode()

    response = await bridge.slack.post_signed(bridge.events_url, altered, FORM, headers=signed)

    assert response.status == 401
    await bridge.settle()
    assert sent_sms(bridge) == []


async def test_a_stale_timestamp_gets_401_and_no_ringcentral_call(bridge: Bridge) -> None:
    delivery = await bridge.slack.send_command(
        bridge.events_url, "/sms", f"{TO} hi", timestamp=int(time.time()) - 301
    )

    assert delivery.status == 401
    await bridge.settle()
    assert sent_sms(bridge) == []

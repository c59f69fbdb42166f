"""`/sms` end to end: signed Slack requests into the real server, RingCentral simulated."""

from __future__ import annotations

import pytest

from tests.bridge import Bridge


def sent_sms(bridge: Bridge) -> list[dict[str, object]]:
    return [r.json for r in bridge.rc.requests_to(r"/sms$", "POST")]


async def test_sms_sends_hi_to_the_typed_number(bridge: Bridge) -> None:
    delivery = await bridge.command("/sms", "+1 415 555 0123 hi")

    assert delivery.status == 200
    (body,) = sent_sms(bridge)
    assert body["text"] == "hi"
    assert body["to"] == [{"phoneNumber": "+14155550123"}]
    assert "Sent to *(415) 555-0123*" in bridge.reply_text(delivery)

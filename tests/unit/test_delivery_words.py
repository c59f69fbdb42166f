"""What a sent text's status earns in Slack, and RingCentral's SMS error codes in words
(DESIGN §3.8; DOCS messaging/sms/sms-errors.md)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.slack.render import Locale
from bot.slack.render.delivery import REASONS, delivery_failed, reason, receipt_for

US = Locale("US", ZoneInfo("America/Los_Angeles"))


@pytest.mark.parametrize(
    ("status", "code", "final_check", "receipt"),
    [
        ("Queued", None, False, "outbox_tray"),
        ("Sent", None, False, "outbox_tray"),
        ("Sent", None, True, "no_report"),  # still on its way after 60 min
        ("Delivered", None, False, "white_check_mark"),
        ("SendingFailed", "SMS-RC-413", False, "warning"),
        ("DeliveryFailed", "SMS-CAR-411", False, "warning"),
        ("DeliveryFailed", "SMS-CAR-104", False, "no_report"),  # no report, not a failure
        ("DeliveryFailed", "SMS-CAR-199", False, "no_report"),
        ("DeliveryFailed", "SMS-XX-000", False, "warning"),  # unknown code: still a failure
    ],
)
def test_the_status_decides_and_the_code_only_explains(
    status: str, code: str | None, final_check: bool, receipt: str
) -> None:
    assert receipt_for(status, code, final_check=final_check) == receipt


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("SMS-RC-413", "opted out"),
        ("SMS-UP-413", "opted out"),
        ("SMS-CAR-413", "opted out"),
        ("SMS-UP-414", "not registered for business texting"),
        ("SMS-UP-410", "landline"),
        ("SMS-CAR-411", "landline"),
        ("SMS-CAR-431", "carrier rejected"),
        ("SMS-CAR-461", "unverified toll-free"),
    ],
)
def test_documented_codes_read_as_words(code: str, words: str) -> None:
    assert words in reason(code)


def test_every_documented_prefix_is_covered() -> None:
    assert {c.rsplit("-", 1)[0] for c in REASONS} == {"SMS-RC", "SMS-UP", "SMS-CAR"}


@pytest.mark.parametrize(
    ("code", "source"),
    [("SMS-CAR-777", "the carrier"), ("SMS-UP-777", "gateway"), ("SMS-RC-777", "RingCentral")],
)
def test_an_unknown_code_is_shown_with_who_reported_it(code: str, source: str) -> None:
    said = reason(code)
    assert source in said and code in said


def test_a_hostile_code_cannot_ping_or_link() -> None:
    reply = delivery_failed(["+14155550123"], "SMS-CAR-<!channel>|<https://x|y>", locale=US)

    shown = str(reply.blocks) + reply.text
    assert "<!channel>" not in shown and "<https://" not in shown
    assert "&lt;!channel&gt;" in shown

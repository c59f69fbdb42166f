"""What buttons and the Text back modal carry (bot.slack.render.values): one codec for all,
reading every format the previous release wrote, so the buttons of messages already in
Slack keep working; strict about everything else (the notification buttons' own strictness
tests are in test_notify.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.slack.render import (
    CallBackValue,
    CancelRingOutValue,
    MarkHandledValue,
    PageValue,
    TextBackMetadata,
    TextBackValue,
    decode,
    decode_button_value,
    encode,
)

PACIFIC = timezone(timedelta(hours=-8))

# Each value exactly as the previous release encoded it (its _notify_values, _reply.page_value,
# call._follow and notice_actions.open_text_back), with what it must decode to.
PREVIOUS_RELEASE_BUTTONS = [
    (
        "call_back",
        '{"n":"+14155550123","m":"Jane Doe"}',
        CallBackValue(number="+14155550123", name="Jane Doe"),
    ),
    ("call_back", '{"n":"+14155550123"}', CallBackValue(number="+14155550123")),
    (
        "call_back",
        '{"n":"+14155550123","m":"Jos\\u00e9 \\u00d1and\\u00fa"}',
        CallBackValue(number="+14155550123", name="José Ñandú"),
    ),
    (
        "text_back",
        '{"n":"+14155550123","f":"+16505550100"}',
        TextBackValue(number="+14155550123", company_number="+16505550100"),
    ),
    ("text_back", '{"n":"+14155550123"}', TextBackValue(number="+14155550123")),
    (
        "mark_handled",
        '{"k":"missed_call","i":"s-a0d7b3c2e1f04a5b:p-a0d7b3c2e1f04a5b-2"}',
        MarkHandledValue(kind="missed_call", item="s-a0d7b3c2e1f04a5b:p-a0d7b3c2e1f04a5b-2"),
    ),
    (
        "calllog_page",
        '{"t":"missed today","p":2,"n":"2026-03-02T09:04:11-08:00"}',
        PageValue(text="missed today", page=2, at=datetime(2026, 3, 2, 9, 4, 11, tzinfo=PACIFIC)),
    ),
    (
        "sms_list_page",
        '{"t":"+14155550123 in 7d","p":1,"n":"2026-03-02T09:04:11-08:00"}',
        PageValue(
            text="+14155550123 in 7d", page=1, at=datetime(2026, 3, 2, 9, 4, 11, tzinfo=PACIFIC)
        ),
    ),
    (
        "ringout_cancel",
        '{"id": "Y3MxNzE4NDI4", "to": "+14155550123", "from": "+16505550111"}',
        CancelRingOutValue(
            ringout_id="Y3MxNzE4NDI4", to="+14155550123", from_number="+16505550111"
        ),
    ),
]
PREVIOUS_RELEASE_MODALS = [
    (
        '{"to": "+14155550123", "from": "+16505550100", "channel": "C0CALLS"}',
        TextBackMetadata(to="+14155550123", company_number="+16505550100", channel="C0CALLS"),
    ),
    (
        '{"to": "+14155550123", "from": null, "channel": null}',
        TextBackMetadata(to="+14155550123"),
    ),
]


@pytest.mark.parametrize(("action_id", "value", "expected"), PREVIOUS_RELEASE_BUTTONS)
def test_a_button_the_previous_release_made_still_decodes(
    action_id: str, value: str, expected: object
) -> None:
    assert decode_button_value(action_id, value) == expected


@pytest.mark.parametrize(("metadata", "expected"), PREVIOUS_RELEASE_MODALS)
def test_a_text_back_modal_the_previous_release_opened_still_decodes(
    metadata: str, expected: TextBackMetadata
) -> None:
    assert decode(TextBackMetadata, metadata) == expected


@pytest.mark.parametrize(("value", "expected"), [b[1:] for b in PREVIOUS_RELEASE_BUTTONS[:6]])
def test_notification_buttons_are_still_written_as_before(
    value: str, expected: CallBackValue
) -> None:
    # The same bytes: a rollback to the previous release reads today's buttons too.
    assert encode(expected) == value


def test_new_values_round_trip() -> None:
    values = [
        PageValue(text="ext:101 7d", page=3, at=datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("UTC"))),
        CancelRingOutValue(ringout_id="Y3Mx", to="+14155550123", from_number="+16505550111"),
    ]
    for value in values:
        assert decode(type(value), encode(value)) == value
    metadata = TextBackMetadata(to="+14155550123", channel="C0CALLS")
    assert encode(metadata) == '{"to":"+14155550123","channel":"C0CALLS"}'  # no nulls now
    assert decode(TextBackMetadata, encode(metadata)) == metadata


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("calllog_page", '{"t":"today","p":0,"n":"2026-03-02T09:04:11-08:00"}'),
        ("calllog_page", '{"t":"today","p":"2","n":"2026-03-02T09:04:11-08:00"}'),
        ("calllog_page", '{"t":"today","p":true,"n":"2026-03-02T09:04:11-08:00"}'),
        ("calllog_page", '{"t":"today","p":2,"n":"2026-03-02T09:04:11"}'),  # no zone
        ("calllog_page", '{"t":"today","p":2,"n":1772471051}'),
        ("calllog_page", '{"t":"today","p":2,"n":"yesterday"}'),
        ("calllog_page", '{"t":null,"p":2,"n":"2026-03-02T09:04:11-08:00"}'),
        ("sms_list_page", '{"t":"today","p":2}'),
        ("sms_list_page", '{"t":"x","p":2,"n":"2026-03-02T09:04:11Z","admin":1}'),
        ("ringout_cancel", '{"id": "Y3Mx", "to": "+14155550123"}'),
        ("ringout_cancel", '{"id": "", "to": "+14155550123", "from": "+16505550111"}'),
        ("ringout_cancel", '{"id": "a\\nb", "to": "+14155550123", "from": "+16505550111"}'),
        ("ringout_cancel", '{"id": 7, "to": "+14155550123", "from": "+16505550111"}'),
        ("ringout_cancel", '"Y3MxNzE4NDI4"'),
        ("ringout_cancel", "Y3MxNzE4NDI4"),
    ],
)
def test_forged_command_button_values_are_refused(action_id: str, value: str) -> None:
    with pytest.raises(ValueError):
        decode_button_value(action_id, value)


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "{}",
        '{"to": null}',
        '{"to": "<!channel>"}',
        '{"to": "+14155550123", "from": "anonymous"}',
        '{"to": "+14155550123", "channel": "C1\\nC2"}',
        '{"to": "+14155550123", "extra": 1}',
        '{"to": "+14155550123", "channel": "' + "C" * 3000 + '"}',
    ],
)
def test_text_back_metadata_we_did_not_write_is_refused(metadata: str) -> None:
    with pytest.raises(ValueError):
        decode(TextBackMetadata, metadata)


def test_a_page_value_too_long_for_a_button_is_refused_by_the_encoder() -> None:
    page = PageValue(text="x" * 2000, page=1, at=datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="Slack takes 2000"):
        encode(page)

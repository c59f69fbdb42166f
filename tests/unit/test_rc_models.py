"""Every RingCentral example payload parses with its model, and the facts we rely on come
out right (exact big ids, voicemail duration, telephony status codes…)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.ringcentral.models import (
    CallLogList,
    CallLogRecord,
    ContactList,
    CreateSubscriptionRequest,
    DirectoryEntry,
    ErrorBody,
    ExtensionInfo,
    FaxEvent,
    InstantMessageEvent,
    MessageBatchPart,
    MessageList,
    MessageRecord,
    MessageStoreEvent,
    PagerParty,
    PhoneNumberList,
    PhoneRef,
    RingOutFrom,
    RingOutRequest,
    RingOutStatus,
    SendPagerRequest,
    SendSmsRequest,
    SmsCountry,
    SubscriptionInfo,
    SubscriptionList,
    SubscriptionReminderEvent,
    TelephonySessionEvent,
    UnknownEvent,
    UpdateSubscriptionRequest,
    VoicemailEvent,
    event_kind,
    parse_event,
    parse_ws_notification,
    utf16_units,
)

# Each example file and the model that reads it. Events go through `parse_event`.
RESPONSES: dict[str, type[BaseModel]] = {
    "address-book-contact-list-response.json": ContactList,
    "call-log-account-list-simple-response.json": CallLogList,
    "call-log-list-detailed-response.json": CallLogList,
    "call-log-list-simple-response.json": CallLogList,
    "call-log-record-response.json": CallLogRecord,
    "directory-entry-response.json": DirectoryEntry,
    "error-404-agw-response.json": ErrorBody,
    "extension-info-response.json": ExtensionInfo,
    "extension-phone-number-list-response.json": PhoneNumberList,
    "instant-mms-event-body.json": MessageRecord,
    "message-store-list-response.json": MessageList,
    "message-store-mms-response.json": MessageRecord,
    "message-store-pager-response.json": MessageRecord,
    "message-store-sms-response.json": MessageRecord,
    "message-store-voicemail-response.json": MessageRecord,
    "mms-send-response.json": MessageRecord,
    "sms-send-response.json": MessageRecord,
    "company-pager-send-response.json": MessageRecord,
    "ringout-create-response.json": RingOutStatus,
    "ringout-status-response.json": RingOutStatus,
    "subscription-create-response-reminder.json": SubscriptionInfo,
    "subscription-create-response-webhook.json": SubscriptionInfo,
    "subscription-get-response-disabled-filters.json": SubscriptionInfo,
    "subscription-list-blacklisted-response.json": SubscriptionList,
    "subscription-list-response.json": SubscriptionList,
    "subscription-renew-response.json": SubscriptionInfo,
    "subscription-update-response.json": SubscriptionInfo,
}
REQUESTS: dict[str, type[BaseModel]] = {
    "company-pager-send-request.json": SendPagerRequest,
    "ringout-create-request.json": RingOutRequest,
    "sms-send-request.json": SendSmsRequest,
    "subscription-create-request-webhook.json": CreateSubscriptionRequest,
    "subscription-update-request.json": UpdateSubscriptionRequest,
}
EVENTS: dict[str, type[BaseModel]] = {
    "fax-inbound-event.json": FaxEvent,
    "instant-sms-event-legacy.json": InstantMessageEvent,
    "instant-sms-event.json": InstantMessageEvent,
    "message-store-event.json": MessageStoreEvent,
    "telephony-session-event-apns-wrapped.json": TelephonySessionEvent,
    "telephony-session-event.json": TelephonySessionEvent,
    "voicemail-event.json": VoicemailEvent,
}
CALLFLOWS = [
    "telephony-sessions-callflow-pstn-to-rc.json",
    "telephony-sessions-callflow-rc-to-pstn.json",
    "telephony-sessions-callflow-rc-to-rc.json",
]
# Parsed elsewhere: OAuth/token bodies by the core client (_auth.py, _errors.py), the
# WebSocket handshake by the later Socket-Mode/WebSocket issue.
NOT_HERE = {
    "oauth-error-invalid-client.json",
    "oauth-error-unauthorized-client.json",
    "token-response.json",
    "ws-connection-details.json",
    "ws-heartbeat.json",
    "ws-subscription-request.json",
    "ws-token-response.json",
}
SPECIAL = {"message-store-get-multi-response.json", "message-store-event-websocket.json"}


def load(examples_dir: Path, name: str) -> Any:
    return json.loads((examples_dir / name).read_text())


def raw(examples_dir: Path, name: str) -> bytes:
    return (examples_dir / name).read_bytes()


def test_every_example_file_has_a_model(examples_dir: Path) -> None:
    covered = set(RESPONSES) | set(REQUESTS) | set(EVENTS) | set(CALLFLOWS) | SPECIAL | NOT_HERE
    on_disk = {p.name for p in examples_dir.glob("*.json")}
    assert on_disk - covered == set(), "new example files need a model and a test"
    assert covered - on_disk == set()


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_examples_parse(examples_dir: Path, name: str) -> None:
    model = RESPONSES[name]
    from_json = model.model_validate_json(raw(examples_dir, name))
    assert from_json == model.model_validate(load(examples_dir, name))


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_examples_round_trip(examples_dir: Path, name: str) -> None:
    data = load(examples_dir, name)
    model = REQUESTS[name].model_validate(data)
    assert model.to_wire() == data  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_examples_parse_to_their_kind(examples_dir: Path, name: str) -> None:
    from_bytes = parse_event(raw(examples_dir, name))
    assert type(from_bytes) is EVENTS[name]
    assert parse_event(load(examples_dir, name)) == from_bytes
    assert parse_event(raw(examples_dir, name).decode()) == from_bytes


@pytest.mark.parametrize("name", CALLFLOWS)
def test_callflow_streams_parse_in_order(examples_dir: Path, name: str) -> None:
    events = [parse_event(e) for e in load(examples_dir, name)]
    assert all(isinstance(e, TelephonySessionEvent) for e in events)
    bodies = [e.body for e in events if isinstance(e, TelephonySessionEvent)]
    assert [b.sequence for b in bodies] == sorted(b.sequence for b in bodies)
    assert len({b.telephony_session_id for b in bodies}) == 1
    assert all(len(b.parties) == 1 for b in bodies)
    assert all(not p.missed_call for b in bodies for p in b.parties)
    assert bodies[-1].parties[0].status.code == "Disconnected"


def test_pstn_to_user_flow_facts(examples_dir: Path) -> None:
    events = [parse_event(e) for e in load(examples_dir, CALLFLOWS[0])]
    steps = [
        (e.body.parties[0].extension_id, e.body.parties[0].status.code)
        for e in events
        if isinstance(e, TelephonySessionEvent)
    ]
    ivr, user = "62242421016", "809646016"
    # The caller's party has no extension; the IVR answers and hands the call to the user.
    assert steps[0] == (None, "Setup")
    assert [code for ext, code in steps if ext == ivr] == ["Setup", "Disconnected"]
    assert [code for ext, code in steps if ext == user] == [
        "Setup", "Proceeding", "Answered", "Hold", "Answered", "Disconnected",
    ]  # fmt: skip
    # One account-level subscription: extension parties arrive on the extension path.
    assert {e.event for e in events} == {
        "/restapi/v1.0/account/809646016/telephony/sessions",
        f"/restapi/v1.0/account/809646016/extension/{ivr}/telephony/sessions",
        f"/restapi/v1.0/account/809646016/extension/{user}/telephony/sessions",
    }


# --- named facts ------------------------------------------------------------------------


def test_conversation_id_beyond_2_53_stays_exact(examples_dir: Path) -> None:
    sms = MessageRecord.model_validate_json(raw(examples_dir, "sms-send-response.json"))
    assert sms.conversation_id == "4481650717038104652"  # > 2**53: a float would round it
    assert sms.conversation_key == "4481650717038104652"
    assert sms.id == "315450330010"  # REST ints become strings
    decoded = MessageRecord.model_validate(load(examples_dir, "sms-send-response.json"))
    assert decoded.conversation_id == "4481650717038104652"


def test_conversation_object_wins_over_rounded_deprecated_id(examples_dir: Path) -> None:
    parts = [
        MessageBatchPart.model_validate(p)
        for p in load(examples_dir, "message-store-get-multi-response.json")
    ]
    ok, missing = parts
    assert isinstance(ok.body, MessageRecord)
    assert ok.body.conversation_key == "8234962969801171948"
    assert isinstance(missing.body, ErrorBody)
    assert (missing.status, missing.body.error_code) == (404, "CMN-102")
    assert missing.body.errors[0].parameter_name == "messageId"


def test_voicemail_event_facts(examples_dir: Path) -> None:
    event = parse_event(raw(examples_dir, "voicemail-event.json"))
    assert isinstance(event, VoicemailEvent)
    vm = event.body
    assert vm.is_voicemail and vm.vm_duration == 3
    assert vm.vm_transcription_status == "Completed"
    assert vm.audio is not None and vm.audio.content_type == "audio/x-wav"
    assert vm.from_ is not None and vm.from_.phone_number == "+18664320079"
    assert event.owner_id == "823476228762"
    assert event.timestamp == datetime(2018, 2, 28, 10, 6, 15, tzinfo=UTC)


def test_voicemail_rest_record(examples_dir: Path) -> None:
    vm = MessageRecord.model_validate_json(
        raw(examples_dir, "message-store-voicemail-response.json")
    )
    assert vm.vm_duration == 25 and vm.vm_transcription_status == "NotAvailable"
    listing = MessageList.model_validate_json(raw(examples_dir, "message-store-list-response.json"))
    assert [m.vm_duration for m in listing.records] == [42, 25]
    assert listing.paging is not None and listing.paging.total_elements == 2
    assert not listing.has_next


def test_fax_event_facts(examples_dir: Path) -> None:
    event = parse_event(raw(examples_dir, "fax-inbound-event.json"))
    assert isinstance(event, FaxEvent)
    assert event.body.fax_page_count == 2
    assert event.body.attachments[0].content_type == "application/pdf"


def test_instant_sms_2025_and_legacy(examples_dir: Path) -> None:
    new = parse_event(raw(examples_dir, "instant-sms-event.json"))
    old = parse_event(raw(examples_dir, "instant-sms-event-legacy.json"))
    assert isinstance(new, InstantMessageEvent) and isinstance(old, InstantMessageEvent)
    assert new.body.conversation_key == "1638233798595111162"
    assert new.body.owner is not None and new.body.owner.extension_type == "User"
    assert new.body.to[0].target is True
    assert new.body.attachments[0].uri is None  # 2025 text parts have no content uri
    assert old.body.conversation_key == "7876416245344257449"
    assert old.body.subject == "Hi there"


def test_mms_event_body_media(examples_dir: Path) -> None:
    body = MessageRecord.model_validate_json(raw(examples_dir, "instant-mms-event-body.json"))
    (image,) = body.media
    assert image.content_type == "image/jpeg" and image.size == 461020
    assert image.uri is not None and image.uri.startswith("https://media.ringcentral.com/")


def test_pager_record_and_message_store_changes(examples_dir: Path) -> None:
    pager = MessageRecord.model_validate_json(
        raw(examples_dir, "message-store-pager-response.json")
    )
    assert pager.type == "Pager" and pager.pg_to_department is False
    ws = parse_ws_notification(load(examples_dir, "message-store-event-websocket.json"))
    assert isinstance(ws, MessageStoreEvent)
    (change,) = ws.body.changes
    assert change.type == "Pager" and change.new_message_ids == ("12756735005", "12756737005")
    fax = parse_event(raw(examples_dir, "message-store-event.json"))
    assert isinstance(fax, MessageStoreEvent)
    assert fax.owner_id is None  # this real delivery has no ownerId
    assert fax.body.extension_id == "230919004"
    assert fax.body.changes[0].new_count == 1 and fax.body.changes[0].new_message_ids == ()


def test_telephony_event_facts(examples_dir: Path) -> None:
    event = parse_event(raw(examples_dir, "telephony-session-event.json"))
    assert isinstance(event, TelephonySessionEvent)
    (party,) = event.body.parties
    assert party.status.code == "Setup" and party.status.rcc is False
    assert party.missed_call is False and party.direction == "Inbound"
    assert event.body.sequence == 3 and event.body.origin is not None
    assert event.body.origin.type == "Call"
    wrapped = parse_event(raw(examples_dir, "telephony-session-event-apns-wrapped.json"))
    assert isinstance(wrapped, TelephonySessionEvent)
    (queued,) = wrapped.body.parties
    assert queued.status.code == "Proceeding" and queued.queue_call is True
    assert queued.status.mobile_pickup_data is not None
    assert queued.status.mobile_pickup_data.cc_mailboxes == ("400144455008",)


def test_unknown_and_reminder_events() -> None:
    presence = parse_event(
        b'{"uuid":"u1","event":"/restapi/v1.0/account/1/extension/2/presence","body":{"x":1}}'
    )
    assert isinstance(presence, UnknownEvent) and presence.body == {"x": 1}
    reminder = parse_event(
        {
            "uuid": "u2",
            "event": "/restapi/v1.0/subscription/abc?threshold=60&interval=30",
            "body": {"expiresIn": 59},
        }
    )
    assert isinstance(reminder, SubscriptionReminderEvent) and reminder.body.expires_in == 59
    with pytest.raises(ValidationError):
        parse_event(b'{"event":"/restapi/v1.0/account/1/extension/2/voicemail","body":{}}')


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS", "instant_message"),
        ("/restapi/v1.0/account/1/extension/2/message-store", "message_store"),
        ("/restapi/v1.0/account/~/extension/2/message-store?type=Pager", "message_store"),
        ("/restapi/v1.0/account/~/extension/2/voicemail", "voicemail"),
        ("/restapi/v1.0/account/~/extension/2/fax?direction=Inbound", "fax"),
        ("/restapi/v1.0/account/1/telephony/sessions", "telephony_session"),
        (
            "/restapi/v1.0/account/1/extension/2/telephony/sessions?missedCall=true",
            "telephony_session",
        ),
        ("/restapi/v1.0/subscription/~?threshold=1&interval=1", "subscription_reminder"),
        ("/restapi/v1.0/account/1/extension/2/presence", "unknown"),
        ("/restapi/v1.0/account/1/extension/2/message-store/instantly", "unknown"),
    ],
)
def test_event_kind(path: str, kind: str) -> None:
    assert event_kind(path) == kind


def test_extension_info_facts(examples_dir: Path) -> None:
    ext = ExtensionInfo.model_validate_json(raw(examples_dir, "extension-info-response.json"))
    assert ext.id == "871817004" and ext.extension_number == "101"
    assert ext.home_country_iso == "US"
    assert ext.has_feature("SMS") and ext.has_feature("RingOut")
    assert not ext.has_feature("VoicemailToText")  # listed, but disabled
    assert not ext.has_feature("NoSuchFeature")


def test_phone_numbers_facts(examples_dir: Path) -> None:
    numbers = PhoneNumberList.model_validate_json(
        raw(examples_dir, "extension-phone-number-list-response.json")
    )
    main = [n for n in numbers.records if n.usage_type == "MainCompanyNumber"]
    assert main[0].phone_number == "+18662023452" and main[0].has_feature("CallerId")
    assert not any(n.has_feature("SmsSender") for n in numbers.records)


def test_call_log_facts(examples_dir: Path) -> None:
    detailed = CallLogList.model_validate_json(
        raw(examples_dir, "call-log-list-detailed-response.json")
    )
    first = detailed.records[0]
    assert first.legs[0].leg_type == "Accept" and first.legs[0].master is True
    assert first.legs[0].extension is not None and first.legs[0].extension.id == "416095514008"
    assert first.billing is not None and first.billing.cost_purchased == 2.222
    assert detailed.paging is not None and detailed.paging.total_pages is None  # call log
    assert detailed.has_next
    simple = CallLogList.model_validate_json(
        raw(examples_dir, "call-log-list-simple-response.json")
    )
    fax = simple.records[1]
    assert fax.message is not None and (fax.message.type, fax.message.id) == ("Fax", "401678422008")
    record = CallLogRecord.model_validate_json(raw(examples_dir, "call-log-record-response.json"))
    assert record.recording is not None and record.recording.type == "OnDemand"
    assert record.from_ is not None and record.from_.name == "Jane Smith"


def test_ringout_and_subscription_facts(examples_dir: Path) -> None:
    ro = RingOutStatus.model_validate_json(raw(examples_dir, "ringout-create-response.json"))
    assert ro.in_progress and ro.status.callee_status == "InProgress"
    black = SubscriptionList.model_validate_json(
        raw(examples_dir, "subscription-list-blacklisted-response.json")
    )
    (sub,) = black.records
    assert sub.status == "Blacklisted" and not sub.is_active
    assert sub.blacklisted_data is not None and "Read timed out" in (
        sub.blacklisted_data.reason or ""
    )
    disabled = SubscriptionInfo.model_validate_json(
        raw(examples_dir, "subscription-get-response-disabled-filters.json")
    )
    assert disabled.disabled_filters[0].reason == "SUB-412"
    reminder = SubscriptionInfo.model_validate_json(
        raw(examples_dir, "subscription-create-response-reminder.json")
    )
    assert reminder.expiration_time is None and reminder.expires_in == 5000000


# --- outbound validation ----------------------------------------------------------------


def test_sms_text_limit_counts_utf16_units() -> None:
    assert utf16_units("a😀") == 3
    ok = SendSmsRequest(
        from_=PhoneRef(phone_number="+1"), to=[PhoneRef(phone_number="+2")], text="😀" * 500
    )
    assert ok.text is not None
    with pytest.raises(ValidationError, match="1001 UTF-16"):
        SendSmsRequest(
            from_=PhoneRef(phone_number="+1"),
            to=[PhoneRef(phone_number="+2")],
            text="a" + "😀" * 500,
        )
    with pytest.raises(ValidationError, match="1025 UTF-16"):
        SendPagerRequest(to=[PagerParty(extension_number="101")], text="x" * 1025)


def test_outbound_models_refuse_ambiguity() -> None:
    with pytest.raises(ValidationError):
        SmsCountry(id="1", iso_code="US")
    with pytest.raises(ValidationError):
        RingOutFrom(phone_number="+1", forwarding_number_id="2")
    with pytest.raises(ValidationError):
        RingOutFrom()
    with pytest.raises(ValidationError):
        PagerParty()
    with pytest.raises(ValidationError):
        SendPagerRequest(text="hi")  # no recipient and no replyOn
    with pytest.raises(ValidationError):
        SendSmsRequest.model_validate({"from": {"phoneNumber": "+1"}, "to": [], "text": "x"})
    with pytest.raises(ValidationError):
        UpdateSubscriptionRequest(event_filters=["/x"], expires_in=315_360_001)


def test_verification_token_is_sent_but_not_shown() -> None:
    from bot.ringcentral.models import WebhookDeliveryMode

    mode = WebhookDeliveryMode(address="https://h/ringcentral/webhook", verification_token="s3cret")
    assert "s3cret" not in repr(mode)
    assert mode.to_wire()["verificationToken"] == "s3cret"

"""Message events and message-store records → notices, and what message-store changes
ask the dispatcher to fetch: each real example file, named facts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.bridge import (
    PagerFollowup,
    VoicemailFollowup,
    dedupe_key,
    message_store_followups,
    notice_from_event,
    notice_from_message,
    transcript_attachment,
)
from bot.notices import (
    Attachment,
    FaxNotice,
    PagerNotice,
    Party,
    SmsNotice,
    VoicemailNotice,
)
from bot.ringcentral.models.events import MessageStoreEvent, parse_event, parse_ws_notification
from bot.ringcentral.models.messages import MessageRecord


def load(examples_dir: Path, name: str) -> Any:
    return json.loads((examples_dir / name).read_text())


def record(examples_dir: Path, name: str, **changes: Any) -> MessageRecord:
    return MessageRecord.model_validate({**load(examples_dir, name), **changes})


# --- SMS and MMS ---------------------------------------------------------------------


def test_instant_sms_2025(examples_dir: Path) -> None:
    notice = notice_from_event(parse_event(load(examples_dir, "instant-sms-event.json")))

    assert isinstance(notice, SmsNotice)
    assert notice.message_id == "3062991514017"
    assert notice.text == "Hi advisor, I'd like to ..."
    # RingCentral's sample masks digits; the number is kept as sent rather than dropped.
    assert notice.sender == Party(number="+1650224XXXX")
    assert notice.company_number == "+1657390XXXX"  # to[0]: the conversation's number
    assert notice.at == datetime(2025, 7, 30, 18, 12, 45, 28000, tzinfo=UTC)
    assert notice.attachments == ()  # the Text attachment is the body, not a file
    assert notice.extension_id == "629893XXXX"
    assert dedupe_key(notice) == ("sms", "3062991514017")


def test_instant_sms_legacy(examples_dir: Path) -> None:
    notice = notice_from_event(parse_event(load(examples_dir, "instant-sms-event-legacy.json")))

    assert isinstance(notice, SmsNotice)
    assert notice.message_id == "606090030016"
    assert notice.text == "Hi there"
    assert notice.sender == Party(number="+14157809227", name="John Smith")
    assert notice.company_number == "+16508974563"
    assert notice.extension_id == "823476228762"  # from the event path
    assert notice.attachments == ()


def test_instant_mms_carries_its_images(examples_dir: Path) -> None:
    envelope = load(examples_dir, "instant-sms-event.json")
    envelope["body"] = load(examples_dir, "instant-mms-event-body.json")

    notice = notice_from_event(parse_event(envelope))

    assert isinstance(notice, SmsNotice)
    assert notice.message_id == "3064938607016"
    assert notice.text == "Hi there"
    assert notice.attachments == (
        Attachment(
            uri="https://media.ringcentral.com/restapi/v1.0/account/80964XXXX/extension/"
            "629893XXXX/message-store/3064938607016/content/675981076016",
            content_type="image/jpeg",
            attachment_id="675981076016",
        ),
    )


def test_an_outbound_sms_is_no_notice(examples_dir: Path) -> None:
    envelope = load(examples_dir, "instant-sms-event-legacy.json")
    envelope["body"]["direction"] = "Outbound"

    assert notice_from_event(parse_event(envelope)) is None


def test_rest_sms_and_mms_records_notify_only_when_inbound(examples_dir: Path) -> None:
    assert notice_from_message(record(examples_dir, "message-store-mms-response.json")) is None

    notice = notice_from_message(
        record(examples_dir, "message-store-mms-response.json", direction="Inbound")
    )
    assert isinstance(notice, SmsNotice)
    assert notice.company_number == "+18772004569"
    assert [(a.content_type, a.filename, a.attachment_id) for a in notice.attachments] == [
        ("image/png", "filename.png", "400938873008")
    ]


# --- voicemail and fax -------------------------------------------------------------------


def test_voicemail_event(examples_dir: Path) -> None:
    notice = notice_from_event(parse_event(load(examples_dir, "voicemail-event.json")))

    assert isinstance(notice, VoicemailNotice)
    assert notice.message_id == "82063400004"
    assert notice.caller == Party(number="+18664320079", name="Jane Doe")
    assert notice.to == Party(name="John Doe")
    assert notice.duration == 3  # the AudioRecording's vmDuration
    assert notice.transcript is None  # the text is never in the event
    assert notice.transcript_status == "Completed"
    assert notice.audio is not None
    assert notice.audio.content_type == "audio/x-wav"
    assert notice.audio.uri.endswith("/message-store/82063400004/content/82063400004")
    assert notice.at == datetime(2018, 2, 28, 10, 5, 55, tzinfo=UTC)
    assert notice.extension_id == "823476228762"
    assert dedupe_key(notice) == ("voicemail", "82063400004")


def test_voicemail_record_from_rest(examples_dir: Path) -> None:
    notice = notice_from_message(record(examples_dir, "message-store-voicemail-response.json"))

    assert isinstance(notice, VoicemailNotice)
    assert notice.message_id == "402406984008"  # an integer in REST, a string here
    assert notice.caller == Party(number="+18442058517", name="RingCentral")
    assert notice.duration == 25
    assert notice.transcript_status == "NotAvailable"


def test_a_completed_transcript_is_left_for_the_dispatcher_to_download(
    examples_dir: Path,
) -> None:
    raw = load(examples_dir, "message-store-voicemail-response.json")
    transcription = {
        "id": 402406984009,
        "uri": raw["attachments"][0]["uri"].replace(
            "984008/content/402406984008", "984008/content/402406984009"
        ),
        "type": "AudioTranscription",
        "contentType": "text/plain",
    }
    completed = MessageRecord.model_validate(
        {
            **raw,
            "vmTranscriptionStatus": "Completed",
            "attachments": [*raw["attachments"], transcription],
        }
    )

    notice = notice_from_message(completed)

    assert isinstance(notice, VoicemailNotice)
    assert (notice.transcript, notice.transcript_status) == (None, "Completed")
    found = transcript_attachment(completed)
    assert found is not None
    assert (found.attachment_id, found.content_type) == ("402406984009", "text/plain")
    assert (
        transcript_attachment(record(examples_dir, "message-store-voicemail-response.json")) is None
    )


def test_fax_event(examples_dir: Path) -> None:
    notice = notice_from_event(parse_event(load(examples_dir, "fax-inbound-event.json")))

    assert isinstance(notice, FaxNotice)
    assert notice.message_id == "404068973008"
    assert notice.sender == Party(number="+14029997777")
    assert notice.pages == 2
    assert notice.document is not None
    assert notice.document.content_type == "application/pdf"
    assert notice.document.attachment_id == "404068973008"
    assert notice.at == datetime(2018, 2, 28, 5, 11, 37, tzinfo=UTC)
    assert notice.extension_id == "823476228762"
    assert dedupe_key(notice) == ("fax", "404068973008")


# --- pager ---------------------------------------------------------------------------


def test_pager_record_received_is_an_internal_message(examples_dir: Path) -> None:
    received = record(examples_dir, "message-store-pager-response.json", direction="Inbound")

    notice = notice_from_message(received)

    assert isinstance(notice, PagerNotice)
    assert notice.message_id == "401081345004"
    assert notice.sender == Party(name="John Smith", extension_number="102")
    assert notice.to == (Party(extension_number="103"),)
    assert notice.text == "Sample message"
    assert dedupe_key(notice) == ("internal_message", "401081345004")


def test_pager_record_sent_is_no_notice(examples_dir: Path) -> None:
    # The sample is the sender's copy: the team wrote it, nobody needs telling.
    assert notice_from_message(record(examples_dir, "message-store-pager-response.json")) is None


# --- events that are not messages --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["message-store-event.json", "telephony-session-event.json"],
)
def test_other_events_make_no_message_notice(examples_dir: Path, name: str) -> None:
    assert notice_from_event(parse_event(load(examples_dir, name))) is None


# --- message-store followups ---------------------------------------------------------


def store_event(data: Any) -> MessageStoreEvent:
    event = parse_event(data)
    assert isinstance(event, MessageStoreEvent)
    return event


def test_new_pager_ids_are_fetched(examples_dir: Path) -> None:
    event = parse_ws_notification(load(examples_dir, "message-store-event-websocket.json"))
    assert isinstance(event, MessageStoreEvent)

    assert message_store_followups(event) == [
        PagerFollowup(extension_id="233676004", message_ids=("12756735005", "12756737005"), count=2)
    ]


def test_a_new_fax_change_is_left_to_the_fax_filter(examples_dir: Path) -> None:
    assert (
        message_store_followups(store_event(load(examples_dir, "message-store-event.json"))) == []
    )


def test_voicemail_updates_are_followed_new_voicemails_are_not(examples_dir: Path) -> None:
    data = load(examples_dir, "message-store-event.json")
    data["body"]["changes"] = [
        {"type": "VoiceMail", "newCount": 1, "updatedCount": 0},
        {"type": "VoiceMail", "newCount": 0, "updatedCount": 2},
        {"type": "SMS", "newCount": 3, "updatedCount": 1},
        {"type": "Pager", "newCount": 1},  # an older shape: a count, no ids
    ]

    assert message_store_followups(store_event(data)) == [
        VoicemailFollowup(extension_id="230919004", count=2),
        PagerFollowup(extension_id="230919004", message_ids=(), count=1),
    ]

"""Stored notices (the posts table's `notice` column) are versioned JSON: rows the previous
release wrote, without a version, still load and render (DESIGN §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.notices import (
    NOTICE_VERSION,
    Attachment,
    CallNotice,
    FaxNotice,
    Handled,
    Notice,
    PagerNotice,
    Party,
    SmsNotice,
    VoicemailNotice,
    dump_notice,
    load_notice,
)
from bot.sim import check_blocks
from bot.slack.render import Locale, render_notice

AT = datetime(2026, 3, 2, 17, 4, 11, tzinfo=UTC)
JANE = Party(number="+14155550123", name="Jane Doe")
DESK = Party(number="+16505550100", name="Front Desk", extension_number="101")
LOCALE = Locale("US", ZoneInfo("America/Los_Angeles"))

# Rows exactly as the previous release wrote them (its dump_notice: the notice object
# itself, no version), one per kind, each with the notice it must read as.
PREVIOUS_RELEASE: list[tuple[str, Notice]] = [
    (
        '{"kind":"missed_call","session_id":"s-a0d7b3c2e1f04a5b","party_id":"p-a0d7b3c2e1f04a5b-2",'
        '"direction":"Inbound","caller":{"number":"+14155550123","name":"Jane Doe",'
        '"extension_number":null},"callee":{"number":"+16505550100","name":"Front Desk",'
        '"extension_number":"101"},"at":"2026-03-02T17:04:11Z","answered_by":null,'
        '"duration":null,"result":null,"extension_id":"62264425008",'
        '"company_number":"+16505550100"}',
        CallNotice(
            kind="missed_call", session_id="s-a0d7b3c2e1f04a5b",
            party_id="p-a0d7b3c2e1f04a5b-2", direction="Inbound", caller=JANE, callee=DESK,
            at=AT, extension_id="62264425008", company_number="+16505550100",
        ),
    ),
    (
        '{"kind":"answered_call","session_id":"s-1","party_id":"p-1","direction":"Inbound",'
        '"caller":{"number":"+14155550123","name":"Jane Doe","extension_number":null},'
        '"callee":{"number":"+16505550100","name":"Front Desk","extension_number":"101"},'
        '"at":"2026-03-02T17:04:11Z","answered_by":{"number":null,"name":"Bob Lee",'
        '"extension_number":"102"},"duration":null,"result":null,"extension_id":null,'
        '"company_number":null}',
        CallNotice(
            kind="answered_call", session_id="s-1", party_id="p-1", direction="Inbound",
            caller=JANE, callee=DESK, at=AT,
            answered_by=Party(name="Bob Lee", extension_number="102"),
        ),
    ),
    (
        '{"kind":"call","session_id":"s-1","party_id":"p-1","direction":"Outbound",'
        '"caller":{"number":"+16505550100","name":"Front Desk","extension_number":"101"},'
        '"callee":{"number":"+14155550123","name":"Jane Doe","extension_number":null},'
        '"at":"2026-03-02T17:04:11Z","answered_by":null,"duration":95,"result":"Answered",'
        '"extension_id":null,"company_number":null}',
        CallNotice(
            kind="call", session_id="s-1", party_id="p-1", direction="Outbound", caller=DESK,
            callee=JANE, at=AT, duration=95, result="Answered",
        ),
    ),
    (
        '{"kind":"voicemail","message_id":"402406990011","caller":{"number":"+14155550123",'
        '"name":"Jane Doe","extension_number":null},"to":{"number":"+16505550100",'
        '"name":"Front Desk","extension_number":"101"},"at":"2026-03-02T17:04:11Z",'
        '"duration":25,"transcript":"Hi, it is Jane.","transcript_status":"Completed",'
        '"audio":{"uri":"https://media.ringcentral.com/restapi/v1.0/account/1/extension/2/'
        'message-store/402406990011/content/5","content_type":"audio/mpeg",'
        '"attachment_id":"5","filename":null},"extension_id":"62264425008",'
        '"company_number":"+16505550100"}',
        VoicemailNotice(
            kind="voicemail", message_id="402406990011", caller=JANE, to=DESK, at=AT,
            duration=25, transcript="Hi, it is Jane.", transcript_status="Completed",
            audio=Attachment(
                uri="https://media.ringcentral.com/restapi/v1.0/account/1/extension/2/"
                "message-store/402406990011/content/5",
                content_type="audio/mpeg", attachment_id="5",
            ),
            extension_id="62264425008", company_number="+16505550100",
        ),
    ),
    (
        '{"kind":"fax","message_id":"402406990012","sender":{"number":"+14155550188",'
        '"name":"Acme Leasing","extension_number":null},"to":{"number":"+16505550100",'
        '"name":"Front Desk","extension_number":"101"},"at":"2026-03-02T17:04:11Z",'
        '"pages":3,"document":{"uri":"https://media.ringcentral.com/fax/1",'
        '"content_type":"application/pdf","attachment_id":null,"filename":"fax.pdf"},'
        '"extension_id":null,"company_number":null}',
        FaxNotice(
            kind="fax", message_id="402406990012",
            sender=Party(number="+14155550188", name="Acme Leasing"), to=DESK, at=AT, pages=3,
            document=Attachment(
                uri="https://media.ringcentral.com/fax/1", content_type="application/pdf",
                filename="fax.pdf",
            ),
        ),
    ),
    (
        '{"kind":"sms","message_id":"402406990008","sender":{"number":"+14155550123",'
        '"name":"Jane Doe","extension_number":null},"company_number":"+16505550100",'
        '"text":"Running late & <b>","at":"2026-03-02T17:04:11Z","attachments":[{"uri":'
        '"https://media.ringcentral.com/mms/1","content_type":"image/png",'
        '"attachment_id":"1","filename":"photo.png"}],"extension_id":"62264425008"}',
        SmsNotice(
            kind="sms", message_id="402406990008", sender=JANE,
            company_number="+16505550100", text="Running late & <b>", at=AT,
            attachments=(
                Attachment(
                    uri="https://media.ringcentral.com/mms/1", content_type="image/png",
                    attachment_id="1", filename="photo.png",
                ),
            ),
            extension_id="62264425008",
        ),
    ),
    (
        '{"kind":"internal_message","message_id":"402406990013","sender":{"number":null,'
        '"name":"Ann Lee","extension_number":"103"},"to":[{"number":null,"name":"Bob Lee",'
        '"extension_number":"102"}],"text":"Lunch at 12?","at":"2026-03-02T17:04:11Z",'
        '"extension_id":null}',
        PagerNotice(
            kind="internal_message", message_id="402406990013",
            sender=Party(name="Ann Lee", extension_number="103"),
            to=(Party(name="Bob Lee", extension_number="102"),), text="Lunch at 12?", at=AT,
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("row", "expected"), PREVIOUS_RELEASE, ids=lambda v: str(v)[:24])
def test_a_row_the_previous_release_wrote_loads_and_renders(row: str, expected: Notice) -> None:
    notice = load_notice(row)
    assert notice == expected
    reply = render_notice(notice, locale=LOCALE)
    assert check_blocks(reply.blocks) == []
    assert reply == render_notice(expected, locale=LOCALE)
    if notice.kind == "missed_call":  # what "Mark handled" renders from the stored row
        handled = render_notice(notice, locale=LOCALE, handled=Handled("U024BE7LH", AT))
        assert "Handled by <@U024BE7LH>" in json.dumps(handled.blocks)


def test_every_kind_has_a_previous_release_row() -> None:
    kinds = {"missed_call", "answered_call", "call", "voicemail", "fax", "sms"}
    assert {n.kind for _, n in PREVIOUS_RELEASE} == kinds | {"internal_message"}


@pytest.mark.parametrize("notice", [n for _, n in PREVIOUS_RELEASE], ids=lambda n: n.kind)
def test_a_notice_is_stored_with_its_version_and_reads_back(notice: Notice) -> None:
    stored = dump_notice(notice)
    data = json.loads(stored)
    assert data["version"] == NOTICE_VERSION == 1
    assert data["notice"]["kind"] == notice.kind
    assert load_notice(stored) == notice


@pytest.mark.parametrize(
    "row",
    [
        '{"version": 2, "notice": {}}',  # a newer release's: refused, not misread
        '{"version": -1, "notice": {}}',
        '{"version": "1", "notice": {}}',
        '{"version": true, "notice": {}}',
        '{"version": 1}',
        '{"version": 1, "notice": []}',
        '{"version": 1, "notice": {"kind": "telegram"}}',
        '{"kind": "sms"}',
        "[]",
        "not json",
    ],
)
def test_a_row_no_release_wrote_is_refused(row: str) -> None:
    with pytest.raises(ValueError):
        load_notice(row)

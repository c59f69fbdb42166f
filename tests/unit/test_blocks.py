"""Block Kit replies of the slash commands: golden files plus the facts a reader relies on.

Every reply is also checked by the Slack simulator's block checker (what Slack refuses) and
for control sequences: the only `<…>` allowed are our own `<!date^…>` tokens, so outside
text never becomes a mention or a link. Times are rendered for an account in Los Angeles:
the date tokens' fallbacks are in its zone (DESIGN §3.6).
`UPDATE_GOLDEN=1 pytest tests/unit/test_blocks.py` rewrites the golden files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ringcentral.models import (
    CallLogList,
    CallLogRecord,
    MessageList,
    MessageRecord,
    RingOutStatus,
    RingOutStatusInfo,
)
from bot.sim import check_blocks
from bot.slack import render
from bot.slack.commands import UsageError, help_reply, parse_sms
from bot.slack.render import CancelRingOutValue, Locale, PageValue, Reply, decode_button_value
from tests.golden_files import assert_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
HOSTILE = "<!channel> <@U123> see <https://evil.example|https://bank.com> Tom & Jerry"
HOSTILE_ESCAPED = (
    "&lt;!channel&gt; &lt;@U123&gt; see &lt;https://evil.example|https://bank.com&gt; "
    "Tom &amp; Jerry"
)
US = Locale("US", ZoneInfo("America/Los_Angeles"))
TYPED_AT = datetime(2026, 3, 2, 9, 4, 11, tzinfo=ZoneInfo("America/Los_Angeles"))
_DATE_TOKEN = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{[a-z_]+\})?\|[^<>]*>")


# --- helpers -------------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def checked(reply: Reply) -> Reply:
    """Slack would accept it, and no outside text made a control sequence."""
    assert check_blocks(reply.blocks) == []
    assert 0 < len(reply.text) <= 40_000
    for text in (reply.text, *_strings(reply.blocks)):
        assert "<" not in _DATE_TOKEN.sub("", text), text
    return reply


def golden(name: str, reply: Reply) -> None:
    checked(reply)
    assert_golden(GOLDEN / f"blocks_{name}.json", {"text": reply.text, "blocks": reply.blocks})


def texts(reply: Reply) -> str:
    """All the text of the blocks, as one string, to assert facts in."""
    return "\n".join(_strings(reply.blocks))


def sections(reply: Reply) -> list[str]:
    found = []
    for block in reply.blocks:
        if block["type"] == "section":
            if "text" in block:
                found.append(block["text"]["text"])
            found += [f["text"] for f in block.get("fields", [])]
    return found


def typed_page(number: int, text: str = "today") -> PageValue:
    return PageValue(text=text, page=number, at=TYPED_AT)


def buttons(reply: Reply) -> list[dict[str, Any]]:
    return [
        el
        for block in reply.blocks
        if block["type"] == "actions"
        for el in block["elements"]
        if el["type"] == "button"
    ]


def sms(**fields: Any) -> MessageRecord:
    record: dict[str, Any] = {
        "uri": "https://platform.ringcentral.com/restapi/v1.0/account/~/extension/~/message-store/1",
        "id": 402406990008,
        "type": "SMS",
        "direction": "Inbound",
        "from": {"phoneNumber": "+14155550123", "name": "Jane Smith", "location": "San Mateo, CA"},
        "to": [{"phoneNumber": "+16505550100"}],
        "creationTime": "2026-03-02T17:04:11.000Z",
        "readStatus": "Unread",
        "subject": "Running late, see you at 10",
        "messageStatus": "Received",
        "availability": "Alive",
        "conversation": {"id": 4671355828682655051},
        "attachments": [{"id": 1, "type": "Text", "contentType": "text/plain"}],
    }
    record.update(fields)
    return MessageRecord.model_validate(record)


def call(**fields: Any) -> CallLogRecord:
    record: dict[str, Any] = {
        "id": "IyQAmlV2ORKZzUA",
        "sessionId": "424824200008",
        "telephonySessionId": "s-a0d7b3c2e1f04a5b9c8d7e6f5a4b3c2d",
        "startTime": "2026-03-02T16:58:03.000Z",
        "duration": 3725,
        "type": "Voice",
        "direction": "Inbound",
        "action": "Phone Call",
        "result": "Accepted",
        "from": {"phoneNumber": "+14155550123", "name": "Jane Smith", "location": "San Mateo, CA"},
        "to": {"phoneNumber": "+16505550100", "name": "Front Desk", "extensionNumber": "101"},
    }
    record.update(fields)
    return CallLogRecord.model_validate(record)


def message_page(records: list[MessageRecord], **paging: int) -> MessageList:
    return MessageList.model_validate(
        {"records": [r.model_dump(by_alias=True) for r in records], "paging": paging}
    )


# --- help, errors, short replies ---------------------------------------------------------


def test_help_lists_every_command_with_its_placeholders_shown_as_typed() -> None:
    reply = help_reply()
    golden("help", reply)
    shown = texts(reply)
    for command in ("/sms", "/call", "/calllog", "/ringcentral"):
        assert f"*{command}*" in shown
    assert "`/sms &lt;number&gt; &lt;message&gt;`" in shown
    assert "/sms +1 415 555 0123 Running late" in shown


def test_usage_error_escapes_the_words_it_quotes() -> None:
    with pytest.raises(UsageError) as error:
        parse_sms("<@U123> hi", region="US", now=datetime(2026, 3, 2, 9, tzinfo=UTC))
    reply = render.usage_error(str(error.value))
    golden("usage_error", reply)
    assert sections(reply)[0].startswith(":warning: `&lt;@U123&gt;` is not a phone number")
    assert "<@U123>" not in json.dumps(reply.blocks) and "<@U123>" not in reply.text


def test_ringcentral_refusal_is_one_escaped_sentence() -> None:
    reply = checked(render.ringcentral_refused("RingCentral refused: Parameter [to] <invalid>."))
    assert sections(reply) == [":x: RingCentral refused: Parameter [to] &lt;invalid&gt;."]


def test_sms_sent_names_both_numbers_the_text_status_and_id() -> None:
    response = sms(direction="Outbound", messageStatus="Queued", readStatus="Read")
    reply = render.sms_sent(
        "+14155550123", "+16505550100", "Running late, see you at 10", response, locale=US
    )
    golden("sms_sent", reply)
    head, quoted = sections(reply)
    assert head.startswith(":white_check_mark: Sent to *(415) 555-0123* from (650) 555-0100.")
    assert "queued" in head
    assert quoted == ">Running late, see you at 10"
    assert "Status: *Queued*" in texts(reply) and "`402406990008`" in texts(reply)
    assert reply.text == "Sent to (415) 555-0123: Running late, see you at 10"
    assert buttons(reply) == []


def test_sms_sent_abroad_shows_international_form_and_failure() -> None:
    response = sms(messageStatus="SendingFailed", deliveryErrorCode="SMS-4001")
    reply = checked(render.sms_sent("+442079460958", "+16505550100", "hi", response, locale=US))
    assert sections(reply)[0].startswith(":x: Not sent to *+44 20 7946 0958*")
    assert "`SMS-4001`" in sections(reply)[0]


def test_sms_text_cannot_ping_link_or_break_out() -> None:
    text = f"{HOSTILE}\nsecond line"
    response = sms(direction="Outbound", messageStatus="Queued", subject=text)
    reply = render.sms_sent("+14155550123", "+16505550100", text, response, locale=US)
    golden("sms_sent_hostile", reply)
    assert sections(reply)[1] == f">{HOSTILE_ESCAPED}\n>second line"
    assert "&lt;!channel&gt;" in reply.text and "<!channel>" not in reply.text


@pytest.mark.parametrize("text", ["x" * 4000, "&" * 1000, "a&<" * 1400, "😀" * 3500])
def test_long_text_is_cut_within_the_section_limit_after_escaping(text: str) -> None:
    reply = checked(render.sms_sent("+14155550123", "+16505550100", text, sms(), locale=US))
    quoted = sections(reply)[1]
    assert len(quoted) <= 3000
    assert quoted.endswith("…")
    assert len(quoted) >= 2990  # cut at the limit, not far before it
    assert not re.search(r"&[a-z]{0,3}…$", quoted)  # no entity cut in half


def test_sms_queued_says_when() -> None:
    reply = checked(render.sms_queued("+14155550123", 11.2, locale=US))
    assert sections(reply) == [
        ":hourglass_flowing_sand: Queued: sending to (415) 555-0123 in 12 s."
    ]
    assert reply.text == "Queued: sending to (415) 555-0123 in 12 s."


# --- /sms list, /sms show ----------------------------------------------------------------


def _inbox() -> list[MessageRecord]:
    return [
        sms(id=11, creationTime="2026-03-02T15:00:00Z", readStatus="Read"),
        sms(
            id=12,
            creationTime="2026-03-02T17:30:00Z",
            **{"from": {"phoneNumber": "+14155550188", "name": "Tom & Jerry <@U123>"}},
            subject=HOSTILE,
        ),
        sms(
            id=13,
            direction="Outbound",
            creationTime="2026-03-02T16:00:00Z",
            readStatus="Read",
            messageStatus="Delivered",
            **{"from": {"phoneNumber": "+16505550100"}},
            to=[{"phoneNumber": "+14155550123"}, {"phoneNumber": "+442079460958"}],
            subject="On my way",
        ),
        sms(
            id=14,
            type="VoiceMail",
            creationTime="2026-03-01T09:00:00Z",
            subject="Voice Message from Jane Smith",
            vmTranscriptionStatus="Completed",
            attachments=[{"id": 5, "type": "AudioRecording", "vmDuration": 65}],
        ),
        sms(
            id=15,
            type="Fax",
            creationTime="2026-02-28T09:00:00Z",
            subject="Signed lease",
            faxPageCount=3,
            attachments=[{"id": 6, "type": "RenderedDocument", "contentType": "application/pdf"}],
        ),
        sms(
            id=16,
            type="Pager",
            creationTime="2026-02-27T09:00:00Z",
            **{"from": {"extensionNumber": "102", "name": "Ann Lee"}},
            to=[{"extensionNumber": "101"}],
            subject="Lunch?",
        ),
    ]


def test_message_list_newest_first_with_who_what_when() -> None:
    page = message_page(_inbox(), page=1, totalPages=3, perPage=6, totalElements=14)
    reply = render.message_list(
        page, locale=US, description="last 7 days", previous=typed_page(1), following=typed_page(3)
    )
    golden("message_list", reply)
    shown = texts(reply)
    order = [shown.index(f"`{i}`") for i in (12, 13, 11, 14, 15, 16)]
    assert order == sorted(order)  # newest first, whatever order RingCentral used
    assert "*SMS* ← from *Tom &amp; Jerry &lt;@U123&gt;* (415) 555-0188" in shown
    assert f">{HOSTILE_ESCAPED}" in shown
    assert "*SMS* → to (415) 555-0123 and 1 more" in shown
    assert "*Voicemail* ← from *Jane Smith* (415) 555-0123" in shown
    assert "_0:01:05 voicemail, transcript ready_" in shown
    assert "*Fax* ← from" in shown and "_3 pages_" in shown
    assert "*Pager* ← from *Ann Lee* ext. 102" in shown
    assert shown.count("*Unread*") == 4
    assert "<!date^1772472600^{date_short_pretty} {time}|2026-03-02 09:30 PST>" in shown
    assert "Page 1 of 3 · 14 messages in all" in shown
    assert [
        (b["text"]["text"], b["action_id"], decode_button_value(b["action_id"], b["value"]))
        for b in buttons(reply)
    ] == [("Previous", "sms_list_page", typed_page(1)), ("Next", "sms_list_page", typed_page(3))]
    assert reply.text == "6 messages — last 7 days"


def test_message_list_empty_says_so_without_buttons() -> None:
    reply = render.message_list(message_page([]), locale=US, description="unread, today")
    golden("message_list_empty", reply)
    assert sections(reply) == ["*Messages* — unread, today", "No messages match."]
    assert buttons(reply) == []


def test_message_list_only_next_when_on_first_page() -> None:
    reply = checked(
        render.message_list(
            message_page(_inbox()[:1]), locale=US, description="x", following=typed_page(2)
        )
    )
    assert [b["text"]["text"] for b in buttons(reply)] == ["Next"]


def test_message_list_of_1000_stays_within_slack_limits() -> None:
    records = [sms(id=1000 + i, subject=HOSTILE * 4) for i in range(1000)]
    reply = checked(
        render.message_list(
            message_page(records),
            locale=US,
            description="all",
            previous=typed_page(1),
            following=typed_page(3),
        )
    )
    assert len(reply.blocks) <= 50
    assert all(len(s) <= 3000 for s in sections(reply))
    assert sum(len(s) for s in _strings(reply.blocks)) <= 12_000
    shown = re.search(r"Showing the first (\d+) of 1000 messages", texts(reply))
    assert shown is not None and 10 <= int(shown.group(1)) < 1000
    assert texts(reply).count("*SMS*") == int(shown.group(1))
    assert len(buttons(reply)) == 2


def test_message_detail_sms_with_attachments() -> None:
    message = sms(
        direction="Outbound",
        readStatus="Read",
        messageStatus="Delivered",
        subject="Flight information & gate <B12>",
        to=[{"phoneNumber": "+14155550123", "name": "Jane Smith"}, {"phoneNumber": "+14155550188"}],
        attachments=[
            {"id": 1, "type": "Text", "contentType": "text/plain"},
            {
                "id": 2,
                "type": "MmsAttachment",
                "contentType": "image/png",
                "size": 48213,
                "fileName": "boarding<pass>.png",
            },
        ],
    )
    reply = render.message_detail(message, locale=US)
    golden("message_detail_mms", reply)
    title, sender, recipients, status, text, attachments = sections(reply)
    assert title.startswith("*SMS* sent <!date^")
    assert sender == "*From*\n*Jane Smith* (415) 555-0123 (San Mateo, CA)"
    assert recipients == "*To*\n*Jane Smith* (415) 555-0123\n(415) 555-0188"
    assert status == "*Status*\nRead, Delivered"
    assert text == ">Flight information &amp; gate &lt;B12&gt;"
    assert "boarding&lt;pass&gt;.png · image/png · 47 KB" in attachments
    assert "Message id `402406990008` · conversation `4671355828682655051`" in texts(reply)


def test_message_detail_voicemail_with_transcript() -> None:
    message = sms(
        type="VoiceMail",
        subject="Voice Message from Jane Smith",
        vmTranscriptionStatus="Completed",
        attachments=[
            {"id": 5, "type": "AudioRecording", "contentType": "audio/x-wav", "vmDuration": 25},
            {"id": 6, "type": "AudioTranscription", "contentType": "text/plain"},
        ],
    )
    reply = render.message_detail(message, locale=US, transcript="Call me <!here> back")
    golden("message_detail_voicemail", reply)
    shown = sections(reply)
    assert "*Subject:* Voice Message from Jane Smith" in shown
    assert (
        ":studio_microphone: Voicemail, 0:00:25; transcript ready.\n>Call me &lt;!here&gt; back"
        in shown
    )
    assert reply.text == "Voicemail from Jane Smith (415) 555-0123"


def test_message_detail_voicemail_pending_and_fax_pages() -> None:
    pending = sms(type="VoiceMail", vmTranscriptionStatus="InProgress", subject=None)
    assert "transcript in progress" in texts(checked(render.message_detail(pending, locale=US)))
    fax = sms(type="Fax", faxPageCount=1, faxResolution="High", subject="Invoice")
    reply = checked(render.message_detail(fax, locale=US))
    assert ":fax: 1 page, High resolution" in sections(reply)


# --- /call -----------------------------------------------------------------------------------


def _ringout(call: str, caller: str, callee: str, **kw: Any) -> Reply:
    status = RingOutStatusInfo(call_status=call, caller_status=caller, callee_status=callee)
    options: dict[str, Any] = {"ringout_id": "Y3MxNzE4NDI4", "cancellable": False, "locale": US}
    options.update(kw)
    return checked(render.ringout_status("+14155550123", "+16505550111", status, **options))


def test_ringout_ringing_your_phone_with_cancel() -> None:
    reply = _ringout("InProgress", "InProgress", "InProgress", cancellable=True)
    golden("ringout_ringing", reply)
    assert sections(reply)[0] == (
        ":telephone_receiver: Ringing your phone (650) 555-0111… "
        "Answer it and you will be connected to *(415) 555-0123*."
    )
    (cancel,) = buttons(reply)
    assert (cancel["text"]["text"], cancel["action_id"]) == ("Cancel", "ringout_cancel")
    # What the cancelled status shows again: the click does not bring the message back.
    assert decode_button_value("ringout_cancel", cancel["value"]) == CancelRingOutValue(
        ringout_id="Y3MxNzE4NDI4", to="+14155550123", from_number="+16505550111"
    )


@pytest.mark.parametrize(
    ("statuses", "label", "words"),
    [
        (("InProgress", "Success", "InProgress"), "Ringing", "now ringing *(415) 555-0123*"),
        (("Success", "Success", "Success"), "Connected", "connected to *(415) 555-0123*"),
        (("Finished", "Success", "Success"), "Finished", "has ended"),
        (("Busy", "Success", "Busy"), "Busy", "*(415) 555-0123* is busy."),
        (("NoAnswer", "Success", "NoAnswer"), "No answer", "No answer from *(415) 555-0123*."),
        (("NoAnswer", "NoAnswer", "InProgress"), "No answer", "your phone (650) 555-0111"),
        (("CannotReach", "GenericError", "Success"), "Failed", "to your phone (650) 555-0111"),
        (("Rejected", "Success", "Rejected"), "Declined", "declined"),
        (("InternationalDisabled", "Success", "InProgress"), "International calls disabled", ""),
        (("Weird<@U1>", "Success", "InProgress"), "Weird&lt;@U1&gt;", "`Weird&lt;@U1&gt;`"),
    ],
)
def test_ringout_status_sentences(statuses: tuple[str, str, str], label: str, words: str) -> None:
    reply = _ringout(*statuses)
    head = sections(reply)[0]
    assert f"*{label}* — " in head or head.startswith(f":x: {label} ")
    assert words in sections(reply)[0]
    assert buttons(reply) == []


def test_ringout_every_documented_status_has_a_sentence() -> None:
    documented = [  # SPEC CallingStatusInfo, reference/ringcentral.md §4.3
        *("Invalid", "Success", "InProgress", "Busy", "NoAnswer", "Rejected", "GenericError"),
        *("RingOutFromThisNumberIsNotSupported", "Finished", "InternationalDisabled"),
        *("DestinationBlocked", "NotEnoughFunds", "NosuchUser", "Error", "CannotReach"),
        *("NoAnsweringMachine", "NoSessionFound", "Unknown"),
    ]
    for value in documented:
        head = sections(_ringout(value, "Success", value))[0]
        assert "RingCentral reports `" not in head, head  # a sentence of ours, not the raw word


def test_ringout_cancelled_has_no_button() -> None:
    reply = _ringout("InProgress", "InProgress", "InProgress", cancellable=True, cancelled=True)
    golden("ringout_cancelled", reply)
    assert sections(reply)[0] == (
        ":no_entry_sign: *Cancelled* — The call to *(415) 555-0123* was cancelled."
    )
    assert buttons(reply) == []


# --- /calllog --------------------------------------------------------------------------------


def _calls() -> list[CallLogRecord]:
    return [
        call(),
        call(
            id="IyQAlMhgV5xxzUA",
            startTime="2026-03-02T17:20:00Z",
            direction="Outbound",
            action="RingOut Web",
            result="Call connected",
            duration=65,
            **{"from": {"phoneNumber": "+16505550100", "name": "Front Desk"}},
            to={"phoneNumber": "+442079460958", "location": "London"},
            recording={"id": "7", "type": "Automatic"},
        ),
        call(
            id="IyQAkMissed",
            startTime="2026-03-02T12:00:00Z",
            result="Missed",
            duration=12,
            **{"from": {"phoneNumber": "+14155550188", "name": "<!everyone> & co"}},
            message={"id": "402406984008", "type": "VoiceMail"},
        ),
        call(id="IyQAFax", startTime="2026-03-01T12:00:00Z", type="Fax", result="Received"),
    ]


def test_call_log_page_newest_first_with_parties_durations_results() -> None:
    reply = render.call_log_page(_calls(), locale=US, description="today", following=typed_page(2))
    golden("call_log_page", reply)
    shown = texts(reply)
    order = [shown.index(f"`{i}`") for i in ("IyQAlMhgV5xxzUA", "IyQAmlV2ORKZzUA", "IyQAkMissed")]
    assert order == sorted(order)
    assert "→ *Out* *Front Desk* (650) 555-0100 → +44 20 7946 0958" in shown
    assert "← *In* *Jane Smith* (415) 555-0123 → *Front Desk* (650) 555-0100" in shown
    assert "· 1:02:05 · Accepted ·" in shown
    assert "· 0:01:05 · Call connected · :red_circle: recorded ·" in shown
    assert "*&lt;!everyone&gt; &amp; co* (415) 555-0188" in shown
    assert "*Missed* · :studio_microphone: voicemail" in shown
    assert ":fax: fax" in shown
    assert "4 calls on this page" in shown
    assert [
        (b["text"]["text"], b["action_id"], decode_button_value(b["action_id"], b["value"]))
        for b in buttons(reply)
    ] == [("Next", "calllog_page", typed_page(2))]


def test_call_log_empty_says_so_without_buttons() -> None:
    reply = render.call_log_page([], locale=US, description="missed, yesterday")
    golden("call_log_empty", reply)
    assert sections(reply) == ["*Calls* — missed, yesterday", "No calls match."]
    assert buttons(reply) == []


def test_call_log_of_1000_records_stays_within_slack_limits() -> None:
    hostile = {"phoneNumber": "+14155550188", "name": "&" * 300, "location": "<" * 300}
    records = [call(id=f"rec{i}", **{"from": hostile}) for i in range(1000)]
    reply = checked(
        render.call_log_page(
            records, locale=US, description="7d", previous=typed_page(1), following=typed_page(3)
        )
    )
    assert len(reply.blocks) <= 50
    assert all(len(s) <= 3000 for s in sections(reply))
    assert sum(len(s) for s in _strings(reply.blocks)) <= 12_000
    shown = re.search(r"Showing the first (\d+) of 1000 calls", texts(reply))
    assert shown is not None and int(shown.group(1)) >= 10
    assert len(buttons(reply)) == 2


def test_call_detail_shows_the_legs() -> None:
    record = call(
        reasonDescription="The call was answered",
        legs=[
            {
                "legType": "Accept",
                "master": True,
                "duration": 3725,
                "result": "Accepted",
                "action": "Phone Call",
                "from": {"phoneNumber": "+14155550123", "name": "Jane Smith"},
                "to": {"phoneNumber": "+16505550100", "name": "Front Desk"},
            },
            {
                "legType": "PstnToSip",
                "duration": 3720,
                "result": "Accepted",
                "from": {"phoneNumber": "+14155550123"},
                "to": {"extensionNumber": "101", "name": "Desk <@U999> phone"},
            },
        ],
    )
    reply = render.call_detail(record, locale=US)
    golden("call_detail", reply)
    shown = sections(reply)
    assert shown[0] == (
        "*Inbound call* · <!date^1772470683^{date_short_pretty} {time}|2026-03-02 08:58 PST>"
    )
    assert "*From*\n*Jane Smith* (415) 555-0123 (San Mateo, CA)" in shown
    assert "*Duration*\n1:02:05" in shown
    assert "*Result*\nAccepted (The call was answered)" in shown
    legs = shown[-1]
    assert legs.startswith("*2 legs*")
    assert "1. *Accept* *Jane Smith* (415) 555-0123 → *Front Desk* (650) 555-0100" in legs
    assert "2. *PstnToSip* (415) 555-0123 → *Desk &lt;@U999&gt; phone* ext. 101" in legs
    assert "1:02:00 · Accepted" in legs
    assert "Record `IyQAmlV2ORKZzUA` · session `424824200008`" in texts(reply)
    assert reply.text.startswith("Call Jane Smith (415) 555-0123 → Front Desk (650) 555-0100")


def test_call_detail_with_many_legs_stays_within_limits() -> None:
    leg = {"legType": "Forward" * 20, "from": {"name": "x" * 500}, "to": {"name": "&" * 500}}
    reply = checked(render.call_detail(call(legs=[leg] * 400), locale=US))
    assert len(reply.blocks) <= 50
    assert "Showing" in texts(reply) and "of 400 legs." in texts(reply)


# --- times and right-to-left text, as in notifications ---------------------------------------


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/Los_Angeles", "2026-07-01 09:00 PDT"),  # summer time: not the fixed bias
        ("Europe/Paris", "2026-07-01 18:00 CEST"),
        ("UTC", "2026-07-01 16:00 UTC"),
    ],
)
def test_every_time_is_one_date_token_with_the_accounts_zone_in_the_fallback(
    zone: str, shown: str
) -> None:
    """DESIGN §3.6: each reader sees their own zone; the fallback is the account's."""
    locale = Locale("US", ZoneInfo(zone))
    token = "<!date^1782921600^{date_short_pretty} {time}|" + shown + ">"
    message = sms(creationTime="2026-07-01T16:00:00Z")
    record = call(startTime="2026-07-01T16:00:00Z")
    replies = [
        render.message_list(message_page([message]), locale=locale, description="x"),
        render.message_detail(message, locale=locale),
        render.call_log_page([record], locale=locale, description="x"),
        render.call_detail(record, locale=locale),
    ]
    for reply in replies:
        assert token in texts(checked(reply))


RTL = "שלום مرحبا"


def test_right_to_left_names_are_isolated_in_calllog_and_sms_list() -> None:
    """A right-to-left name (or a bidi override) cannot reorder the number next to it."""
    rtl = {"phoneNumber": "+14155550123", "name": RTL, "location": "\u202eevil"}
    isolated = f"*\u2068{RTL}\u2069* (415) 555-0123"
    calls = render.call_log_page([call(**{"from": rtl})], locale=US, description="x")
    assert f"← *In* {isolated} → *Front Desk*" in texts(checked(calls))
    detail = sections(checked(render.call_detail(call(**{"from": rtl}), locale=US)))
    assert f"*From*\n{isolated} (\u2068\u202eevil\u2069)" in detail
    listing = render.message_list(message_page([sms(**{"from": rtl})]), locale=US, description="x")
    assert f"*SMS* ← from {isolated} · " in texts(checked(listing))
    shown = sections(checked(render.message_detail(sms(**{"from": rtl}), locale=US)))
    assert f"*From*\n{isolated} (\u2068\u202eevil\u2069)" in shown
    plain = render.message_list(message_page([sms()]), locale=US, description="x")
    assert "\u2068" not in texts(plain)  # left-to-right text is left alone


# --- RingCentral's own example payloads ----------------------------------------------------


def test_examples_render(examples_dir: Path) -> None:
    def load(name: str) -> Any:
        return json.loads((examples_dir / name).read_text())

    listing = MessageList.model_validate(load("message-store-list-response.json"))
    checked(render.message_list(listing, locale=US, description="x", following=typed_page(2)))
    for name in ("voicemail", "sms", "mms", "pager"):
        record = MessageRecord.model_validate(load(f"message-store-{name}-response.json"))
        checked(render.message_detail(record, locale=US))
    sent = MessageRecord.model_validate(load("sms-send-response.json"))
    reply = checked(render.sms_sent("+18551003738", "+18559100010", "hi", sent, locale=US))
    assert "Status: *Sent*" in texts(reply)
    for name in ("list-simple", "list-detailed", "account-list-simple"):
        calls = CallLogList.model_validate(load(f"call-log-{name}-response.json"))
        checked(render.call_log_page(calls.records, locale=US, description="x"))
        for call_record in calls.records:
            checked(render.call_detail(call_record, locale=US))
    checked(
        render.call_detail(
            CallLogRecord.model_validate(load("call-log-record-response.json")), locale=US
        )
    )
    for name in ("create", "status"):
        ringout = RingOutStatus.model_validate(load(f"ringout-{name}-response.json"))
        checked(
            render.ringout_status(
                "+14155550123",
                None,
                ringout.status,
                ringout_id=ringout.id,
                cancellable=ringout.in_progress,
                locale=US,
            )
        )


# --- any outside text ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=3000), name=st.text(max_size=300))
def test_any_outside_text_renders_safely(text: str, name: str) -> None:
    message = sms(subject=text, **{"from": {"phoneNumber": "+14155550123", "name": name}})
    checked(render.message_list(message_page([message]), locale=US, description=name))
    checked(render.message_detail(message, locale=US, transcript=text))
    checked(render.sms_sent("+14155550123", "+16505550100", text or "x", message, locale=US))
    record = call(**{"from": {"name": name, "location": text[:300]}}, legs=[{"legType": name}])
    checked(render.call_log_page([record], locale=US, description=text[:100]))
    checked(render.call_detail(record, locale=US))


def test_message_detail_with_many_long_attachments_stays_within_limits() -> None:
    attachment = {"type": "MmsAttachment", "contentType": "image/png", "fileName": "&" * 300}
    many = [{"id": i, **attachment} for i in range(30)]
    reply = checked(render.message_detail(sms(attachments=many), locale=US))
    listed = next(s for s in sections(reply) if s.startswith("*Attachments*"))
    assert listed.count("• ") + int(re.findall(r"and (\d+) more", listed)[0]) == 30

"""Notification messages (DESIGN §3.6): golden files plus the facts a reader relies on, the
button values a click carries back, and outside text that tries to ping, link or overflow
(RELIABILITY R15).

Every message is checked by the Slack simulator's block checker and for control sequences:
the only `<…>` allowed are our `<!date^…>` tokens and the handler's `<@U…>` we put there.
Times are rendered for an account in Los Angeles: the date tokens' fallbacks are in its
zone (DESIGN §3.6). `UPDATE_GOLDEN=1 pytest tests/unit/test_notify.py` rewrites the golden
files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.notices import (
    Attachment,
    CallNotice,
    FaxNotice,
    Handled,
    Notice,
    PagerNotice,
    Party,
    SmsNotice,
    Taken,
    VoicemailNotice,
)
from bot.sim import check_blocks
from bot.slack import render
from bot.slack.render import (
    CallBackValue,
    Locale,
    MarkHandledValue,
    Reply,
    TakeItValue,
    TextBackValue,
    decode_button_value,
    encode_button_value,
    render_notice,
)
from tests.golden_files import assert_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
AT = datetime(2026, 3, 2, 17, 4, 11, tzinfo=UTC)
US = Locale("US", ZoneInfo("America/Los_Angeles"))
AT_TOKEN = "<!date^1772471051^{date_short_pretty} {time}|2026-03-02 09:04 PST>"
HANDLED = Handled(user_id="U024BE7LH", at=datetime(2026, 3, 2, 17, 30, tzinfo=UTC))
HOSTILE = "<!channel> <!here> <@U123> see <https://evil.example|https://bank.com> &amp; *x*"
HOSTILE_ESCAPED = (
    "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; see "
    "&lt;https://evil.example|https://bank.com&gt; &amp;amp; *x*"
)
RTL = "שלום, נתראה ב-10 مرحبا"
EMOJI = "Running late 🏃‍♀️🇺🇸 👍🏽"
_DATE_TOKEN = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{[a-z_]+\})?\|[^<>]*>")
_BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")

JANE = Party(number="+14155550123", name="Jane Doe")
DESK = Party(number="+16505550100", name="Front Desk", extension_number="101")
BOB = Party(name="Bob Lee", extension_number="102")
OURS = "+16505550100"


# --- notices -------------------------------------------------------------------------------


def call(kind: str = "missed_call", **fields: Any) -> CallNotice:
    values: dict[str, Any] = {
        "kind": kind,
        "session_id": "s-a0d7b3c2e1f04a5b",
        "party_id": "p-a0d7b3c2e1f04a5b-2",
        "direction": "Inbound",
        "caller": JANE,
        "callee": DESK,
        "at": AT,
        "company_number": OURS,
    }
    values.update(fields)
    return CallNotice(**values)


def voicemail(**fields: Any) -> VoicemailNotice:
    values: dict[str, Any] = {
        "kind": "voicemail",
        "message_id": "402406990011",
        "caller": JANE,
        "to": DESK,
        "at": AT,
        "duration": 25,
        "transcript": "Hi, it's Jane. Please call me back about the lease.",
        "transcript_status": "Completed",
        "audio": Attachment(uri="https://rc.example/vm/1/content/5", content_type="audio/mpeg"),
        "company_number": OURS,
    }
    values.update(fields)
    return VoicemailNotice(**values)


def fax(**fields: Any) -> FaxNotice:
    values: dict[str, Any] = {
        "kind": "fax",
        "message_id": "402406990012",
        "sender": Party(number="+14155550188", name="Acme Leasing"),
        "to": DESK,
        "at": AT,
        "pages": 3,
        "document": Attachment(uri="https://rc.example/fax/1", content_type="application/pdf"),
    }
    values.update(fields)
    return FaxNotice(**values)


def sms(text: str = "Running late, see you at 10", **fields: Any) -> SmsNotice:
    values: dict[str, Any] = {
        "kind": "sms",
        "message_id": "402406990008",
        "sender": JANE,
        "company_number": OURS,
        "text": text,
        "at": AT,
    }
    values.update(fields)
    return SmsNotice(**values)


def pager(text: str = "Lunch at 12?", **fields: Any) -> PagerNotice:
    values: dict[str, Any] = {
        "kind": "internal_message",
        "message_id": "402406990013",
        "sender": Party(name="Ann Lee", extension_number="103"),
        "to": (BOB, Party(extension_number="104")),
        "text": text,
        "at": AT,
    }
    values.update(fields)
    return PagerNotice(**values)


MMS = (
    Attachment(uri="https://rc.example/mms/1", content_type="image/jpeg"),
    Attachment(uri="https://rc.example/mms/2", content_type="image/png"),
)


# --- helpers -------------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    """Every string a reader can see: button values are data, not shown, so left out."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "value":
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def checked(reply: Reply, *, mention: str | None = None) -> Reply:
    """Slack would accept it; no outside text made a control sequence or a bare `&`; the
    only mention is the handler's."""
    assert check_blocks(reply.blocks) == []
    assert 0 < len(reply.text) <= 1000
    assert "\n" not in reply.text
    for text in (reply.text, *_strings(reply.blocks)):
        rest = _DATE_TOKEN.sub("", text)
        if mention:
            rest = rest.replace(f"<@{mention}>", "")
        assert "<" not in rest and ">" not in rest.replace("\n>", "").lstrip(">"), text
        assert not _BARE_AMP.search(text), text
    return reply


def golden(name: str, reply: Reply, *, mention: str | None = None) -> None:
    checked(reply, mention=mention)
    assert_golden(GOLDEN / f"notify_{name}.json", {"text": reply.text, "blocks": reply.blocks})


def texts(reply: Reply) -> str:
    return "\n".join(_strings(reply.blocks))


def sections(reply: Reply) -> list[str]:
    return [b["text"]["text"] for b in reply.blocks if b["type"] == "section"]


def contexts(reply: Reply) -> list[str]:
    return [el["text"] for b in reply.blocks if b["type"] == "context" for el in b["elements"]]


def buttons(reply: Reply) -> dict[str, Any]:
    """action_id → decoded value, in order, after checking each label."""
    labels = {
        "call_back": "Call back",
        "text_back": "Text back",
        "take_it": "Take it",
        "mark_handled": "Mark handled",
    }
    found: dict[str, Any] = {}
    for block in reply.blocks:
        if block["type"] == "actions":
            for el in block["elements"]:
                assert el["text"]["text"] == labels[el["action_id"]]
                assert len(el["value"]) <= 2000
                found[el["action_id"]] = decode_button_value(el["action_id"], el["value"])
    return found


# --- missed calls ----------------------------------------------------------------------------


def test_missed_call_names_caller_number_called_line_time_and_offers_four_buttons() -> None:
    reply = render_notice(call(), locale=US)
    golden("missed_call", reply)
    head = sections(reply)[0]
    assert head == (
        ":telephone_receiver: *Missed call* from *Jane Doe* (415) 555-0123\n"
        f"To *Front Desk* (650) 555-0100 ext. 101 · {AT_TOKEN}"
    )
    assert reply.text == "Missed call from Jane Doe (415) 555-0123"
    assert buttons(reply) == {
        "call_back": CallBackValue(number="+14155550123", name="Jane Doe"),
        "text_back": TextBackValue(number="+14155550123", company_number=OURS),
        "take_it": TakeItValue(kind="missed_call", item="s-a0d7b3c2e1f04a5b:p-a0d7b3c2e1f04a5b-2"),
        "mark_handled": MarkHandledValue(
            kind="missed_call", item="s-a0d7b3c2e1f04a5b:p-a0d7b3c2e1f04a5b-2"
        ),
    }


def test_missed_call_handled_names_the_handler_and_drops_only_mark_handled() -> None:
    reply = render_notice(call(), locale=US, handled=HANDLED)
    golden("missed_call_handled", reply, mention="U024BE7LH")
    assert contexts(reply) == [
        ":white_check_mark: Handled by <@U024BE7LH> · "
        "<!date^1772472600^{date_short_pretty} {time}|2026-03-02 09:30 PST>"
    ]
    assert list(buttons(reply)) == ["call_back", "text_back"]
    assert reply.text == "Missed call from Jane Doe (415) 555-0123 (handled)"
    assert "<@" not in reply.text  # the fallback pings no one


def test_missed_call_from_a_number_abroad_without_a_name() -> None:
    reply = checked(render_notice(call(caller=Party(number="+442079460958")), locale=US))
    assert sections(reply)[0].startswith(
        ":telephone_receiver: *Missed call* from +44 20 7946 0958\n"
    )
    assert buttons(reply)["call_back"] == CallBackValue(number="+442079460958")
    assert reply.text == "Missed call from +44 20 7946 0958"


@pytest.mark.parametrize("caller", [Party(), Party(number="anonymous"), Party(name="Withheld")])
def test_missed_call_without_a_usable_number_offers_take_it_and_mark_handled(caller: Party) -> None:
    reply = checked(render_notice(call(caller=caller), locale=US))
    assert list(buttons(reply)) == ["take_it", "mark_handled"]
    handled = checked(
        render_notice(call(caller=caller), locale=US, handled=HANDLED), mention="U024BE7LH"
    )
    assert not any(b["type"] == "actions" for b in handled.blocks)


def test_text_back_goes_from_the_called_number_when_the_company_number_is_unknown() -> None:
    reply = checked(render_notice(call(company_number=None), locale=US))
    assert buttons(reply)["text_back"] == TextBackValue(number="+14155550123", company_number=OURS)
    no_ours = call(company_number=None, callee=Party(extension_number="101"))
    reply = checked(render_notice(no_ours, locale=US))
    assert buttons(reply)["text_back"] == TextBackValue(number="+14155550123")


@pytest.mark.parametrize("user_id", ["", "u024be7lh", "<!channel>", "U1>", "C024BE7LH", "U 1"])
def test_handled_mention_is_only_made_from_a_slack_user_id(user_id: str) -> None:
    with pytest.raises(ValueError, match="Slack user id"):
        render_notice(call(), locale=US, handled=Handled(user_id=user_id, at=AT))


@pytest.mark.parametrize("notice", [fax(), pager(), call("call")])
def test_only_a_missed_call_a_voicemail_or_a_text_is_marked_handled(notice: Notice) -> None:
    with pytest.raises(ValueError, match="is not marked handled"):
        render_notice(notice, locale=US, handled=HANDLED)


def test_a_voicemail_handled_names_who_and_offers_no_take_it_or_mark_handled() -> None:
    open_ = render_notice(voicemail(), locale=US)
    assert [b["text"]["text"] for b in open_.blocks[-1]["elements"]][-2:] == [
        "Take it",
        "Mark handled",
    ]
    handled = render_notice(voicemail(), locale=US, handled=HANDLED)
    texts = json.dumps(handled.blocks)
    assert "Handled by <@" in texts
    assert "Mark handled" not in texts and "Take it" not in texts
    assert "(handled)" in handled.text


def test_an_sms_conversation_taken_and_handled_names_both_and_offers_no_button() -> None:
    taken = Taken("U0BOB", AT)
    reply = render_notice(sms(), locale=US, handled=HANDLED, taken=taken)
    assert [c.split(" · ")[0] for c in contexts(reply)[-2:]] == [
        ":raising_hand: Taken by <@U0BOB>",
        ":white_check_mark: Handled by <@U024BE7LH>",
    ]
    assert buttons(reply) == {}


# --- answered and finished calls -------------------------------------------------------------


def test_answered_call_says_who_answered_whom() -> None:
    reply = render_notice(call("answered_call", answered_by=BOB), locale=US)
    golden("answered_call", reply)
    assert sections(reply) == [
        ":telephone_receiver: *Call answered*: *Bob Lee* ext. 102 answered a call from "
        f"*Jane Doe* (415) 555-0123\nTo *Front Desk* (650) 555-0100 ext. 101 · {AT_TOKEN}"
    ]
    assert reply.text == "Bob Lee ext. 102 answered a call from Jane Doe (415) 555-0123"
    assert buttons(reply) == {}


def test_answered_call_without_knowing_who_answered() -> None:
    reply = checked(render_notice(call("answered_call"), locale=US))
    assert "*Call answered*: Answered a call from *Jane Doe*" in sections(reply)[0]


def test_finished_call_shows_direction_parties_duration_and_result() -> None:
    notice = call("call", duration=3725, result="Accepted", answered_by=BOB)
    reply = render_notice(notice, locale=US)
    golden("call", reply)
    assert sections(reply) == [
        ":telephone_receiver: *Inbound call* *Jane Doe* (415) 555-0123 → *Front Desk* "
        f"(650) 555-0100 ext. 101\n{AT_TOKEN} · 1:02:05 · Accepted · answered by *Bob Lee* "
        "ext. 102"
    ]
    assert reply.text == (
        "Inbound call from Jane Doe (415) 555-0123 to Front Desk (650) 555-0100 ext. 101, "
        "1:02:05, Accepted"
    )
    assert buttons(reply) == {}


def test_finished_outbound_call_that_did_not_get_through() -> None:
    notice = call("call", direction="Outbound", caller=BOB, callee=JANE, duration=0, result="Busy")
    reply = checked(render_notice(notice, locale=US))
    assert sections(reply)[0].startswith(
        ":telephone_receiver: *Outbound call* *Bob Lee* ext. 102 → *Jane Doe* (415) 555-0123\n"
    )
    assert sections(reply)[0].endswith(" · 0:00:00 · *Busy*")


# --- voicemail and fax -----------------------------------------------------------------------


def test_voicemail_with_transcript_call_back_take_it_and_mark_handled_buttons() -> None:
    reply = render_notice(voicemail(), locale=US)
    golden("voicemail", reply)
    head, transcript = sections(reply)
    assert head.startswith(
        ":studio_microphone: *Voicemail* from *Jane Doe* (415) 555-0123 · 0:00:25"
    )
    assert "For *Front Desk* (650) 555-0100 ext. 101" in head
    assert transcript == ">Hi, it's Jane. Please call me back about the lease."
    assert contexts(reply) == [":speaker: Audio in thread"]
    assert list(buttons(reply)) == ["call_back", "text_back", "take_it", "mark_handled"]
    assert reply.text == (
        "Voicemail from Jane Doe (415) 555-0123, 0:00:25: Hi, it's Jane. Please call me back "
        "about the lease."
    )


def test_voicemail_transcript_on_its_way() -> None:
    reply = render_notice(voicemail(transcript=None, transcript_status="InProgress"), locale=US)
    golden("voicemail_pending", reply)
    assert len(sections(reply)) == 1
    assert contexts(reply) == [
        ":hourglass_flowing_sand: Transcript on its way · :speaker: Audio in thread"
    ]


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("Failed", "No transcript: transcription failed"),
        ("NotAvailable", "No transcript: transcription is off or not offered"),
        ("TimedOut", "No transcript: transcription timed out"),
        (None, "No transcript yet"),
        ("Weird<@U1>", "No transcript (status Weird&lt;@U1&gt;)"),
    ],
)
def test_voicemail_without_transcript_says_why(status: str | None, says: str) -> None:
    notice = voicemail(transcript=None, transcript_status=status, audio=None)
    assert contexts(checked(render_notice(notice, locale=US))) == [says]


def test_fax_names_sender_pages_and_the_pdf_in_thread() -> None:
    reply = render_notice(fax(), locale=US)
    golden("fax", reply)
    assert sections(reply) == [
        ":fax: *Fax* from *Acme Leasing* (415) 555-0188 · 3 pages\n"
        f"To *Front Desk* (650) 555-0100 ext. 101 · {AT_TOKEN}"
    ]
    assert contexts(reply) == [":page_facing_up: PDF in thread"]
    assert reply.text == "Fax from Acme Leasing (415) 555-0188, 3 pages"
    assert buttons(reply) == {}


# --- SMS and pager ---------------------------------------------------------------------------


def test_sms_thread_parent_names_the_conversation_how_to_answer_and_offers_take_it() -> None:
    reply = render_notice(sms(), locale=US)
    golden("sms_parent", reply)
    assert sections(reply) == [
        f":speech_balloon: *SMS* (415) 555-0123 → (650) 555-0100\nFrom *Jane Doe* · {AT_TOKEN}",
        ">Running late, see you at 10",
    ]
    assert contexts(reply) == ["Reply in this thread to answer by SMS"]
    assert reply.text == (
        "SMS from Jane Doe (415) 555-0123 to (650) 555-0100: Running late, see you at 10"
    )
    item = sms().item  # the conversation is taken and handled by its first message
    assert buttons(reply) == {
        "take_it": TakeItValue(kind="sms", item=item),
        "mark_handled": MarkHandledValue(kind="sms", item=item),
    }


def test_sms_in_thread_is_just_the_text_and_time() -> None:
    reply = render_notice(sms("On my way", attachments=MMS), locale=US, thread_parent=False)
    golden("sms_child", reply)
    assert sections(reply) == [">On my way"]
    assert contexts(reply) == [f"{AT_TOKEN} · :frame_with_picture: 2 images in thread"]
    assert reply.text == "SMS from Jane Doe (415) 555-0123: On my way"


def test_mms_without_text_counts_its_files() -> None:
    files = (*MMS, Attachment(uri="https://rc.example/mms/3", content_type="text/vcard"))
    reply = render_notice(
        sms("", attachments=files, sender=Party(number="+14155550123")), locale=US
    )
    golden("sms_mms_parent", reply)
    assert sections(reply) == [
        f":speech_balloon: *SMS* (415) 555-0123 → (650) 555-0100\n{AT_TOKEN}"
    ]
    assert contexts(reply) == [
        ":frame_with_picture: 2 images and 1 file in thread · Reply in this thread to answer by SMS"
    ]
    assert reply.text == "SMS from (415) 555-0123 to (650) 555-0100 (2 images and 1 file in thread)"
    child = checked(render_notice(sms(" ", attachments=MMS[:1]), locale=US, thread_parent=False))
    assert sections(child) == []
    assert contexts(child) == [f"{AT_TOKEN} · :frame_with_picture: 1 image in thread"]


def test_internal_message_names_sender_extension_recipients_and_text() -> None:
    reply = render_notice(pager(), locale=US)
    golden("internal_message", reply)
    assert sections(reply) == [
        f":pager: *Message* from *Ann Lee* ext. 103\nTo *Bob Lee* ext. 102, ext. 104 · {AT_TOKEN}",
        ">Lunch at 12?",
    ]
    assert reply.text == "Message from Ann Lee ext. 103: Lunch at 12?"


def test_internal_message_to_many_counts_the_rest() -> None:
    many = tuple(Party(extension_number=str(200 + i)) for i in range(20))
    reply = checked(render_notice(pager(to=many), locale=US))
    assert "ext. 207, and 12 more ·" in sections(reply)[0]


# --- outside text: R15 -----------------------------------------------------------------------


def test_hostile_sms_pings_no_one_and_links_nothing() -> None:
    text = f"{HOSTILE}\nsecond line"
    sender = Party(number="+14155550188", name="Tom & Jerry <@U123>")
    reply = render_notice(sms(text, sender=sender), locale=US)
    golden("sms_hostile", reply)
    assert sections(reply)[1] == f">{HOSTILE_ESCAPED}\n>second line"
    assert "From *Tom &amp; Jerry &lt;@U123&gt;*" in sections(reply)[0]
    assert reply.text == (
        "SMS from Tom &amp; Jerry &lt;@U123&gt; (415) 555-0188 to (650) 555-0100: "
        f"{HOSTILE_ESCAPED} second line"
    )
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil"):
        assert raw not in json.dumps(reply.blocks) and raw not in reply.text


def _hostile_notices() -> list[tuple[str, Notice]]:
    evil = Party(number=f"1\n{HOSTILE}", name=HOSTILE, extension_number=f"1\n{HOSTILE}")
    return [
        ("missed_call", call(caller=evil, callee=evil)),
        ("answered_call", call("answered_call", caller=evil, answered_by=evil)),
        ("call", call("call", caller=evil, result=HOSTILE, duration=5)),
        ("voicemail", voicemail(caller=evil, transcript=HOSTILE, transcript_status=HOSTILE)),
        ("fax", fax(sender=evil, to=evil)),
        ("sms", sms(HOSTILE, sender=evil, company_number=HOSTILE)),
        ("internal_message", pager(HOSTILE, sender=evil, to=(evil, evil))),
    ]


@pytest.mark.parametrize(("kind", "notice"), _hostile_notices())
@pytest.mark.parametrize("thread_parent", [True, False])
def test_outside_text_never_becomes_a_control_sequence(
    kind: str, notice: Notice, thread_parent: bool
) -> None:
    reply = checked(render_notice(notice, locale=US, thread_parent=thread_parent))
    assert "&lt;!channel&gt;" in reply.text + texts(reply), kind
    # A number that does not parse is shown as given, escaped; no button dials it.
    assert "call_back" not in buttons(reply)


@pytest.mark.parametrize("text", ["x" * 4000, "&" * 1000, "a&<" * 700, "😀" * 4000, "word " * 800])
def test_long_sms_is_split_into_sections_within_the_limit_and_kept_whole(text: str) -> None:
    for thread_parent in (True, False):
        reply = checked(render_notice(sms(text), locale=US, thread_parent=thread_parent))
        quoted = [s for s in sections(reply) if s.startswith(">")]
        assert len(quoted) >= 2
        assert all(len(s) <= 3000 for s in quoted)
        assert not any(s.endswith("…") for s in quoted)  # all of it is there
        joined = "".join(s.replace(">", "", 1) for s in quoted).replace(" ", "")
        assert joined == text.strip().replace("&", "&amp;").replace("<", "&lt;").replace(" ", "")
        assert len(reply.text) <= 1000


def test_very_long_text_is_cut_after_three_sections_without_splitting_an_entity() -> None:
    reply = checked(render_notice(pager("a&" * 10_000), locale=US))
    quoted = [s for s in sections(reply) if s.startswith(">")]
    assert len(quoted) == 3
    assert all(2990 <= len(s) <= 3000 for s in quoted)
    assert quoted[-1].endswith("…")
    assert not any(re.search(r"&[a-z]{0,3}$", s.rstrip("…")) for s in quoted)
    assert sum(len(s) for s in _strings(reply.blocks)) <= 12_000


def test_long_transcript_is_split_too() -> None:
    transcript = "Please call me back about the lease. " * 200
    reply = checked(render_notice(voicemail(transcript=transcript), locale=US))
    assert len(sections(reply)) == 4  # the head, then 7400 characters in three parts
    assert all(len(s) <= 3000 for s in sections(reply))
    assert sections(reply)[-1].endswith("about the lease.")


def test_emoji_and_rtl_text_survive_and_rtl_names_are_isolated() -> None:
    sender = Party(number="+14155550123", name="\u202eJane")  # right-to-left override
    reply = checked(render_notice(sms(f"{EMOJI}\n{RTL}", sender=sender), locale=US))
    assert sections(reply)[1] == f">{EMOJI}\n>{RTL}"
    assert "From *\u2068\u202eJane\u2069* ·" in sections(reply)[0]
    missed = checked(render_notice(call(caller=Party(number="+14155550123", name=RTL)), locale=US))
    assert f"*\u2068{RTL}\u2069* (415) 555-0123" in sections(missed)[0]
    assert buttons(missed)["call_back"] == CallBackValue(number="+14155550123", name=RTL)


def test_a_long_name_is_cut_in_the_message_and_in_the_button() -> None:
    name = "Jane " * 100
    reply = checked(render_notice(call(caller=Party(number="+14155550123", name=name)), locale=US))
    assert re.search(r"\*(Jane ){15}Jane…\* \(415\) 555-0123", sections(reply)[0])
    value = buttons(reply)["call_back"]
    assert isinstance(value, CallBackValue) and value.name is not None and len(value.name) == 80


_outside = st.text(st.characters(codec="utf-8"), max_size=5000)


@settings(max_examples=60, deadline=None)
@given(name=_outside, text=_outside, number=st.text(st.characters(codec="utf-8"), max_size=60))
def test_any_outside_text_renders_within_slack_limits(name: str, text: str, number: str) -> None:
    who = Party(number=number or None, name=name, extension_number=name[:10] or None)
    notices: list[Notice] = [
        call(caller=who),
        call("call", caller=who, result=name),
        voicemail(caller=who, transcript=text),
        fax(sender=who),
        sms(text, sender=who),
        pager(text, sender=who, to=(who,)),
    ]
    for notice in notices:
        for thread_parent in (True, False):
            reply = checked(render_notice(notice, locale=US, thread_parent=thread_parent))
            buttons(reply)  # every value decodes


# --- button values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("call_back", CallBackValue(number="+14155550123", name="Jane Doe")),
        ("call_back", CallBackValue(number="+14155550123")),
        ("call_back", CallBackValue(number="22395", name="<!channel> & co")),
        ("text_back", TextBackValue(number="+14155550123", company_number="+16505550100")),
        ("text_back", TextBackValue(number="+14155550123")),
        ("mark_handled", MarkHandledValue(kind="missed_call", item="s-a0d7b3c2:p-1")),
        ("mark_handled", MarkHandledValue(kind="voicemail", item="402406990011")),
    ],
)
def test_button_values_round_trip(action_id: str, value: Any) -> None:
    encoded = encode_button_value(value)
    assert len(encoded) <= 2000
    assert decode_button_value(action_id, encoded) == value


@settings(max_examples=200, deadline=None)
@given(
    number=st.from_regex(r"\A\+?[0-9]{3,15}\Z"),
    name=st.one_of(st.none(), st.text(min_size=1, max_size=80)),
    item=st.text(st.characters(codec="utf-8"), min_size=1, max_size=500).filter(str.isprintable),
)
def test_any_valid_value_round_trips(number: str, name: str | None, item: str) -> None:
    for action_id, value in (
        ("call_back", CallBackValue(number=number, name=name)),
        ("text_back", TextBackValue(number=number, company_number=number)),
        ("mark_handled", MarkHandledValue(kind="missed_call", item=item)),
    ):
        assert decode_button_value(action_id, encode_button_value(value)) == value


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("call_back", ""),
        ("call_back", "null"),
        ("call_back", "[]"),
        ("call_back", '"+14155550123"'),
        ("call_back", "{}"),
        ("call_back", '{"n": 14155550123}'),
        ("call_back", '{"n": "+1415555012x"}'),
        ("call_back", '{"n": "<!channel>"}'),
        ("call_back", '{"n": "+14155550123", "m": ""}'),
        ("call_back", '{"n": "+14155550123", "m": ' + json.dumps("x" * 81) + "}"),
        ("call_back", '{"n": "+14155550123", "admin": true}'),
        ("call_back", '{"n": "+14155550123"' + " " * 2000 + "}"),
        ("call_back", "[" * 1500 + "]" * 1500),
        ("text_back", '{"n": "+14155550123", "f": "anonymous"}'),
        ("text_back", '{"n": "+14155550123", "f": null}'),
        ("text_back", '{"f": "+16505550100"}'),
        ("mark_handled", '{"k": "missed_call"}'),
        ("mark_handled", '{"k": "drop_table", "i": "1"}'),
        ("mark_handled", '{"k": "missed_call", "i": ""}'),
        ("mark_handled", '{"k": "missed_call", "i": "a\\nb"}'),
        ("mark_handled", '{"k": "missed_call", "i": ' + json.dumps("1" * 501) + "}"),
        ("mark_handled", '{"k": ["missed_call"], "i": "1"}'),
        ("ringout_cancel", '{"n": "+14155550123"}'),
        ("", "{}"),
    ],
)
def test_forged_button_values_are_refused(action_id: str, value: str) -> None:
    with pytest.raises(ValueError):
        decode_button_value(action_id, value)


@settings(max_examples=300, deadline=None)
@given(
    action_id=st.sampled_from(["call_back", "text_back", "mark_handled", "x"]),
    value=st.one_of(
        st.text(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["n", "m", "f", "k", "i", "z"]), inner, max_size=4
                )
            ),
        ).map(json.dumps),
    ),
)
def test_no_value_crashes_the_decoder(action_id: str, value: str) -> None:
    try:
        decoded = decode_button_value(action_id, value)
    except ValueError:
        return
    assert encode_button_value(decoded)  # what it accepts is a value we could have sent


def test_encoder_refuses_what_the_decoder_would() -> None:
    # model_construct() skips validation, as model_copy(update=…) does: the encoder checks.
    with pytest.raises(ValueError):
        encode_button_value(CallBackValue.model_construct(number="anonymous"))
    with pytest.raises(ValueError):
        encode_button_value(MarkHandledValue.model_construct(kind="missed_call", item="x" * 501))
    with pytest.raises(ValueError):
        CallBackValue(number="anonymous")  # nor can one be made


def test_an_item_no_click_could_carry_leaves_out_mark_handled_not_the_message() -> None:
    reply = checked(render_notice(call(session_id="s" * 600), locale=US))
    assert list(buttons(reply)) == ["call_back", "text_back"]


# --- entry point -----------------------------------------------------------------------------


def test_render_notice_dispatches_to_the_per_kind_renderers() -> None:
    assert render_notice(call(), locale=US) == render.render_missed_call(call(), locale=US)
    answered = call("answered_call")
    assert render_notice(answered, locale=US) == render.render_answered_call(answered, locale=US)
    finished = call("call")
    assert render_notice(finished, locale=US) == render.render_call(finished, locale=US)
    assert render_notice(voicemail(), locale=US) == render.render_voicemail(voicemail(), locale=US)
    assert render_notice(fax(), locale=US) == render.render_fax(fax(), locale=US)
    assert render_notice(sms(), locale=US) == render.render_sms(sms(), locale=US)
    assert render_notice(pager(), locale=US) == render.render_internal_message(pager(), locale=US)
    child = render.render_sms(sms(), locale=US, thread_parent=False)
    assert render_notice(sms(), locale=US, thread_parent=False) == child


def test_region_decides_national_or_international_form() -> None:
    notice = replace(call(), caller=Party(number="+442079460958", name="Ann"))
    reply = checked(render_notice(notice, locale=Locale("GB", UTC)))
    assert "*Ann* 020 7946 0958" in sections(reply)[0]
    assert "+1 650-555-0100" in sections(reply)[0]

"""Replies in an SMS conversation's thread (DESIGN §3.8): what is texted, what stays in the
team, and that a reply is texted once, whatever Slack retries. The real server between
both simulators, over real HTTP (and Socket Mode where marked)."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from bot.bridge.replies import OutgoingReply
from bot.config import BridgeConfig, Route
from bot.sim import RingCentralSimulator
from bot.store.deadletters import DeadLetters
from bot.store.schema import SlackEvent
from bot.store.stats import read_stats
from tests.bridge import CALLS, EITHER, TEXTS, USER, Bridge, running_bridge
from tests.databases import fresh_database

CALLER = "+14155550123"
BOB = "U0BOB"


@pytest.fixture
async def live(bridge: Bridge) -> Bridge:
    await bridge.subscribe()
    bridge.slack.add_user(BOB, "bob", real_name="Bob Example", display_name="Bob")
    return bridge


async def conversation(live: Bridge, text: str = "are you open?") -> dict[str, Any]:
    """An SMS arrives and starts its thread; the thread's parent."""
    company = live.rc.world.numbers_with_feature(live.rc.extension_id, "SmsSender")[0]
    await live.rc.incoming_sms(live.rc.extension_id, CALLER, text, to_number=company)
    await live.dispatch()
    (parent,) = live.channel(TEXTS)
    return parent


async def reply(live: Bridge, parent: dict[str, Any], text: str, **kwargs: Any) -> str:
    """A person replies in the thread; the reply's ts once the bridge has done its work."""
    delivery = await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text=text, thread_ts=parent["ts"], **kwargs
    )
    await live.settle()
    await live.dispatch()
    return str(delivery.sent["event"]["ts"])


def texts(live: Bridge) -> list[dict[str, Any]]:
    """Every SMS and MMS the bridge asked RingCentral to send (JSON part of an MMS)."""
    sent = []
    for request in live.rc.requests_to(r"/sms$", "POST"):
        if request.json is not None:
            sent.append(request.json)
        else:
            sent.append(_parts(request.headers, request.body)[0][2])
    return sent


def _parts(headers: dict[str, str], body: bytes) -> list[tuple[str, str, Any]]:
    """(content type, filename, content) of each part of a multipart request."""
    kind = next(v for k, v in headers.items() if k.lower() == "content-type")
    raw = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    found = []
    payload = BytesParser(policy=HTTP).parsebytes(raw).get_payload()
    assert isinstance(payload, list)
    for part in payload:
        assert isinstance(part, Message)
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        value: Any = content
        if part.get_content_type() == "application/json":
            import json

            value = json.loads(content)
        found.append((part.get_content_type(), part.get_filename() or "", value))
    return found


def mms_parts(live: Bridge) -> list[tuple[str, str, Any]]:
    (request,) = live.rc.requests_to(r"/sms$", "POST")
    return _parts(request.headers, request.body)[1:]


def reactions(live: Bridge, ts: str) -> list[str]:
    message = next(m for m in live.slack.thread(TEXTS, _parent_of(live, ts)) if m["ts"] == ts)
    return [r["name"] for r in message.get("reactions", [])]


def _parent_of(live: Bridge, ts: str) -> str:
    for parent in live.channel(TEXTS):
        if any(m["ts"] == ts for m in live.slack.thread(TEXTS, parent["ts"])):
            return str(parent["ts"])
    raise AssertionError(f"no thread holds {ts}")


def ephemerals(live: Bridge, user: str = USER) -> list[str]:
    return [str(m["text"]) for m in live.slack.ephemerals(TEXTS, user)]


# --- texted --------------------------------------------------------------------------------


@EITHER
async def test_a_plain_reply_is_texted_exactly_once_with_no_lock(live: Bridge) -> None:
    parent = await conversation(live)

    ts = await reply(live, parent, "Yes, until 6 & later :+1:")

    (sms,) = texts(live)
    assert sms["text"] == "Yes, until 6 & later 👍"
    assert sms["to"] == [{"phoneNumber": CALLER}]
    assert "lock" not in reactions(live, ts)
    assert ephemerals(live) == []


async def test_a_retried_event_texts_once_whichever_process_gets_it(live: Bridge) -> None:
    parent = await conversation(live)
    first = await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="On my way", thread_ts=parent["ts"]
    )
    await live.settle()

    # Slack sends the same event again (its ack looked late), here or to another process
    # of the bridge (the same database): X-Slack-Retry-Num 1, then 2.
    for number in (1, 2):
        again = await live.slack.resend_event(
            live.events_url, first.sent, retry=(number, "http_timeout")
        )
        assert again.status == 200
    await live.settle()
    await live.dispatch()

    assert [t["text"] for t in texts(live)] == ["On my way"]


async def test_the_same_message_under_another_event_id_texts_once(live: Bridge) -> None:
    parent = await conversation(live)
    first = await live.slack.send_message(
        live.events_url, channel_id=TEXTS, text="See you", thread_ts=parent["ts"]
    )
    await live.slack.resend_event(live.events_url, {**first.sent, "event_id": "Ev0OTHER0001"})
    await live.settle()
    await live.dispatch()

    assert [t["text"] for t in texts(live)] == ["See you"]


async def test_a_reply_also_sent_to_the_channel_is_texted(live: Bridge) -> None:
    parent = await conversation(live)

    await reply(live, parent, "Broadcast to both", broadcast=True)

    assert [t["text"] for t in texts(live)] == ["Broadcast to both"]


async def test_a_reply_empty_after_conversion_sends_nothing(live: Bridge) -> None:
    parent = await conversation(live)

    await reply(live, parent, "<>", encode=False)  # markup with nothing in it

    assert texts(live) == []
    assert ephemerals(live) == []


async def test_a_refused_send_tells_the_author_and_is_not_retried(live: Bridge) -> None:
    parent = await conversation(live)
    live.rc.remove_user_permissions(live.rc.extension_id, "OutboundSMS")

    await reply(live, parent, "hello?")

    assert len(live.rc.requests_to(r"/sms$", "POST")) == 1
    # With receipts (s11-status) the refusal is told in the thread, not by an ephemeral.
    assert ephemerals(live) == []
    typed, told = live.slack.thread(TEXTS, parent["ts"])[1:]
    assert [r["name"] for r in typed.get("reactions", [])] == ["warning"]
    assert "CMN-408" in told["text"] and "Not delivered" in told["text"]


async def test_a_failing_send_is_retried_then_a_dead_letter_with_a_dm(live: Bridge) -> None:
    parent = await conversation(live)
    live.rc.fail(r"/sms$", status=503, code="CMN-211", times=100)

    await reply(live, parent, "are you there?")

    async with live.engine.connect() as conn:
        row = (await conn.execute(select(SlackEvent))).one()
    assert row.state == "dead" and row.error == "CMN-211"
    stats = await read_stats(live.engine, datetime.now(UTC))
    assert stats.items[("replies", "dead")] == 1  # /metrics: ringbridge_queue_items
    (dm,) = [c for c in live.slack.calls("chat.postMessage") if c.params["channel"].startswith("D")]
    assert "could not be texted" in dm.params["text"]


# --- kept in the team ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "// checking the stock first",
        ";; internal",
        "NOTE: call him after lunch",
        "  \n  note: indented",
        "> // a quoted note",
        ">> // nested quote",
    ],
)
async def test_each_note_form_sends_nothing_and_gets_a_lock(live: Bridge, typed: str) -> None:
    parent = await conversation(live)

    ts = await reply(live, parent, typed)

    assert texts(live) == []
    assert reactions(live, ts) == ["lock"]
    (told,) = ephemerals(live)
    assert "Kept in the team" in told


@pytest.mark.parametrize(
    ("typed", "mentions"),
    [
        ("@bob can you take this?", {"@bob": BOB}),
        ("<!here> anyone free?", None),
        ("<!channel> heads up", None),
        ("<!everyone> heads up", None),
        ("<!subteam^S0SALES|@sales> yours", None),
    ],
)
async def test_each_mention_form_sends_nothing(
    live: Bridge, typed: str, mentions: dict[str, str] | None
) -> None:
    parent = await conversation(live)

    ts = await reply(live, parent, typed, mentions=mentions, encode=mentions is not None)

    assert texts(live) == []
    assert reactions(live, ts) == ["lock"]
    assert "mentions someone" in ephemerals(live)[0]


async def test_one_ephemeral_per_person_per_thread(live: Bridge) -> None:
    parent = await conversation(live)

    first = await reply(live, parent, "// one")
    second = await reply(live, parent, "// two")
    await reply(live, parent, "// from bob", user_id=BOB)

    assert reactions(live, first) == reactions(live, second) == ["lock"]
    assert len(ephemerals(live)) == 1
    assert len(ephemerals(live, BOB)) == 1


async def test_a_dm_says_why_when_no_ephemeral_can_be_posted(live: Bridge) -> None:
    parent = await conversation(live)
    live.slack.fail("chat.postEphemeral", error="user_not_in_channel")

    await reply(live, parent, "// a note")

    assert ephemerals(live) == []
    (dm,) = [c for c in live.slack.calls("chat.postMessage") if c.params["channel"].startswith("D")]
    assert "Kept in the team" in dm.params["text"]


async def test_replies_off_on_the_route_keeps_the_thread_internal(
    rc_sim: RingCentralSimulator, clock: Any, tmp_path: Any
) -> None:
    routes = BridgeConfig(
        routes=[
            Route(events=["missed_call"], channel=CALLS),
            Route(events=["sms"], channel=TEXTS, replies="off"),
        ]
    )
    async with running_bridge(
        rc_sim, clock, routes, database_url=await fresh_database(tmp_path)
    ) as live:
        await live.subscribe()
        parent = await conversation(live)

        ts = await reply(live, parent, "Sure, come by at 5")

        assert texts(live) == []
        assert reactions(live, ts) == ["lock"]
        (told,) = ephemerals(live)
        assert 'replies = "off"' in told and "/sms +14155550123" in told


async def test_a_missing_reactions_scope_still_keeps_the_note_internal(live: Bridge) -> None:
    parent = await conversation(live)
    live.slack.remove_scopes("reactions:write")

    ts = await reply(live, parent, "// note")

    assert texts(live) == []
    assert reactions(live, ts) == []
    assert len(ephemerals(live)) == 1


# --- edits and deletions -------------------------------------------------------------------


async def test_an_edited_texted_reply_sends_nothing_and_says_so(live: Bridge) -> None:
    parent = await conversation(live)
    ts = await reply(live, parent, "See you at 5")

    await live.slack.edit_message(TEXTS, ts, "See you at 6")
    await live.settle()
    await live.dispatch()

    assert [t["text"] for t in texts(live)] == ["See you at 5"]
    assert ephemerals(live) == ["Already sent: edits are not texted."]


async def test_a_deleted_texted_reply_sends_nothing_and_says_so(live: Bridge) -> None:
    parent = await conversation(live)
    ts = await reply(live, parent, "Wrong thread, sorry")

    await live.slack.delete_message(TEXTS, ts)
    await live.settle()
    await live.dispatch()

    assert len(texts(live)) == 1
    assert "does not unsend" in ephemerals(live)[0]


async def test_an_edited_note_stays_internal(live: Bridge) -> None:
    parent = await conversation(live)
    ts = await reply(live, parent, "// draft")

    await live.slack.edit_message(TEXTS, ts, "now without the prefix")
    await live.settle()
    await live.dispatch()

    assert texts(live) == []


# --- files as MMS --------------------------------------------------------------------------


def _png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _photo(megabytes: float) -> bytes:
    """A noisy JPEG of about that size (noise does not compress)."""
    side = 2400
    while True:
        noise = random.Random(7).randbytes(side * side * 3)
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), noise).save(out, "JPEG", quality=95)
        if len(out.getvalue()) >= megabytes * 1_000_000:
            return out.getvalue()
        side += 400


@EITHER
async def test_a_reply_with_a_small_png_sends_one_mms_with_those_bytes(live: Bridge) -> None:
    parent = await conversation(live)
    png = _png()

    await reply(live, parent, "Here is the map", files=[("map.png", png, "image/png")])

    (sms,) = texts(live)
    assert sms["text"] == "Here is the map"
    assert mms_parts(live) == [("image/png", "map.png", png)]


async def test_a_file_slack_marks_check_file_info_is_read_with_files_info(live: Bridge) -> None:
    parent = await conversation(live)
    png = _png()

    await reply(live, parent, "", files=[("p.png", png, "image/png")], check_file_info=True)

    assert mms_parts(live) == [("image/png", "p.png", png)]
    assert len(live.slack.calls("files.info")) == 1


async def test_a_5_mb_photo_is_re_encoded_under_the_limit(live: Bridge) -> None:
    parent = await conversation(live)
    photo = _photo(5)

    await reply(live, parent, "the damage", files=[("IMG_1.jpeg", photo, "image/jpeg")])

    ((kind, name, content),) = mms_parts(live)
    assert kind == "image/jpeg" and name == "IMG_1.jpg"
    assert len(content) <= 1_500_000
    assert max(Image.open(io.BytesIO(content)).size) <= 1600


async def test_a_reply_with_a_pdf_sends_nothing_and_says_why(live: Bridge) -> None:
    parent = await conversation(live)

    await reply(live, parent, "the quote", files=[("quote.pdf", b"%PDF-1.4 x", "application/pdf")])

    assert live.rc.requests_to(r"/sms$", "POST") == []
    (told,) = ephemerals(live)
    assert "quote.pdf" in told and "application/pdf" in told


async def test_more_than_ten_files_send_nothing(live: Bridge) -> None:
    parent = await conversation(live)
    png = _png()

    await reply(live, parent, "all", files=[(f"{n}.png", png, "image/png") for n in range(11)])

    assert live.rc.requests_to(r"/sms$", "POST") == []
    assert "at most 10" in ephemerals(live)[0]


async def test_without_files_read_the_author_is_told_and_nothing_is_sent(live: Bridge) -> None:
    parent = await conversation(live)
    live.slack.remove_scopes("files:read")

    await reply(live, parent, "pic", files=[("p.png", _png(), "image/png")], check_file_info=True)

    assert live.rc.requests_to(r"/sms$", "POST") == []
    assert "files:read" in ephemerals(live)[0]


async def test_without_files_read_a_plain_reply_is_still_texted(live: Bridge) -> None:
    parent = await conversation(live)
    live.slack.remove_scopes("files:read")

    await reply(live, parent, "just text")

    assert [t["text"] for t in texts(live)] == ["just text"]


async def test_a_send_whose_answer_was_lost_is_found_not_texted_again(live: Bridge) -> None:
    """RingCentral sent the text but its answer failed: the retry finds it in the message
    store and sends nothing."""
    parent = await conversation(live)
    live.rc.fail(r"/sms$", status=503, store=True)

    await reply(live, parent, "Did this arrive?")

    assert len(live.rc.requests_to(r"/sms$", "POST")) == 1
    async with live.engine.connect() as conn:
        row = (await conn.execute(select(SlackEvent))).one()
    assert (row.state, row.outcome, row.attempts) == ("done", "texted", 1)
    assert row.ringcentral_id
    assert row.body == "{}"  # the typed text is not kept once it is sent


async def test_an_author_who_may_not_text_is_kept_in_the_team(live: Bridge) -> None:
    """The `[permissions] sms` seam (issue 12 fills it in): a refusal texts nothing."""
    asked: list[tuple[str, str, str]] = []

    async def only_bob(user: str, channel: str, company_number: str) -> bool:
        asked.append((user, channel, company_number))
        return user == BOB

    replies = live.notifications.dispatcher.replies
    assert replies is not None
    replies.may_text = only_bob
    parent = await conversation(live)

    ts = await reply(live, parent, "Alice typing")
    await reply(live, parent, "Bob typing", user_id=BOB)

    assert [t["text"] for t in texts(live)] == ["Bob typing"]
    assert reactions(live, ts) == ["lock"]
    assert "may not text" in ephemerals(live)[0]
    assert asked[0][:2] == (USER, TEXTS)


async def test_receipts_hear_of_each_send_before_and_after(live: Bridge) -> None:
    """The receipts seam (issue 11 item 2 fills it in): recorded before RingCentral is
    asked, then given its answer; a refusal it tells about gets no ephemeral."""
    heard: list[tuple[str, str, Any]] = []

    class Heard:
        async def before(self, reply: OutgoingReply) -> object:
            heard.append(("before", reply.text, len(live.rc.requests_to(r"/sms$", "POST"))))
            return reply.ts

        async def after(
            self, reply: OutgoingReply, handle: object, answer: Any, refusal: str | None
        ) -> bool:
            heard.append(("after", str(handle), type(answer).__name__))
            return refusal is not None

    replies = live.notifications.dispatcher.replies
    assert replies is not None
    replies.receipts = Heard()
    parent = await conversation(live)

    ts = await reply(live, parent, "Texted")
    live.rc.remove_user_permissions(live.rc.extension_id, "OutboundSMS")
    refused = await reply(live, parent, "Refused")

    assert heard == [
        ("before", "Texted", 0),
        ("after", ts, "MessageRecord"),
        ("before", "Refused", 1),
        ("after", refused, "ApiError"),
    ]
    assert ephemerals(live) == []


async def test_a_dead_reply_is_a_dead_letter_and_its_replay_texts_once(live: Bridge) -> None:
    """RingCentral kept answering 503: a dead letter (its text never shown); replayed once
    RingCentral is back, it is texted once."""
    parent = await conversation(live)
    live.rc.fail(r"/sms$", status=503, times=None)
    await reply(live, parent, "Secret plan")

    letters = DeadLetters(live.engine)
    (letter,) = await letters.newest()
    assert letter.id.startswith("reply:") and letter.where == TEXTS
    assert "Secret plan" not in repr(letter)

    live.rc.clear_faults()
    now = datetime.fromtimestamp(live.clock.now(), UTC)
    assert await letters.replay([letter.id], now=now) == [letter.id]
    await live.dispatch()

    sent = [r.json["text"] for r in live.rc.requests_to(r"/sms$", "POST") if r.status == 200]
    assert sent == ["Secret plan"]
    assert await letters.states([letter.id]) == {letter.id: "done"}


async def test_retention_deletes_old_replies(live: Bridge) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.store.replies import ThreadReplies

    now = datetime.fromtimestamp(live.clock.now(), UTC)
    store = ThreadReplies(live.engine)
    for n, (age, state) in enumerate([(31, "done"), (29, "done"), (91, "dead"), (89, "dead")]):
        await store.store(
            event_id=f"Ev{n}", client_msg_id=None, event={}, channel=TEXTS, ts=f"{n}.0",
            thread_ts="1.0", user=USER, now=now - timedelta(days=age),
        )  # fmt: skip
        async with live.engine.begin() as conn:
            await conn.execute(
                update(SlackEvent).where(SlackEvent.event_id == f"Ev{n}").values(state=state)
            )

    await DeadLetters(live.engine).purge(now=now, days=30)

    async with live.engine.connect() as conn:
        left = (await conn.execute(select(SlackEvent.event_id))).scalars().all()
    assert sorted(left) == ["Ev1", "Ev3"]

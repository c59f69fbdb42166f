"""RingCentral deliveries into routed Slack channels: the receiver, the dispatcher and the
poster between both simulators, over loopback HTTP (DESIGN §3.3, §3.6, §3.7)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.bridge.calls import Watched
from bot.phone import format_display
from bot.sim import check_blocks
from tests.bridge import CALLS, TEXTS, Bridge
from tests.golden_files import assert_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
_DATE_TOKEN = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{[a-z_]+\})?\|[^<>]*>")


def load(examples_dir: Path, name: str) -> Any:
    return json.loads((examples_dir / f"{name}.json").read_text())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def readable(message: dict[str, Any]) -> str:
    """Everything a person reads in the message (fallback and blocks)."""
    return "\n".join(_strings({"text": message.get("text"), "blocks": message.get("blocks")}))


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message.get("blocks", [])
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


def golden(name: str, message: dict[str, Any], *, ours: str = "") -> None:
    """The message as Slack stored it matches its golden file (UPDATE_GOLDEN=1 rewrites),
    Slack would accept its blocks, and no outside text made a control sequence (`ours`:
    the one sequence the bridge itself wrote, such as the handler's mention)."""
    assert check_blocks(message["blocks"]) == []
    for text in _strings({"text": message.get("text"), "blocks": message.get("blocks")}):
        stripped = _DATE_TOKEN.sub("", text.replace(ours, "") if ours else text)
        assert "<" not in stripped, text
    kept = copy.deepcopy({k: message[k] for k in ("text", "blocks", "metadata") if k in message})
    if "metadata" in kept:  # delivery uuids are fresh on every run; tests assert them apart
        kept["metadata"]["event_payload"]["rc_uuid"] = "(delivery uuid)"
    assert_golden(GOLDEN / f"pipeline_{name}.json", kept, sort_keys=False)


@pytest.fixture
async def subscribed(bridge: Bridge) -> tuple[Bridge, str]:
    return bridge, await bridge.subscribe()


async def deliver(bridge: Bridge, subscription: str, payload: Any) -> None:
    assert await bridge.rc.deliver_raw(subscription, payload) == 200
    await bridge.dispatch()


async def test_voicemail_event_posts_who_called_and_for_how_long(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, "voicemail-event")

    await deliver(bridge, sub, payload)

    (message,) = bridge.channel(CALLS)
    golden("voicemail", message)
    text = readable(message)
    caller = payload["body"]["from"]
    audio = next(a for a in payload["body"]["attachments"] if a["type"] == "AudioRecording")
    assert "Voicemail" in text
    assert caller["name"] in text
    assert format_display(caller["phoneNumber"]) in text
    assert f"0:00:{audio['vmDuration']:02d}" in text
    assert message["metadata"] == {
        "event_type": "ringcentral_voicemail",
        "event_payload": {"rc_uuid": payload["uuid"], "item": str(payload["body"]["id"])},
    }
    assert "Call back" in buttons(message)


async def test_fax_event_posts_the_sender_and_pages(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, "fax-inbound-event")

    await deliver(bridge, sub, payload)

    (message,) = bridge.channel(CALLS)
    golden("fax", message)
    assert "Fax" in readable(message)
    pages = payload["body"].get("faxPageCount")
    if pages:
        assert str(pages) in readable(message)


@pytest.mark.parametrize("name", ["instant-sms-event", "instant-sms-event-legacy"])
async def test_sms_event_posts_the_exact_text_in_the_texts_channel(
    subscribed: tuple[Bridge, str], examples_dir: Path, name: str
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, name)

    await deliver(bridge, sub, payload)

    (message,) = bridge.channel(TEXTS)
    golden(name.replace("-", "_"), message)
    subject = payload["body"]["subject"]
    assert subject.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in readable(
        message
    )
    assert bridge.channel(CALLS) == []


async def test_mms_event_posts_and_counts_its_images(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    body = load(examples_dir, "instant-mms-event-body")
    payload = {
        "uuid": "mms-1",
        "event": "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",
        "timestamp": body["creationTime"],
        "subscriptionId": sub,
        "ownerId": "1",
        "body": body,
    }

    await deliver(bridge, sub, payload)

    (message,) = bridge.channel(TEXTS)
    golden("mms", message)
    images = [a for a in body["attachments"] if a.get("type") == "MmsAttachment"]
    assert images
    assert re.search(rf"\b{len(images)}\b", readable(message))


async def test_message_store_change_of_a_fax_posts_nothing_more(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    """A fax reaches the bridge by its own filter; its message-store change is not a second
    notification (DESIGN §3.7)."""
    bridge, sub = subscribed

    await deliver(bridge, sub, load(examples_dir, "message-store-event"))

    assert bridge.channel(CALLS) == [] and bridge.channel(TEXTS) == []


async def test_the_same_uuid_delivered_three_times_posts_once(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, "voicemail-event")

    for _ in range(3):
        await deliver(bridge, sub, payload)

    assert len(bridge.channel(CALLS)) == 1


async def test_one_voicemail_by_two_deliveries_posts_once(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, "voicemail-event")
    again = copy.deepcopy(payload) | {"uuid": payload["uuid"] + "-again"}

    await deliver(bridge, sub, payload)
    await deliver(bridge, sub, again)

    assert len(bridge.channel(CALLS)) == 1


HOSTILE = "<!channel> <@U123> <https://evil|https://bank> & *bold*"


async def test_sms_text_cannot_ping_or_spoof_a_link(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    payload = load(examples_dir, "instant-sms-event")
    payload["body"]["subject"] = HOSTILE

    await deliver(bridge, sub, payload)

    (message,) = bridge.channel(TEXTS)
    golden("sms_hostile", message)
    text = readable(message)
    assert "&lt;!channel&gt;" in text
    assert "&lt;@U123&gt;" in text
    assert "&lt;https://evil|https://bank&gt;" in text
    assert "<!channel>" not in text and "<@U123>" not in text


async def test_a_second_sms_from_the_same_number_lands_in_the_first_ones_thread(
    subscribed: tuple[Bridge, str], examples_dir: Path
) -> None:
    bridge, sub = subscribed
    first = load(examples_dir, "instant-sms-event")
    second = copy.deepcopy(first)
    second["uuid"] += "-2"
    second["body"]["id"] = str(second["body"]["id"]) + "2"
    second["body"]["subject"] = "and a second thing"

    await deliver(bridge, sub, first)
    await deliver(bridge, sub, second)

    (parent,) = bridge.channel(TEXTS)
    thread = bridge.slack.thread(TEXTS, parent["ts"])
    assert [readable(m).count("and a second thing") > 0 for m in thread[1:]] == [True]


@pytest.mark.parametrize(
    ("flow", "kinds"),
    [
        ("telephony-sessions-callflow-pstn-to-rc", ["answered_call", "call"]),
        ("telephony-sessions-callflow-rc-to-pstn", ["call"]),
        ("telephony-sessions-callflow-rc-to-rc", ["answered_call", "call"]),
    ],
)
async def test_real_call_flows_post_one_notice_per_kind_and_no_missed_call(
    subscribed: tuple[Bridge, str], examples_dir: Path, flow: str, kinds: list[str]
) -> None:
    bridge, sub = subscribed
    events = load(examples_dir, flow)
    extensions = {
        p["extensionId"] for e in events for p in e["body"]["parties"] if p.get("extensionId")
    }
    bridge.notifications.dispatcher.ingest.watched = Watched(frozenset(extensions))

    for event in events:  # as RingCentral sends them: within seconds of each other
        assert await bridge.rc.deliver_raw(sub, event) == 200
    await bridge.dispatch()

    posted = {kind_of(m): m for m in bridge.channel(CALLS)}
    assert sorted(posted) == sorted(kinds)
    assert "missed_call" not in posted
    for kind, message in posted.items():
        golden(f"{flow.removeprefix('telephony-sessions-callflow-')}_{kind}", message)


def kind_of(message: dict[str, Any]) -> str:
    return str(message["metadata"]["event_type"]).removeprefix("ringcentral_")

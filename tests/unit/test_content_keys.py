"""What an event is about, whatever subscription carried it (bot.bridge.content_keys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.bridge.content_keys import MAX_KEY, content_key


def envelope(path: Path, **changes: Any) -> bytes:
    data = json.loads(path.read_text())
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("example", "kind"),
    [
        ("instant-sms-event.json", "instant_message"),
        ("voicemail-event.json", "voicemail"),
        ("fax-inbound-event.json", "fax"),
    ],
)
def test_a_message_event_is_keyed_by_its_kind_and_message_id(
    examples_dir: Path, example: str, kind: str
) -> None:
    path = examples_dir / example
    body = json.loads(path.read_text())["body"]
    key = content_key(envelope(path))
    assert key == f"{kind}:{body['id']}"
    # Another subscription's delivery of it: another uuid, the same key.
    assert content_key(envelope(path, uuid="other", subscriptionId="other")) == key


def test_a_telephony_event_is_keyed_by_session_party_and_sequence(examples_dir: Path) -> None:
    path = examples_dir / "telephony-session-event.json"
    data = json.loads(path.read_text())
    body = data["body"]
    key = content_key(path.read_bytes())
    party = body["parties"][0]["id"]
    assert key == f"call:{body['telephonySessionId']}:{party}:{body['sequence']}"
    data["body"]["sequence"] += 1  # the next event of the same party is another event
    assert content_key(json.dumps(data).encode()) != key


def test_a_message_store_change_is_keyed_by_its_whole_body(examples_dir: Path) -> None:
    path = examples_dir / "message-store-event.json"
    data = json.loads(path.read_text())
    key = content_key(path.read_bytes())
    assert key is not None and key.startswith("store:")
    reordered = {"uuid": "x", "body": dict(reversed(list(data["body"].items())))}
    assert content_key(json.dumps({**data, **reordered}).encode()) == key
    data["body"]["lastUpdated"] = "2030-01-01T00:00:00.000Z"
    assert content_key(json.dumps(data).encode()) != key


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"uuid": "u", "event": "/restapi/v1.0/subscription/~?threshold=60", "body": {}}',
        b'{"uuid": "u", "event": "/restapi/v1.0/account/~/extension/1/voicemail", "body": {}}',
        b'{"uuid": "u", "event": "/restapi/v1.0/account/~/telephony/sessions",'
        b' "body": {"telephonySessionId": "s", "sequence": 1, "parties": []}}',
        b'{"uuid": "u", "event": "/restapi/v1.0/something/new", "body": {"id": "1"}}',
    ],
)
def test_no_key_where_there_is_nothing_to_key_on(raw: bytes) -> None:
    assert content_key(raw) is None


def test_a_long_key_is_hashed_to_fit_the_column() -> None:
    raw = json.dumps(
        {
            "uuid": "u",
            "event": "/restapi/v1.0/account/~/extension/1/message-store/instant?type=SMS",
            "body": {"id": "9" * 300},
        }
    ).encode()
    key = content_key(raw)
    assert key is not None and len(key) <= MAX_KEY and key.startswith("instant_message:#")

"""The Slack HTTP edge's one repair (`mend_body`): Bolt reads a slash command whose text
holds the word "payload" as an empty interactivity payload; the edge reads the form."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.http import kind_of, mend_body

FORM = {"content-type": "application/x-www-form-urlencoded"}


def command(text: str) -> str:
    return urlencode(
        {"command": "/sms", "text": text, "user_id": "U0ALICE", "team_id": "T0", "channel_id": "C0"}
    )


@pytest.mark.parametrize("text", ["+14155550123 here is the payload", 'payload={"json": true}'])
def test_a_command_whose_text_says_payload_is_read_as_the_form_it_is(text: str) -> None:
    request = mend_body(AsyncBoltRequest(body=command(text), headers=FORM))

    assert request.body["command"] == "/sms"
    assert request.body["text"] == text
    assert request.context.user_id == "U0ALICE"
    assert request.context.channel_id == "C0"
    assert kind_of(request.body) == "command"


def test_an_interactivity_payload_is_left_to_bolt() -> None:
    payload = {"type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T0"}}
    raw = urlencode({"payload": json.dumps(payload)})

    request = mend_body(AsyncBoltRequest(body=raw, headers=FORM))

    assert request.body == payload
    assert request.context.user_id == "U0ALICE"
    assert kind_of(request.body) == "action"


def test_a_json_event_and_an_ordinary_command_are_left_as_bolt_read_them() -> None:
    event = {"type": "event_callback", "team_id": "T0", "event": {"type": "message"}}
    raw = json.dumps(event)
    json_request = AsyncBoltRequest(body=raw, headers={"content-type": "application/json"})
    plain = AsyncBoltRequest(body=command("+14155550123 hello"), headers=FORM)
    before = dict(plain.body)

    assert mend_body(json_request).body == event
    assert mend_body(plain).body == before
    assert kind_of(event) == "event"

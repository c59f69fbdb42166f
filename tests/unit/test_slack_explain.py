"""RingCentral errors become sentences a person understands, never a stack or a body."""

from __future__ import annotations

from bot.ringcentral import DecodingError
from bot.slack.explain import explain


def test_an_answer_ringbridge_cannot_read_is_explained_as_such() -> None:
    error = DecodingError(
        endpoint="GET /restapi/v1.0/account/~/extension/~/sms", model="MessageRecord", problems=()
    )
    sentence = explain(error)
    assert "cannot read" in sentence
    assert "MessageRecord" not in sentence  # the model is for the log, not the person

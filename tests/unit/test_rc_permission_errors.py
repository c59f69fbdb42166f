"""RingCentral's permission refusals are read from `errors[]` as well as the top level, and
explained as the permission they name (issue #9 item 8)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.ringcentral import ApiError
from bot.ringcentral._errors import api_error
from bot.slack.explain import explain


def answer(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())


def refusal(top: str, code: str, permission: str, message: str) -> dict[str, Any]:
    detail = {"errorCode": code, "message": message, "permissionName": permission}
    return {"errorCode": top, "message": message, "errors": [detail], "permissionName": permission}


APP = "In order to call this API endpoint, application needs to have [ReadCallLog] permission"
USER = (
    "In order to call this API endpoint, user needs to have [FullCompanyCallLog] permission "
    "for requested resource."
)
# As RingCentral answers today (ringcentral-web-phone#154, ringcentral-embeddable#591)…
APP_NOW = refusal("InsufficientPermissions", "CMN-401", "ReadCallLog", APP)
USER_NOW = refusal("InsufficientPermissions", "CMN-408", "FullCompanyCallLog", USER)
# …and as it answered a user permission in 2018 (the code on top as well).
USER_THEN = refusal("CMN-408", "CMN-408", "FullCompanyCallLog", USER)


def test_api_error_keeps_the_detail_of_errors() -> None:
    err = api_error(answer(403, USER_NOW))
    assert (err.status, err.error_code) == (403, "InsufficientPermissions")
    assert err.has_code("CMN-408") and err.has_code("InsufficientPermissions")
    assert not err.has_code("CMN-401")
    assert err.permission == "FullCompanyCallLog"
    assert err.errors[0].permission_name == "FullCompanyCallLog"
    assert "InsufficientPermissions (CMN-408)" in str(err)  # the log line names both


@pytest.mark.parametrize(
    ("body", "says", "code"),
    [
        (APP_NOW, "app lacks the ReadCallLog permission", "CMN-401"),
        (USER_NOW, "acts as lacks the FullCompanyCallLog permission", "CMN-408"),
        (USER_THEN, "acts as lacks the FullCompanyCallLog permission", "CMN-408"),
    ],
    ids=[
        "app, InsufficientPermissions on top",
        "user, InsufficientPermissions on top",
        "user, 2018",
    ],
)
def test_permission_refusals_get_their_tailored_sentence(body: Any, says: str, code: str) -> None:
    sentence = explain(api_error(answer(403, body)))
    assert says in sentence and f"({code})" in sentence
    assert "RingCentral refused:" not in sentence  # not the generic fallback


def test_a_permission_refusal_without_a_name_still_gets_its_sentence() -> None:
    body = {"errorCode": "InsufficientPermissions", "message": "no", "errors": [
        {"errorCode": "CMN-401", "message": "no"}]}  # fmt: skip
    err = api_error(answer(403, body))
    assert err.permission is None
    assert "app lacks a permission (CMN-401)" in explain(err)


def test_a_plain_error_is_unchanged() -> None:
    err = ApiError(404, "CMN-102", "Resource for parameter [messageId] is not found")
    assert not err.has_code("CMN-408") and err.permission is None
    assert (
        str(err)
        == "RingCentral answered 404 CMN-102: Resource for parameter [messageId] is not found"
    )

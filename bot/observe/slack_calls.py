"""Counting Slack Web API calls: a retry handler that only watches.

slack_sdk hands every HTTP attempt of an `AsyncWebClient` (its answer, or the exception)
to the client's retry handlers in order, and Bolt copies a client's handlers into the
client it builds for each request. So one handler placed first in `retry_handlers` sees
every Web API call the bridge makes — the interactive client, Bolt's per-request copies,
the dispatcher's client — without a subclass or a wrapper at each call site. It never asks
for a retry, so the handlers after it (or none) decide exactly as before.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

__all__ = ["SlackCallCounter"]

_METHOD = re.compile(r"[a-z]+(\.[a-zA-Z]+)+")
_ERROR = re.compile(r"[a-z][a-z0-9_]{0,63}|[A-Z][A-Za-z]{0,63}")
FILE_UPLOAD = "file_upload"  # the upload URL `files.getUploadURLExternal` hands out


class SlackCallCounter(AsyncRetryHandler):
    """Put first in `retry_handlers`; counts `calls{method, error}` and never retries.

    `error` is "" for `ok: true`, else Slack's error code (`channel_not_found`,
    `ratelimited`…), `http_<status>` for an error status without one, or the exception's
    class name when no answer came (`ClientConnectorError`, `TimeoutError`).
    """

    def __init__(self, calls: Counter) -> None:
        super().__init__(max_retry_count=0)
        self._calls = calls

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        self._calls.labels(method_of(request.url), error_of(response, error)).inc()
        return False


def method_of(url: str) -> str:
    path = urlsplit(url).path
    if "/api/" not in path:
        return FILE_UPLOAD
    method = path.rpartition("/api/")[2]
    return method if _METHOD.fullmatch(method) else "other"


def error_of(response: HttpResponse | None, error: Exception | None) -> str:
    if response is None:
        return type(error).__name__ if error is not None else "no_response"
    body: Any = response.body
    if isinstance(body, dict) and body.get("ok") is False:
        code = body.get("error")
        return code if isinstance(code, str) and _ERROR.fullmatch(code) else "other"
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    return ""

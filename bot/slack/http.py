"""The Slack HTTP edge: an aiohttp request in, Bolt's answer out.

The conversion is Bolt's own aiohttp adapter (`to_bolt_request`, `async_dispatch`,
`to_aiohttp_response`), plus `mend_body` for the one form body Bolt misreads. An optional
observer (the server's metrics) hears of each request: its kind, our status, how long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

__all__ = ["SlackRequestHandler", "mend_body"]

OnRequest = Callable[[str, int, float], None]  # (command | action | event, status, seconds)


class SlackRequestHandler:
    def __init__(self, app: AsyncApp, *, on_request: OnRequest | None = None) -> None:
        self.app = app
        self._on_request = on_request

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        bolt_request = mend_body(await to_bolt_request(request))
        response = await to_aiohttp_response(await self.app.async_dispatch(bolt_request))
        if self._on_request is not None:
            seconds = time.perf_counter() - started
            self._on_request(kind_of(bolt_request.body), response.status, seconds)
        return response


def mend_body(bolt_request: AsyncBoltRequest) -> AsyncBoltRequest:
    """slack_bolt 1.30 `parse_body` takes any form body containing the substring "payload"
    for an interactivity payload, so `/sms +1… here is the payload` arrives empty and is
    dropped as unhandled. Parse such a form as the form it is."""
    raw = bolt_request.raw_body
    if bolt_request.body or not raw or raw.startswith("{"):
        return bolt_request
    form = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in form:
        return bolt_request  # a real interactivity payload Bolt could not read: leave it
    bolt_request.body = form
    bolt_request.context = build_async_context(AsyncBoltContext({}), form)
    return bolt_request


def kind_of(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    if "payload" in body or body.get("type") in ("block_actions", "view_submission"):
        return "action"
    return "event"

"""Replies to the person who typed a command or clicked a button, through its response_url."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.deps import SlackDeps
from bot.slack.render import Reply

log = logging.getLogger("bot.slack.reply")

_RETRIES = [
    AsyncConnectionErrorRetryHandler(),
    AsyncRateLimitErrorRetryHandler(max_retry_count=2),
    AsyncServerErrorRetryHandler(max_retry_count=2),
]


async def answer(
    deps: SlackDeps, respond: AsyncRespond, reply: Reply, *, replace: bool = False
) -> None:
    """Post a reply to the invoking user through the command's or click's response_url.

    Unlike Bolt's `respond()`, a 429 waits for its Retry-After and a 5xx is retried with
    backoff: interactive replies own their retries (DESIGN §3.7). The shared Slack session
    (`deps.session`) keeps one connection pool instead of a new TLS connection per reply.
    """
    if respond.response_url is None:
        raise ValueError("this request carries no response_url")
    message: dict[str, Any] = {"text": reply.text, "blocks": reply.blocks}
    if replace:
        message["replace_original"] = True
    client = AsyncWebhookClient(
        url=respond.response_url, session=deps.session, retry_handlers=_RETRIES
    )
    response = await client.send_dict(message)
    if response.status_code != 200:
        log.warning("reply refused by Slack: %s %s", response.status_code, response.body[:100])

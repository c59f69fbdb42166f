from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.blocks import Reply

log = logging.getLogger("bot.slack.reply")

_RETRIES = [
    AsyncConnectionErrorRetryHandler(),
    AsyncRateLimitErrorRetryHandler(max_retry_count=2),
    AsyncServerErrorRetryHandler(max_retry_count=2),
]
VALUE_MAX = 2000  # Slack: a button value is at most 2000 characters


async def answer(respond: AsyncRespond, reply: Reply, *, replace: bool = False) -> None:
    """Post a reply to the invoking user through the command's or click's response_url.

    Unlike Bolt's `respond()`, a 429 waits for its Retry-After and a 5xx is retried with
    backoff: interactive replies own their retries (DESIGN §3.7).
    """
    if respond.response_url is None:
        raise ValueError("this request carries no response_url")
    message: dict[str, Any] = {"text": reply.text, "blocks": reply.blocks}
    if replace:
        message["replace_original"] = True
    client = AsyncWebhookClient(url=respond.response_url, retry_handlers=_RETRIES)
    response = await client.send_dict(message)
    if response.status_code != 200:
        log.warning("reply refused by Slack: %s %s", response.status_code, response.body[:100])


def page_value(text: str, page: int, now: datetime) -> str | None:
    """A Previous/Next button's value: the typed arguments, the page, and the moment they
    were typed (so `today` keeps meaning the same day); None if it will not fit."""
    value = json.dumps({"t": text, "p": page, "n": now.isoformat()}, separators=(",", ":"))
    return value if len(value) <= VALUE_MAX else None


def read_page_value(value: str) -> tuple[str, int, datetime]:
    data: Any = json.loads(value)
    return str(data["t"]), int(data["p"]), datetime.fromisoformat(str(data["n"]))

"""How the dispatcher reads a failed Slack call: retry after a wait, join then retry,
give up, or "we cannot know whether Slack did it" (then reconcile before trying again)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError

# Slack errors that no retry can mend: the post becomes a dead letter, named in the log.
PERMANENT = frozenset(
    {
        "channel_not_found", "is_archived", "invalid_blocks", "invalid_blocks_format",
        "msg_too_long", "no_text", "invalid_metadata_format", "invalid_metadata_schema",
        "not_authed", "invalid_auth", "account_inactive", "token_revoked", "missing_scope",
        "restricted_action", "cannot_reply_to_message", "thread_not_found",
        "method_not_supported_for_channel_type", "invalid_arguments", "message_not_found",
        "cant_update_message", "edit_window_closed",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Failure:
    kind: Literal["wait", "join", "permanent", "ambiguous"]
    reason: str
    retry_after: float | None = None


def read_failure(exc: BaseException) -> Failure:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or f"http_{status}")
        if status == 429:
            header = exc.response.headers.get("Retry-After", "1")
            try:
                wait = float(header[0] if isinstance(header, list) else header)
            except ValueError:
                wait = 30.0
            return Failure("wait", error, max(1.0, wait))
        if status >= 500:
            return Failure("ambiguous", error)  # Slack may have posted before failing
        if error in ("fatal_error", "internal_error"):
            # Slack: "it's possible some aspect of the operation succeeded".
            return Failure("ambiguous", error)
        if error == "not_in_channel":
            return Failure("join", error)
        if error in PERMANENT:
            return Failure("permanent", error)
        # An ok:false Slack did not act on but may accept later (service_unavailable,
        # request_timeout, ratelimited, …).
        return Failure("wait", error)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return Failure("ambiguous", type(exc).__name__)
    raise exc

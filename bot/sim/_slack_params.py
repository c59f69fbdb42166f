"""Reading Web API arguments the way Slack does, whatever encoding carried them (reference §0).

Query strings and form bodies carry everything as strings (booleans as ``"1"``/``"0"`` or
``"true"``/``"false"``, arrays and objects as JSON strings); JSON bodies carry real types.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from bot.sim._slack_state import SlackError

Params = Mapping[str, Any]


def text_param(p: Params, key: str) -> str | None:
    value = p.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def required(p: Params, key: str, error: str = "invalid_arguments") -> str:
    value = text_param(p, key)
    if not value:
        raise SlackError(
            error, response_metadata={"messages": [f"[ERROR] missing required field: {key}"]}
        )
    return value


def flag(p: Params, key: str, default: bool = False) -> bool:
    value = p.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def integer(p: Params, key: str, default: int, *, low: int, high: int) -> int:
    value = p.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    # Slack clamps `limit` into its range rather than failing (history: up to 999).
    return max(low, min(high, number))


def encode_cursor(value: str, kind: str) -> str:
    """Slack's cursors are base64 of ``<kind>:<value>`` (history: ``next_ts:<ts>``, e.g.
    ``bmV4dF90czoxNTEy…``; lists: the next item's id)."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: str, kind: str) -> str:
    try:
        prefix, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except ValueError:
        raise SlackError("invalid_cursor") from None
    if prefix != kind or not value:
        raise SlackError("invalid_cursor")
    return value

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.blocks import Reply

VALUE_MAX = 2000  # Slack: a button value is at most 2000 characters


async def answer(respond: AsyncRespond, reply: Reply, *, replace: bool = False) -> None:
    """Post a reply to the invoking user through the command's or click's response_url."""
    await respond(text=reply.text, blocks=reply.blocks, replace_original=replace or None)


def page_value(text: str, page: int, now: datetime) -> str | None:
    """A Previous/Next button's value: the typed arguments, the page, and the moment they
    were typed (so `today` keeps meaning the same day); None if it will not fit."""
    value = json.dumps({"t": text, "p": page, "n": now.isoformat()}, separators=(",", ":"))
    return value if len(value) <= VALUE_MAX else None


def read_page_value(value: str) -> tuple[str, int, datetime]:
    data: Any = json.loads(value)
    return str(data["t"]), int(data["p"]), datetime.fromisoformat(str(data["n"]))

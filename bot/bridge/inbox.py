"""Storing what RingCentral delivers, the same way whatever carried it (DESIGN §3.3, §3.11):
the webhook receiver and the WebSocket listener both hand an authentic delivery's bytes to
`Inbox.store`, which keeps it in the inbox, deduplicated on its `uuid` (and on its content
key when it has one), before anything acknowledges or handles it.

A delivery that cannot be read is kept all the same, as a dead letter keyed by a hash of
its bytes, for someone to look at (RELIABILITY R14). Deliveries arriving together share
one transaction (group commit, `bot.bridge._batch`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge._batch import MAX_ROWS, MAX_WAIT, GroupWriter
from bot.clock import Clock
from bot.store.schema import Delivery

__all__ = ["Inbox", "Stored"]

log = logging.getLogger("bot.bridge.inbox")

Stored = Literal["stored", "duplicate", "dead_letter"]


class Inbox:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        max_batch: int = MAX_ROWS,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self._writer = GroupWriter(engine, Delivery, "uuid", max_rows=max_batch, max_wait=max_wait)
        self._clock = clock

    @property
    def batches(self) -> GroupWriter:
        """The group-commit writer (its `stats`, for tests and benchmarks)."""
        return self._writer

    async def close(self) -> None:
        """Refuse new deliveries (NotStored) and wait until the queued ones are committed."""
        await self._writer.close()

    async def store(self, body: bytes, *, content_key: str | None = None) -> Stored:
        """Keep `body` (one delivery envelope) durably; what became of it. Raises NotStored
        when its transaction failed: nothing may acknowledge it then."""
        now = datetime.fromtimestamp(self._clock.now(), UTC)
        uuid, problem = _delivery_uuid(body)
        state, error = ("pending", None) if problem is None else ("dead", problem)
        if uuid is None:
            # Unreadable: keep it once, keyed by its content, for someone to look at.
            uuid = "dead:" + hashlib.sha256(body).hexdigest()[:40]
        values = {
            "uuid": uuid,
            "content_key": content_key if problem is None else None,
            "received_at": now,
            # PostgreSQL's text holds no NUL; a body that has one is no JSON anyway (JSON
            # escapes control characters), so it is kept as a dead letter with U+FFFD.
            "body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
            "state": state,
            "attempts": 0,
            "next_attempt_at": now,
            "error": error,
        }
        if not await self._writer.write(values):
            return "duplicate"
        if problem is not None:
            log.error("dead letter %s: %s", uuid, problem)
            return "dead_letter"
        return "stored"


class _Readable(BaseModel):
    """What the inbox needs of an envelope to keep it for dispatch: its `uuid` (the key it
    is deduplicated on), an event filter and a body object. The event itself is read when
    it is dispatched (`bot.bridge.ingest`); every other field is left for then."""

    model_config = ConfigDict(extra="ignore", strict=True)

    uuid: str = Field(min_length=1, max_length=64)
    event: str
    body: dict[str, Any]


def _delivery_uuid(body: bytes) -> tuple[str | None, str | None]:
    """(uuid, None) for a readable envelope; (uuid or None, why) for a dead letter."""
    try:
        return _Readable.model_validate_json(body).uuid, None
    except ValidationError:
        return _why_unreadable(body)  # rare: what is wrong, and the uuid if it has one


def _why_unreadable(body: bytes) -> tuple[str | None, str | None]:
    """Why an envelope is a dead letter, and its uuid if it has a usable one. Also the
    judge of the JSON that pydantic's parser refuses and `json` reads (a BOM, UTF-16, a
    lone surrogate escaped): such an envelope is kept for dispatch, as it always was."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, "body is not JSON"
    if not isinstance(data, dict):
        return None, "body is not a JSON object"
    uuid = data.get("uuid")
    if not isinstance(uuid, str) or not uuid or len(uuid) > 64:
        return None, "envelope has no usable uuid"
    if not isinstance(data.get("event"), str) or not isinstance(data.get("body"), dict):
        return uuid, "envelope has no event filter or no body"
    return uuid, None

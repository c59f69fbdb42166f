"""What an event is about, whatever subscription carried it (DESIGN §3.11).

While two WebSocket connections overlap (the handover before the absolute timeout, a
process taking over), each connection's subscription delivers the same event under its
own `uuid`. The inbox then deduplicates on this key as well: a message event by its kind
and message id, a telephony event by session, party and sequence, a message-store change
by its whole body. Other events (reminders, unknown filters) have none: `uuid` only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.ringcentral.models import event_kind

__all__ = ["content_key"]

MAX_KEY = 160  # the inbox column


def content_key(envelope: bytes) -> str | None:
    """The key of a delivery envelope (as stored), or None when it has none or cannot be
    read (the inbox then keeps it by its uuid, or as a dead letter)."""
    try:
        data = json.loads(envelope)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    event, body = data.get("event"), data.get("body")
    if not isinstance(event, str) or not isinstance(body, dict):
        return None
    kind = event_kind(event)
    if kind in ("instant_message", "voicemail", "fax"):
        message_id = body.get("id")
        return _key(kind, message_id) if _scalar(message_id) else None
    if kind == "telephony_session":
        parties = body.get("parties")
        party = parties[0] if isinstance(parties, list) and parties else None
        session = body.get("telephonySessionId")
        sequence = body.get("sequence")
        if not isinstance(party, dict) or not _scalar(session) or not _scalar(sequence):
            return None
        party_id = party.get("id")
        return _key("call", session, party_id, sequence) if _scalar(party_id) else None
    if kind == "message_store":
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return _key("store", hashlib.sha256(canonical.encode()).hexdigest()[:40])
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _key(kind: str, *parts: Any) -> str:
    key = ":".join([kind, *(str(p) for p in parts)])
    if len(key) <= MAX_KEY:
        return key
    return f"{kind}:#" + hashlib.sha256(key.encode()).hexdigest()[:40]

"""RingCentral's WebSocket messages as models (reference §2.6; examples `ws-*.json`,
`message-store-event-websocket.json`; RingCentral's own SDKs for what the examples leave out).

Every message is a JSON array: a header object naming its `type`, then (for most types) a
body. What the gateway sends:

    [{"type": "ConnectionDetails", "messageId", "status", "wsc": {"token", "sequence"}}, limits]
    [{"type": "ServerNotification", "messageId", "status", "wsc"?}, <the webhook envelope>]
    [{"type": "ClientRequest", "messageId": <ours>, "status", "headers"}, <the answer>]
    [{"type": "Heartbeat", "messageId": <ours>}]
    [{"type": "Error", "messageId", "status"}, {"errorCode": "WSG-902", "message"}]

The answer to a `ClientRequest` carries the request's own type and `messageId` (as the
official SDKs read it); `wsc` rides on any header, its `sequence` rising with each
notification of the session.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from ..models._base import Inbound, Outbound

__all__ = [
    "ClientRequestHeader",
    "ConnectionDetails",
    "FrameHeader",
    "HeartbeatHeader",
    "WsErrorBody",
    "WsToken",
    "Wsc",
    "encode",
    "parse_frame",
]


class WsToken(BaseModel):
    """`POST /restapi/oauth/wstoken` (SPEC `WsTokenResponse`): single use, short-lived."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ws_access_token: SecretStr
    uri: str = Field(pattern=r"^wss?://")
    expires_in: int


class Wsc(Inbound):
    """The session's recovery token and the sequence of the last message it sent."""

    token: str = Field(min_length=1, repr=False)
    sequence: int | None = None


class FrameHeader(Inbound):
    type: str
    message_id: str | None = None
    status: int | None = None
    headers: dict[str, Any] = Field(default_factory=dict)
    wsc: Wsc | None = None


class ConnectionDetails(Inbound):
    """The limits the gateway announces: read, never assumed (DESIGN §3.11). Seconds."""

    creation_time: datetime | None = None
    max_connections_per_session: int | None = None
    recovery_buffer_size: int = Field(ge=0)
    recovery_timeout: float = Field(gt=0)
    idle_timeout: float = Field(gt=0)
    absolute_timeout: float = Field(gt=0)
    max_active_requests: int | None = None
    # Only after a connection made with `wsc`: whether the session came back.
    recovery_state: Literal["Successful", "Failed"] | None = None
    recovery_error_code: str | None = None


class WsErrorBody(Inbound):
    error_code: str | None = None
    message: str | None = None


class ClientRequestHeader(Outbound):
    type: Literal["ClientRequest"] = "ClientRequest"
    message_id: str
    method: str
    path: str


class HeartbeatHeader(Outbound):
    type: Literal["Heartbeat"] = "Heartbeat"
    message_id: str


_FRAME: TypeAdapter[tuple[FrameHeader, Any] | tuple[FrameHeader]] = TypeAdapter(
    tuple[FrameHeader, Any] | tuple[FrameHeader]
)


def parse_frame(text: str | bytes) -> tuple[FrameHeader, Any]:
    """A message's header and body (None when it has none). ValueError when it is not a
    frame at all; the message names what was wrong, never a value."""
    try:
        data = json.loads(text)  # json keeps big integers (conversation ids) exact
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not JSON") from None
    if not isinstance(data, list) or not data:
        raise ValueError("not a JSON array with a header")
    try:
        frame = _FRAME.validate_python(data)
    except ValidationError as exc:
        where = {".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False)}
        raise ValueError(f"header unreadable at {', '.join(sorted(where))}") from None
    return frame[0], frame[1] if len(frame) == 2 else None


def encode(header: Outbound, body: Outbound | None = None) -> str:
    parts: list[Any] = [header.to_wire()]
    if body is not None:
        parts.append(body.to_wire())
    return json.dumps(parts, separators=(",", ":"))

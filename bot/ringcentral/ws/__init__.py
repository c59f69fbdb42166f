"""RingCentral's WebSocket API (reference §2.6): the token, one connection, its messages.

Events then arrive without any inbound connection: the bridge's listener
(`bot.bridge.listener`) keeps one of these open, recovers it, and stores what it brings.
"""

from ._connection import (
    Notification,
    Unreadable,
    WsClosed,
    WsConnection,
    WsRefused,
    request_ws_token,
)
from ._frames import ConnectionDetails, FrameHeader, Wsc, WsToken, parse_frame

__all__ = [
    "ConnectionDetails",
    "FrameHeader",
    "Notification",
    "Unreadable",
    "WsClosed",
    "WsConnection",
    "WsRefused",
    "WsToken",
    "Wsc",
    "parse_frame",
    "request_ws_token",
]

"""Webhook subscriptions: what we ask for and what RingCentral answers (SPEC
`CreateSubscriptionRequest`, `UpdateSubscriptionRequest`, `SubscriptionInfo`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ._base import Id, Inbound, Outbound

__all__ = [
    "BlacklistedData",
    "CreateSubscriptionRequest",
    "DeliveryMode",
    "DisabledFilter",
    "SubscriptionInfo",
    "SubscriptionList",
    "UpdateSubscriptionRequest",
    "WebSocketDeliveryMode",
    "WebSocketSubscriptionRequest",
    "WebhookDeliveryMode",
]

# RingCentral (SPEC UpdateSubscriptionRequest.expiresIn): WebHook lifetime at most 10 years.
WEBHOOK_MAX_EXPIRES_IN = 315_360_000


class WebhookDeliveryMode(Outbound):
    transport_type: Literal["WebHook"] = "WebHook"
    address: str
    # Echoed by RingCentral in each delivery's Verification-Token header; never returned.
    verification_token: str | None = Field(default=None, repr=False)


class UpdateSubscriptionRequest(Outbound):
    """Body of `PUT /subscription/{id}`; RingCentral ignores any other field."""

    event_filters: list[str] = Field(min_length=1)
    expires_in: int | None = Field(default=None, ge=1, le=WEBHOOK_MAX_EXPIRES_IN)


class CreateSubscriptionRequest(UpdateSubscriptionRequest):
    """Body of `POST /subscription`."""

    delivery_mode: WebhookDeliveryMode


class WebSocketDeliveryMode(Outbound):
    transport_type: Literal["WebSocket"] = "WebSocket"


class WebSocketSubscriptionRequest(Outbound):
    """The body of the `ClientRequest` that subscribes a WebSocket connection (reference
    §2.6: no lifetime, RingCentral renews it while the session lives)."""

    event_filters: list[str] = Field(min_length=1)
    delivery_mode: WebSocketDeliveryMode = WebSocketDeliveryMode()


class DeliveryMode(Inbound):
    transport_type: str  # WebHook, WebSocket, PubNub, RC/APNS, RC/GSM
    address: str | None = None
    encryption: bool | None = None


class DisabledFilter(Inbound):
    """A filter RingCentral accepted but does not deliver, with its reason (e.g. SUB-412)."""

    filter: str
    reason: str | None = None
    message: str | None = None


class BlacklistedData(Inbound):
    blacklisted_at: datetime | None = None
    reason: str | None = None


class SubscriptionInfo(Inbound):
    """A subscription; `event_filters` come back with `~` replaced by real ids."""

    id: Id
    uri: str | None = None
    event_filters: tuple[str, ...] = ()
    disabled_filters: tuple[DisabledFilter, ...] = ()
    expiration_time: datetime | None = None
    expires_in: int | None = None
    status: str  # Active, Blacklisted (older: Suspended, Blocked)
    creation_time: datetime | None = None
    delivery_mode: DeliveryMode
    blacklisted_data: BlacklistedData | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "Active"


class SubscriptionList(Inbound):
    """Answer of `GET /subscription`: at most 30 records, no paging."""

    uri: str | None = None
    records: tuple[SubscriptionInfo, ...] = ()

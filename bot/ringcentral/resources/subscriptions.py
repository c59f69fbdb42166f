"""Webhook subscriptions (reference §2): create, list, get, renew, update, delete."""

from __future__ import annotations

from collections.abc import Sequence

from ..models.subscriptions import (
    CreateSubscriptionRequest,
    SubscriptionInfo,
    SubscriptionList,
    UpdateSubscriptionRequest,
    WebhookDeliveryMode,
)
from ._base import API, Resource, seg

__all__ = ["Subscriptions"]

_ROOT = f"{API}/subscription"


class Subscriptions(Resource):
    """`/restapi/v1.0/subscription`: per user and app, at most 30 (RingCentral SUB-505)."""

    async def create(
        self,
        event_filters: Sequence[str],
        address: str,
        *,
        verification_token: str | None = None,
        expires_in: int | None = None,
    ) -> SubscriptionInfo:
        """Create a WebHook subscription. RingCentral first POSTs a `Validation-Token`
        handshake to `address` and creates nothing unless it is echoed within 3 s."""
        body = CreateSubscriptionRequest(
            event_filters=list(event_filters),
            expires_in=expires_in,
            delivery_mode=WebhookDeliveryMode(
                address=address, verification_token=verification_token
            ),
        )
        return await self._read(SubscriptionInfo, "POST", _ROOT, json=body.to_wire())

    async def list(self) -> SubscriptionList:
        """This user's and app's subscriptions (no paging)."""
        return await self._get(SubscriptionList, _ROOT)

    async def get(self, subscription_id: str) -> SubscriptionInfo:
        return await self._get(SubscriptionInfo, f"{_ROOT}/{seg(subscription_id)}")

    async def renew(self, subscription_id: str) -> SubscriptionInfo:
        """Extend the lifetime by its `expiresIn` (kept across renewals since 1.0.38)."""
        return await self._read(SubscriptionInfo, "POST", f"{_ROOT}/{seg(subscription_id)}/renew")

    async def update(
        self, subscription_id: str, event_filters: Sequence[str], *, expires_in: int | None = None
    ) -> SubscriptionInfo:
        """Replace the event filters (and lifetime); the delivery address cannot change."""
        body = UpdateSubscriptionRequest(event_filters=list(event_filters), expires_in=expires_in)
        return await self._read(
            SubscriptionInfo, "PUT", f"{_ROOT}/{seg(subscription_id)}", json=body.to_wire()
        )

    async def delete(self, subscription_id: str) -> None:
        """Delete a subscription (RingCentral answers 204)."""
        await self._rq.request("DELETE", f"{_ROOT}/{seg(subscription_id)}")

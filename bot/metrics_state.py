"""The bridge's state read from the database at scrape time, for `/metrics` and `/healthz`.

`read_state()` never raises: a database that cannot answer gives `database_ok=False` and
no numbers. `StateCollector` shows the last state read as gauges; the `/metrics` handler
reads the state just before rendering, so the gauges are as fresh as the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.subscriptions import PENDING
from bot.store import SubscriptionStore
from bot.store.schema import Delivery, Post, Upload
from bot.store.work import pending_depth

__all__ = ["SUBSCRIPTION_STATUSES", "ServiceState", "StateCollector", "read_state"]

log = logging.getLogger("bot.metrics")

# Every (queue, state) shown, 0 when absent, so that a dashboard's series never vanish.
QUEUES: dict[str, tuple[type[Delivery | Post | Upload], tuple[str, ...]]] = {
    "deliveries": (Delivery, ("pending", "dead")),
    "posts": (Post, ("pending", "sending", "dead")),
    "uploads": (Upload, ("pending", "dead")),
}
# RingCentral's statuses, "Expired" (past `expires_at`: RingCentral sends nothing more) and
# "none" (no subscription); anything else is shown as "other".
SUBSCRIPTION_STATUSES = ("Active", "Suspended", "Blacklisted", "Expired", "none", "other")


@dataclass(frozen=True)
class ServiceState:
    database_ok: bool
    queue_depth: int | None = None
    oldest_pending_seconds: float | None = None
    items: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, state) -> rows
    subscription: str | None = None  # one of SUBSCRIPTION_STATUSES


async def read_state(engine: AsyncEngine, now: datetime) -> ServiceState:
    try:
        depth, oldest = await pending_depth(engine, now)
        items: dict[tuple[str, str], int] = {}
        async with engine.connect() as conn:
            for queue, (model, states) in QUEUES.items():
                query = (
                    select(model.state, func.count(model.id))
                    .where(model.state.in_(states))
                    .group_by(model.state)
                )
                counts: dict[str, int] = dict((await conn.execute(query)).all())
                items.update({(queue, state): int(counts.get(state, 0)) for state in states})
        records = await SubscriptionStore(engine).all()
    except Exception as exc:  # whatever it is, the database cannot serve us now
        log.error("database state unreadable: %s", type(exc).__name__)
        log.debug("database state unreadable", exc_info=True)
        return ServiceState(database_ok=False)
    records = [r for r in records if not r.id.startswith(PENDING)]  # creations under way
    status = "none"
    if records:
        newest = records[-1]  # by created_at: during a switch, the one replacing the other
        expired = newest.expires_at is not None and newest.expires_at <= now
        status = "Expired" if expired and newest.status == "Active" else newest.status
        status = status if status in SUBSCRIPTION_STATUSES else "other"
    return ServiceState(True, depth, oldest, items, status)


class StateCollector(Collector):
    """Gauges of the last `ServiceState` (set by the `/metrics` handler before rendering)
    and of the RingCentral sign-in."""

    def __init__(self) -> None:
        self.state: ServiceState | None = None
        self.ringcentral_auth_ok: bool | None = None

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if state is None:
            return
        yield _gauge("ringbridge_database_up", "1 when the database answered the scrape.",
                     int(state.database_ok))  # fmt: skip
        if self.ringcentral_auth_ok is not None:
            yield _gauge(
                "ringbridge_ringcentral_auth_ok",
                "0 while the RingCentral sign-in is failing (a rejected JWT), else 1.",
                int(self.ringcentral_auth_ok),
            )
        if not state.database_ok:
            return  # no numbers rather than stale ones
        yield _gauge("ringbridge_queue_depth",
                     "RingCentral deliveries stored and not yet dispatched.",
                     state.queue_depth or 0)  # fmt: skip
        yield _gauge("ringbridge_queue_oldest_pending_seconds",
                     "Age of the oldest delivery not yet dispatched (0 when none).",
                     state.oldest_pending_seconds or 0.0)  # fmt: skip
        items = GaugeMetricFamily(
            "ringbridge_queue_items",
            "Rows of the work queues (deliveries, posts, uploads) not done, by state.",
            labels=["queue", "state"],
        )
        for (queue, row_state), count in sorted(state.items.items()):
            items.add_metric([queue, row_state], count)
        yield items
        subscription = GaugeMetricFamily(
            "ringbridge_subscription_status",
            "The webhook subscription's status: 1 for the current one ('none': no "
            "subscription, 'Expired': past its expiry time).",
            labels=["status"],
        )
        for status in SUBSCRIPTION_STATUSES:
            subscription.add_metric([status], int(status == state.subscription))
        yield subscription


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)

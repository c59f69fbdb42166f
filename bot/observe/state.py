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
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.stats import read_stats

__all__ = [
    "SUBSCRIPTION_STATUSES",
    "WEBSOCKET_STATES",
    "ServiceState",
    "StateCollector",
    "read_state",
]

log = logging.getLogger("bot.observe")

# RingCentral's statuses, "Expired" (past `expires_at`: RingCentral sends nothing more) and
# "none" (no subscription); anything else is shown as "other".
SUBSCRIPTION_STATUSES = ("Active", "Suspended", "Blacklisted", "Expired", "none", "other")
# The WebSocket holder's word (`bot.store.ws_sessions`), "stale" when it has said nothing
# for WEBSOCKET_STALE_AFTER (the holder died: another process takes over), "none" when no
# process ever held it.
WEBSOCKET_STATES = ("connected", "connecting", "down", "closed", "stale", "none")
WEBSOCKET_STALE_AFTER = 60.0  # seconds; the holder speaks every 10 (bot.bridge.listener)


@dataclass(frozen=True)
class ServiceState:
    database_ok: bool
    queue_depth: int | None = None
    oldest_pending_seconds: float | None = None
    items: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, state) -> rows
    subscription: str | None = None  # one of SUBSCRIPTION_STATUSES
    websocket: str | None = None  # one of WEBSOCKET_STATES
    admin_problems: int | None = None  # open problems of the admin channel
    signin_refused: bool = False  # the admin channel's `signin` problem is open


async def read_state(engine: AsyncEngine, now: datetime) -> ServiceState:
    try:
        stats = await read_stats(engine, now)
    except Exception as exc:  # whatever it is, the database cannot serve us now
        log.error("database state unreadable: %s", type(exc).__name__)
        log.debug("database state unreadable", exc_info=True)
        return ServiceState(database_ok=False)
    status = stats.subscription_status or "none"
    expires_at = stats.subscription_expires_at
    if status == "Active" and expires_at is not None and expires_at <= now:
        status = "Expired"
    status = status if status in SUBSCRIPTION_STATUSES else "other"
    websocket = stats.websocket_state or "none"
    seen = stats.websocket_seen_at
    stale = seen is not None and (now - seen).total_seconds() > WEBSOCKET_STALE_AFTER
    if stale and websocket != "closed":
        websocket = "stale"
    websocket = websocket if websocket in WEBSOCKET_STATES else "none"
    return ServiceState(
        True,
        stats.queue_depth,
        stats.oldest_pending_seconds,
        stats.items,
        status,
        websocket,
        stats.admin_problems,
        stats.signin_refused,
    )


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
        websocket = GaugeMetricFamily(
            "ringbridge_websocket_state",
            "The RingCentral WebSocket as its holder last told: 1 for the current state "
            "('stale': the holder silent for a minute, 'none': never held).",
            labels=["state"],
        )
        for name in WEBSOCKET_STATES:
            websocket.add_metric([name], int(name == state.websocket))
        yield websocket


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)

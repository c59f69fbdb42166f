"""`GET /healthz` and `GET /metrics` (DESIGN §3.3).

The composition root puts a `Health` in the application (`HEALTH`) once its engine and
RingCentral client exist, and moves `notifications` on as the notification side starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.observe.metrics import Metrics
from bot.observe.state import ServiceState, read_state
from bot.ringcentral import AuthError

__all__ = ["HEALTH", "HEALTH_TIMEOUT", "Health", "add_routes"]

log = logging.getLogger("bot.observe")

HEALTH_TIMEOUT = 5.0  # seconds: a probe gets its answer even while the database hangs


@dataclass
class Health:
    """What the two endpoints read. `auth_failure`: the RingCentral sign-in's last refusal
    while it blocks new attempts; `subscription_expected`: notifications arrive by webhook,
    so a subscription that is not Active degrades the service; `websocket_expected`: they
    arrive over RingCentral's WebSocket (DESIGN §3.11), shown instead of the subscription,
    and a connection that is not up degrades the service; `slack_socket`: the Socket Mode
    connection's state (`bot.slack.socket`), when Slack's traffic comes that way."""

    engine: AsyncEngine
    clock: Clock
    metrics: Metrics
    auth_failure: Callable[[], AuthError | None]
    subscription_expected: bool
    notifications: Literal["off", "starting", "running"] = "off"
    slack_socket: Callable[[], str] | None = None
    websocket_expected: bool = False

    async def state(self) -> ServiceState:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        try:
            return await asyncio.wait_for(read_state(self.engine, now), HEALTH_TIMEOUT)
        except TimeoutError:
            log.error("health: the database did not answer within %.0f s", HEALTH_TIMEOUT)
            return ServiceState(database_ok=False)


HEALTH = web.AppKey("health", Health)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)


async def healthz(request: web.Request) -> web.Response:
    """503 only when this server cannot store what arrives: the database does not answer.
    200 otherwise, "degraded" while something needs attention (DESIGN §3.3).

    RingCentral refusing the sign-in (a rejected JWT: `ringcentral_auth` "needs_reauth",
    RELIABILITY R7) is "degraded", never a 503: deliveries are still stored, and posted once
    the sign-in works, while a load balancer taking the server out of rotation would make
    RingCentral blacklist the webhook and lose them. A Socket Mode connection that is not up
    is shown the same way: while it reconnects, Slack holds the envelopes for the app's
    other connections or retries them. A missing, blacklisted or expired webhook
    subscription is shown ("degraded") but is no 503: a load balancer would take the server
    out of rotation, which brings no subscription back — the subscription manager recreates
    it, and RingCentral's creation handshake needs this very server reachable — and would
    break slash commands that work. In websocket mode the connection's state is shown
    instead of the subscription's, read from the database (the holder may be another
    process), and degrades it the same way. `admin_problems` counts the admin channel's open
    problems (DESIGN §3.10).
    Only codes and counts are shown: never a token, the JWT, or RingCentral's error text.
    """
    health = request.app[HEALTH]
    state = await health.state()
    failure = health.auth_failure()
    slack_socket = health.slack_socket() if health.slack_socket is not None else None
    events_missing = (health.subscription_expected and state.subscription != "Active") or (
        health.websocket_expected and state.websocket != "connected"
    )
    # This process's last refusal, or any process's report that is still open (the next
    # JWT attempt, at most 5 minutes later, resolves it).
    needs_reauth = failure is not None or state.signin_refused
    if not state.database_ok:
        status = "unavailable"
    elif needs_reauth or events_missing or slack_socket not in (None, "connected"):
        status = "degraded"
    else:
        status = "ok"
    oldest = state.oldest_pending_seconds
    body: dict[str, Any] = {
        "status": status,
        "database": "ok" if state.database_ok else "error",
        "ringcentral_auth": "needs_reauth" if needs_reauth else "ok",
        "notifications": health.notifications,
    }
    if health.websocket_expected:
        body["websocket"] = state.websocket
    else:
        body["subscription"] = state.subscription
    body |= {
        "queue_depth": state.queue_depth,
        "oldest_pending_seconds": round(oldest, 1) if oldest is not None else None,
        "posts_pending": state.items.get(("posts", "pending")),
        "posts_dead": state.items.get(("posts", "dead")),
        "admin_problems": state.admin_problems,
    }
    if slack_socket is not None:  # Socket Mode only
        body["slack_socket"] = slack_socket
    if failure is not None:  # RingCentral's codes (invalid_grant OAU-140), not its text
        body["ringcentral_auth_error"] = " ".join(filter(None, (failure.error, failure.error_code)))
    return web.json_response(body, status=503 if status == "unavailable" else 200)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; the database gauges are read now, for this scrape."""
    health = request.app[HEALTH]
    collector = health.metrics.state
    collector.state = await health.state()
    collector.ringcentral_auth_ok = health.auth_failure() is None
    body = health.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

"""`create_app()`: the one aiohttp application of RingBridge (DESIGN §3.3).

`/slack/events` (Bolt, mounted with its aiohttp adapter functions), `/healthz`, `/metrics`.
Everything long-lived is created and closed by one cleanup context.

The RingCentral client keeps its session and rate-limit penalties in the database, so the
processes serving one bridge share them (`bot.wiring.shared_ringcentral_client`).

Shutdown (`AppRunner.cleanup()`, on SIGTERM in `bot.cli.serve`): the listening socket
closes; `on_shutdown` tells the dispatcher and the subscription upkeep to stop at once
(the dispatcher finishes the delivery in hand and releases the rest), while aiohttp lets
in-flight requests finish; the cleanup then gives background work what is left of
`SHUTDOWN_GRACE` from that moment, cancels what remains (claimed rows are released or
their lease runs out), and closes the clients and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import service as notifications
from bot.bridge.receiver import WebhookReceiver
from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.clock import Clock, SystemClock
from bot.config import BridgeConfig, ConfigError, Settings
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.metrics_state import ServiceState, read_state
from bot.ringcentral import AccountFacts, RingCentralClient, RingCentralError
from bot.slack.app import build_bolt_app
from bot.slack.deps import SlackDeps
from bot.store import AuditLog, Posts, SubscriptionStore, connect
from bot.store.migrate import ensure_schema
from bot.store.work import release_leases
from bot.tasks import Tasks
from bot.wiring import shared_ringcentral_client

__all__ = ["DEPS", "create_app"]

log = logging.getLogger("bot.server")

SETTINGS = web.AppKey("settings", Settings)
BRIDGE = web.AppKey("bridge", BridgeConfig)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
ENGINE = web.AppKey("engine", AsyncEngine)
RINGCENTRAL = web.AppKey("ringcentral", RingCentralClient)
BOLT = web.AppKey("bolt", AsyncApp)
DEPS = web.AppKey("deps", SlackDeps)
RECEIVER = web.AppKey("receiver", WebhookReceiver)
NOTIFICATIONS = web.AppKey("notifications", notifications.Notifications)
BACKGROUND = web.AppKey("background", bool)


@dataclass
class Shutdown:
    """Set by `on_shutdown`: background work stops taking work, and since when."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    started: float | None = None  # time.monotonic()


SHUTDOWN = web.AppKey("shutdown", Shutdown)

# Slack's requests are small; RingCentral's webhook bodies too (RELIABILITY R13).
MAX_BODY = 1024**2
# Background work (the dispatcher's step, command replies) gets this long from the start
# of shutdown; the whole exit must fit in 10 s (RELIABILITY R17), see `bot.cli.serve`.
SHUTDOWN_GRACE = 6.0


def create_app(
    settings: Settings,
    bridge: BridgeConfig,
    *,
    clock: Clock | None = None,
    background: bool = True,
) -> web.Application:
    """The server. `background=False` builds the dispatcher without running it (tests
    drive it step by step)."""
    settings.require(
        "slack_bot_token",
        "slack_signing_secret",
        "ringcentral_client_id",
        "ringcentral_client_secret",
        "ringcentral_jwt",
    )
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[BRIDGE] = bridge
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics()
    app[BACKGROUND] = background
    app[SHUTDOWN] = Shutdown()
    app.on_shutdown.append(_stop_taking_work)
    app.cleanup_ctx.append(_lifetime)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post(WEBHOOK_PATH, ringcentral_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    settings, clock = app[SETTINGS], app[CLOCK]
    engine = connect(settings.sqlalchemy_url)
    await ensure_schema(engine)
    if engine.dialect.name == "sqlite" and (released := await release_leases(engine)):
        log.warning("took back %d claims left by the previous run", released)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
    )
    rc = shared_ringcentral_client(settings, http, engine, clock=clock)
    _observe_ringcentral(app[METRICS], rc)  # metrics
    slack = AsyncWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        # Interactive replies retry here (DESIGN §3.7); the dispatcher's posts will not.
        retry_handlers=[
            app[METRICS].slack_calls,  # metrics: counts every attempt, never retries
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    tasks = Tasks()
    deps = SlackDeps(
        rc=rc,
        facts=AccountFacts(rc.account, clock),
        audit=AuditLog(engine),
        commands=app[BRIDGE].commands,
        clock=clock,
        tasks=tasks,
        posts=Posts(engine),
    )
    app[ENGINE], app[RINGCENTRAL], app[DEPS] = engine, rc, deps
    app[BOLT] = build_bolt_app(
        deps, client=slack, signing_secret=settings.secret("slack_signing_secret")
    )
    stop = app[SHUTDOWN].stop
    receiver = WebhookReceiver(engine, SubscriptionStore(engine), clock, app[METRICS])
    app[RECEIVER] = receiver
    background: asyncio.Task[None] | None = None
    if notifications.enabled(app[BRIDGE], settings):
        if app[BACKGROUND]:
            background = asyncio.create_task(
                _notifications(app, receiver, stop), name="notifications"
            )
        else:
            built = await _build_notifications(app)
            app[NOTIFICATIONS] = built
            receiver.on_stored = built.dispatcher.wake
    else:
        log.warning("no [[routes]] and no DEFAULT_CHANNEL: serving slash commands only")
    try:
        yield
    finally:
        started = app[SHUTDOWN].started or time.monotonic()
        stop.set()
        grace = max(0.5, started + SHUTDOWN_GRACE - time.monotonic())
        # Both at once, within what is left of the grace: the dispatcher finishes the
        # delivery in hand and releases the rest (anything cancelled is leased, and due
        # again when the lease runs out); command replies finish or are cancelled.
        await asyncio.gather(_finish(background, grace), tasks.close(grace=grace))
        await rc.close()
        await engine.dispose()


async def _stop_taking_work(app: web.Application) -> None:
    """`on_shutdown`: runs before aiohttp waits for in-flight requests, so the background
    work stops taking rows while the requests finish."""
    shutdown = app[SHUTDOWN]
    shutdown.started = time.monotonic()
    shutdown.stop.set()


async def _finish(task: asyncio.Task[None] | None, grace: float) -> None:
    if task is None:
        return
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=grace)


async def _build_notifications(app: web.Application) -> notifications.Notifications:
    return await notifications.build(
        settings=app[SETTINGS],
        bridge=app[BRIDGE],
        engine=app[ENGINE],
        rc=app[RINGCENTRAL],
        facts=app[DEPS].facts,
        clock=app[CLOCK],
        metrics=app[METRICS],
    )


async def _notifications(
    app: web.Application, receiver: WebhookReceiver, stop: asyncio.Event
) -> None:
    """Start the notification side once RingCentral answers; deliveries are stored by the
    receiver meanwhile, and dispatched when this starts."""
    delay = 5.0
    while not stop.is_set():
        try:
            built = await _build_notifications(app)
        except ConfigError as exc:
            log.critical("notifications are off: %s", exc)
            return
        except RingCentralError as exc:
            log.error("cannot start notifications yet (%s); retrying in %.0f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 300.0)
            continue
        app[NOTIFICATIONS] = built
        receiver.on_stored = built.dispatcher.wake
        built.dispatcher.wake()  # deliveries stored before we were ready
        await built.run(stop)
        return


async def ringcentral_webhook(request: web.Request) -> web.Response:
    return await request.app[RECEIVER].handle(request)


async def slack_events(request: web.Request) -> web.Response:
    started = time.perf_counter()
    bolt_request = _mend_body(await to_bolt_request(request))
    response = await to_aiohttp_response(await request.app[BOLT].async_dispatch(bolt_request))
    metrics = request.app[METRICS]
    metrics.slack_ack_seconds.observe(time.perf_counter() - started)
    metrics.slack_requests.labels(_kind(bolt_request.body), str(response.status)).inc()
    return response


def _mend_body(bolt_request: AsyncBoltRequest) -> AsyncBoltRequest:
    """slack_bolt 1.30 `parse_body` takes any form body containing the substring "payload"
    for an interactivity payload, so `/sms +1… here is the payload` arrives empty and is
    dropped as unhandled. Parse such a form as the form it is."""
    raw = bolt_request.raw_body
    if bolt_request.body or not raw or raw.startswith("{"):
        return bolt_request
    form = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in form:
        return bolt_request  # a real interactivity payload Bolt could not read: leave it
    bolt_request.body = form
    bolt_request.context = build_async_context(AsyncBoltContext({}), form)
    return bolt_request


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    if "payload" in body or body.get("type") in ("block_actions", "view_submission"):
        return "action"
    return "event"


# -- /healthz and /metrics ------------------------------------------------------------------

HEALTH_TIMEOUT = 5.0  # seconds: a probe gets its answer even while the database hangs


def _observe_ringcentral(metrics: Metrics, rc: RingCentralClient) -> None:
    """Metrics hear of every RingCentral request and token grant (bot/ringcentral stays
    free of Prometheus: it only calls these observers)."""
    rc.on_exchange = metrics.ringcentral_exchange
    rc.auth.on_grant = metrics.token_grant


async def _state(app: web.Application) -> ServiceState:
    now = datetime.fromtimestamp(app[CLOCK].now(), UTC)
    try:
        return await asyncio.wait_for(read_state(app[ENGINE], now), HEALTH_TIMEOUT)
    except TimeoutError:
        log.error("health: the database did not answer within %.0f s", HEALTH_TIMEOUT)
        return ServiceState(database_ok=False)


async def healthz(request: web.Request) -> web.Response:
    """503 when this server cannot serve: the database does not answer, or RingCentral
    refuses our sign-in (a rejected JWT; nothing works until someone fixes it). 200
    otherwise.

    A missing, blacklisted or expired webhook subscription is shown ("degraded") but is no
    503: a load balancer would take the server out of rotation, which brings no
    subscription back — the subscription manager recreates it, and RingCentral's creation
    handshake needs this very server reachable — and would break slash commands that work.
    Only codes and counts are shown: never a token, the JWT, or RingCentral's error text.
    """
    app, settings = request.app, request.app[SETTINGS]
    state = await _state(app)
    failure = app[RINGCENTRAL].auth.failure
    enabled = notifications.enabled(app[BRIDGE], settings)
    if not state.database_ok or failure is not None:
        status = "unavailable"
    elif enabled and settings.public_url and state.subscription != "Active":
        status = "degraded"
    else:
        status = "ok"
    oldest = state.oldest_pending_seconds
    body: dict[str, Any] = {
        "status": status,
        "database": "ok" if state.database_ok else "error",
        "ringcentral_auth": "ok" if failure is None else "failing",
        "notifications": "running" if NOTIFICATIONS in app else "starting" if enabled else "off",
        "subscription": state.subscription,
        "queue_depth": state.queue_depth,
        "oldest_pending_seconds": round(oldest, 1) if oldest is not None else None,
        "posts_pending": state.items.get(("posts", "pending")),
        "posts_dead": state.items.get(("posts", "dead")),
    }
    if failure is not None:  # RingCentral's codes (invalid_grant OAU-140), not its text
        body["ringcentral_auth_error"] = " ".join(filter(None, (failure.error, failure.error_code)))
    return web.json_response(body, status=503 if status == "unavailable" else 200)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; the database gauges are read now, for this scrape."""
    app = request.app
    collector = app[METRICS].state
    collector.state = await _state(app)
    collector.ringcentral_auth_ok = app[RINGCENTRAL].auth.failure is None
    body = app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

"""`create_app()`: the one aiohttp application of RingBridge (DESIGN §3.3).

`/slack/events` (Bolt, mounted with its aiohttp adapter functions), `/healthz`, `/metrics`.
Everything long-lived is created and closed by one cleanup context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import service as notifications
from bot.bridge.receiver import WebhookReceiver
from bot.bridge.subscriptions import PENDING, WEBHOOK_PATH
from bot.clock import Clock, SystemClock
from bot.config import BridgeConfig, ConfigError, Settings
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.ringcentral import AccountFacts, RingCentralClient, RingCentralError
from bot.slack.app import build_bolt_app
from bot.slack.deps import SlackDeps
from bot.store import AuditLog, Posts, SubscriptionStore, connect
from bot.store.migrate import ensure_schema
from bot.store.work import pending_depth
from bot.tasks import Tasks
from bot.wiring import ringcentral_client

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

# Slack's requests are small; RingCentral's webhook bodies too (RELIABILITY R13).
MAX_BODY = 1024**2
# In-flight command work gets this long at shutdown (the whole exit must fit in 10 s).
SHUTDOWN_GRACE = 5.0


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
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
    )
    rc = ringcentral_client(settings, http, clock=clock)
    slack = AsyncWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        # Interactive replies retry here (DESIGN §3.7); the dispatcher's posts will not.
        retry_handlers=[
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
    stop = asyncio.Event()
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
        stop.set()
        if background is not None:
            # The dispatcher finishes its step; what it leaves is leased, and due again.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(background, timeout=SHUTDOWN_GRACE)
        await tasks.close(grace=SHUTDOWN_GRACE)
        await rc.close()
        await engine.dispose()


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


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, Any] = {}
    healthy = True
    try:
        async with app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means the database cannot serve us
        log.error("health check: database: %s", type(exc).__name__)
        checks["database"] = "error"
        healthy = False
    failure = app[RINGCENTRAL].auth.failure
    checks["ringcentral_auth"] = "failing" if failure else "ok"
    try:
        now = datetime.fromtimestamp(app[CLOCK].now(), UTC)
        depth, oldest = await pending_depth(app[ENGINE], now)
        checks["queue_depth"], checks["oldest_pending_seconds"] = depth, round(oldest, 1)
        subscriptions = [
            s for s in await SubscriptionStore(app[ENGINE]).all() if not s.id.startswith(PENDING)
        ]
        checks["subscription"] = subscriptions[-1].status if subscriptions else "none"
    except Exception:  # the database check above says why
        checks["queue_depth"] = checks["subscription"] = None
    checks["status"] = "ok" if healthy else "unavailable"
    return web.json_response(checks, status=200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

"""The composition root (DESIGN §2): every client, store and service is built here from
Settings and handed down; nothing below reads Settings or builds an HTTP client.

- `create_app()`: the one aiohttp application (DESIGN §3.3): `/slack/events` (Bolt,
  `bot.slack.http`; only with SLACK_SIGNING_SECRET, never unverified),
  `/ringcentral/webhook`, `/healthz` and `/metrics` (`bot.observe`). With SLACK_APP_TOKEN
  the same Bolt app also takes Slack's traffic over Socket Mode (`bot.slack.socket`, an
  outbound WebSocket of this process). One cleanup context builds and closes everything
  long-lived: the database engine, ONE `httpx.AsyncClient` for RingCentral and ONE
  `aiohttp.ClientSession` for Slack, shared by every Slack client (Bolt's per-request
  copies included), so calls reuse connections; in websocket mode (DESIGN §3.11) one more
  `aiohttp.ClientSession`, for RingCentral's WebSocket gateway (httpx speaks no
  WebSocket; the Slack session's timeouts are for calls).
- `ringcentral()`, `database()`: what a one-shot CLI command needs, built the same way.

The server's RingCentral client keeps its session and rate-limit penalties in the
database, so the processes serving one bridge share them (`shared_ringcentral_client`).

Shutdown (`AppRunner.cleanup()`, on SIGTERM in `bot.cli.serve`): the listening socket
closes; `on_shutdown` closes the Socket Mode connection (Slack sends what comes next to
the app's other connections) and tells the dispatcher and the subscription upkeep to stop
at once (the dispatcher finishes the delivery in hand and releases the rest), while
aiohttp lets in-flight requests finish; the cleanup then gives background work what is
left of `SHUTDOWN_GRACE` from that moment, cancels what remains (claimed rows are
released or their lease runs out), and closes the clients and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiohttp
import httpx
from aiohttp import web
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import service as notifications
from bot.bridge.admin import AdminDesk
from bot.bridge.people import PeopleLinker
from bot.bridge.receipts import ThreadReplyReceipts
from bot.bridge.receiver import WebhookReceiver
from bot.bridge.replies import MayText
from bot.bridge.subscriptions import WEBHOOK_PATH, webhook_address
from bot.clock import Clock, RealTimers, SystemClock
from bot.config import OAUTH_CALLBACK_PATH, BridgeConfig, ConfigError, Settings, fernet_keys
from bot.observe import HEALTH, Health, Metrics, add_routes
from bot.ringcentral import (
    AccountFacts,
    Credentials,
    JsonTokenStore,
    LoginGate,
    MemoryTokenRequestLog,
    PenaltyStore,
    RateLimiter,
    RingCentralClient,
    TokenPacer,
    TokenRequestLog,
    TokenStore,
)
from bot.slack import actions
from bot.slack.app import build_bolt_app
from bot.slack.deps import SlackDeps
from bot.slack.http import SlackRequestHandler
from bot.slack.payloads import ChannelRef
from bot.slack.permissions import Permissions
from bot.slack.personal import PersonalAccounts
from bot.slack.socket import SlackSocket
from bot.store import (
    AuditLog,
    Connections,
    ConnectStates,
    DatabasePenaltyStore,
    DatabaseTokenRequestLog,
    DatabaseTokenStore,
    Links,
    Posts,
    SealedTextStore,
    Sealer,
    SubscriptionStore,
    connect,
)
from bot.store.admin import AdminReports
from bot.store.deadletters import DeadLetters
from bot.store.login_refusals import DatabaseLoginGate
from bot.store.migrate import SchemaOutOfDate, ensure_schema, require_schema
from bot.store.outbound import OutboundLog
from bot.store.replies import ThreadReplies
from bot.store.work import release_leases
from bot.tasks import Tasks

__all__ = [
    "ADMIN",
    "DEPS",
    "ENGINE",
    "METRICS",
    "NOTIFICATIONS",
    "PEOPLE",
    "RINGCENTRAL",
    "SETTINGS",
    "SLACK",
    "SLACK_SOCKET",
    "check_settings",
    "create_app",
    "database",
    "notification_side",
    "ringcentral",
    "slack",
    "websocket_session",
]

log = logging.getLogger("bot.server")

SETTINGS = web.AppKey("settings", Settings)
BRIDGE = web.AppKey("bridge", BridgeConfig)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
ENGINE = web.AppKey("engine", AsyncEngine)
RINGCENTRAL = web.AppKey("ringcentral", RingCentralClient)
SLACK = web.AppKey("slack", SlackRequestHandler)
DEPS = web.AppKey("deps", SlackDeps)
PEOPLE = web.AppKey("people", PeopleLinker)
SLACK_SOCKET = web.AppKey("slack_socket", SlackSocket)  # set only with SLACK_APP_TOKEN
RECEIVER = web.AppKey("receiver", WebhookReceiver)
ADMIN = web.AppKey("admin", AdminDesk)  # the admin channel (DESIGN §3.10)
ACCOUNTS = web.AppKey("accounts", PersonalAccounts)
# Set only with `background=False` (tests drive the dispatcher step by step).
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
# Every Slack call, each attempt: the dispatcher's must end well inside a claim's lease
# (`bot.bridge.poster.LEASE`), and a shared session has one timeout for all its clients.
SLACK_TIMEOUT = 10
SERVE_REQUIRES = (
    "slack_bot_token",
    "ringcentral_client_id",
    "ringcentral_client_secret",
    "ringcentral_jwt",
)


def check_settings(settings: Settings) -> None:
    """Raise ConfigError naming the first setting `serve` needs that is unset or
    malformed (DATABASE_URL included). Touches nothing: no file, no database, no network."""
    settings.require(*SERVE_REQUIRES)
    if not settings.socket_mode:  # Slack can reach us only through a verified Request URL
        settings.require("slack_signing_secret")
    _ = settings.sqlalchemy_url  # raises for a malformed DATABASE_URL or SQLite on Heroku
    _ = settings.events  # raises for RINGCENTRAL_EVENTS=webhook without PUBLIC_URL


def create_app(
    settings: Settings,
    bridge: BridgeConfig,
    *,
    clock: Clock | None = None,
    background: bool = True,
) -> web.Application:
    """The server. `background=False` builds the dispatcher without running it (tests
    drive it step by step)."""
    check_settings(settings)
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[BRIDGE] = bridge
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics()
    app[BACKGROUND] = background
    app[SHUTDOWN] = Shutdown()
    app.on_shutdown.append(_stop_taking_work)
    app.cleanup_ctx.append(_lifetime)
    if settings.slack_signing_secret is not None:
        app.router.add_post("/slack/events", _slack_events)
        _say_the_request_url(settings)
    app.router.add_post(WEBHOOK_PATH, _ringcentral_webhook)
    app.router.add_get(OAUTH_CALLBACK_PATH, _oauth_callback)
    add_routes(app)
    return app


def _say_the_request_url(settings: Settings) -> None:
    """DESIGN §3.1: Slack must be told where to send requests (once, in the app's settings)."""
    if settings.public_url is not None:
        log.info("Slack's Request URL: %s/slack/events", str(settings.public_url).rstrip("/"))
    elif not settings.socket_mode:
        log.warning(
            "PUBLIC_URL is not set: give Slack this server's public https address + "
            "/slack/events as its Request URL (port %d here), or set SLACK_APP_TOKEN for "
            "Socket Mode, which needs no address",
            settings.port,
        )


async def _slack_events(request: web.Request) -> web.Response:
    return await request.app[SLACK].handle(request)


async def _ringcentral_webhook(request: web.Request) -> web.Response:
    return await request.app[RECEIVER].handle(request)


async def _oauth_callback(request: web.Request) -> web.Response:
    """RingCentral sends the person's browser back here after they connect (DESIGN §3.9)."""
    page = await request.app[ACCOUNTS].finish(dict(request.query))
    return web.Response(
        status=page.status,
        text=page.html(),
        content_type="text/html",
        # The query carried a code and a state: no cache, no referrer keeps them.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    settings, bridge, clock, metrics = app[SETTINGS], app[BRIDGE], app[CLOCK], app[METRICS]
    async with contextlib.AsyncExitStack() as resources:  # closed in reverse order
        engine = connect(settings.sqlalchemy_url)
        resources.push_async_callback(engine.dispose)
        await ensure_schema(engine)
        if engine.dialect.name == "sqlite" and (released := await release_leases(engine)):
            log.warning("took back %d claims left by the previous run", released)
        http = _ringcentral_http()
        resources.push_async_callback(http.aclose)
        rc = shared_ringcentral_client(settings, http, engine, clock=clock)
        # Metrics hear of every RingCentral request and token grant (bot/ringcentral stays
        # free of Prometheus: it only calls these observers).
        rc.on_exchange = metrics.ringcentral_exchange
        session = _slack_session()
        resources.push_async_callback(session.close)
        dispatch_slack = _dispatch_slack(settings, session, metrics)
        # The admin channel works whatever else does: a refused sign-in is its first news.
        desk = AdminDesk(
            AdminReports(engine),
            DeadLetters(engine),
            clock,
            channel=bridge.admin.channel,
            slack=dispatch_slack,
            # A real request: a revoked session still looks fresh until RingCentral says 401.
            sign_in=rc.account.extension,
        )
        app[ADMIN] = desk
        rc.auth.on_grant = _observers(metrics.token_grant, desk.token_grant)
        tasks = Tasks()
        interactive = _interactive_slack(settings, session, metrics)
        links = Links(engine)
        # Who is whom (DESIGN §3.9): refreshed daily in the background; DM routes need
        # each linked person's DM opened.
        people = PeopleLinker(
            rc,
            interactive,
            links,
            bridge.people,
            clock,
            open_dms=any(route.dm == "owner" for route in bridge.routes),
        )
        app[PEOPLE] = people
        accounts = personal_accounts(
            settings, http, engine, rc, clock=clock, slack=interactive, tasks=tasks,
            metrics=metrics,
        )  # fmt: skip
        app[ACCOUNTS] = accounts
        deps = SlackDeps(
            rc=rc,
            facts=AccountFacts(rc.account, clock),
            audit=AuditLog(engine),
            commands=bridge.commands,
            clock=clock,
            tasks=tasks,
            posts=Posts(engine),
            replies=ThreadReplies(engine),
            links=links,
            permissions=Permissions(bridge.permissions, interactive, clock),
            session=session,  # replies to a response_url: the same connection pool
            outbound=OutboundLog(engine),
            accounts=accounts,
        )
        app[ENGINE], app[RINGCENTRAL], app[DEPS] = engine, rc, deps
        signing_secret = settings.slack_signing_secret
        bolt = build_bolt_app(
            deps,
            client=interactive,
            # None: no /slack/events route; Socket Mode envelopes carry no signature.
            signing_secret=signing_secret.get_secret_value() if signing_secret else None,
        )
        app[SLACK] = SlackRequestHandler(bolt, on_request=metrics.slack_request)
        socket: SlackSocket | None = None
        if settings.socket_mode:
            socket = SlackSocket(
                bolt,
                app_token=settings.secret("slack_app_token"),
                client=interactive,  # apps.connections.open through the shared session
                on_request=metrics.slack_request,
                on_connect=_observers(
                    metrics.slack_socket_connected, lambda: desk.later(desk.socket_connected())
                ),
                report=desk.socket_report,
            )
            app[SLACK_SOCKET] = socket
        receiver = WebhookReceiver(engine, SubscriptionStore(engine), clock, metrics)
        app[RECEIVER] = receiver
        enabled = notifications.enabled(bridge, settings.default_channel)
        events = settings.events
        websocket = None
        if enabled and events == "websocket":
            websocket = _ringcentral_websocket_session()
            resources.push_async_callback(websocket.close)
        health = Health(
            engine,
            clock,
            metrics,
            auth_failure=lambda: rc.auth.failure,
            subscription_expected=enabled and events == "webhook",
            notifications="starting" if enabled else "off",
            slack_socket=(lambda: socket.state) if socket is not None else None,
            websocket_expected=enabled and events == "websocket",
        )
        app[HEALTH] = health

        def ready(built: notifications.Notifications) -> None:
            receiver.on_stored = built.dispatcher.delivered
            deps.reply_stored = built.dispatcher.wake
            health.notifications = "running"
            desk.retention = built.retention

        build = functools.partial(
            notifications.build,
            bridge=bridge,
            default_channel=settings.default_channel,
            address=webhook_address(settings.public_url),
            engine=engine,
            rc=rc,
            slack=dispatch_slack,
            facts=deps.facts,
            clock=clock,
            metrics=metrics,
            events=events,
            websocket=websocket,
            session_key=service_identity(settings),
            # The gateway's timers are real ones, whatever clock the rest runs on (tests);
            # the holder's word in the database is in the app's time, as every reader's.
            socket_clock=RealTimers(clock),
            admin=desk,
            people=people,
            accounts=accounts,
            may_text=_may_text(deps.permissions),
            receipts=ThreadReplyReceipts(
                OutboundLog(engine),
                dispatch_slack,
                clock,
                region=deps.facts.region,
                timezone=deps.facts.timezone,
                on_texted=lambda reply: actions.claim_conversation(
                    deps, dispatch_slack, reply.channel, reply.thread_ts, reply.user
                ),
            ),
        )
        if socket is not None:
            resources.push_async_callback(socket.close)
            await socket.start()
        stop = app[SHUTDOWN].stop
        linking: asyncio.Task[None] | None = None
        if app[BACKGROUND]:
            linking = asyncio.create_task(people.run(stop), name="people links")
        background: asyncio.Task[None] | None = None
        admin: asyncio.Task[None] | None = None
        if app[BACKGROUND]:
            admin = asyncio.create_task(desk.run(stop), name="admin")
        refresher: asyncio.Task[None] | None = None
        if app[BACKGROUND] and accounts.enabled:
            refresher = asyncio.create_task(accounts.run(stop), name="personal sessions")
        if not enabled:
            log.warning("no [[routes]] and no DEFAULT_CHANNEL: serving slash commands only")
        elif app[BACKGROUND]:
            start = notifications.run_when_ready(build, stop, ready)
            background = asyncio.create_task(start, name="notifications")
        else:
            app[NOTIFICATIONS] = built = await build()
            ready(built)
        try:
            yield
        finally:
            started = app[SHUTDOWN].started or time.monotonic()
            stop.set()
            grace = max(0.5, started + SHUTDOWN_GRACE - time.monotonic())
            # Both at once, within what is left of the grace: the dispatcher finishes the
            # delivery in hand and releases the rest (anything cancelled is leased, and due
            # again when the lease runs out); command replies finish or are cancelled.
            await asyncio.gather(
                _finish(background, grace),
                _finish(admin, grace),
                _finish(linking, grace),
                _finish(refresher, grace),
                tasks.close(grace=grace),
            )


def _observers(*observers: Callable[..., None]) -> Callable[..., None]:
    """One observer that tells each of `observers`, in order."""

    def tell(*args: object) -> None:
        for observer in observers:
            observer(*args)

    return tell


async def _stop_taking_work(app: web.Application) -> None:
    """`on_shutdown`: runs before aiohttp waits for in-flight requests, so the background
    work stops taking rows while the requests finish."""
    shutdown = app[SHUTDOWN]
    shutdown.started = time.monotonic()
    shutdown.stop.set()
    if SLACK_SOCKET in app:
        await app[SLACK_SOCKET].close()


async def _finish(task: asyncio.Task[None] | None, grace: float) -> None:
    if task is None:
        return
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=grace)


# -- the clients ----------------------------------------------------------------------------


def _ringcentral_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
    )


def _ringcentral_websocket_session() -> aiohttp.ClientSession:
    """RingCentral's WebSocket gateway: no total timeout (the connection lives for hours),
    a bounded connect."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=15.0, sock_connect=15.0)
    )


def _slack_session() -> aiohttp.ClientSession:
    """The one connection pool to Slack. slack_sdk opens (and closes) a session of its own
    for every call of a client given none: a new TCP and TLS handshake each time."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))


def _interactive_slack(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> AsyncWebClient:
    """Bolt's client: interactive replies retry here (DESIGN §3.7)."""
    return AsyncWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        session=session,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[
            metrics.slack_calls,  # counts every attempt, never retries
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _dispatch_slack(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> AsyncWebClient:
    """The dispatcher's client retries nothing by itself: its retries go through the
    database with backoff and Retry-After (DESIGN §3.7, "Slack retries have one owner").
    Its one handler only counts calls for /metrics."""
    return AsyncWebClient(
        token=settings.secret("slack_bot_token"),
        base_url=settings.slack_api_url,
        session=session,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[metrics.slack_calls],
    )


def ringcentral_client(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    clock: Clock | None = None,
    token_store: TokenStore | None = None,
    penalty_store: PenaltyStore | None = None,
    token_requests: TokenRequestLog | None = None,
    identity: str | None = None,
    login_gate: LoginGate | None = None,
) -> RingCentralClient:
    """The service user's client (JWT), talking to RINGCENTRAL_SERVER_URL. Without stores
    its tokens, penalties and token-request window live in this process only. `identity`
    (default: `service_identity`) keys its rate limits: RingCentral counts them per user
    and app, whichever process asks."""
    settings.require("ringcentral_client_id", "ringcentral_client_secret", "ringcentral_jwt")
    clock = clock or SystemClock()
    identity = identity or service_identity(settings)
    client_id = settings.ringcentral_client_id or ""
    return RingCentralClient(
        http=http,
        credentials=Credentials(
            client_id=client_id,
            client_secret=settings.ringcentral_client_secret,
            jwt=settings.ringcentral_jwt,
        ),
        server_url=settings.ringcentral_server_url,
        media_url=settings.ringcentral_media_url,
        token_store=token_store,
        # With a shared store, read it before every request (one small query): a penalty
        # another process just met must stop this one too (RELIABILITY R8: "from any
        # process"; the penalty restarts on every request sent during it).
        rate_limiter=RateLimiter(
            clock,
            penalty_store=penalty_store,
            penalty_refresh=0.0 if penalty_store is not None else None,
        ),
        identity=identity,
        clock=clock,
        # RingCentral's token endpoint is one per app (DESIGN §3.9): with a shared log,
        # every process and identity of this app takes its turn in one window.
        token_pacer=TokenPacer(
            token_requests or MemoryTokenRequestLog(), clock, app=client_id, service=True
        ),
        login_gate=login_gate,
    )


def shared_ringcentral_client(
    settings: Settings, http: httpx.AsyncClient, engine: AsyncEngine, *, clock: Clock | None = None
) -> RingCentralClient:
    """The server's client: its session, its rate-limit penalties and the app's
    token-request window are kept in the database, so every process serving this bridge
    uses one RingCentral session, refreshes it once, honours a penalty another process met
    and takes its turn at the token endpoint (RELIABILITY §3, R27, DESIGN §3.7, §3.9)."""
    clock = clock or SystemClock()
    identity = service_identity(settings)
    return ringcentral_client(
        settings,
        http,
        clock=clock,
        token_store=JsonTokenStore(_session_text(settings, engine, identity, clock)),
        penalty_store=DatabasePenaltyStore(engine),
        token_requests=DatabaseTokenRequestLog(engine),
        identity=identity,
        login_gate=DatabaseLoginGate(engine, identity),
    )


def personal_accounts(
    settings: Settings,
    http: httpx.AsyncClient,
    engine: AsyncEngine,
    shared: RingCentralClient,
    *,
    clock: Clock,
    slack: AsyncWebClient | None,
    tasks: Tasks | None = None,
    metrics: Metrics | None = None,
) -> PersonalAccounts:
    """Personal connections (DESIGN §3.9), or why they are off: without
    RINGBRIDGE_SECRET_KEY nothing personal can be stored; without a redirect URI
    RingCentral has nowhere to send the person back."""
    redirect = settings.redirect_url
    if settings.ringbridge_secret_key is None:
        return PersonalAccounts(
            shared=shared, clock=clock, redirect_url=redirect, slack=slack, off=PERSONAL_NO_KEY
        )
    sealer = Sealer(fernet_keys(settings.ringbridge_secret_key))
    token_requests = DatabaseTokenRequestLog(engine)
    client_id = settings.ringcentral_client_id or ""

    def client_for(identity: str) -> RingCentralClient:
        """A person's own client: their sealed session in the shared `tokens` table, their
        own rate limits and penalties, the app's one token-endpoint window (not the service
        user's reserved slot), and no JWT (a refused refresh ends their connection)."""
        client = RingCentralClient(
            http=http,
            credentials=Credentials(
                client_id=client_id, client_secret=settings.ringcentral_client_secret
            ),
            server_url=settings.ringcentral_server_url,
            media_url=settings.ringcentral_media_url,
            token_store=JsonTokenStore(
                SealedTextStore(DatabaseTokenStore(engine, identity, clock=clock), sealer)
            ),
            # The service user's limiter: one view in this process of the app's token
            # requests (RingCentral counts them per app) and of each identity's windows.
            rate_limiter=shared.rate_limiter,
            identity=identity,
            clock=clock,
            token_pacer=TokenPacer(token_requests, clock, app=client_id, service=False),
        )
        if metrics is not None:  # counted with the service user's (no label per person)
            client.on_exchange = metrics.ringcentral_exchange
            client.auth.on_grant = metrics.token_grant
        return client

    return PersonalAccounts(
        shared=shared,
        clock=clock,
        redirect_url=redirect,
        client_for=client_for,
        connections=Connections(engine),
        states=ConnectStates(engine, sealer),
        slack=slack,
        off=PERSONAL_NO_REDIRECT if redirect is None else None,
        tasks=tasks,
    )


PERSONAL_NO_KEY = (
    "Personal RingCentral accounts are off: your admin must set RINGBRIDGE_SECRET_KEY "
    "(`python -m bot keygen` prints one)."
)
PERSONAL_NO_REDIRECT = (
    "Personal RingCentral accounts are off: your admin must set PUBLIC_URL or "
    "RINGCENTRAL_REDIRECT_URL (the redirect URI registered in the RingCentral app)."
)


def _session_text(
    settings: Settings, engine: AsyncEngine, identity: str, clock: Clock
) -> DatabaseTokenStore | SealedTextStore:
    """The service user's session in the database: sealed with RINGBRIDGE_SECRET_KEY when
    it is set (a session stored in clear before, or sealed with a key since removed,
    reads as none: the JWT signs in again)."""
    store = DatabaseTokenStore(engine, identity, clock=clock)
    if settings.ringbridge_secret_key is None:
        return store
    return SealedTextStore(store, Sealer(fernet_keys(settings.ringbridge_secret_key)))


def service_identity(settings: Settings) -> str:
    """The key of the service user's row in `tokens` and `penalties`: the app and the JWT
    (hashed, never stored), so new credentials never pick up another session's tokens."""
    settings.require("ringcentral_client_id", "ringcentral_jwt")
    jwt = settings.secret("ringcentral_jwt")
    digest = hashlib.sha256(f"{settings.ringcentral_client_id}\0{jwt}".encode()).hexdigest()
    return f"service:{digest[:16]}"


# -- for one-shot commands (bot.cli) ----------------------------------------------------------


@asynccontextmanager
async def ringcentral(
    settings: Settings, *, engine: AsyncEngine | None = None
) -> AsyncIterator[RingCentralClient]:
    """The service user's RingCentral client for one command (DESIGN §3.9). Raises
    ConfigError naming a missing credential.

    When the bridge's database (`engine`, or DATABASE_URL when it is at this version's
    schema: never created or migrated here) holds the running bridge's session, the
    command uses that session, and the app's token-request window and penalties kept
    there. Otherwise it opens a session of its own and revokes it at exit: RingCentral
    keeps about five sessions per user and app and ends the oldest, which may be
    `serve`'s. Its token requests still take their turn in the database's window when
    there is one.
    """
    settings.require("ringcentral_client_id", "ringcentral_client_secret", "ringcentral_jwt")
    async with contextlib.AsyncExitStack() as stack:
        http = _ringcentral_http()
        stack.push_async_callback(http.aclose)
        if engine is None:
            engine = await stack.enter_async_context(_existing_database(settings))
        if engine is not None and await holds_session(settings, engine):
            yield shared_ringcentral_client(settings, http, engine)
            return
        client = ringcentral_client(
            settings,
            http,
            penalty_store=DatabasePenaltyStore(engine) if engine is not None else None,
            token_requests=DatabaseTokenRequestLog(engine) if engine is not None else None,
        )
        try:
            yield client
        finally:
            if await client.auth.has_session():
                await client.auth.revoke()


async def holds_session(settings: Settings, engine: AsyncEngine) -> bool:
    """Whether the database holds the running bridge's RingCentral session."""
    store = DatabaseTokenStore(engine, service_identity(settings))
    try:
        return await store.load() is not None
    except (OSError, SQLAlchemyError):
        return False


@asynccontextmanager
async def _existing_database(settings: Settings) -> AsyncIterator[AsyncEngine | None]:
    """The bridge's database when it exists at this version's schema, else None: a
    command that merely calls RingCentral must not fail for want of a database."""
    try:
        url = settings.sqlalchemy_url
    except ConfigError:
        yield None
        return
    if _no_sqlite_file(url):
        yield None
        return
    engine = connect(url)
    try:
        try:
            await require_schema(engine)
        except Exception:  # unreachable, old, foreign: whatever it is, not ours to use
            yield None
            return
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def notification_side(
    settings: Settings, bridge: BridgeConfig, *, clock: Clock | None = None
) -> AsyncIterator[notifications.Notifications]:
    """The notification side for one command (`catchup`), built as `serve` builds it: the
    database's shared RingCentral session, the dispatcher's Slack client. Nothing runs
    until the command drives it. Raises ConfigError for a missing setting, and for a
    config RingCentral or Slack contradicts."""
    settings.require(*SERVE_REQUIRES)
    clock = clock or SystemClock()
    metrics = Metrics()
    async with (
        contextlib.AsyncExitStack() as resources,
        database(settings, schema="ensure") as engine,
    ):
        http = _ringcentral_http()
        resources.push_async_callback(http.aclose)
        session = _slack_session()
        resources.push_async_callback(session.close)
        rc = shared_ringcentral_client(settings, http, engine, clock=clock)
        slack = _dispatch_slack(settings, session, metrics)
        facts = AccountFacts(rc.account, clock)
        # A replayed thread reply (`deadletters replay`) is checked and followed as in serve.
        interactive = _interactive_slack(settings, session, metrics)
        permissions = Permissions(bridge.permissions, interactive, clock)
        # …and, its author connected, texted from their own session as in serve.
        accounts = personal_accounts(settings, http, engine, rc, clock=clock, slack=interactive)
        yield await notifications.build(
            bridge=bridge,
            default_channel=settings.default_channel,
            address=webhook_address(settings.public_url),
            engine=engine,
            rc=rc,
            slack=slack,
            facts=facts,
            clock=clock,
            metrics=metrics,
            may_text=_may_text(permissions),
            receipts=ThreadReplyReceipts(
                OutboundLog(engine), slack, clock, region=facts.region, timezone=facts.timezone
            ),
            accounts=accounts,
        )


def _may_text(permissions: Permissions) -> MayText:
    """A thread reply is texted only for someone `[permissions] sms` allows in that
    channel (DESIGN §3.8, §3.9); the same check as `/sms`."""

    async def may_text(user: str, channel: str, company_number: str) -> bool:  # noqa: ARG001
        return await permissions.refusal("sms", user, ChannelRef(channel)) is None

    return may_text


@asynccontextmanager
async def websocket_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A session for RingCentral's WebSocket gateway, for one command (`check`)."""
    session = _ringcentral_websocket_session()
    try:
        yield session
    finally:
        await session.close()


@asynccontextmanager
async def slack(settings: Settings) -> AsyncIterator[AsyncWebClient]:
    """The bot's Slack client for one command, on a session of its own closed after.
    Raises ConfigError when SLACK_BOT_TOKEN is unset."""
    settings.require("slack_bot_token")
    session = _slack_session()
    try:
        yield AsyncWebClient(
            token=settings.secret("slack_bot_token"),
            base_url=settings.slack_api_url,
            session=session,
            timeout=SLACK_TIMEOUT,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            ],
        )
    finally:
        await session.close()


@asynccontextmanager
async def database(
    settings: Settings, *, schema: Literal["ensure", "require"] | None = None
) -> AsyncIterator[AsyncEngine]:
    """The database for one command, disposed after. `schema`:

    - "ensure", for a command that writes: as `serve` does, SQLite is upgraded and an old
      PostgreSQL schema refused (ConfigError saying to run `db upgrade`);
    - "require", for a command that only reads: never migrates, never creates a SQLite
      file; SchemaOutOfDate unless the schema is this version's;
    - None: nothing checked (`db upgrade` itself).

    A database that cannot be opened is a ConfigError naming DATABASE_URL.
    """
    url = settings.sqlalchemy_url
    if schema == "require" and _no_sqlite_file(url):
        raise SchemaOutOfDate(None)
    engine = connect(url)
    try:
        if schema is not None:
            try:
                await (ensure_schema if schema == "ensure" else require_schema)(engine)
            except SchemaOutOfDate as exc:
                if schema == "require":
                    raise
                raise ConfigError(f"DATABASE_URL: {exc}") from None
            except (OSError, SQLAlchemyError) as exc:
                raise ConfigError(
                    f"DATABASE_URL: cannot open the database: {type(exc).__name__}"
                ) from None
        yield engine
    finally:
        await engine.dispose()


def _no_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    path = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and path != ":memory:" and not Path(path).exists()

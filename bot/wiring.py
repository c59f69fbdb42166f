"""Building the bridge's long-lived objects from Settings (shared by the CLI and the server)."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.ringcentral import (
    Credentials,
    PenaltyStore,
    RateLimiter,
    RingCentralClient,
    TokenStore,
)
from bot.store import DatabasePenaltyStore, DatabaseTokenStore


def ringcentral_client(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    clock: Clock | None = None,
    token_store: TokenStore | None = None,
    penalty_store: PenaltyStore | None = None,
    identity: str = "default",
) -> RingCentralClient:
    """The service user's client (JWT), talking to RINGCENTRAL_SERVER_URL. Without stores
    its tokens and penalties live in this process only (the CLI's one-shot commands)."""
    settings.require("ringcentral_client_id", "ringcentral_client_secret", "ringcentral_jwt")
    clock = clock or SystemClock()
    return RingCentralClient(
        http=http,
        credentials=Credentials(
            client_id=settings.ringcentral_client_id or "",
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
    )


def shared_ringcentral_client(
    settings: Settings, http: httpx.AsyncClient, engine: AsyncEngine, *, clock: Clock | None = None
) -> RingCentralClient:
    """The server's client: its session and its rate-limit penalties are kept in the
    database, so every process serving this bridge uses one RingCentral session, refreshes
    it once, and honours a penalty another process met (RELIABILITY §3, DESIGN §3.7)."""
    clock = clock or SystemClock()
    identity = service_identity(settings)
    return ringcentral_client(
        settings,
        http,
        clock=clock,
        token_store=DatabaseTokenStore(engine, identity, clock=clock),
        penalty_store=DatabasePenaltyStore(engine),
        identity=identity,
    )


def service_identity(settings: Settings) -> str:
    """The key of the service user's row in `tokens` and `penalties`: the app and the JWT
    (hashed, never stored), so new credentials never pick up another session's tokens."""
    settings.require("ringcentral_client_id", "ringcentral_jwt")
    jwt = settings.secret("ringcentral_jwt")
    digest = hashlib.sha256(f"{settings.ringcentral_client_id}\0{jwt}".encode()).hexdigest()
    return f"service:{digest[:16]}"

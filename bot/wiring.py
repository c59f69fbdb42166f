"""Building the bridge's long-lived objects from Settings (shared by the CLI and the server)."""

from __future__ import annotations

import httpx

from bot.clock import Clock
from bot.config import Settings
from bot.ringcentral import Credentials, RingCentralClient, TokenStore


def ringcentral_client(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    clock: Clock | None = None,
    token_store: TokenStore | None = None,
) -> RingCentralClient:
    """The service user's client (JWT), talking to RINGCENTRAL_SERVER_URL."""
    settings.require("ringcentral_client_id", "ringcentral_client_secret", "ringcentral_jwt")
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
        clock=clock,
    )

"""`POST /ringcentral/webhook` (DESIGN §3.3).

RingCentral is a weak sender: a static token in a header, no signature, no timestamp. So:
the token is compared in constant time with the ones this bridge chose (kept in the
database, so a subscription made by any process is accepted at once); an authentic
delivery is stored, deduplicated on its `uuid`, BEFORE the 200; an authentic delivery
that cannot be read is still answered 200 (a non-200 gets the subscription blacklisted)
and kept as a dead letter.

Storing is `bot.bridge.inbox` (shared with the WebSocket listener). Deliveries arriving
together share one transaction (group commit, DESIGN §6); each is answered 200 only once
that transaction has committed, and 500 if it failed (RingCentral sends it again; nothing
is acknowledged that is not stored).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge._batch import MAX_ROWS, MAX_WAIT, GroupWriter, NotStored
from bot.bridge.inbox import Inbox
from bot.clock import Clock
from bot.observe import Metrics
from bot.store import SubscriptionStore

log = logging.getLogger("bot.bridge.receiver")

# How often an unknown token may make us re-read the tokens from the database.
TOKEN_REREAD_INTERVAL = 1.0


class WebhookReceiver:
    def __init__(
        self,
        engine: AsyncEngine,
        subscriptions: SubscriptionStore,
        clock: Clock,
        metrics: Metrics,
        *,
        on_stored: Callable[[], None] = lambda: None,
        max_batch: int = MAX_ROWS,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self._inbox = Inbox(engine, clock, max_batch=max_batch, max_wait=max_wait)
        self._subscriptions = subscriptions
        self._clock = clock
        self.on_stored = on_stored
        self._tokens: set[bytes] = set()
        self._tokens_read_at = float("-inf")
        # Each outcome's counter, labelled once: `labels()` per request costs a lock and a
        # lookup that the handler need not pay every time.
        self._counted = {
            outcome: metrics.deliveries.labels(outcome)
            for outcome in ("handshake", "rejected", "error", "stored", "duplicate", "dead_letter")
        }

    async def handle(self, request: web.Request) -> web.Response:
        validation = request.headers.get("Validation-Token")
        body = await request.read()  # past the app's client_max_size aiohttp answers 413
        if not body and validation is not None:
            # The creation handshake. RingCentral: 200 within 3 s, the header echoed,
            # Content-Type application/json even with no body, <= 1024 bytes in all.
            self._counted["handshake"].inc()
            return web.Response(
                status=200,
                headers={"Validation-Token": validation, "Content-Type": "application/json"},
            )
        token = request.headers.get("Verification-Token") or validation
        if not token or not await self._authentic(token):
            self._counted["rejected"].inc()
            log.warning("refused a webhook delivery without a valid verification token")
            return web.Response(status=403)
        try:
            outcome = await self._inbox.store(body)
        except NotStored:
            # Not durable, so not acknowledged: RingCentral delivers it again.
            self._counted["error"].inc()
            return web.Response(status=500)
        self._counted[outcome].inc()
        if outcome == "stored":
            self.on_stored()
        return web.Response(status=200)

    @property
    def batches(self) -> GroupWriter:
        """The group-commit writer (its `stats`, for tests and benchmarks)."""
        return self._inbox.batches

    async def close(self) -> None:
        """Refuse new deliveries (500) and wait until the queued ones are committed."""
        await self._inbox.close()

    async def _authentic(self, token: str) -> bool:
        # aiohttp keeps a header byte that is not UTF-8 as a lone surrogate: encode it as is
        # (it then matches no token: ours are ASCII) instead of raising.
        given = token.encode("utf-8", "surrogatepass")
        if self._matches(given):
            return True
        now = self._clock.monotonic()
        if now - self._tokens_read_at < TOKEN_REREAD_INTERVAL:
            return False
        # A subscription made since we last looked (by `subscriptions sync`, or another
        # process) is accepted at once.
        self._tokens = {t.encode() for t in await self._subscriptions.tokens()}
        self._tokens_read_at = now
        return self._matches(given)

    def _matches(self, given: bytes) -> bool:
        # Compare with every token, in constant time each, whatever matches first.
        found = False
        for known in self._tokens:
            found |= hmac.compare_digest(given, known)
        return found

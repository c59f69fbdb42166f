"""The one way out to RingCentral: every request — API, content or token, first try or the
retry after a 401 — waits for its rate-limit slot, goes over the injected httpx client,
and teaches the limiter (X-Rate-Limit-*) and the observer what its answer was.

Why pacing is an auth flow here, not a transport: the `httpx.AsyncClient` is injected (one
per service, from the composition root) and used as it is; its transport and connection
pool are not ours to wrap, and may serve other RingCentral identities. What httpx offers
per request is `send(request, auth=...)`, and an auth flow sees every request httpx sends
for the call and every answer. So `_Paced` wraps the call's own flow (`BearerAuth`, or none
for a token request): it takes the slot before the inner flow runs, so a token is taken
after the wait for the slot, not before it (a long wait would send a stale one).

Errors: `map_exceptions` turns an httpx transport error into a TransportError here; a non-2xx
answer becomes a RingCentralError in `raise_for_status`. Nothing is retried here: not a 429
(RingCentral restarts the penalty on every request sent during it), not a timeout (an SMS
or a RingOut may have been carried out). Logs name the method, path, status and group,
never a header, a token or a form body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx

from ._errors import ApiError, RateLimited, api_error, map_exceptions
from ._ratelimit import RateLimiter

__all__ = ["Exchange", "Sender"]

log = logging.getLogger("bot.ringcentral.client")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request sent to RingCentral and how it ended, for an observer (metrics).

    `path` carries account and extension ids: fine for a log, not for a metric label.
    `status` is 0 when no HTTP answer came; `error_code` is RingCentral's errorCode for a
    non-2xx answer (`HTTP-<status>` when the body has none), the transport error's class
    name when `status` is 0, and "" for a 2xx.
    """

    method: str
    path: str
    group: str
    status: int
    error_code: str
    seconds: float


class Sender:
    """Sends requests for one RingCentral identity over `http`, paced by `limiter`.

    `on_exchange` hears of every request sent; it must not raise, must not block.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: RateLimiter,
        *,
        identity: str,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self._http = http
        self.limiter = limiter
        self.identity = identity
        self.on_exchange = on_exchange

    async def send(self, request: httpx.Request, auth: httpx.Auth | None = None) -> httpx.Response:
        """Send `request` through `auth`'s flow (none: as it is); any answer, 2xx or not.
        Raises TransportError when no answer came, RateLimited when refused unsent."""
        flow = _Paced(self, auth or httpx.Auth())
        with map_exceptions(f"{request.method} {request.url.path}"):
            try:
                return await self._http.send(request, auth=flow, follow_redirects=False)
            except httpx.TransportError as exc:
                flow.unanswered(exc)
                raise

    def raise_for_status(self, response: httpx.Response) -> None:
        """The RingCentralError for a non-2xx answer: RateLimited for a 429, else ApiError."""
        if response.is_success:
            return
        request = response.request
        method, path = request.method, request.url.path
        err: ApiError | RateLimited = api_error(response)
        group = self.limiter.group(method, path)
        if response.status_code == 429:
            retry_after = self.limiter.wait_time(method, path, identity=self.identity)
            err = RateLimited(retry_after, group, error_code=err.error_code)
        log.warning(
            "%s %s -> %d errorCode=%s group=%s",
            method,
            path,
            response.status_code,
            err.error_code,
            group,
        )
        raise err

    # -- each request of a call (_Paced) -----------------------------------------------

    async def acquire(self, request: httpx.Request) -> str:
        """Wait for the request's rate-limit slot; its group."""
        return await self.limiter.acquire(request.method, request.url.path, identity=self.identity)

    async def record(
        self, request: httpx.Request, response: httpx.Response, seconds: float
    ) -> None:
        """Learn from an answer (X-Rate-Limit-*, a 429's penalty) and tell the observer."""
        method, path = request.method, request.url.path
        group = await self.limiter.record(method, path, response, identity=self.identity)
        log.debug("%s %s -> %d group=%s", method, path, response.status_code, group)
        if self.on_exchange is None:
            return
        code = ""
        if not response.is_success:  # an error body is read only for an observer
            await response.aread()
            code = api_error(response).error_code
        self._observe(Exchange(method, path, group, response.status_code, code, seconds))

    def record_unanswered(
        self, request: httpx.Request, group: str, exc: Exception, seconds: float
    ) -> None:
        """A request that got no answer still counts in its window from now."""
        method, path = request.method, request.url.path
        self.limiter.answered(method, path, identity=self.identity)
        log.warning("%s %s -> %s group=%s", method, path, type(exc).__name__, group)
        self._observe(Exchange(method, path, group, 0, type(exc).__name__, seconds))

    def _observe(self, exchange: Exchange) -> None:
        if self.on_exchange is None:
            return
        try:
            self.on_exchange(exchange)
        except Exception:  # an observer's bug must not fail a RingCentral call
            log.exception("the RingCentral exchange observer failed")


class _Paced(httpx.Auth):
    """One call: each request of the inner flow paced, each answer recorded (a new one per
    call, since it knows which request is on the wire)."""

    def __init__(self, sender: Sender, inner: httpx.Auth) -> None:
        self._sender = sender
        self._inner = inner
        self._on_wire: tuple[httpx.Request, str, float] | None = None

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("RingCentral requests are sent with an httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        group = await self._sender.acquire(request)
        flow = self._inner.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                started = time.perf_counter()
                self._on_wire = (request, group, started)
                response = yield request
                self._on_wire = None
                await self._sender.record(request, response, time.perf_counter() - started)
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return
                group = await self._sender.acquire(request)
        finally:
            await flow.aclose()

    def unanswered(self, exc: Exception) -> None:
        """The request on the wire got no answer (`exc`): it still counts in its window."""
        if self._on_wire is not None:
            request, group, started = self._on_wire
            self._on_wire = None
            self._sender.record_unanswered(request, group, exc, time.perf_counter() - started)

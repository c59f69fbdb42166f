"""The async RingCentral REST client: authenticated, paced requests over injected httpx.

One request goes: URL check (`_urls`) → wait for its rate-limit slot (`_ratelimit`) → a
valid access token (`_auth`) → send → learn X-Rate-Limit-* → on 401 refresh once and
retry once → raise a RingCentralError for anything but 2xx. Nothing else is retried: a 429
is not (RingCentral restarts the penalty on every request sent during it), and an SMS or a
RingOut may have been carried out before a timeout.

Logs name the method, path, status, errorCode and group; never a header, a token, the JWT
or a token request's form body. An optional `on_exchange` observer (the server's metrics)
hears of every request sent, token requests included, as an `Exchange`.
"""

from __future__ import annotations

import email.message
import json as jsonlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from ..clock import Clock, SystemClock
from ._auth import Credentials, MemoryTokenStore, TokenManager, TokenSet, TokenStore
from ._errors import ApiError, RateLimited, TransportError, api_error
from ._pkce import authorize_url
from ._ratelimit import MAX_WAIT, RateLimiter
from ._requester import Download, FilePart, QueryParams
from ._urls import Origins
from .resources import Account, CallLog, Messages, RingOut, Subscriptions

__all__ = ["DEFAULT_MEDIA_URL", "DEFAULT_SERVER_URL", "Exchange", "RingCentralClient"]

log = logging.getLogger("bot.ringcentral.client")

DEFAULT_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_MEDIA_URL = "https://media.ringcentral.com"


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


class RingCentralClient:
    """RingCentral over an injected `httpx.AsyncClient`; satisfies `Requester`.

    `close()` closes the injected HTTP client too: the RingCentral client owns it.
    Share one `rate_limiter` between clients that act as the same RingCentral user;
    `identity` keys its state (and the penalties a shared store keeps).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        credentials: Credentials,
        server_url: str = DEFAULT_SERVER_URL,
        media_url: str = DEFAULT_MEDIA_URL,
        token_store: TokenStore | None = None,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        identity: str = "default",
        max_wait: float = MAX_WAIT,
        refresh_margin: float = 60.0,
        relogin_interval: float = 300.0,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self._http = http
        self.on_exchange = on_exchange  # settable later; must not raise, must not block
        self._origins = Origins(server_url, media_url)
        self._clock: Clock = clock or SystemClock()
        self._credentials = credentials
        self.identity = identity
        self.rate_limiter = rate_limiter or RateLimiter(self._clock, max_wait=max_wait)
        self.auth = TokenManager(
            credentials=credentials,
            store=token_store if token_store is not None else MemoryTokenStore(),
            clock=self._clock,
            send=self._send_token_request,
            server_url=self._origins.server,
            refresh_margin=refresh_margin,
            relogin_interval=relogin_interval,
        )
        # The typed endpoints, each speaking through this client.
        self.messages = Messages(self, media_url=str(self._origins.media))
        self.ringout = RingOut(self)
        self.call_log = CallLog(self)
        self.account = Account(self)
        self.subscriptions = Subscriptions(self)

    def __repr__(self) -> str:
        return (
            f"RingCentralClient(server_url={str(self._origins.server)!r}, "
            f"media_url={str(self._origins.media)!r}, "
            f"client_id={self._credentials.client_id!r}, identity={self.identity!r})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- Requester -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        files: Sequence[tuple[str, FilePart]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send `method path` (relative to the server, or an absolute URL on the server
        or media host). `params`: a sequence repeats the key, None is dropped, booleans
        are `true`/`false`. `files` makes a multipart/form-data body, parts in the given
        order; with `json` as well, the JSON body is the first part (named `json`, as
        RingCentral's MMS examples and SDK do). Raises a RingCentralError for non-2xx."""
        url = self._origins.resolve(path)
        if params:
            # Merge, not replace: navigation links (`nextPage.uri`) carry their own query.
            url = url.copy_merge_params(_query(params))
        base_headers = {"Accept": "application/json"}
        if headers:
            base_headers.update({k: v for k, v in headers.items() if k.lower() != "authorization"})
        if files:
            parts: list[tuple[str, FilePart]] = []
            if json is not None:
                body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
                parts.append(("json", ("request.json", body, "application/json")))
            parts.extend(files)
            request = httpx.Request(method.upper(), url, files=parts, headers=base_headers)
        else:
            request = httpx.Request(method.upper(), url, json=json, headers=base_headers)
        return await self._call(request)

    async def download(self, url: str) -> Download:
        """GET binary content (voicemail audio, fax PDF, MMS image) with the token; only
        from the server or media host (UnsafeURLError otherwise, nothing sent)."""
        target = self._origins.resolve(url)
        response = await self._call(httpx.Request("GET", target, headers={"Accept": "*/*"}))
        return Download(
            content=response.content,
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            filename=_filename(response.headers.get("Content-Disposition")),
        )

    # -- helpers for the app -------------------------------------------------------------

    def wait_time(self, method: str, path: str) -> float:
        """Seconds a request sent now would wait for its rate-limit slot or penalty."""
        url = self._origins.resolve(path)
        return self.rate_limiter.wait_time(method, url.path, identity=self.identity)

    def authorize_url(self, redirect_uri: str, state: str, challenge: str, **extra: str) -> str:
        """The URL a user opens to connect their own account (auth code + PKCE)."""
        return authorize_url(
            self._credentials.client_id,
            redirect_uri,
            state,
            challenge,
            server_url=str(self._origins.server),
            **extra,
        )

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> TokenSet:
        return await self.auth.exchange_code(code, redirect_uri, verifier)

    # -- sending -------------------------------------------------------------------------

    async def _call(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a buffered body can be sent again after a 401
        method, path = request.method, request.url.path
        group = await self.rate_limiter.acquire(method, path, identity=self.identity)
        token = await self.auth.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response, group = await self._transmit(request, group)
        if response.status_code == 401:
            # RingCentral invalidates an access token at once when anyone refreshes it:
            # refresh once (or take the token another coroutine just got) and retry once.
            token = await self.auth.after_unauthorized(token)
            group = await self.rate_limiter.acquire(method, path, identity=self.identity)
            request.headers["Authorization"] = f"Bearer {token}"
            response, group = await self._transmit(request, group)
        self._raise_for_status(request, response, group)
        return response

    async def _send_token_request(self, request: httpx.Request) -> httpx.Response:
        """The TokenManager's way out: paced in the Auth group, no Bearer."""
        group = await self.rate_limiter.acquire(
            request.method, request.url.path, identity=self.identity
        )
        response, group = await self._transmit(request, group)
        if response.status_code == 429 or response.status_code >= 500:
            self._raise_for_status(request, response, group)
        return response

    async def _transmit(self, request: httpx.Request, group: str) -> tuple[httpx.Response, str]:
        method, path = request.method, request.url.path
        started = time.perf_counter()
        try:
            response = await self._http.send(request, follow_redirects=False)
        except httpx.TransportError as exc:
            self.rate_limiter.answered(method, path, identity=self.identity)
            log.warning("%s %s -> %s group=%s", method, path, type(exc).__name__, group)
            self._observe(request, group, 0, type(exc).__name__, time.perf_counter() - started)
            raise TransportError(
                f"RingCentral could not be reached for {method} {path} ({type(exc).__name__})"
            ) from exc
        seconds = time.perf_counter() - started
        group = await self.rate_limiter.record(method, path, response, identity=self.identity)
        log.debug("%s %s -> %d group=%s", method, path, response.status_code, group)
        if self.on_exchange is not None:  # an error body is read only for an observer
            code = "" if response.is_success else api_error(response).error_code
            self._observe(request, group, response.status_code, code, seconds)
        return response, group

    def _observe(
        self, request: httpx.Request, group: str, status: int, error_code: str, seconds: float
    ) -> None:
        if self.on_exchange is None:
            return
        exchange = Exchange(request.method, request.url.path, group, status, error_code, seconds)
        try:
            self.on_exchange(exchange)
        except Exception:  # an observer's bug must not fail a RingCentral call
            log.exception("the RingCentral exchange observer failed")

    def _raise_for_status(
        self, request: httpx.Request, response: httpx.Response, group: str
    ) -> None:
        if response.is_success:
            return
        err: ApiError | RateLimited = api_error(response)
        if response.status_code == 429:
            retry_after = self.rate_limiter.wait_time(
                request.method, request.url.path, identity=self.identity
            )
            err = RateLimited(retry_after, group, error_code=err.error_code)
        log.warning(
            "%s %s -> %d errorCode=%s group=%s",
            request.method,
            request.url.path,
            response.status_code,
            err.error_code,
            group,
        )
        raise err


def _query(params: QueryParams | None) -> httpx.QueryParams:
    items: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = (
            [value] if isinstance(value, str | bytes) or not isinstance(value, Sequence) else value
        )
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):  # before int: bool is an int
                items.append((key, "true" if item else "false"))
            else:
                items.append((key, str(item)))
    return httpx.QueryParams(tuple(items))


def _filename(disposition: str | None) -> str | None:
    if not disposition:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = disposition
    name = message.get_filename()
    return name if isinstance(name, str) and name else None

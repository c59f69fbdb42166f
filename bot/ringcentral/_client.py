"""The async RingCentral REST client over an injected `httpx.AsyncClient`.

One request goes: URL check (`_urls`) → `Sender.send` (`_sending`: its rate-limit slot,
then `BearerAuth`'s flow (`_auth`): a valid access token, and on a 401 one refresh and one
retry, each paced and recorded) → a RingCentralError for anything but 2xx. The call path
here is transport only: auth, pacing and error mapping each live in their own module.

An optional `on_exchange` observer (the server's metrics) hears of every request sent,
token requests included, as an `Exchange`.
"""

from __future__ import annotations

import email.message
import json as jsonlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from ..clock import Clock, SystemClock
from ._auth import WSTOKEN_PATH, BearerAuth, Credentials, LoginGate, TokenManager
from ._errors import auth_error
from ._pkce import authorize_url, make_pkce
from ._ratelimit import AUTH, MAX_WAIT, RateLimiter
from ._requester import Download, FilePart, QueryParams
from ._sending import Exchange, Sender
from ._tokenpace import MemoryTokenRequestLog, TokenPacer
from ._tokens import MemoryTokenStore, TokenSet, TokenStore
from ._urls import Origins
from .resources import (
    Account,
    CallLog,
    CallLogSyncs,
    Messages,
    MessageSyncs,
    Permissions,
    RingOut,
    Subscriptions,
)

__all__ = ["DEFAULT_MEDIA_URL", "DEFAULT_SERVER_URL", "RingCentralClient"]

DEFAULT_SERVER_URL = "https://platform.ringcentral.com"
DEFAULT_MEDIA_URL = "https://media.ringcentral.com"


class RingCentralClient:
    """RingCentral over an injected `httpx.AsyncClient`; satisfies `Requester`.

    The HTTP client is used as given (its pool, timeouts and proxies; never reconfigured);
    `close()` closes it too: the RingCentral client owns it. Share one `rate_limiter`
    between clients that act as the same RingCentral user; `identity` keys its state (and
    the penalties a shared store keeps). Token-endpoint requests take their turn in the
    app's window (`token_pacer`; by default this client's own, as the service user) and
    count their rate limits and penalties for the app (`app:<client id>`), not the user.
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
        token_pacer: TokenPacer | None = None,
        login_gate: LoginGate | None = None,
    ) -> None:
        self._http = http
        self._origins = Origins(server_url, media_url)
        self._clock: Clock = clock or SystemClock()
        self._credentials = credentials
        self.identity = identity
        self.rate_limiter = rate_limiter or RateLimiter(self._clock, max_wait=max_wait)
        self._sender = Sender(http, self.rate_limiter, identity=identity, on_exchange=on_exchange)
        # RingCentral counts token requests per app (DESIGN §3.9): so do their pacing and
        # any 429 penalty, shared by every identity of the app.
        self._token_sender = Sender(
            http, self.rate_limiter, identity=app_identity(credentials.client_id),
            on_exchange=on_exchange,
        )  # fmt: skip
        self.token_pacer = token_pacer or TokenPacer(
            MemoryTokenRequestLog(), self._clock, app=credentials.client_id, service=True
        )
        self.auth = TokenManager(
            credentials=credentials,
            store=token_store if token_store is not None else MemoryTokenStore(),
            clock=self._clock,
            send=self._send_token_request,
            server_url=self._origins.server,
            refresh_margin=refresh_margin,
            relogin_interval=relogin_interval,
            login_gate=login_gate,
        )
        self._bearer = BearerAuth(self.auth)
        # The typed endpoints, each speaking through this client.
        self.messages = Messages(self, media_url=str(self._origins.media))
        self.ringout = RingOut(self)
        self.call_log = CallLog(self)
        self.account = Account(self)
        self.subscriptions = Subscriptions(self)
        self.message_sync = MessageSyncs(self)
        self.call_log_sync = CallLogSyncs(self)
        self.permissions = Permissions(self)

    def __repr__(self) -> str:
        return (
            f"RingCentralClient(server_url={str(self._origins.server)!r}, "
            f"media_url={str(self._origins.media)!r}, "
            f"client_id={self._credentials.client_id!r}, identity={self.identity!r})"
        )

    @property
    def on_exchange(self) -> Callable[[Exchange], None] | None:
        """Hears of every request sent (settable later); must not raise, must not block."""
        return self._sender.on_exchange

    @on_exchange.setter
    def on_exchange(self, observer: Callable[[Exchange], None] | None) -> None:
        self._sender.on_exchange = observer
        self._token_sender.on_exchange = observer

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

    async def ws_token(self) -> httpx.Response:
        """`POST /restapi/oauth/wstoken`: a Bearer request, but one of the token endpoint's,
        which RingCentral counts for the whole app (DESIGN §3.9): it takes the app's turn
        (`token_pacer`) first, then goes the normal way."""
        await self.token_pacer.acquire(self.identity)
        return await self.request("POST", WSTOKEN_PATH)

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

    async def authorize_refusal(self, redirect_uri: str) -> str | None:
        """Whether RingCentral's authorize page takes this app and redirect URI (what a
        person's Connect button opens): None when it answers with a redirect (its sign-in
        page), else what it refused with (`OAU-109`…). One request of the Auth group, in
        the app's window; the page is never followed, nobody signs in."""
        _, challenge = make_pkce()
        url = self.authorize_url(redirect_uri, secrets.token_urlsafe(16), challenge)
        await self.token_pacer.acquire(self.identity)
        response = await self._token_sender.send(httpx.Request("GET", url))
        if response.is_redirect:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            self._token_sender.raise_for_status(response)
        return auth_error(response).error_code or f"HTTP {response.status_code}"

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> TokenSet:
        return await self.auth.exchange_code(code, redirect_uri, verifier)

    # -- sending -------------------------------------------------------------------------

    async def _call(self, request: httpx.Request) -> httpx.Response:
        response = await self._sender.send(request, self._bearer)
        self._sender.raise_for_status(response)
        return response

    async def _send_token_request(self, request: httpx.Request) -> httpx.Response:
        """The TokenManager's way out: the app's turn at the token endpoint, then paced in
        the Auth group, no Bearer. It reads the OAuth errors itself; a 429 and a 5xx are
        not OAuth's."""
        await self.token_pacer.acquire(self.identity)
        response = await self._token_sender.send(request)
        # RingCentral raises an app's limits on request, and says so (X-Rate-Limit-*):
        # the app's window follows what the rate limiter learned from the answer.
        learned = self.rate_limiter.status(AUTH, identity=self._token_sender.identity)
        self.token_pacer.learn(learned.limit, learned.window)
        if response.status_code == 429 or response.status_code >= 500:
            self._token_sender.raise_for_status(response)
        return response


def app_identity(client_id: str) -> str:
    """The rate-limit identity of the app's token requests (penalties are kept under it)."""
    return f"app:{client_id}"[:64]


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

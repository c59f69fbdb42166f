"""RingCentral OAuth: the single-flight token manager, and `BearerAuth`, its token on
every API request (an `httpx.Auth`: on a 401, one refresh and one retry).

Rules followed (reference/ringcentral.md §1, RELIABILITY.md §3 and R6/R7):

- Refresh proactively, `refresh_margin` seconds before the access token expires; when the
  refresh token itself has expired, log in with the JWT at once ("avoid refreshing tokens
  based on HTTP 401").
- Refresh tokens are single-use and a refresh invalidates the previous access token at
  once, so a refresh is single-flight: one `asyncio.Lock`, and inside it the store's claim
  (`TokenStore.refreshing()`) and a re-read of the store (another coroutine or process may
  have refreshed). No database transaction is held across a token request: the claim is
  taken, the session read, the token request sent, and the result stored with a compare
  (only if the stored session is still the one renewed; else the stored one is used).
- `invalid_grant` on refresh means the session is gone: log in again with the JWT.
- A failed login is remembered: for `relogin_interval` seconds (R7: at most one attempt
  per 5 minutes) every call raises the same AuthError without asking RingCentral ("if
  the token request fails, send no other API requests"). With a `login_gate` (the
  database) the refusal is remembered for every process of this identity, so several
  processes make one attempt per interval between them, not one each.

An optional `on_grant(grant, outcome)` observer (the server's metrics) hears of every token
request: `grant` is "jwt", "refresh_token" or "authorization_code"; `outcome` is "ok",
the OAuth `error` RingCentral answered ("invalid_grant", …), or "rate_limited",
"server_error", "transport_error", "invalid_response".
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ..clock import Clock
from ._errors import ApiError, AuthError, RateLimited, TransportError, auth_error
from ._tokens import TokenSet, TokenStore

__all__ = ["BearerAuth", "Credentials", "LoginGate", "TokenManager"]

log = logging.getLogger("bot.ringcentral.auth")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/restapi/oauth/token"  # noqa: S105 - a path, not a secret
REVOKE_PATH = "/restapi/oauth/revoke"
WSTOKEN_PATH = "/restapi/oauth/wstoken"  # a Bearer request, counted with the token endpoint's

SendFn = Callable[[httpx.Request], Awaitable[httpx.Response]]
"""Sends a request paced in its rate-limit group; raises TransportError / RateLimited."""

GrantObserver = Callable[[str, str], None]
"""`on_grant(grant, outcome)`; see the module docstring."""


class LoginGate(Protocol):
    """Where an identity's refused login is remembered across processes, as plain values:
    RingCentral's `error` and `errorCode` (never its text), and when (the clock's `now()`)."""

    async def refusal(self) -> tuple[str, str, float] | None: ...

    async def refused(self, error: str, error_code: str, at: float) -> None: ...

    async def cleared(self) -> None: ...


class Credentials(BaseModel):
    """The RingCentral app (client id and secret) and, for the service user, its JWT.

    Without `client_secret` the app is a public (PKCE) client: token requests carry
    `client_id` in the body instead of a Basic header (reference §1.1).
    """

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr | None = None
    jwt: SecretStr | None = None


class TokenManager:
    """Hands out a valid access token; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        credentials: Credentials,
        store: TokenStore,
        clock: Clock,
        send: SendFn,
        server_url: httpx.URL,
        refresh_margin: float = 60.0,
        relogin_interval: float = 300.0,
        on_grant: GrantObserver | None = None,
        login_gate: LoginGate | None = None,
    ) -> None:
        self._credentials = credentials
        self._gate = login_gate
        self._gate_noted = True  # a refusal may be stored (a previous run's): clear it once
        self.on_grant = on_grant  # settable later; must not raise, must not block
        self._store = store
        self._clock = clock
        self._send = send
        self._server_url = server_url
        self.refresh_margin = refresh_margin
        self.relogin_interval = relogin_interval
        self._lock = asyncio.Lock()
        self._tokens: TokenSet | None = None
        self._failure: AuthError | None = None
        self._failed_at = 0.0

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self._credentials.client_id!r})"

    @property
    def failure(self) -> AuthError | None:
        """The last login failure while it still blocks new attempts, for /healthz."""
        if self._failure and self._clock.now() < self._failed_at + self.relogin_interval:
            return self._failure
        return None

    async def access_token(self) -> str:
        tokens = self._tokens
        if tokens is None or not tokens.access_fresh(self._clock.now(), self.refresh_margin):
            async with self._lock:
                tokens = await self._ensure(rejected=None)
        return tokens.access_token.get_secret_value()

    async def session(self) -> TokenSet:
        """The session in use, renewed if need be (its `scope` lists the app's
        permissions, its `owner_id` the user)."""
        await self.access_token()
        assert self._tokens is not None  # set by access_token, or it raised
        return self._tokens

    async def after_unauthorized(self, rejected: str) -> str:
        """A token RingCentral answered 401 to: refresh once, unless another coroutine
        or process already replaced it, and return the token to retry with."""
        async with self._lock:
            tokens = await self._ensure(rejected=rejected)
        return tokens.access_token.get_secret_value()

    async def login(self, *, force: bool = False) -> TokenSet:
        """Log in with the JWT now (`force` ignores a remembered failure)."""
        async with self._lock, self._store.refreshing():
            if not force:
                self._check_failure()
            return await self._keep(await self._jwt_login())

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> TokenSet:
        """Authorization code + PKCE: trade the code for tokens and keep them."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        async with self._lock, self._store.refreshing():
            return await self._keep(await self._grant(form, "authorization_code"))

    async def revoke(self) -> None:
        """End the session at RingCentral (all its tokens) and forget it. RingCentral:
        "on revoke error, ignore, don't retry"."""
        async with self._lock, self._store.refreshing() as claim:
            tokens = claim.current or self._tokens
            if tokens is not None:
                await self._revoke(tokens)
            # Forget it only if no one stored another session meanwhile.
            await claim.replace(None)
            self._tokens = None

    async def adopt(self, tokens: TokenSet) -> None:
        """Keep a session obtained by another manager (a code exchanged apart, checked,
        then accepted) as this identity's."""
        async with self._lock, self._store.refreshing():
            await self._keep(tokens)

    async def stored(self) -> TokenSet | None:
        """The session kept in the store now (a plain read; nothing renewed)."""
        return await self._store.load()

    async def revoke_session(self, tokens: TokenSet) -> None:
        """End one given session at RingCentral, keeping whatever the store holds (a
        session replaced by a newer one)."""
        async with self._lock:
            await self._revoke(tokens)

    async def _revoke(self, tokens: TokenSet) -> None:
        form = {"token": tokens.access_token.get_secret_value()}
        request = self._token_request(REVOKE_PATH, form)
        try:
            response = await self._send(request)
            log.info("revoke -> %d", response.status_code)
        except Exception as exc:  # ignored, by RingCentral's advice
            log.info("revoke failed, ignored: %s", type(exc).__name__)

    async def forget(self) -> None:
        """Drop the session here without a request: RingCentral has already ended it (a
        refused refresh), so there is nothing to revoke."""
        async with self._lock, self._store.refreshing() as claim:
            await claim.replace(None)
            self._tokens = None

    async def has_session(self) -> bool:
        """Whether this manager or its store holds a session (one to revoke at exit)."""
        return self._tokens is not None or await self._store.load() is not None

    # -- inside the lock -----------------------------------------------------------------

    async def _ensure(self, *, rejected: str | None) -> TokenSet:
        # A plain read first: usually another coroutine or process has just renewed it.
        tokens = await self._store.load()
        if self._usable(tokens, rejected):
            assert tokens is not None
            self._tokens = tokens
            return tokens
        self._check_failure()  # no claim (database writes) while a login failure blocks
        await self._check_shared_failure()
        async with self._store.refreshing() as claim:
            tokens = self._tokens = claim.current  # re-read under the claim
            if self._usable(tokens, rejected):
                assert tokens is not None
                return tokens
            self._check_failure()
            try:
                new = await self._renew(tokens, self._clock.now())
            except AuthError as err:
                self._failure, self._failed_at = err, self._clock.now()
                log.error("RingCentral login failed: %s (%s)", err.error, err.error_code)
                await self._share_failure(err)
                raise
            stored = await claim.replace(new)
            if stored is not None and stored != new:
                # Someone stored another session while we renewed (our claim ran out, or a
                # login ignored it): theirs is the one every process now uses.
                log.warning("another session was stored while this one was renewed; using it")
                new = stored
            self._tokens = new
            self._failure = None
            await self._share_success()
            return new

    def _usable(self, tokens: TokenSet | None, rejected: str | None) -> bool:
        return (
            tokens is not None
            and tokens.access_fresh(self._clock.now(), self.refresh_margin)
            and (rejected is None or tokens.access_token.get_secret_value() != rejected)
        )

    async def _renew(self, tokens: TokenSet | None, now: float) -> TokenSet:
        if (
            tokens is not None
            and tokens.refresh_token is not None
            and tokens.refresh_usable(now, self.refresh_margin)
        ):
            form = {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.get_secret_value(),
            }
            try:
                return await self._grant(form, "refresh_token")
            except AuthError as err:
                if err.error != "invalid_grant":
                    raise
                log.warning("refresh refused (invalid_grant %s)", err.error_code)
        if self._credentials.jwt is None:
            raise AuthError(
                "invalid_grant", "the session has ended and there is no JWT to log in again"
            )
        return await self._jwt_login()

    async def _jwt_login(self) -> TokenSet:
        if self._credentials.jwt is None:
            raise AuthError("invalid_request", "no JWT credential is configured")
        form = {"grant_type": JWT_GRANT, "assertion": self._credentials.jwt.get_secret_value()}
        return await self._grant(form, "jwt")

    async def _keep(self, tokens: TokenSet) -> TokenSet:
        await self._store.save(tokens)
        self._tokens = tokens
        self._failure = None
        return tokens

    def _check_failure(self) -> None:
        failure = self.failure
        if failure is not None:
            raise failure

    async def _check_shared_failure(self) -> None:
        """Another process's refused login, within the interval, is ours too."""
        if self._gate is None:
            return
        refusal = await self._gate.refusal()
        if refusal is None:
            return
        error, error_code, at = refusal
        if self._clock.now() >= at + self.relogin_interval:
            return
        self._gate_noted = True
        self._failure, self._failed_at = AuthError(error, error_code=error_code), at
        raise self._failure

    async def _share_failure(self, err: AuthError) -> None:
        if self._gate is None or err.error in ("invalid_response",):
            return
        try:
            await self._gate.refused(err.error, err.error_code, self._clock.now())
            self._gate_noted = True
        except Exception as exc:  # this process still remembers it
            log.warning("could not share the refused login: %s", type(exc).__name__)

    async def _share_success(self) -> None:
        if self._gate is None or not self._gate_noted:
            return
        try:
            await self._gate.cleared()
            self._gate_noted = False
        except Exception as exc:  # cleared at the next success
            log.warning("could not clear the shared login refusal: %s", type(exc).__name__)

    def _token_request(self, path: str, form: dict[str, str]) -> httpx.Request:
        headers = {"Accept": "application/json"}
        secret = self._credentials.client_secret
        if secret is not None:
            # Confidential client: client_secret_basic (reference §1.1). With a secret we
            # always use Basic, for PKCE too: RingCentral requires it of apps that have one.
            pair = f"{self._credentials.client_id}:{secret.get_secret_value()}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form = {**form, "client_id": self._credentials.client_id}  # public PKCE client
        return httpx.Request("POST", self._server_url.join(path), data=form, headers=headers)

    async def _grant(self, form: dict[str, str], kind: str) -> TokenSet:
        try:
            tokens = await self._grant_once(form, kind)
        except AuthError as err:
            self._observe(kind, err.error)
            raise
        except RateLimited:
            self._observe(kind, "rate_limited")
            raise
        except ApiError:
            self._observe(kind, "server_error")
            raise
        except TransportError:
            self._observe(kind, "transport_error")
            raise
        self._observe(kind, "ok")
        return tokens

    def _observe(self, grant: str, outcome: str) -> None:
        if self.on_grant is None:
            return
        try:
            self.on_grant(grant, outcome)
        except Exception:  # an observer's bug must not fail a login
            log.exception("the token grant observer failed")

    async def _grant_once(self, form: dict[str, str], kind: str) -> TokenSet:
        response = await self._send(self._token_request(TOKEN_PATH, form))
        if not response.is_success:
            err = auth_error(response)
            log.warning(
                "token grant=%s -> %d error=%s errorCode=%s",
                kind,
                response.status_code,
                err.error,
                err.error_code,
            )
            raise err
        try:
            tokens = TokenSet.from_response(response.json(), self._clock.now())
        except (ValueError, KeyError, TypeError, ValidationError):
            # `from None`: the cause (a ValidationError) would quote the body, tokens and all.
            raise AuthError("invalid_response", "the token response could not be read") from None
        log.info("token grant=%s -> %d owner=%s", kind, response.status_code, tokens.owner_id)
        return tokens


class BearerAuth(httpx.Auth):
    """The manager's access token on a request; on a 401, one refresh and one retry.

    RingCentral invalidates an access token at once when anyone refreshes it, so a 401 asks
    `after_unauthorized`: one refresh (single flight), or the token another coroutine or
    process just got. Async only.
    """

    requires_request_body = True  # buffered: the retry sends the same body again

    def __init__(self, tokens: TokenManager) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"BearerAuth({self._tokens!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("BearerAuth needs an httpx.AsyncClient: the token manager is async")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        token = await self._tokens.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self._tokens.after_unauthorized(token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

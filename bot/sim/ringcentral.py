"""A stateful RingCentral simulator: OAuth, rate limits, the REST endpoints the bridge calls,
WebHook subscriptions with the handshake, the WebSocket gateway, and event deliveries.

`RingCentralSimulator.handle(SimRequest) -> SimResponse` does everything; two thin adapters
carry HTTP to it: `serve()` (two loopback aiohttp listeners, the platform host and the media
host) and `mock_transport()` (an `httpx.MockTransport` for in-process unit tests). Data comes
from the `World` in `_rc_data`. With `openapi_path`, every API request is validated against
RingCentral's OpenAPI spec as well. It imports nothing from the rest of `bot/`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from . import _rc_routes
from ._connections import ConnectionCounter
from ._rc_account import business_hours_of
from ._rc_auth import AuthState
from ._rc_authz import texting
from ._rc_data import SimError, Upload, World
from ._rc_events import MessageEvents, SimMessage, SimPager
from ._rc_events_calls import CallEvents, SimCall
from ._rc_forwarding import forwarding
from ._rc_http import (
    HostKind,
    RequestRecord,
    SimClock,
    SimRequest,
    SimResponse,
    WallClock,
    api_error,
    gateway_not_found,
)
from ._rc_limits import RateLimiter
from ._rc_openapi import SpecValidator
from ._rc_outbound import FATES, outbound
from ._rc_permissions import ROUTE_PERMISSIONS, Permissions, permissions_of
from ._rc_ringout import RingOutScript, _ringouts
from ._rc_server import SimUrls, serve_loopback
from ._rc_state import Call, SimState, error_response
from ._rc_subscriptions import Subscription, _subs
from ._rc_sync import sync_controls
from ._rc_websocket import WsGateway, WsOptions, WsStats

__all__ = [
    "RequestRecord",
    "RingCentralSimulator",
    "SimCall",
    "SimError",
    "SimMessage",
    "SimPager",
    "SimRequest",
    "SimResponse",
    "SimUrls",
    "SpecValidator",
    "Upload",
    "World",
    "WsGateway",
    "WsOptions",
    "WsStats",
    "endpoint_permissions",
    "endpoints",
]

# The keywords carriers act on (CTIA): a text that is only one of them.
_STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
_START_WORDS = frozenset({"START", "UNSTOP"})


class RingCentralSimulator:
    """RingCentral on loopback. Tests read `requests`, steer it with the control methods.

    `clock`: any object with `now()` and `monotonic()` (epoch / monotonic seconds).
    `limits`: requests per minute by group (`Light`, `Medium`, `Heavy`, `Auth`).
    `latency`: seconds added to every request (benchmarks); `auth_latency`, settable,
    seconds added to every OAuth request (a slow token endpoint).
    """

    def __init__(
        self,
        *,
        clock: SimClock | None = None,
        world: World | None = None,
        seed: int = 0,
        openapi_path: str | Path | None = None,
        latency: float = 0.0,
        limits: Mapping[str, int] | None = None,
        client_id: str = "sim-client-id",
        client_secret: str = "sim-client-secret",  # noqa: S107 - a simulator's own test app
        access_ttl: int = 3600,
        refresh_ttl: int = 604800,
        blacklist_after: int = 3,
        webhook_timeout: float = 3.0,
        server_url: str = "https://platform.ringcentral.com",
        media_url: str = "https://media.ringcentral.com",
    ) -> None:
        self.clock: SimClock = clock or WallClock()
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        self.world = world or World.generate(
            seed, now=now, base_url=server_url, media_url=media_url, clock=self.clock.now
        )
        auth = AuthState(self.clock, client_id, client_secret, access_ttl, refresh_ttl)
        auth.default_owner = self.world.service_extension_id
        self._state = SimState(
            self.clock, self.world, auth, RateLimiter(self.clock, dict(limits or {}))
        )
        perms = permissions_of(self._state.extras)
        perms.admins.add(self.world.service_extension_id)  # as today: the service user is one
        auth.scope = perms.scope
        self._state.set_urls(server_url, media_url)
        subs = _subs(self._state)
        subs.blacklist_after = blacklist_after
        subs.webhooks.timeout = webhook_timeout
        self.latency = latency
        self.auth_latency = 0.0
        self._revoked_jwts: dict[str, str] = {}  # jwt -> owner, until restored
        # Called with (method, path) as each request arrives, before it is answered: a test
        # sees what the client was doing at that moment (an open database transaction…).
        self.on_arrival: Callable[[str, str], None] | None = None
        self._stalls: list[tuple[re.Pattern[str], asyncio.Event]] = []  # see `stall`
        self._garbled: list[list[Any]] = []  # [path regex, calls left]
        self.jwt = auth.issue_jwt(self.world.service_extension_id)
        self.requests: list[RequestRecord] = []
        # The TCP connections the requests came over (keep-alive: far fewer than requests).
        self.connections = ConnectionCounter()
        # [path pattern, method, status, code, text, times, store]
        self._faults: list[list[Any]] = []
        self._validator: Any = None
        if openapi_path is not None:
            self._validator = SpecValidator.for_path(Path(openapi_path))
        self._ws = WsGateway(self._state, subs)
        self._state.extras["websocket"] = self._ws
        self._messages = MessageEvents(self)
        self._calls = CallEvents(self, self._messages)
        self._outbound = outbound(self._state.extras)
        self._outbound.apply = self.world.set_sent_status
        self._outbound.emit = self._messages.deliver_changes

    # -- identity ---------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self._state.auth.client_id

    @property
    def client_secret(self) -> str:
        return self._state.auth.client_secret

    @property
    def server_url(self) -> str:
        return self._state.server_url

    @property
    def media_url(self) -> str:
        return self._state.media_url

    @property
    def account_id(self) -> str:
        return self.world.account_id

    @property
    def extension_id(self) -> str:
        """The service user's extension id (the one `jwt` logs in as)."""
        return self.world.service_extension_id

    @property
    def webhook_timeout(self) -> float:
        """Seconds a handshake or delivery may take (RingCentral: 3 s)."""
        return _subs(self._state).webhooks.timeout

    @webhook_timeout.setter
    def webhook_timeout(self, seconds: float) -> None:
        _subs(self._state).webhooks.timeout = seconds

    @property
    def blacklist_after(self) -> int:
        """Consecutive failed deliveries that blacklist a subscription."""
        return _subs(self._state).blacklist_after

    @blacklist_after.setter
    def blacklist_after(self, count: int) -> None:
        _subs(self._state).blacklist_after = count

    def jwt_for(self, extension_id: str) -> str:
        """A JWT credential logging in as another extension."""
        return self._state.auth.issue_jwt(extension_id)

    def set_contact_email(self, extension_number: str, email: str) -> None:
        """The contact email of the extension with this number (in its info, the extension
        list and the directory): a test links it to another Slack person, or makes two
        extensions share one address."""
        self.world.set_contact_email(extension_number, email)

    def secrets(self) -> set[str]:
        """Every secret it issued or holds (client secret, JWTs, access and refresh tokens,
        webhook verification tokens): what must never appear in a log."""
        auth = self._state.auth
        found: set[str | None] = {auth.client_secret, *auth.jwts}
        for session in auth.sessions.values():
            found.update((session.access_token, session.refresh_token))
        found.update(s.verification_token for s in self.subscriptions.values())
        found.update(self._ws.secrets())
        return {secret for secret in found if secret}

    # -- adapters ---------------------------------------------------------------------

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1") -> AsyncIterator[SimUrls]:
        """Serve the platform host and the media host on two random loopback ports."""
        old = (self.server_url, self.media_url)
        try:
            async with serve_loopback(self.handle, host, self._ws.handle, self.connections) as urls:
                self._state.set_urls(urls.server_url, urls.media_url)
                yield urls
        finally:
            await self.aclose()
            self._state.set_urls(*old)

    def mock_transport(self) -> httpx.MockTransport:
        """An httpx transport answering in process (the media host is told by its URL)."""
        media_host = httpx.URL(self.media_url).netloc

        async def handler(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            kind: HostKind = "media" if request.url.netloc == media_host else "platform"
            sim_req = SimRequest.build(
                request.method,
                request.url.path,
                query_string=request.url.query.decode(),
                headers=dict(request.headers),
                body=body,
                host=kind,
            )
            resp = await self.handle(sim_req)
            return httpx.Response(resp.status, headers=resp.headers, content=resp.body)

        return httpx.MockTransport(handler)

    async def aclose(self) -> None:
        """Close the outgoing webhook HTTP session and the WebSocket connections (serve()
        does it on exit)."""
        await self._outbound.close()
        await self._ws.close()
        await _subs(self._state).webhooks.close()

    # -- the core -----------------------------------------------------------------------

    async def handle(self, req: SimRequest) -> SimResponse:
        if self.on_arrival is not None:
            self.on_arrival(req.method, req.path)
        for pattern, released in self._stalls:
            if pattern.search(req.path):
                await released.wait()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        owner = self._state.auth.owner_of(req)  # before a refresh may rotate the token
        resp = self._garble(req) or await self._dispatch(req)
        self.requests.append(_record(req, resp, self.clock.now(), owner))
        return resp

    async def _dispatch(self, req: SimRequest) -> SimResponse:
        st = self._state
        if req.host == "platform" and req.path.rstrip("/") in _rc_routes.OAUTH_PATHS:
            if self.auth_latency > 0:
                await asyncio.sleep(self.auth_latency)
            return self._oauth(req)
        found = _rc_routes.match(req.host, req.method, req.path)
        if found is None:
            return gateway_not_found()
        route, params = found
        bearer = st.auth.check_bearer(req)
        if isinstance(bearer, SimResponse):
            return bearer
        if bearer.owner_id in st.auth.foreign:
            return self._foreign(bearer.owner_id, route.template, params)
        # The Auth group is counted per app, as the token endpoint's requests are (_oauth).
        who = f"client:{bearer.client_id}" if route.group == "Auth" else bearer.owner_id
        verdict = st.limiter.check(who, route.group, sms=route.sms)
        if verdict.refusal is not None:
            return verdict.refusal
        resp = self._validator.check(req, route.template) if self._validator else None
        fault = self._fault(req) if resp is None else None
        if fault is not None and not fault[6]:
            resp = api_error(*fault[2:5])
        if resp is None:
            resp = self.permissions.check(
                req.method, route.template, bearer.owner_id, self._target(params, bearer.owner_id)
            )
        if resp is None:
            try:
                resp = await route.handler(st, Call(req, params, bearer))
            except SimError as err:
                resp = error_response(err)
            if fault is not None and 200 <= resp.status < 300:  # done, then failed
                resp = api_error(*fault[2:5])
        resp.headers.update(verdict.headers)
        return resp

    def fail(
        self,
        path_regex: str,
        *,
        method: str = "POST",
        status: int = 503,
        code: str = "CMN-211",
        message: str = "Service is temporarily unavailable",
        times: int | None = 1,
        store: bool = False,
    ) -> None:
        """The next `times` (None: every) valid `method` requests whose path matches
        `path_regex` get RingCentral's error body with `status` and `code`: nothing is
        done, or with `store` the work is done first (an SMS is sent) and only the answer
        is lost, as when a gateway fails after RingCentral acted."""
        self._faults.append(
            [re.compile(path_regex), method.upper(), status, code, message, times, store]
        )

    def stall(self, path_regex: str) -> asyncio.Event:
        """Requests whose path matches `path_regex` get no answer until the returned event
        is set (a download hanging on a slow network, as long as a test needs)."""
        released = asyncio.Event()
        self._stalls.append((re.compile(path_regex), released))
        return released

    def clear_faults(self) -> None:
        self._faults.clear()

    def _fault(self, req: SimRequest) -> list[Any] | None:
        for fault in self._faults:
            pattern, method, times = fault[0], fault[1], fault[5]
            if times != 0 and req.method == method and pattern.search(req.path):
                fault[5] = None if times is None else times - 1
                return fault
        return None

    def _target(self, params: Mapping[str, str], owner_id: str) -> str | None:
        """The extension a path names (`~`: the token's owner); None for account-level
        paths and for an unknown extension (its handler answers 404)."""
        ext = params.get("extensionId")
        if ext is None:
            return None
        try:
            return self.world.resolve_extension_id(owner_id if ext == "~" else ext)
        except SimError:
            return None

    def _foreign(self, owner_id: str, template: str, params: Mapping[str, str]) -> SimResponse:
        """A user of another RingCentral account (signed in on the authorize page): only
        their own extension record is simulated, with their account; whatever else they
        ask of this account is refused as another account's data is (CMN-102)."""
        account = self._state.auth.foreign[owner_id]
        if template == _rc_routes.E and params.get("extensionId") in ("~", owner_id):
            base = f"{self.server_url}/restapi/v1.0/account/{account}/extension/{owner_id}"
            return SimResponse.json(
                200,
                {
                    "uri": base,
                    "id": int(owner_id),
                    "extensionNumber": "101",
                    "type": "User",
                    "status": "Enabled",
                    "name": "Other Company User",
                    "contact": {"firstName": "Other", "lastName": "User",
                                "email": "someone@other.example.com"},
                    "account": {"uri": base.split("/extension/")[0], "id": account},
                },
            )  # fmt: skip
        return SimResponse.json(
            404,
            {
                "errorCode": "CMN-102",
                "message": "Resource for parameter [accountId] is not found",
                "errors": [{"errorCode": "CMN-102", "message":
                            "Resource for parameter [accountId] is not found",
                            "parameterName": "accountId"}],
            },
        )  # fmt: skip

    def _oauth(self, req: SimRequest) -> SimResponse:
        auth = self._state.auth
        path = req.path.rstrip("/")
        method = "GET" if path.endswith("/authorize") else "POST"
        if req.method != method:
            return gateway_not_found()
        who = auth.client_of(req) or req.form().get("client_id") or req.query_first("client_id")
        verdict = self._state.limiter.check(f"client:{who}", "Auth")
        if verdict.refusal is not None:
            return verdict.refusal
        if path.endswith("/token"):
            resp = auth.token(req)
        elif path.endswith("/revoke"):
            resp = auth.revoke(req)
        else:
            resp = auth.authorize(req)
        resp.headers.update(verdict.headers)
        return resp

    # -- test controls: auth and limits ---------------------------------------------------

    def expire_access_tokens(self) -> None:
        self._state.auth.expire_access_tokens()

    def sessions(self) -> list[dict[str, Any]]:
        """Every session opened (owner_id, session_id, alive): what a revoke ended."""
        return [
            {"owner_id": s.owner_id, "session_id": s.session_id, "alive": s.alive}
            for s in self._state.auth.sessions.values()
        ]

    @property
    def public_client(self) -> bool:
        """Whether the app is a client-side (public) one: its PKCE grants and revokes carry
        only `client_id`. False (the default): a server-side app, whose every token
        request must carry its Basic authentication."""
        return self._state.auth.public

    @public_client.setter
    def public_client(self, public: bool) -> None:
        self._state.auth.public = public

    def approve_as(self, extension_id: str | None) -> None:
        """Who signs in on the authorize page from now on (None: `login_hint`, else the
        service user)."""
        self._state.auth.approver = extension_id

    def foreign_user(self) -> str:
        """An extension id of another RingCentral account, whose user may sign in on the
        authorize page (`approve_as`)."""
        owner = str(10**11 + len(self._state.auth.foreign) + 1)
        self._state.auth.foreign[owner] = str(10**11 + 999)
        return owner

    def register_redirect_uri(self, uri: str) -> None:
        """Register a redirect URI in the app: from now on the authorize page accepts only
        the registered ones, exactly (OAU-109)."""
        self._state.auth.redirect_uris.add(uri)

    def add_forwarding_number(
        self, extension_id: str, phone_number: str, label: str, kind: str = "Mobile"
    ) -> str:
        """A forwarding number of the extension (its id)."""
        return forwarding(self._state).add(extension_id, phone_number, label, kind)

    def end_sessions_of(self, owner_id: str) -> None:
        """End every session of one user (a password change, an admin's sign-out): the next
        refresh of theirs answers invalid_grant."""
        self._state.auth.end_sessions_of(owner_id)

    def revoke_all_tokens(self) -> None:
        self._state.auth.revoke_all()

    def revoke_jwt(self, jwt: str | None = None) -> None:
        """A JWT credential (default: the service user's) revoked in the developer
        console: every session ends, the refresh tokens are refused, and a login with it
        answers 400 invalid_grant (OAU-140) until `restore_jwt()`."""
        jwt = jwt or self.jwt
        owner = self._state.auth.jwts.pop(jwt, None)
        if owner is not None:
            self._revoked_jwts[jwt] = owner
        self.revoke_all_tokens()
        self.invalidate_refresh_tokens()

    def restore_jwt(self, jwt: str | None = None) -> None:
        """A revoked JWT accepted again (as a new credential the admin set would be)."""
        jwt = jwt or self.jwt
        owner = self._revoked_jwts.pop(jwt, None)
        if owner is not None:
            self._state.auth.jwts[jwt] = owner

    def invalidate_refresh_tokens(self) -> None:
        """The next refresh answers 400 invalid_grant (tokens revoked elsewhere)."""
        self._state.auth.invalidate_refresh_tokens()

    def set_limit(self, group: str, limit: int) -> None:
        """Requests per minute for `group` (`Light`…`Auth`, or `sms` for the SMS cap)."""
        self._state.limiter.set_limit(group, limit)

    def throttle(self, group: str, retry_after: float = 60) -> None:
        """Start a penalty for `group` now, for everyone (requests during it restart it)."""
        self._state.limiter.throttle(group, retry_after)

    def garble(self, path_regex: str, times: int = 1) -> None:
        """The next `times` requests whose path matches answer 200 with JSON of the wrong
        shape (a record whose fields have the wrong types): the answer a client's models
        refuse, as when RingCentral changes a field or a proxy answers in its place."""
        self._garbled.append([re.compile(path_regex), times])

    def _garble(self, req: SimRequest) -> SimResponse | None:
        for fault in self._garbled:
            if fault[0].search(req.path):
                fault[1] -= 1
                if fault[1] <= 0:
                    self._garbled.remove(fault)
                wrong = {"id": {"not": "an id"}, "uri": 42, "records": "none", "type": []}
                return SimResponse.json(200, wrong)
        return None

    def fail_next_with_429(self, count: int = 1) -> None:
        """The next `count` API requests get a 429 without Retry-After or rate headers."""
        self._state.limiter.fail_next(count)

    def reset_rate_limits(self) -> None:
        self._state.limiter.reset()

    # -- test controls: sync ----------------------------------------------------------

    def expire_sync_tokens(self) -> None:
        """Every message-sync and call-log-sync token issued so far is refused from now on
        (MSG-333, CLG-104): the client must sync in full."""
        sync_controls(self._state).tokens.expire()

    @property
    def company_call_log(self) -> bool:
        """Whether the service user has FullCompanyCallLog (the account-level call log
        and its sync answer 403 without it). The permission model decides: an admin has
        it unless withheld, an ordinary user never (`service_user_admin`)."""
        return "FullCompanyCallLog" in self.user_permissions(self.extension_id)

    @company_call_log.setter
    def company_call_log(self, allowed: bool) -> None:
        withheld = self.permissions.withheld.setdefault(self.extension_id, set())
        if allowed:
            withheld.discard("FullCompanyCallLog")
        else:
            withheld.add("FullCompanyCallLog")
        sync_controls(self._state).company_call_log = allowed

    @property
    def message_isync_limit(self) -> int:
        """Records a message ISync may answer; more answer MSG-333 (a full sync)."""
        return sync_controls(self._state).tokens.isync_limit

    @message_isync_limit.setter
    def message_isync_limit(self, count: int) -> None:
        sync_controls(self._state).tokens.isync_limit = count

    # -- test controls: permissions (bot/sim/_rc_permissions.py) --------------------------

    @property
    def permissions(self) -> Permissions:
        """The app's permissions, the admins and permissions withheld from single users."""
        return permissions_of(self._state.extras)

    @property
    def service_user_admin(self) -> bool:
        """Whether the service user (`jwt`) is an admin; True unless a test says otherwise.
        An ordinary user reads and subscribes to its own extension only."""
        return self.permissions.is_admin(self.extension_id)

    @service_user_admin.setter
    def service_user_admin(self, admin: bool) -> None:
        self.set_admin(self.extension_id, admin)

    def set_admin(self, extension_id: str, admin: bool = True) -> None:
        if admin:
            self.permissions.admins.add(extension_id)
        else:
            self.permissions.admins.discard(extension_id)

    @property
    def app_permissions(self) -> frozenset[str]:
        """What the app may do; the token's `scope` lists it."""
        return frozenset(self.permissions.app)

    def remove_app_permissions(self, *names: str) -> None:
        """The app lacks these from now on (requests needing one get CMN-401)."""
        self.permissions.app.difference_update(names)

    def remove_user_permissions(self, extension_id: str, *names: str) -> None:
        """That user's role lacks these from now on (requests needing one get CMN-408)."""
        self.permissions.withheld.setdefault(extension_id, set()).update(names)

    def user_permissions(self, extension_id: str) -> frozenset[str]:
        """The user permissions of an extension's role (admins': the whole account's)."""
        return self.permissions.of_user(extension_id)

    @property
    def business_hours(self) -> dict[str, list[tuple[str, str]]]:
        """The company's business hours (`GET …/business-hours`): day name (`monday` …)
        -> (from, to) `hh:mm` pairs; empty means 24/7. Default weekdays 09:00-18:00."""
        return business_hours_of(self._state.extras)

    @business_hours.setter
    def business_hours(self, weekly: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        self._state.extras["business_hours"] = {day: list(r) for day, r in weekly.items()}

    def set_texting_registration(self, phone_number: str, status: str | None) -> None:
        """A number's TCR campaign status (`Confirmed`…; None: not registered), as its
        `sms-configuration` answers (bot/sim/_rc_authz.py)."""
        texting(self._state).campaigns[phone_number] = status

    # -- test controls: what becomes of sent texts (bot/sim/_rc_outbound.py) -------------

    def sms_outcome(self, recipient: str, fate: str) -> None:
        """What becomes of texts to `recipient` (E.164): `delivered` (the default),
        `opted_out`, `landline`, `carrier_rejected`, `no_report`, `silent` (stays Sent).
        A sending number not registered for business texting fails every text
        (`set_texting_registration`)."""
        if fate not in FATES:
            raise ValueError(f"unknown fate {fate!r}; one of {', '.join(FATES)}")
        self._outbound.recipients[recipient] = fate

    def sms_pace(self, sent_after: float, final_after: float) -> None:
        """Real seconds from a send's 200 to `Sent` (or an early failure), and to its end."""
        self._outbound.sent_after, self._outbound.final_after = sent_after, final_after

    async def text_from_app(
        self, extension_id: str, from_number: str, to: Sequence[str], text: str
    ) -> SimMessage:
        """Someone texts from the RingCentral app: the Outbound record, its Create change
        (newCount, as for any new message), then its moves as for a text sent by REST."""
        ext_id = self.world.resolve_extension_id(extension_id)
        mark = self.world.change_mark()
        record = self.world.add_sent_sms(ext_id, from_number, list(to), text)
        created = self.world.changes_since(mark)
        registered = texting(self._state).campaigns.get(from_number, "Confirmed") == "Confirmed"
        fates = {n: self._outbound.fate(n, registered) for n in to}
        self._outbound.start(ext_id, str(record["id"]), fates, created)
        return SimMessage(str(record["id"]), ext_id, record)

    async def settle_texts(self, within: float = 10.0) -> None:
        """Wait until every text sent so far has reached its final status (its changes
        delivered)."""
        await self._outbound.settle(within)

    # -- test controls: subscriptions, the WebSocket gateway, RingOut ------------------

    @property
    def websocket(self) -> WsGateway:
        """The WebSocket gateway: its `options` (announced in ConnectionDetails; set them
        before connecting), `stats`, `sessions()`, `drop()` (cut every connection)."""
        return self._ws

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        return _subs(self._state).by_id

    @property
    def deliveries(self) -> list[tuple[str, bytes, int]]:
        """(subscription id, envelope bytes, status answered) of every delivery."""
        return _subs(self._state).deliveries

    def blacklist(self, subscription_id: str, reason: str = "Blacklisted by the test") -> None:
        _subs(self._state).blacklist(self.subscriptions[subscription_id], reason, self.clock.now())

    def delete_subscription(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)

    async def deliver(
        self,
        subscription_id: str,
        body: Any,
        *,
        event: str | None = None,
        uuid: str | None = None,
    ) -> int | None:
        """POST the standard envelope around `body` to the subscription's address.

        Returns the HTTP status (0 when no answer came), or None without sending when the
        subscription is not Active (blacklisted or expired: RingCentral sends nothing).
        """
        subs = _subs(self._state)
        sub = self.subscriptions[subscription_id]
        now = self.clock.now()
        if sub.status != "Active" or sub.expires_at <= now:
            return None
        envelope = subs.envelope(sub, body, event, uuid, now)
        if sub.transport == "WebSocket":
            status = await self._ws.deliver(sub, envelope)
            subs.deliveries.append((sub.id, envelope, status or 0))
            return status
        return await subs.deliver_bytes(sub, envelope, subs.headers(sub), now)

    async def deliver_raw(
        self,
        subscription_id: str,
        payload: bytes | str | Mapping[str, Any] | list[Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> int | None:
        """POST `payload` verbatim (e.g. an example file) with the subscription's headers."""
        subs = _subs(self._state)
        sub = self.subscriptions[subscription_id]
        now = self.clock.now()
        if sub.status != "Active" or sub.expires_at <= now:
            return None
        if isinstance(payload, bytes):
            raw = payload
        elif isinstance(payload, str):
            raw = payload.encode()
        else:
            raw = json.dumps(payload).encode()
        if sub.transport == "WebSocket":  # the envelope in a ServerNotification
            return await self._ws.deliver(sub, raw)
        hdrs = {**subs.headers(sub), **(headers or {})}
        return await subs.deliver_bytes(sub, raw, hdrs, now)

    async def notify(self, event: str, body: Any) -> list[int | None]:
        """Deliver `body` to every Active subscription with a filter matching `event`."""
        path = event.split("?")[0]
        targets = [
            s.id
            for s in list(self.subscriptions.values())
            if any(f.split("?")[0] == path for f in s.event_filters)
        ]
        return [await self.deliver(sid, body, event=event) for sid in targets]

    # -- events of a real account (bot/sim/_rc_events*.py) ------------------------------

    async def incoming_sms(
        self,
        extension_id: str,
        from_number: str,
        text: str,
        *,
        to_number: str | None = None,
        attachments: Sequence[Upload] = (),
        others: Sequence[str] = (),
    ) -> SimMessage:
        """An SMS (MMS with `attachments`) arrives: stored, then the instant event and a
        message-store change are delivered. `to_number` defaults to the extension's own;
        `others`: the other recipients of a group MMS (listed before ours).

        A text that is only STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) opts its
        sender out, START (UNSTOP) back in, as carriers do (CTIA): later texts to them fail
        `SMS-RC-413`. Unknown, so strict: whether that holds for one sending number or the
        whole account — the whole account here."""
        word = text.strip().strip(".!").upper()
        if word in _STOP_WORDS:
            self._outbound.recipients[from_number] = "opted_out"
        elif word in _START_WORDS and self._outbound.recipients.get(from_number) == "opted_out":
            del self._outbound.recipients[from_number]
        return await self._messages.incoming_sms(
            extension_id,
            from_number,
            text,
            to_number=to_number,
            attachments=attachments,
            others=others,
        )

    async def incoming_voicemail(
        self,
        extension_id: str,
        from_number: str,
        *,
        duration: int = 20,
        from_name: str | None = None,
        transcript: str | None = None,
        transcript_later: bool = False,
    ) -> SimMessage:
        """A voicemail (+ call-log record): the voicemail event and a message-store change.
        `transcript_later`: InProgress until `finish_transcript()` (which then uses
        `transcript` when given no text)."""
        return await self._messages.incoming_voicemail(
            extension_id,
            from_number,
            duration=duration,
            from_name=from_name,
            transcript=transcript,
            transcript_later=transcript_later,
        )

    async def finish_transcript(self, message_id: str, text: str | None = None) -> SimMessage:
        """The voicemail's transcript is ready: AudioTranscription attachment, status
        Completed, a message-store change (VoiceMail, updatedCount 1)."""
        return await self._messages.finish_transcript(message_id, text)

    async def incoming_fax(
        self, extension_id: str, from_number: str, *, pages: int = 2
    ) -> SimMessage:
        """A fax (+ call-log record): the fax event and a message-store change."""
        return await self._messages.incoming_fax(extension_id, from_number, pages=pages)

    async def pager_message(
        self, from_extension_id: str, to_extension_ids: Sequence[str], text: str
    ) -> SimPager:
        """A company pager message: records, then only message-store changes (Pager,
        newMessageIds) for the recipients' (and the sender's) extensions."""
        return await self._messages.pager_message(from_extension_id, to_extension_ids, text)

    async def flush_message_changes(self) -> None:
        """Deliver the message-store changes still in the world's journal (REST updates)."""
        await self._messages.flush_changes()

    async def call(
        self,
        scenario: str,
        *,
        caller: str,
        extension_id: str,
        to_number: str | None = None,
        from_name: str | None = None,
        ring: float = 8.0,
        talk: float = 30.0,
        ivr: float = 8.0,
        others: Sequence[str] = (),
        transcript: str | None = None,
        transcript_later: bool = False,
        pace: bool = True,
        shuffle_seed: int | None = None,
        duplicate: int = 0,
    ) -> SimCall:
        """Play a call's telephony-session events, then record it in the call log.

        `scenario`: answered, missed, voicemail (its voicemail follows, see
        `incoming_voicemail`), ivr_answered, ring_group (`others` ring too; default one
        other user), outbound. `caller` is the outside number (the one called, for
        outbound); `to_number` the number dialled. `ring`, `talk` (the message's length
        for voicemail) and `ivr` are seconds; with `pace` the clock sleeps through them,
        else the call is back-dated to end now. `shuffle_seed` delivers the events out of
        order, `duplicate` re-delivers that many of them (both after the call ended).
        """
        return await self._calls.call(
            scenario,
            caller=caller,
            extension_id=extension_id,
            to_number=to_number,
            from_name=from_name,
            ring=ring,
            talk=talk,
            ivr=ivr,
            others=others,
            transcript=transcript,
            transcript_later=transcript_later,
            pace=pace,
            shuffle_seed=shuffle_seed,
            duplicate=duplicate,
        )

    def ringout_script(self) -> RingOutScript:
        """The script new RingOuts follow; change its fields to steer them."""
        return _ringouts(self._state).script

    # -- request records ----------------------------------------------------------------

    @staticmethod
    def throttling_group(method: str, path: str) -> str:
        """The group a request is throttled in (`Auth` for OAuth; "" for unknown paths)."""
        if path.rstrip("/") in _rc_routes.OAUTH_PATHS:
            return "Auth"
        found = _rc_routes.match("platform", method, path)
        return found[0].group if found is not None else ""

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RequestRecord]:
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if pattern.search(r.path) and (method is None or r.method == method.upper())
        ]


def endpoints() -> list[tuple[str, str, str]]:
    """(method, OpenAPI path template, throttling group) of every endpoint it serves."""
    return [(route.method, route.template, route.group) for route in _rc_routes.ROUTES]


def endpoint_permissions() -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(method, OpenAPI path template) -> (app permission, user permission) it checks."""
    return dict(ROUTE_PERMISSIONS)


def _record(
    req: SimRequest, resp: SimResponse, now: float, owner: str | None = None
) -> RequestRecord:
    parsed: Any = None
    form = None
    if req.content_type == "application/json":
        try:
            parsed = req.json_body()
        except ValueError:
            parsed = None
    elif req.content_type == "application/x-www-form-urlencoded":
        form = req.form()
    return RequestRecord(
        method=req.method,
        host=req.host,
        path=req.path,
        query=req.query_multi(),
        headers=dict(req.headers),
        body=req.body,
        json=parsed,
        form=form,
        status=resp.status,
        time=now,
        owner=owner,
    )

"""A stateful Slack simulator on loopback: the Web API, upload URLs, response_urls, Socket
Mode (`bot.sim._slack_socket`), and a client that sends the app what Slack sends (signed
slash commands, clicks, events; or the same as Socket Mode envelopes).

    sim = SlackSimulator(token="xoxb-test", signing_secret="secret")
    sim.add_channel("C0CALLS", "calls")
    async with sim.serve():
        client = AsyncWebClient(token="xoxb-test", base_url=sim.api_url)
        await client.chat_postMessage(channel="C0CALLS", text="hi")   # -> not_in_channel
        ...
        await sim.send_command(bot_url, "/sms", "+1 415 555 0123 Tom & Jerry <3")
        await sim.send_command(sim.socket_mode_url, "/sms", "…")  # to an app in Socket Mode

It honours the contract of reference/slack.md §0: JSON, form and query-string arguments
merged; bearer auth (``not_authed`` / ``invalid_auth``); errors as HTTP 200 ``ok: false``;
429 with ``Retry-After``; unknown arguments ignored (Bolt adds ``team_id``). It refuses what
Slack refuses (§4.1 limits, channel membership, a token of the wrong type, scopes:
``missing_scope``) and imports nothing from the product: a simulator that shares the code
under test shares its bugs.

With ``subscribe_events(url)`` it delivers the events its workspace raises (a message
deleted) to the app as the Events API does, retries included (`_slack_sender`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import aiohttp
from aiohttp import web

from bot.sim._connections import ConnectionCounter
from bot.sim._slack_api import JSON_ARGS, METHODS, SLACK_CHANNEL_PACE, Pace, read_arguments
from bot.sim._slack_blocks import decode_json_param
from bot.sim._slack_chat import remove_message
from bot.sim._slack_faults import Faults, SlackFault, make_fault
from bot.sim._slack_inbound import slack_encode
from bot.sim._slack_params import Params
from bot.sim._slack_responses import respond
from bot.sim._slack_sender import SOCKET_MODE, Delivery, EventRetries, SignedRequest, SlackSender
from bot.sim._slack_socket import SocketMode
from bot.sim._slack_state import (
    Call,
    Channel,
    Clock,
    ResponsePost,
    ResponseUrl,
    SlackError,
    UploadedFile,
    User,
    UserGroup,
    WallClock,
    is_top_level,
    thread_of,
)
from bot.sim._slack_workspace import DEFAULT_SCOPES, Identity, Workspace

__all__ = [
    "DEFAULT_SCOPES",
    "SLACK_CHANNEL_PACE",
    "Call",
    "Channel",
    "Clock",
    "Delivery",
    "EventRetries",
    "Identity",
    "ResponsePost",
    "SignedRequest",
    "SlackFault",
    "SlackSender",
    "SlackSimulator",
    "SocketMode",
    "UploadedFile",
    "User",
    "UserGroup",
    "slack_encode",
]


class SlackSimulator(SlackSender):
    """A fake Slack workspace served on loopback; see the module docstring."""

    def __init__(
        self,
        *,
        token: str | tuple[str, ...] = "xoxb-sim-token",  # noqa: S107  (a fake, by design)
        signing_secret: str = "sim-signing-secret",  # noqa: S107
        app_token: str = "xapp-1-A0SIM-1-sim-app-token",  # noqa: S107
        app_token_scopes: tuple[str, ...] = ("connections:write",),
        clock: Clock | None = None,
        identity: Identity | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        home_tab_enabled: bool = True,
        channel_pace: tuple[float, int] | None = None,
        pace_clock: Clock | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """`channel_pace=(rate, burst)` makes chat.postMessage answer 429 past `rate`
        posts per second per channel (after a burst; Slack's: `SLACK_CHANNEL_PACE`),
        counted on `pace_clock` (default `clock`: pass the app's clock when it is a fake
        one); without it posts are only recorded. `app_token`: the app-level token of
        Socket Mode, holding `app_token_scopes`."""
        clock = clock or WallClock()
        workspace = Workspace(
            clock, identity or Identity(), scopes, home_tab_enabled=home_tab_enabled
        )
        super().__init__(signing_secret, clock=clock, workspace=workspace)
        self.tokens = (token,) if isinstance(token, str) else token
        self.app_token = app_token
        self.socket = SocketMode(workspace.identity, {app_token: app_token_scopes})
        self._pace = Pace(*channel_pace) if channel_pace else None
        self._pace_clock = pace_clock or clock
        self._host = host
        self.events_url: str | None = None
        self.bot_events: frozenset[str] = frozenset()
        self.event_deliveries: list[Delivery] = []  # of the events the workspace raised
        # The TCP connections the app's calls came over (keep-alive: far fewer than calls).
        self.connections = ConnectionCounter()
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._calls: list[Call] = []
        self._faults = Faults()
        # Seconds a method takes before Slack acts on it (a slow Slack): the work is done
        # and recorded after the wait, as when the request is still on its way. A
        # (low, high) pair draws each call's time from that range (a Slack whose answers
        # come in a different order than the requests went).
        self.latency: dict[str, float | tuple[float, float]] = {}
        self._latency_draws = random.Random(0)
        self._response_urls: dict[str, ResponseUrl] = {}
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """For ``AsyncWebClient(base_url=sim.api_url)``; ends with ``/api/``."""
        if not self.base_url:
            raise RuntimeError("use inside `async with sim.serve()`")
        return f"{self.base_url}/api/"

    @property
    def socket_mode_url(self) -> str:
        """Where to send commands, clicks and events for an app in Socket Mode: pass it to
        `send_*` in place of a Request URL and they travel as envelopes on its connections."""
        return f"{SOCKET_MODE}//{self.workspace.identity.app_id}"

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[Self]:
        """Listen on a random loopback port until the block ends."""
        app = web.Application(
            client_max_size=64 * 1024**2,  # uploads: faxes, voicemail audio
            middlewares=[self.connections.middleware],
        )
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/files-pri/{file_id}/download/{name}", self._file)
        app.router.add_get("/files-pri/{file_id}/{name}", self._file)
        app.router.add_get("/link/", self.socket.serve_link)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, 0)
            await site.start()
            port = runner.addresses[0][1]
            self.base_url = f"http://{self._host}:{port}"
            self.socket.base_url = self.base_url
            self.workspace.upload_base = f"{self.base_url}/upload/v1/"
            self.workspace.files_base = f"{self.base_url}/files-pri/"
            async with aiohttp.ClientSession() as session:
                self._session = session
                try:
                    yield self
                finally:
                    for task in self._event_tasks:
                        task.cancel()
                    self._session = None
        finally:
            await self.socket.close()
            await runner.cleanup()

    async def deliver_envelope(self, request: SignedRequest) -> Delivery:
        """A request sent to `socket_mode_url`: an envelope on one of the app's connections."""
        fate = await self.socket.deliver(request.envelope_type, request.fields)
        status = (200 if fate.acked else 408) if fate.connected else 503
        body = json.dumps(fate.payload) if fate.payload else ""
        return Delivery(
            status,
            body,
            {},
            sent=request.fields,
            seconds_to_ack=fate.seconds_to_ack,
            attempts=fate.attempts,
        )

    # -- workspace setup ------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        private: bool = False,
        member: bool = False,
        archived: bool = False,
        members: set[str] | None = None,
    ) -> Channel:
        """A channel; `member` is whether the bot is in it (posting needs it, §3.7)."""
        channel = Channel(
            channel_id,
            name or channel_id.lower(),
            is_private=private,
            is_member=member,
            is_archived=archived,
            members=members,
        )
        self.workspace.channels[channel_id] = channel
        return channel

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str = "",
        display_name: str = "",
        is_bot: bool = False,
        email: str | None = None,
        deleted: bool = False,
        guest: bool = False,
        other_org: bool = False,
    ) -> User:
        """A member. `guest`: a multi-channel guest (`is_restricted`); `other_org`: a
        person of another organisation in a shared channel (another `team_id`)."""
        user = User(
            user_id,
            name,
            real_name=real_name,
            display_name=display_name,
            is_bot=is_bot,
            team_id="T0OTHERORG" if other_org else self.workspace.identity.team_id,
            email=email,
            deleted=deleted,
            is_restricted=guest,
        )
        self.workspace.users[user_id] = user
        return user

    def add_usergroup(
        self, group_id: str, handle: str, users: list[str], *, disabled: bool = False
    ) -> UserGroup:
        group = UserGroup(
            group_id,
            handle,
            handle.title(),
            list(users),
            team_id=self.workspace.identity.team_id,
            disabled=disabled,
        )
        self.workspace.usergroups[group_id] = group
        return group

    async def open_home(self, url: str, user_id: str, *, tab: str = "home") -> Delivery:
        """A person opens the app's Home tab (or Messages tab): `app_home_opened`, as Slack
        sends it, with the DM's channel id; `view` only once a Home view was published."""
        channel, _ = self.workspace.open_dm(user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": channel.id,
            "tab": tab,
            "event_ts": self.workspace.ts.next(),
        }
        if tab == "home" and (view := self.workspace.home_views.get(user_id)) is not None:
            event["view"] = copy.deepcopy(view)
        return await self.send_event(url, event)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The token's scopes (`x-oauth-scopes`); methods needing another answer
        `missing_scope`."""
        return self.workspace.scopes

    @scopes.setter
    def scopes(self, scopes: tuple[str, ...]) -> None:
        self.workspace.scopes = tuple(scopes)

    def remove_scopes(self, *names: str) -> None:
        self.scopes = tuple(s for s in self.scopes if s not in names)

    def new_trigger_id(self) -> str:
        """A trigger_id as an interaction would carry (usable once, for 3 s)."""
        return self.workspace.issue_trigger()

    # -- Events API -------------------------------------------------------------------------

    def subscribe_events(
        self,
        url: str,
        bot_events: tuple[str, ...] = ("app_home_opened", "message.channels", "message.groups"),
        *,
        retries: EventRetries | None = None,
    ) -> None:
        """Deliver the workspace's events to `url` (the manifest's request URL and
        bot events: message.channels, message.groups, message.im); `retries`: Slack's
        schedule unless given."""
        self.events_url = url
        self.bot_events = frozenset(bot_events)
        if retries is not None:
            self.event_retries = retries

    async def delete_message(self, channel: str, ts: str) -> Delivery | None:
        """A person deletes a message (any author's, as its author or an admin would):
        gone from the channel, and `message_deleted` delivered when subscribed. Returns
        that delivery (None: not subscribed)."""
        found = self.workspace.channels[channel]
        message = next(m for m in found.messages if m["ts"] == ts)
        remove_message(self.workspace, found, message)
        (event,) = self._take_events()
        return await self._deliver_event(event) if event is not None else None

    async def edit_message(self, channel: str, ts: str, text: str) -> Delivery | None:
        """A person edits their message (typed `text`, Slack-encoded): changed in the
        channel, and `message_changed` delivered when subscribed (that delivery; None: not
        subscribed)."""
        found = self.workspace.channels[channel]
        message = next(m for m in found.messages if m["ts"] == ts)
        previous = copy.deepcopy({k: v for k, v in message.items() if k != "reactions"})
        message["text"] = slack_encode(text, autolink=True)
        message["edited"] = {"user": message.get("user", ""), "ts": self.workspace.ts.next()}
        event_ts = self.workspace.ts.next()
        self.workspace.outbox.append(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel,
                "ts": event_ts,
                "event_ts": event_ts,
                "channel_type": found.channel_type,
                "message": copy.deepcopy({k: v for k, v in message.items() if k != "reactions"}),
                "previous_message": previous,
            }
        )
        (event,) = self._take_events()
        return await self._deliver_event(event) if event is not None else None

    async def events_delivered(self) -> list[Delivery]:
        """Wait until the events raised so far are delivered (retries included); all the
        deliveries made so far."""
        while self._event_tasks:
            await asyncio.gather(*list(self._event_tasks), return_exceptions=True)
        return list(self.event_deliveries)

    def _take_events(self) -> list[dict[str, Any] | None]:
        """The outbox emptied: each event, or None where the app is not subscribed to it."""
        events, self.workspace.outbox = self.workspace.outbox, []
        return [e if self._subscribed(e) else None for e in events]

    def _subscribed(self, event: Mapping[str, Any]) -> bool:
        if self.events_url is None:
            return False
        if event.get("type") != "message":
            return str(event.get("type")) in self.bot_events
        channel = self.workspace.channels.get(str(event.get("channel")))
        # Slack sends a channel's messages only to a member (message.channels &c.).
        kind = {"channel": "channels", "group": "groups", "im": "im"}[event["channel_type"]]
        return f"message.{kind}" in self.bot_events and bool(channel and channel.is_member)

    async def _deliver_event(self, event: Mapping[str, Any]) -> Delivery:
        assert self.events_url is not None
        delivery = await self.send_event(self.events_url, event)
        self.event_deliveries.append(delivery)
        return delivery

    def _schedule_events(self) -> None:
        """Deliver what the last call raised in the background, as Slack does after
        answering the call."""
        for event in self._take_events():
            if event is not None:
                task = asyncio.get_running_loop().create_task(self._delivered(event))
                self._event_tasks.add(task)
                task.add_done_callback(self._event_tasks.discard)

    async def _delivered(self, event: Mapping[str, Any]) -> None:
        await self._deliver_event(event)

    # -- fault injection ------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        times: int | None = 1,
        retry_after: int | None = None,
        channel: str | None = None,
        store: bool = False,
        disconnect: bool = False,
        garbled: bool = False,
    ) -> SlackFault:
        """Make the next `times` calls of `method` ("*": any) fail (None: until cleared).

        status 429 answers ``ratelimited`` with ``Retry-After`` (default 1 s); 5xx answers
        that status; 200 answers ``{"ok": false, "error": error}``. `channel`: only calls
        to that channel. `store`: the call does its work first (a message is stored) and
        fails only when the work succeeded. `disconnect`: the connection drops instead of
        an answer. `garbled`: a 200 `{"ok": true}` without the method's fields (not
        Slack's own behaviour: what a proxy or a cut answer gives). The fault is
        returned; changing its fields changes what comes next.
        """
        return self._faults.add(
            make_fault(
                method,
                error=error,
                status=status,
                times=times,
                retry_after=retry_after,
                channel=channel,
                store=store,
                disconnect=disconnect,
                garbled=garbled,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- inspection -----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API request received (of `method`), oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's history as people see it (no thread replies), oldest first;
        with metadata."""
        return copy.deepcopy(
            [m for m in self.workspace.channels[channel].messages if is_top_level(m)]
        )

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread: parent first, then replies oldest first."""
        return copy.deepcopy(thread_of(self.workspace.channels[channel], ts))

    def ephemerals(self, channel: str, user: str | None = None) -> list[dict[str, Any]]:
        found = self.workspace.channels[channel].ephemerals
        return copy.deepcopy([m for m in found if user is None or m.get("user") == user])

    def files(self) -> dict[str, UploadedFile]:
        return dict(self.workspace.files)

    def home_view(self, user: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.workspace.home_views.get(user))

    def post_times(self, channel: str) -> list[float]:
        """When chat.postMessage succeeded in `channel` (simulator clock): when Slack
        acted on each, after its `latency`, the time its pace counts."""
        return [
            c.time
            for c in self._calls
            if c.method == "chat.postMessage" and c.ok and c.response.get("channel") == channel
        ]

    def max_posts_in(self, channel: str, window: float = 1.0) -> int:
        """The most successful posts to `channel` within any `window` seconds."""
        times = self.post_times(channel)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- response_url ---------------------------------------------------------------------

    def response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A loopback response_url; posts to it are recorded and applied (§1.5)."""
        if not self.base_url:
            raise RuntimeError("use inside `async with sim.serve()`")
        url = f"{self.base_url}/response/{secrets.token_urlsafe(12)}"
        self._response_urls[url] = ResponseUrl(
            url, self.clock.now(), channel_id, user_id, message_ts
        )
        return url

    def responses(self, url: str | None = None) -> list[ResponsePost]:
        """Posts to one response_url (or to all of them), oldest first."""
        targets = [self._response_urls[url]] if url else self._response_urls.values()
        return sorted((p for t in targets for p in t.posts), key=lambda p: p.time)

    # -- HTTP handlers --------------------------------------------------------------------

    def _authenticate(self, method: str, request: web.Request, params: Mapping[str, Any]) -> str:
        """The request's token; Slack refuses an app-level token for every method but
        apps.connections.open, and any other token for that one."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        token = token or str(params.get("token") or "")
        if not token:
            raise SlackError("not_authed")
        app_level = token in self.socket.app_tokens
        if not app_level and token not in self.tokens:
            raise SlackError("invalid_auth")
        if app_level != (method == "apps.connections.open"):
            raise SlackError("not_allowed_token_type")
        return token

    def _channel_key(self, ref: Any) -> str:
        try:
            return self.workspace.channel(str(ref)).id
        except SlackError:
            return str(ref)

    def _dispatch(self, method: str, request: web.Request, params: Params) -> web.Response:
        token = self._authenticate(method, request, params)
        raw_channel = str(params.get("channel") or "")
        channels = (raw_channel, self._channel_key(raw_channel)) if raw_channel else ()
        if (fault := self._faults.take(method, channels, stored=False)) is not None:
            return fault.answer(request)
        if method == "apps.connections.open":
            return web.json_response(self.socket.open(token))
        handler = METHODS.get(method)
        if handler is None:
            raise SlackError("unknown_method")
        if method == "chat.postMessage" and self._pace is not None:
            key = self._channel_key(raw_channel)
            wait = self._pace.retry_after(key, self._pace_clock.now())
            if wait is not None:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(wait)},
                )
        response = web.json_response(handler(self.workspace, params))
        # Only work that succeeded can be "done, then failed": a SlackError raised above is
        # Slack refusing, with nothing stored and the fault left for the next call.
        if (fault := self._faults.take(method, channels, stored=True)) is not None:
            return fault.answer(request)
        return response

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        try:
            params = await read_arguments(request)
            if delay := self._latency_of(method):
                await asyncio.sleep(delay)
            response = self._dispatch(method, request, params)
        except SlackError as e:
            response = web.json_response(
                {"ok": False, "error": e.error, **e.extra}, headers={"x-slack-failure": e.error}
            )
        # Slack reports the token's scopes on every response; Bolt reads them (§1.1, §2.1).
        scopes = (
            self.socket.app_tokens.get(self.app_token, ())
            if method == "apps.connections.open"
            else self.workspace.scopes
        )
        response.headers["x-oauth-scopes"] = ",".join(scopes)
        response.content_type = "application/json"
        response.charset = "utf-8"
        self._schedule_events()
        recorded = {k: decode_json_param(v) if k in JSON_ARGS else v for k, v in params.items()}
        assert response.text is not None
        self._calls.append(
            Call(
                method,
                recorded,
                dict(request.headers),
                self.clock.now(),
                request.method,
                response.status,
                json.loads(response.text),
            )
        )
        return response

    def _latency_of(self, method: str) -> float:
        latency = self.latency.get(method, 0.0)
        if isinstance(latency, tuple):
            return self._latency_draws.uniform(*latency)
        return latency

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.workspace.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="file_not_found")
        file.content = await request.read()
        return web.Response(text=f"OK - {len(file.content)}")  # any 200 is success (§3)

    async def _file(self, request: web.Request) -> web.Response:
        """url_private(_download): the bytes only for the bot token holding files:read.
        Slack answers a request without it with its sign-in page (HTML, 200), not an
        error: an app that does not check gets a web page for a picture."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        file = self.workspace.files.get(request.match_info["file_id"])
        allowed = token in self.tokens and "files:read" in self.workspace.scopes
        if not allowed or file is None or file.content is None:
            return web.Response(
                text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                content_type="text/html",
            )
        return web.Response(body=file.content, content_type=file.mimetype)

    async def _response(self, request: web.Request) -> web.Response:
        target = self._response_urls.get(f"{self.base_url}/response/{request.match_info['key']}")
        if target is None:
            return web.Response(status=404, text="invalid_url")
        try:
            body: Any = json.loads(await request.read())
        except ValueError:
            body = None
        status, answer = respond(self.workspace, target, body)
        self._schedule_events()
        return web.Response(status=status, text=answer)

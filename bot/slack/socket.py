"""Slack over Socket Mode (DESIGN §3.11, reference/slack.md §1.3): Bolt's
`AsyncSocketModeHandler` on slack_sdk's aiohttp `SocketModeClient`, running the same Bolt
app (the same listeners) as the HTTP edge. No inbound connection: the process opens a
WebSocket to Slack, and every process opens its own (Slack spreads envelopes over them,
at most 10 per app).

What slack_sdk's client does by itself: it answers `hello`, acks what Bolt answers, opens
a new connection on every `disconnect` message at once (`refresh_requested`, `warning`),
on a close frame, and when its ping check (every `ping_interval`) finds the socket closed
or silent for four intervals (a dropped network). What it gets wrong, and is changed here:

- `link_disabled` (Socket Mode turned off for the app) would be "reconnected" too, and a
  refused `apps.connections.open` (a bad or revoked app token) retried forever: both stop
  the socket for good here, said once in the log, in `state`, and to `report`;
- `too_many_websockets` (an 11th connection of the app) would reconnect at once, again and
  again: here the next try waits `CROWDED_WAIT` (a rolling deploy briefly doubles the
  processes; the limit frees up when the old ones exit).

Bolt reads an envelope's payload as the dict it is: Socket Mode needs none of the form
repair of the HTTP edge (`bot.slack.http.mend_body`); tests send `/sms … payload …` both ways.

Sessions: `apps.connections.open` goes through the Bolt app's client, so the server's one
aiohttp session; the WebSocket itself cannot: the client makes an `aiohttp.ClientSession`
of its own in its constructor (there is no parameter for one) and closes it in `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["CROWDED_WAIT", "PING_INTERVAL", "SlackSocket"]

log = logging.getLogger("bot.slack.socket")

OnRequest = Callable[[str, int, float], None]  # (command | action | event, status, seconds)
Report = Callable[[str, str], Awaitable[None]]  # (subject, what happened) for the admin

# Seconds between the client's pings, which also paces its check for a dead socket: a
# dropped connection is replaced within about this long. (Bolt's default is 10.)
PING_INTERVAL = 5.0
CROWDED_WAIT = 60.0  # seconds before trying again after `too_many_websockets`
CLOSE_WITHIN = 2.0  # seconds for the close handshake at shutdown
# apps.connections.open errors that no retry will cure: the app token is wrong.
REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "missing_scope",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
    }
)
KINDS = {"slash_commands": "command", "interactive": "action", "events_api": "event"}


class _NoEnvelopes(logging.Filter):
    """slack_sdk logs every message it sends and receives at DEBUG: response_urls (which
    post as the app for 30 minutes) and what people typed. Those lines never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_sdk_log = logging.getLogger("bot.slack.socket.sdk")
_sdk_log.addFilter(_NoEnvelopes())


class SlackSocket:
    """The Socket Mode connection of one process; `start()` it, `close()` it.

    `state`: "connecting" (no `hello` on the current connection yet), "connected",
    "waiting: too_many_websockets", "stopped: link_disabled" or "stopped: <the error
    apps.connections.open gave>" (no more tries), "closed".
    """

    def __init__(
        self,
        app: AsyncApp,
        *,
        app_token: str,
        client: AsyncWebClient,
        on_request: OnRequest | None = None,
        on_connect: Callable[[], None] | None = None,
        report: Report | None = None,
        ping_interval: float = PING_INTERVAL,
        crowded_wait: float = CROWDED_WAIT,
    ) -> None:
        self._app = app
        self._app_token = app_token
        self._web = client
        self._on_request = on_request
        self._on_connect = on_connect
        self._report = report
        self._ping_interval = ping_interval
        self._crowded_wait = crowded_wait
        self._handler: _Handler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped: str | None = None
        self._waiting: str | None = None
        self._hello_on: object = None  # the WebSocket whose `hello` was last seen
        self.connections = 0  # connections opened (a `hello` received) since start

    @property
    def state(self) -> str:
        if self._stopped is not None:
            return f"stopped: {self._stopped}"
        handler = self._handler
        if handler is None or handler.client.closed:
            return "closed"
        if self._waiting is not None:
            return f"waiting: {self._waiting}"
        session = handler.client.current_session
        if session is not None and not session.closed and session is self._hello_on:
            return "connected"
        return "connecting"

    async def start(self) -> None:
        """Start connecting in the background (Slack may be unreachable for a while)."""
        client = _Client(
            self,
            app_token=self._app_token,
            logger=_sdk_log,
            web_client=self._web,
            ping_interval=self._ping_interval,
        )
        self._handler = _Handler(self._app, client, self._on_request)
        self._spawn(client.connect(), "slack socket connect")  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the connection: Slack sends the next envelopes to the app's other ones."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        handler, self._handler = self._handler, None
        if handler is None:
            return
        client = handler.client
        try:
            await asyncio.wait_for(handler.close_async(), CLOSE_WITHIN)  # type: ignore[no-untyped-call]
        except TimeoutError:
            log.warning("Slack did not finish the Socket Mode close handshake in time")
        finally:
            client.closed = True
            if not client.aiohttp_client_session.closed:
                await client.aiohttp_client_session.close()

    # -- what the client tells us ---------------------------------------------------------

    def _hello(self, client: SocketModeClient) -> None:
        self._waiting = None
        self._hello_on = client.current_session
        self.connections += 1
        if self.connections > 1:
            log.info("Slack Socket Mode connected again")
        if self._on_connect is not None:
            self._on_connect()

    def _disconnect(self, reason: str) -> None:
        log.info("Slack asked for a new Socket Mode connection (%s)", reason)

    def _stop(self, client: SocketModeClient, reason: str) -> None:
        """No more connections: a condition no reconnect cures."""
        if self._stopped is not None:
            return
        self._stopped = reason
        client.auto_reconnect_enabled = client.default_auto_reconnect_enabled = False
        client.closed = True  # its loops end; close() frees the rest
        if reason == "link_disabled":
            text = (
                "Slack turned Socket Mode off for this app (link_disabled): slash commands, "
                "buttons and thread replies no longer reach RingBridge. Turn Socket Mode on "
                "again in the app's settings and restart RingBridge, or unset SLACK_APP_TOKEN "
                "and give Slack a Request URL."
            )
        else:
            text = (
                f"Slack refused SLACK_APP_TOKEN ({reason}): Socket Mode needs an app-level "
                "token (xapp-…) with the connections:write scope. Slash commands, buttons and "
                "thread replies cannot reach RingBridge until it is fixed and RingBridge "
                "restarted."
            )
        log.error("%s", text)
        self._spawn(self._after_stop(text), "slack socket stop")

    async def _after_stop(self, text: str) -> None:
        handler = self._handler
        if handler is not None:
            with contextlib.suppress(TimeoutError):
                disconnect = handler.client.disconnect()  # type: ignore[no-untyped-call]
                await asyncio.wait_for(disconnect, CLOSE_WITHIN)
        if self._report is not None:
            await self._report("slack_socket", text)

    def _crowded(self, client: SocketModeClient) -> None:
        """`too_many_websockets`: try again later rather than at once, in a loop."""
        if self._waiting is not None:
            return
        self._waiting = "too_many_websockets"
        client.auto_reconnect_enabled = False
        log.warning(
            "Slack refused one more Socket Mode connection for this app (at most 10: "
            "too_many_websockets); trying again in %.0f s",
            self._crowded_wait,
        )
        self._spawn(self._reconnect_later(client), "slack socket wait")

    async def _reconnect_later(self, client: SocketModeClient) -> None:
        await asyncio.sleep(self._crowded_wait)
        self._waiting = None
        client.auto_reconnect_enabled = client.default_auto_reconnect_enabled
        await client.connect_to_new_endpoint(force=True)

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %s", task.get_name(), type(exc).__name__, exc_info=exc)


class _Client(SocketModeClient):
    """slack_sdk's aiohttp client, with `hello` and `disconnect` seen before it acts on them
    (see the module docstring)."""

    def __init__(self, owner: SlackSocket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner

    async def enqueue_message(self, message: str) -> None:
        # Runs in the receiving loop as each frame arrives, before the next frame is read
        # (a close that follows a `disconnect` included). Envelopes carry an envelope_id;
        # only the few other messages are read here.
        if "envelope_id" not in message:
            kind, reason = _control(message)
            if kind == "hello":
                self._owner._hello(self)
            elif kind == "disconnect":
                if reason == "link_disabled":
                    self._owner._stop(self, reason)
                    return  # not queued: the client would reconnect
                if reason == "too_many_websockets":
                    self._owner._crowded(self)
                    return
                self._owner._disconnect(reason)
        await super().enqueue_message(message)

    async def issue_new_wss_url(self) -> str:
        try:
            return await super().issue_new_wss_url()
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in REFUSED:
                self._owner._stop(self, error)
            raise


class _Handler(AsyncSocketModeHandler):
    """Bolt's handler around our client, observing each envelope (kind, Bolt's status, and
    the seconds until the ack went out) as the HTTP edge observes requests."""

    def __init__(self, app: AsyncApp, client: _Client, on_request: OnRequest | None) -> None:
        # Not super().__init__(): it builds a plain SocketModeClient of its own. These are
        # the attributes it sets.
        self.app = app
        self.app_token = client.app_token
        self.client = client
        self._on_request = on_request
        client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.perf_counter()
        response = await run_async_bolt_app(self.app, req)
        await send_async_response(client, req, response, started)
        if self._on_request is not None:
            seconds = time.perf_counter() - started
            self._on_request(KINDS.get(req.type, "event"), response.status, seconds)


def _control(message: str) -> tuple[str, str]:
    """(type, reason) of a message that is no envelope; ("", "") if unreadable."""
    try:
        data = json.loads(message)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("type", "")), str(data.get("reason", ""))

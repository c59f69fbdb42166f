"""`Simulators`: the RingCentral and Slack simulators served in a child process.

The work the simulators do for the bridge then sits in neither the bridge's event loop nor
the one of the client that measures or drives it. The parent talks to the child over a
pipe: it gets the URLs and credentials (`SimInfo`), injects faults and account events, and
reads what the simulators hold. Every wait is bounded.

    async with Simulators() as sims:
        server = ServerProcess(sims.info)
        await sims.slack_fail("chat.postMessage", status=500, store=True)
        await sims.rc_incoming_sms("+14155550123", "hello")
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any, Self

from bot.sim._process_child import run
from bot.sim._process_data import (
    CHANNEL,
    USER,
    SimFailure,
    SimInfo,
    SimOptions,
    SimStats,
    SlackCall,
)

PIPE_TIMEOUT = 30.0  # seconds for the simulator process to answer a request
STOP_TIMEOUT = 5.0  # seconds for it to exit once asked


class Simulators:
    """Both simulators in a child process, seen from the parent."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        self._conn: Connection | None = None
        # One question on the pipe at a time: two tasks asking at once (a test sending
        # traffic while another cuts the WebSocket) would each read the other's answer.
        self._asking = asyncio.Lock()
        self._process: Any = None
        self._info: SimInfo | None = None

    @property
    def info(self) -> SimInfo:
        if self._info is None:
            raise RuntimeError("Simulators not started")
        return self._info

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> SimInfo:
        # spawn: a fresh interpreter, never a fork of a process with an event loop and threads
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=run, args=(child, self.options), name="simulators")
        self._process.daemon = True
        self._process.start()
        child.close()
        self._conn = parent
        info = await self._recv()
        assert isinstance(info, SimInfo)
        self._info = info
        return info

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
                self._conn.send(("stop", {}))
                await self._recv()
            self._conn.close()
            self._conn = None
        if self._process is not None:
            await asyncio.to_thread(self._process.join, STOP_TIMEOUT)
            if self._process.is_alive():
                self._process.terminate()
                await asyncio.to_thread(self._process.join, STOP_TIMEOUT)
            self._process = None

    async def _recv(self) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            ready = await asyncio.to_thread(conn.poll, PIPE_TIMEOUT)
            if not ready:
                raise TimeoutError(f"simulator process silent for {PIPE_TIMEOUT} s")
            return conn.recv()
        except EOFError:
            raise RuntimeError("the simulator process exited (its traceback is above)") from None

    async def _ask(self, op: str, **kwargs: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("Simulators not started")
        async with self._asking:
            self._conn.send((op, kwargs))
            answer = await self._recv()
        if isinstance(answer, SimFailure):
            raise RuntimeError(f"simulator process: {answer.message}")
        return answer

    # -- for benchmarks: response_urls and counts -----------------------------------------

    async def response_urls(self, count: int) -> list[str]:
        """`count` response_urls of the Slack simulator (channel C0GENERAL, user U0ALICE)."""
        urls = await self._ask("response_urls", count=count)
        return [str(u) for u in urls]

    async def stats(self) -> SimStats:
        """Requests made to both, and the replies each response_url above received."""
        stats = await self._ask("stats")
        assert isinstance(stats, SimStats)
        return stats

    # -- Slack ------------------------------------------------------------------------------

    async def slack_fail(
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
    ) -> None:
        """`SlackSimulator.fail`: the next `times` calls of `method` fail (None: until
        `slack_clear_faults`); with `store`, after doing their work; `garbled`: a 200
        `{"ok": true}` without the method's fields."""
        await self._ask(
            "slack_fail",
            method=method,
            error=error,
            status=status,
            times=times,
            retry_after=retry_after,
            channel=channel,
            store=store,
            disconnect=disconnect,
            garbled=garbled,
        )

    async def slack_clear_faults(self) -> None:
        await self._ask("slack_clear_faults")

    async def slack_add_channels(self, channels: list[str]) -> None:
        """Public channels the bot is a member of."""
        await self._ask("slack_add_channels", channels=list(channels))

    async def slack_calls(self, method: str | None = None) -> list[SlackCall]:
        """Every Slack Web API call received (of `method`), oldest first."""
        calls = await self._ask("slack_calls", method=method)
        assert isinstance(calls, list)
        return calls

    async def slack_messages(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        """A channel's top-level messages as Slack holds them (with metadata)."""
        messages = await self._ask("slack_messages", channel=channel)
        assert isinstance(messages, list)
        return messages

    async def slack_call_log(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every Slack call (of `method`): method, time (simulator wall clock), status, ok,
        channel."""
        calls = await self._ask("slack_call_log", method=method)
        assert isinstance(calls, list)
        return calls

    async def slack_posts(self) -> list[dict[str, Any]]:
        """Every message in every channel, thread replies included: channel, ts, thread_ts,
        text, blocks, metadata."""
        posts = await self._ask("slack_posts")
        assert isinstance(posts, list)
        return posts

    async def slack_post_log(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every chat.postMessage received (at or after `since`, simulator wall clock):
        time, status, ok, channel, thread_ts, rc_uuid and item (from the message metadata)."""
        log = await self._ask("slack_post_log", since=since)
        assert isinstance(log, list)
        return log

    async def slack_socket_command(
        self, command: str, text: str, *, user_id: str = USER, channel_id: str = CHANNEL
    ) -> dict[str, Any]:
        """A slash command over Socket Mode (on one of the app's connections): status (200:
        acked within Slack's 3 s), body (the ack's payload), seconds_to_ack, response_url."""
        answer = await self._ask(
            "slack_socket_command",
            command=command,
            text=text,
            user_id=user_id,
            channel_id=channel_id,
        )
        assert isinstance(answer, dict)
        return answer

    async def slack_replies(self, response_url: str) -> list[dict[str, Any]]:
        """What the app posted to a response_url, oldest first."""
        replies = await self._ask("slack_replies", response_url=response_url)
        assert isinstance(replies, list)
        return replies

    async def slack_socket_state(self) -> dict[str, int]:
        """Socket Mode: connections open now, URLs handed out, envelopes sent."""
        state = await self._ask("slack_socket_state")
        assert isinstance(state, dict)
        return state

    async def slack_socket_disconnect(self, reason: str) -> int:
        """Slack sends `disconnect` with `reason` on every connection; how many."""
        return int(await self._ask("slack_socket_disconnect", reason=reason))

    async def slack_subscribe_events(
        self, url: str, *, delays: tuple[float, ...] | None = None
    ) -> None:
        """The Slack simulator delivers its events (a message deleted) to `url`, retried
        after `delays` seconds (default Slack's: 0, 60, 300)."""
        await self._ask("slack_subscribe_events", url=url, delays=delays)

    async def slack_delete_message(self, channel: str, ts: str) -> int | None:
        """A person deletes a message; the status the app answered `message_deleted`
        with (None when no events URL is subscribed)."""
        status = await self._ask("slack_delete_message", channel=channel, ts=ts)
        return None if status is None else int(status)

    async def slack_remove_scopes(self, *names: str) -> None:
        """The Slack token loses these scopes (`x-oauth-scopes`; methods: missing_scope)."""
        await self._ask("slack_remove_scopes", names=list(names))

    async def slack_thread_reply(
        self, url: str, thread_ts: str, text: str, *, channel: str = CHANNEL, user_id: str = USER
    ) -> dict[str, Any]:
        """A person replies `text` in a thread, delivered to the app's Request URL `url`:
        the app's status and the envelope sent (to send again with `slack_resend_event`)."""
        answer = await self._ask(
            "slack_thread_reply",
            url=url,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            user_id=user_id,
        )
        assert isinstance(answer, dict)
        return answer

    async def slack_resend_event(
        self, url: str, envelope: dict[str, Any], *, retry: int | None = None
    ) -> int:
        """The same event envelope again, as Slack's retry number `retry` (with
        X-Slack-Retry-Num); the app's status."""
        return int(await self._ask("slack_resend_event", url=url, envelope=envelope, retry=retry))

    # -- RingCentral ----------------------------------------------------------------------

    async def rc_set_service_user_admin(self, admin: bool) -> None:
        """Whether the service user is an admin (an ordinary one reads and subscribes to
        its own extension only)."""
        await self._ask("rc_set_service_user_admin", admin=admin)

    async def rc_remove_app_permissions(self, *names: str) -> None:
        """The RingCentral app lacks these permissions from now on (CMN-401)."""
        await self._ask("rc_remove_app_permissions", names=list(names))

    async def rc_subscriptions(self) -> list[dict[str, Any]]:
        """RingCentral's subscriptions: id, status, address, event_filters,
        verification_token."""
        subs = await self._ask("rc_subscriptions")
        assert isinstance(subs, list)
        return subs

    async def rc_incoming_sms(
        self,
        from_number: str,
        text: str,
        *,
        extension_id: str | None = None,
        to_number: str | None = None,
    ) -> dict[str, str]:
        """An SMS arrives at `extension_id` (default: the service user's) and is delivered
        to the matching subscriptions; returns {"id": message id, "extension_id": …}."""
        answer = await self._ask(
            "rc_incoming_sms",
            from_number=from_number,
            text=text,
            extension_id=extension_id,
            to_number=to_number,
        )
        assert isinstance(answer, dict)
        return answer

    async def rc_event(self, method: str, **kwargs: Any) -> str:
        """One real account event (`incoming_sms`, `incoming_voicemail`, `incoming_fax`, or
        `call` with `scenario=`), at the service user's extension unless `extension_id` is
        given, delivered to the matching subscriptions; returns its id (a message's, or a
        call's telephony session id)."""
        return str(await self._ask("rc_event", method=method, kwargs=kwargs))

    async def rc_sms_load(
        self, count: int, rate: float, *, senders: list[str], to_numbers: list[str], prefix: str
    ) -> list[tuple[str, float]]:
        """`count` SMS arriving at the service user's extension at `rate` a second, made in
        the simulator's process on a fixed schedule (open loop): SMS k from senders[k % n]
        to to_numbers[k % m], its text `prefix k`. Returns (message id, wall time it was
        made) of each, once all are made and delivered (webhook POSTs answered)."""
        made = await self._ask(
            "rc_sms_load",
            count=count,
            rate=rate,
            senders=list(senders),
            to_numbers=list(to_numbers),
            prefix=prefix,
        )
        assert isinstance(made, list)
        return [(str(m), float(t)) for m, t in made]

    async def rc_expire_tokens(self) -> None:
        """Every access token RingCentral issued expires now (the next use answers 401)."""
        await self._ask("rc_expire_tokens")

    async def rc_revoke_jwt(self) -> None:
        """The service user's JWT revoked in the developer console (every session ends;
        logins with it answer invalid_grant) until `rc_restore_jwt()`."""
        await self._ask("rc_revoke_jwt")

    async def rc_restore_jwt(self) -> None:
        await self._ask("rc_restore_jwt")

    async def rc_throttle(self, group: str, retry_after: float = 60) -> None:
        """A 429 penalty on `group` for everyone; each request during it restarts it."""
        await self._ask("rc_throttle", group=group, retry_after=retry_after)

    async def rc_fail(
        self,
        path_regex: str,
        *,
        status: int = 503,
        code: str = "CMN-211",
        times: int | None = 1,
        store: bool = False,
    ) -> None:
        """RingCentral fails matching POSTs (`RingCentralSimulator.fail`)."""
        await self._ask(
            "rc_fail", path_regex=path_regex, status=status, code=code, times=times, store=store
        )

    async def rc_clear_faults(self) -> None:
        await self._ask("rc_clear_faults")

    async def rc_texts_sent(self) -> list[dict[str, Any]]:
        """Every POST …/sms received: status, json (None for an MMS), multipart."""
        sent = await self._ask("rc_texts_sent")
        assert isinstance(sent, list)
        return sent

    async def rc_request_log(self) -> list[dict[str, Any]]:
        """Every RingCentral request: time (wall clock), method, path, status, group."""
        log = await self._ask("rc_request_log")
        assert isinstance(log, list)
        return log

    async def rc_extension_ids(self) -> list[str]:
        """The ids of every extension of the simulated account."""
        ids = await self._ask("rc_extension_ids")
        assert isinstance(ids, list)
        return [str(i) for i in ids]

    async def rc_jwt_for(self, extension_id: str) -> str:
        """A JWT credential logging in as `extension_id` (a person, or a second one of the
        service user)."""
        return str(await self._ask("rc_jwt_for", extension_id=extension_id))

    async def rc_set_limit(self, group: str, limit: int) -> None:
        """Requests per minute for `group` from now on (`Auth`: per app)."""
        await self._ask("rc_set_limit", group=group, limit=limit)

    async def rc_reset_rate_limits(self) -> None:
        """Every rate-limit window and penalty forgotten (as if a quiet while had passed)."""
        await self._ask("rc_reset_rate_limits")

    async def rc_sessions(self) -> list[dict[str, Any]]:
        """Every session RingCentral opened: owner_id, session_id, alive."""
        found = await self._ask("rc_sessions")
        assert isinstance(found, list)
        return found

    async def rc_websocket(self) -> dict[str, Any]:
        """The WebSocket gateway: live_connections; connections by how they began (new,
        recovered, failed); closes by why (WSG-902, WSG-903, client, dropped, replaced);
        heartbeats, subscriptions, notifications, buffered, dropped_from_buffer; sessions."""
        found = await self._ask("rc_websocket")
        assert isinstance(found, dict)
        return found

    async def rc_websocket_options(self, **options: Any) -> None:
        """Set what the gateway announces in ConnectionDetails (`idle_timeout`,
        `absolute_timeout`, `recovery_timeout`, `recovery_buffer_size`; seconds), for
        connections made from now on."""
        await self._ask("rc_websocket_options", options=options)

    async def rc_websocket_drop(self) -> int:
        """Cut every WebSocket connection without a word (each session stays recoverable
        for the recovery timeout); how many were cut."""
        return int(await self._ask("rc_websocket_drop"))

    async def secrets(self) -> list[str]:
        """Every secret the simulators issued or hold (tokens, JWTs, verification tokens,
        the Slack bot token and signing secret), to look for in logs."""
        found = await self._ask("secrets")
        assert isinstance(found, list)
        return [str(s) for s in found]

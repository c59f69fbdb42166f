"""The child process of `Simulators`: both simulators on loopback (wall clock, the options'
rate limits, no OpenAPI validation), answering the parent's operations over a pipe.

The parent sends `(operation, keyword arguments)`; each answer is picklable data, or a
`SimFailure` when the operation raised (the child keeps serving). An unknown operation
(the parent's "stop") or a closed pipe ends the process.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from bot.sim._process_data import (
    CHANNEL,
    HOST,
    USER,
    SimFailure,
    SimInfo,
    SimOptions,
    SimStats,
    SlackCall,
    endpoint,
)
from bot.sim.ringcentral import RingCentralSimulator
from bot.sim.slack import EventRetries, SlackSimulator

RC_EVENTS = frozenset({"incoming_sms", "incoming_voicemail", "incoming_fax", "call"})


def run(conn: Connection, options: SimOptions) -> None:
    """The process's entry point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    asyncio.run(_main(conn, options))


async def _main(conn: Connection, options: SimOptions) -> None:
    rc = RingCentralSimulator(latency=options.latency)  # wall clock; no openapi_path
    for group, limit in options.limits.items():
        rc.set_limit(group, limit)
    script = rc.ringout_script()
    script.caller_after = options.ringout_caller_after
    script.callee_after = options.ringout_callee_after
    slack = SlackSimulator(channel_pace=options.slack_channel_pace)
    slack.latency.update(options.slack_latency)
    slack.add_channel(CHANNEL, "general", member=True)
    slack.add_user(USER, "alice", real_name="Alice Example", display_name="Alice")
    ops = _Operations(rc, slack)
    loop = asyncio.get_running_loop()
    async with rc.serve(HOST), slack.serve():
        conn.send(
            SimInfo(
                rc_server_url=rc.server_url,
                rc_media_url=rc.media_url,
                rc_client_id=rc.client_id,
                rc_client_secret=rc.client_secret,
                rc_jwt=rc.jwt,
                slack_api_url=slack.api_url,
                slack_bot_token=slack.tokens[0],
                slack_signing_secret=slack.signing_secret,
                slack_app_token=slack.app_token,
            )
        )
        while True:
            try:
                op, kwargs = await loop.run_in_executor(None, conn.recv)
            except EOFError:
                return  # the parent is gone
            handler = ops.handler(op)
            if handler is None:
                conn.send(None)
                return
            try:
                conn.send(await handler(**kwargs))
            except Exception as exc:  # the parent raises it; the child keeps serving
                conn.send(SimFailure(f"{op}: {type(exc).__name__}: {exc}"))


class _Operations:
    """What the parent may ask; each method is one operation of the same name."""

    NAMES = frozenset(
        {
            "response_urls",
            "stats",
            "slack_fail",
            "slack_clear_faults",
            "slack_add_channels",
            "slack_calls",
            "slack_messages",
            "slack_call_log",
            "slack_posts",
            "slack_post_log",
            "slack_socket_command",
            "slack_replies",
            "slack_socket_state",
            "slack_socket_disconnect",
            "slack_subscribe_events",
            "slack_delete_message",
            "slack_remove_scopes",
            "slack_thread_reply",
            "slack_resend_event",
            "rc_set_service_user_admin",
            "rc_remove_app_permissions",
            "rc_subscriptions",
            "rc_incoming_sms",
            "rc_event",
            "rc_sms_load",
            "rc_expire_tokens",
            "rc_revoke_jwt",
            "rc_restore_jwt",
            "rc_throttle",
            "rc_request_log",
            "rc_extension_ids",
            "rc_jwt_for",
            "rc_set_limit",
            "rc_reset_rate_limits",
            "rc_sessions",
            "rc_websocket",
            "rc_websocket_options",
            "rc_websocket_drop",
            "rc_fail",
            "rc_clear_faults",
            "rc_texts_sent",
            "secrets",
        }
    )

    def __init__(self, rc: RingCentralSimulator, slack: SlackSimulator) -> None:
        self.rc = rc
        self.slack = slack
        self._response_urls: list[str] = []

    def handler(self, op: str) -> Callable[..., Awaitable[Any]] | None:
        return getattr(self, op) if op in self.NAMES else None

    async def response_urls(self, count: int) -> list[str]:
        urls = [self.slack.response_url(channel_id=CHANNEL, user_id=USER) for _ in range(count)]
        self._response_urls.extend(urls)
        return urls

    async def stats(self) -> SimStats:
        requests = list(self.rc.requests)
        return SimStats(
            rc_requests=len(requests),
            rc_statuses=dict(Counter(r.status for r in requests)),
            rc_endpoints=dict(Counter(endpoint(r.method, r.path) for r in requests)),
            slack_api_calls=len(self.slack.calls()),
            response_posts={u: len(self.slack.responses(u)) for u in self._response_urls},
            rc_connections=self.rc.connections.opened,
            slack_connections=self.slack.connections.opened,
            slack_requests=self.slack.connections.requests,
        )

    # -- Slack ------------------------------------------------------------------------------

    async def slack_fail(self, method: str, **fault: Any) -> None:
        self.slack.fail(method, **fault)

    async def slack_clear_faults(self) -> None:
        self.slack.clear_faults()

    async def slack_add_channels(self, channels: list[str]) -> None:
        for channel_id in channels:
            self.slack.add_channel(channel_id, channel_id.lower(), member=True)

    async def slack_calls(self, method: str | None) -> list[SlackCall]:
        return [
            SlackCall(c.method, c.status, bool(c.response.get("ok")))
            for c in self.slack.calls(method)
        ]

    async def slack_messages(self, channel: str) -> list[dict[str, Any]]:
        return self.slack.messages(channel)

    async def slack_call_log(self, method: str | None) -> list[dict[str, Any]]:
        return [
            {
                "method": c.method,
                "time": c.time,
                "status": c.status,
                "ok": c.ok,
                "channel": str(c.params.get("channel") or ""),
            }
            for c in self.slack.calls(method)
        ]

    async def slack_posts(self) -> list[dict[str, Any]]:
        posts = []
        for channel in self.slack.workspace.channels.values():
            for m in channel.messages:  # top-level messages and thread replies
                posts.append(
                    {
                        "channel": channel.id,
                        "ts": m.get("ts"),
                        "thread_ts": m.get("thread_ts"),
                        "text": m.get("text"),
                        "blocks": m.get("blocks"),
                        "metadata": m.get("metadata"),
                    }
                )
        return posts

    async def slack_post_log(self, since: float | None) -> list[dict[str, Any]]:
        found = []
        for c in self.slack.calls("chat.postMessage"):
            if since is not None and c.time < since:
                continue
            metadata = c.params.get("metadata")
            payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
            found.append(
                {
                    "time": c.time,
                    "status": c.status,
                    "ok": c.ok,
                    "channel": str(c.params.get("channel") or ""),
                    "thread_ts": c.params.get("thread_ts"),
                    "rc_uuid": str((payload or {}).get("rc_uuid") or ""),
                    "item": str((payload or {}).get("item") or ""),
                }
            )
        return found

    async def slack_socket_command(
        self, command: str, text: str, user_id: str, channel_id: str
    ) -> dict[str, Any]:
        delivery = await self.slack.send_command(
            self.slack.socket_mode_url, command, text, user_id=user_id, channel_id=channel_id
        )
        return {
            "status": delivery.status,
            "body": delivery.body,
            "seconds_to_ack": delivery.seconds_to_ack,
            "response_url": delivery.response_url,
        }

    async def slack_replies(self, response_url: str) -> list[dict[str, Any]]:
        return [dict(p.body) for p in self.slack.responses(response_url)]

    async def slack_socket_state(self) -> dict[str, int]:
        return {
            "open": len(self.slack.socket.open_connections()),
            "opened": self.slack.socket.opened,
            "envelopes": len(self.slack.socket.envelopes),
        }

    async def slack_socket_disconnect(self, reason: str) -> int:
        return await self.slack.socket.disconnect(reason)

    async def slack_subscribe_events(self, url: str, delays: tuple[float, ...] | None) -> None:
        retries = EventRetries(delays=delays) if delays is not None else None
        self.slack.subscribe_events(url, retries=retries)

    async def slack_delete_message(self, channel: str, ts: str) -> int | None:
        delivered = await self.slack.delete_message(channel, ts)
        return delivered.status if delivered is not None else None

    async def slack_remove_scopes(self, names: list[str]) -> None:
        self.slack.remove_scopes(*names)

    async def slack_thread_reply(
        self, url: str, channel: str, thread_ts: str, text: str, user_id: str
    ) -> dict[str, Any]:
        delivery = await self.slack.send_message(
            url, channel_id=channel, text=text, thread_ts=thread_ts, user_id=user_id
        )
        return {"status": delivery.status, "envelope": dict(delivery.sent)}

    async def slack_resend_event(
        self, url: str, envelope: dict[str, Any], retry: int | None
    ) -> int:
        again = await self.slack.resend_event(
            url, envelope, retry=(retry, "http_timeout") if retry else None
        )
        return again.status

    # -- RingCentral ----------------------------------------------------------------------

    async def rc_set_service_user_admin(self, admin: bool) -> None:
        self.rc.service_user_admin = admin

    async def rc_remove_app_permissions(self, names: list[str]) -> None:
        self.rc.remove_app_permissions(*names)

    async def rc_subscriptions(self) -> list[dict[str, Any]]:
        return [
            {
                "id": sub.id,
                "status": sub.status,
                "address": sub.address,
                "event_filters": list(sub.event_filters),
                "verification_token": sub.verification_token,
            }
            for sub in self.rc.subscriptions.values()
        ]

    async def rc_incoming_sms(
        self, from_number: str, text: str, extension_id: str | None, to_number: str | None
    ) -> dict[str, str]:
        message = await self.rc.incoming_sms(
            extension_id or self.rc.extension_id, from_number, text, to_number=to_number
        )
        return {"id": message.id, "extension_id": message.extension_id}

    async def rc_event(self, method: str, kwargs: dict[str, Any]) -> str:
        if method not in RC_EVENTS:
            raise ValueError(f"unknown RingCentral event {method!r}")
        kwargs = dict(kwargs)
        extension_id = kwargs.pop("extension_id", None) or self.rc.extension_id
        made: Any
        if method == "call":
            made = await self.rc.call(kwargs.pop("scenario"), extension_id=extension_id, **kwargs)
        else:
            made = await getattr(self.rc, method)(extension_id, **kwargs)
        # A call's id is its telephony session's: what its events and call-log record carry.
        return str(getattr(made, "id", "") or getattr(made, "telephony_session_id", ""))

    async def rc_sms_load(
        self, count: int, rate: float, senders: list[str], to_numbers: list[str], prefix: str
    ) -> list[tuple[str, float]]:
        """`count` SMS arriving at `rate` a second on a fixed schedule (open loop), SMS k
        from senders[k % len] to to_numbers[k % len]; (message id, wall time it was made)
        of each, in order."""
        started = time.time()
        made: list[tuple[str, float] | None] = [None] * count

        async def one(k: int) -> None:
            await asyncio.sleep(max(0.0, started + k / rate - time.time()))
            at = time.time()
            message = await self.rc.incoming_sms(
                self.rc.extension_id,
                senders[k % len(senders)],
                f"{prefix} {k}",
                to_number=to_numbers[k % len(to_numbers)],
            )
            made[k] = (message.id, at)

        await asyncio.gather(*(one(k) for k in range(count)))
        return [m for m in made if m is not None]

    async def rc_expire_tokens(self) -> None:
        self.rc.expire_access_tokens()

    async def rc_revoke_jwt(self) -> None:
        self.rc.revoke_jwt()

    async def rc_restore_jwt(self) -> None:
        self.rc.restore_jwt()

    async def rc_throttle(self, group: str, retry_after: float) -> None:
        self.rc.throttle(group, retry_after)

    async def rc_fail(
        self, path_regex: str, status: int, code: str, times: int | None, store: bool
    ) -> None:
        self.rc.fail(path_regex, status=status, code=code, times=times, store=store)

    async def rc_clear_faults(self) -> None:
        self.rc.clear_faults()

    async def rc_texts_sent(self) -> list[dict[str, Any]]:
        return [
            {"status": r.status, "json": r.json, "multipart": r.json is None}
            for r in self.rc.requests_to(r"/sms$", "POST")
        ]

    async def rc_request_log(self) -> list[dict[str, Any]]:
        return [
            {
                "time": r.time,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "group": self.rc.throttling_group(r.method, r.path),
            }
            for r in self.rc.requests
        ]

    async def rc_extension_ids(self) -> list[str]:
        return self.rc.world.extension_ids()

    async def rc_jwt_for(self, extension_id: str) -> str:
        return self.rc.jwt_for(extension_id)

    async def rc_set_limit(self, group: str, limit: int) -> None:
        self.rc.set_limit(group, limit)

    async def rc_reset_rate_limits(self) -> None:
        self.rc.reset_rate_limits()

    async def rc_sessions(self) -> list[dict[str, Any]]:
        return self.rc.sessions()

    async def rc_websocket(self) -> dict[str, Any]:
        gateway = self.rc.websocket
        stats = gateway.stats
        return {
            "live_connections": gateway.live_connections,
            "connections": dict(stats.connections),
            "closes": dict(stats.closes),
            "heartbeats": stats.heartbeats,
            "subscriptions": stats.subscriptions,
            "notifications": stats.notifications,
            "buffered": stats.buffered,
            "dropped_from_buffer": stats.dropped_from_buffer,
            "sessions": gateway.sessions(),
        }

    async def rc_websocket_options(self, options: dict[str, Any]) -> None:
        for name, value in options.items():
            if not hasattr(self.rc.websocket.options, name):
                raise ValueError(f"no WebSocket option {name!r}")
            setattr(self.rc.websocket.options, name, value)

    async def rc_websocket_drop(self) -> int:
        return await self.rc.websocket.drop()

    async def secrets(self) -> list[str]:
        found = self.rc.secrets() | set(self.slack.tokens) | {self.slack.signing_secret}
        found |= set(self.slack.socket.app_tokens)
        return sorted(s for s in found if s)

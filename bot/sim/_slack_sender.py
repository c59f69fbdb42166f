"""Requests to an app, built as Slack builds them: `SlackSender`.

The Slack simulator is a sender (its clicks name messages it holds). Alone, a sender needs
only the app's signing secret: it sends slash commands whose response_urls were made by a
simulator elsewhere (another process), over its own keep-alive connections.

Every `send_*` takes where to send: the app's Request URL (a signed HTTP POST), or a
simulator's `socket_mode_url` (the same payload as a Socket Mode envelope on one of the
app's connections, which only a simulator holds), so one test runs over either.

Events API deliveries over HTTP are retried as Slack documents (api.slack.com/apis/
events-api, "Retries"): an event not answered with a 2xx within 3 seconds is sent again up
to 3 times — nearly immediately, after 1 minute, after 5 minutes — with `X-Slack-Retry-Num`
(1, 2, 3) and `X-Slack-Retry-Reason` (`http_timeout`, `http_error`, `connection_failed`,
`too_many_redirects`); a non-2xx answer carrying `X-Slack-No-Retry: 1` stops them. On a
timeout Slack does not wait for the late answer: the retry goes while the app may still be
working on the first. `EventRetries` holds the schedule (tests shorten it) and may send
the retries to other URLs (another process of the app).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self

import aiohttp

from bot.sim._slack_inbound import (
    block_actions_payload,
    command_body,
    event_envelope,
    home_action_payload,
    payload_body,
    signature,
    slack_encode,
    view_submission_payload,
)
from bot.sim._slack_state import Clock, WallClock, add_reply, find_message, insert_message
from bot.sim._slack_workspace import DEFAULT_SCOPES, Identity, Workspace

FORM = "application/x-www-form-urlencoded"
# Where a `send_*` goes when it should travel over Socket Mode (`SlackSimulator.socket_mode_url`).
SOCKET_MODE = "slack-socket-mode:"


@dataclass(frozen=True)
class Delivery:
    """The app's answer to one request the simulator sent it.

    Over Socket Mode: `status` 200 when the envelope was acked within Slack's 3 s (`body`
    is then the ack's `payload` as JSON, "" without one), 408 when it never was (retries
    included), 503 when the app had no connection open; `seconds_to_ack` is how long the
    acked attempt took and `attempts` how many envelopes were sent.
    """

    status: int
    body: str
    headers: Mapping[str, str]
    response_url: str | None = None
    trigger_id: str | None = None
    sent: Mapping[str, Any] = field(default_factory=dict)  # the payload / form fields sent
    seconds_to_ack: float | None = None  # Socket Mode only
    attempts: int = 1
    # Events over HTTP: why Slack would retry this answer ("" when it was taken), and the
    # retries that followed, in order.
    failure: str = ""
    retries: tuple[Delivery, ...] = ()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class EventRetries:
    """How Slack retries an event the app did not take over HTTP (module docstring).

    `delays`: seconds before each retry (their number is the number of retries);
    `timeout`: seconds an answer may take; `urls`: where retry n goes
    (`urls[(n - 1) % len(urls)]`), default the event's own URL.
    """

    delays: tuple[float, ...] = (0.0, 60.0, 300.0)
    timeout: float = 3.0
    urls: tuple[str, ...] = ()

    def url(self, first: str, retry: int) -> str:
        return self.urls[(retry - 1) % len(self.urls)] if self.urls else first


@dataclass(frozen=True)
class SignedRequest:
    """A request as Slack would send it: raw body and headers (signature included), and
    the same content as a Socket Mode envelope would carry it."""

    body: bytes
    headers: Mapping[str, str]
    fields: Mapping[str, Any]  # the form fields or payload it carries
    envelope_type: str = ""  # slash_commands | interactive | events_api ("": HTTP only)


def _elements(blocks: Any) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    for block in blocks or []:
        for el in [*block.get("elements", []), block.get("accessory") or {}]:
            if isinstance(el, Mapping) and el.get("action_id"):
                yield block.get("block_id"), el


class SlackSender:
    """Signs and sends what Slack sends to an app (slash commands, clicks, modal
    submissions, events), as `signing_secret`'s Slack would.

    Alone, use it as `async with SlackSender(secret) as sender:` (at most `connections`
    keep-alive connections); its workspace is a fresh one with the default identity.
    """

    def __init__(
        self,
        signing_secret: str,
        *,
        clock: Clock | None = None,
        workspace: Workspace | None = None,
        connections: int = 8,
    ) -> None:
        self.signing_secret = signing_secret
        self.clock = clock or WallClock()
        self.workspace = workspace or Workspace(self.clock, Identity(), DEFAULT_SCOPES)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._event_ids = itertools.count(1)
        self.event_retries = EventRetries()

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._connections)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url for a request; only a simulator makes them (pass one instead)."""
        raise RuntimeError("a sender alone makes no response_url: pass `response_url=`")

    def sign(self, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack adds to a request with this raw body (reference §2.2)."""
        raw = body.encode() if isinstance(body, str) else body
        ts = int(self.clock.now()) if timestamp is None else timestamp
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature(self.signing_secret, ts, raw),
        }

    def signed(
        self,
        body: bytes,
        content_type: str,
        fields: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
        envelope_type: str = "",
    ) -> SignedRequest:
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self.sign(body, timestamp),
            **(headers or {}),
        }
        return SignedRequest(body, all_headers, fields, envelope_type)

    async def post(self, url: str, request: SignedRequest) -> Delivery:
        """Send a request to `url` (a Request URL, or `socket_mode_url`); the app's answer."""
        if url.startswith(SOCKET_MODE):
            if not request.envelope_type:
                raise ValueError("this request has no Socket Mode form: send it over HTTP")
            return await self.deliver_envelope(request)
        if self._session is None:
            raise RuntimeError("use inside `async with sim.serve()` (or `async with sender`)")
        async with self._session.post(url, data=request.body, headers=request.headers) as resp:
            return Delivery(resp.status, await resp.text(), dict(resp.headers))

    async def deliver_envelope(self, request: SignedRequest) -> Delivery:
        """Send the request as a Socket Mode envelope: the simulator does (it holds the
        app's connections)."""
        raise RuntimeError("a sender alone holds no Socket Mode connection: use the simulator")

    async def post_signed(
        self,
        url: str,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        request = self.signed(body, content_type, {}, timestamp=timestamp, headers=headers)
        return await self.post(url, request)

    def _user_name(self, user_id: str) -> str:
        user = self.workspace.users.get(user_id)
        return user.name if user else user_id.lower()

    def command_request(
        self,
        command: str = "/sms",
        text: str = "",
        *,
        response_url: str | None = None,
        user_id: str = "U0ALICE",
        channel_id: str = "C0GENERAL",
        encode: bool = True,
        mentions: Mapping[str, str] | None = None,
        links: Mapping[str, str] | None = None,
        autolink: bool = False,
        timestamp: int | None = None,
    ) -> SignedRequest:
        """A slash command as Slack posts it (see `send_command`), not yet sent."""
        ws = self.workspace
        channel = ws.channels.get(channel_id)
        if response_url is None:
            response_url = self.response_url(channel_id=channel_id, user_id=user_id)
        fields = {
            "token": "sim-verification-token",
            "team_id": ws.identity.team_id,
            "team_domain": ws.identity.domain,
            "channel_id": channel_id,
            "channel_name": channel.name if channel else "unknown",
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": slack_encode(text, mentions=mentions, links=links, autolink=autolink)
            if encode
            else text,
            "api_app_id": ws.identity.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": ws.issue_trigger(),
        }
        return self.signed(
            command_body(fields), FORM, fields, timestamp=timestamp, envelope_type="slash_commands"
        )

    async def send_command(
        self,
        url: str,
        command: str = "/sms",
        text: str = "",
        *,
        response_url: str | None = None,
        user_id: str = "U0ALICE",
        channel_id: str = "C0GENERAL",
        encode: bool = True,
        mentions: Mapping[str, str] | None = None,
        links: Mapping[str, str] | None = None,
        autolink: bool = False,
        timestamp: int | None = None,
    ) -> Delivery:
        """A slash command; `text` is what the user typed, sent in Slack's encoding.

        `mentions`, `links` and `autolink` are as in `slack_encode`; the manifest's
        ``should_escape: true`` means Slack turns them into markup in commands too.
        `response_url`: the simulator makes one unless given.
        """
        request = self.command_request(
            command,
            text,
            response_url=response_url,
            user_id=user_id,
            channel_id=channel_id,
            encode=encode,
            mentions=mentions,
            links=links,
            autolink=autolink,
            timestamp=timestamp,
        )
        sent = await self.post(url, request)
        fields = request.fields
        return replace(
            sent, response_url=fields["response_url"], trigger_id=fields["trigger_id"], sent=fields
        )

    async def send_block_action(
        self,
        url: str,
        *,
        action_id: str,
        channel_id: str,
        message_ts: str | None = None,
        user_id: str = "U0ALICE",
        value: str | None = None,
        block_id: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A button click. With `message_ts`, the button must exist in that message."""
        ws = self.workspace
        channel = ws.channels.get(channel_id)
        message = find_message(channel, message_ts) if channel and message_ts else None
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or "b0",
            "type": "button",
            "action_ts": ws.ts.next(),
            "message_ts": message_ts or "",
        }
        if message is not None:
            found = [
                (b, el)
                for b, el in _elements(message.get("blocks"))
                if el["action_id"] == action_id
            ]
            if not found:
                raise ValueError(
                    f"message {message_ts} has no element with action_id {action_id!r}"
                )
            found_block, element = found[0]
            action.update(
                block_id=block_id or found_block or "b0",
                type=element["type"],
                text=element.get("text"),
            )
            if value is None:
                value = element.get("value")
        if value is not None:
            action["value"] = value
        response_url = self.response_url(
            channel_id=channel_id, user_id=user_id, message_ts=message_ts
        )
        trigger_id = ws.issue_trigger()
        payload = block_actions_payload(
            ws.identity,
            user_id=user_id,
            user_name=self._user_name(user_id),
            channel={"id": channel_id, "name": channel.name if channel else "unknown"},
            message=message,
            action=action,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        request = self.signed(
            payload_body(payload), FORM, payload, timestamp=timestamp, envelope_type="interactive"
        )
        sent = await self.post(url, request)
        return replace(sent, response_url=response_url, trigger_id=trigger_id, sent=payload)

    async def send_home_action(
        self, url: str, *, user_id: str, action_id: str, index: int = 0
    ) -> Delivery:
        """A click on the `index`-th element with `action_id` of the Home view published
        for `user_id` (ValueError when there is none)."""
        ws = self.workspace
        view = ws.home_views.get(user_id)
        found = [
            (b, el)
            for b, el in _elements((view or {}).get("blocks"))
            if el["action_id"] == action_id
        ]
        if view is None or len(found) <= index:
            raise ValueError(f"{user_id}'s Home view has no element {action_id!r} #{index}")
        block_id, element = found[index]
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or "b0",
            "type": element["type"],
            "text": element.get("text"),
            "action_ts": ws.ts.next(),
        }
        if "value" in element:
            action["value"] = element["value"]
        trigger_id = ws.issue_trigger()
        payload = home_action_payload(
            ws.identity, user_id=user_id, user_name=self._user_name(user_id), view=view,
            action=action, trigger_id=trigger_id,
        )  # fmt: skip
        return await self._interactive(url, payload, trigger_id, None)

    async def _interactive(
        self, url: str, payload: dict[str, Any], trigger_id: str, timestamp: int | None
    ) -> Delivery:
        request = self.signed(
            payload_body(payload), FORM, payload, timestamp=timestamp, envelope_type="interactive"
        )
        sent = await self.post(url, request)
        return replace(sent, trigger_id=trigger_id, sent=payload)

    async def send_view_submission(
        self,
        url: str,
        *,
        values: Mapping[str, Any],
        view_id: str | None = None,
        user_id: str = "U0ALICE",
        callback_id: str = "",
        private_metadata: str = "",
        timestamp: int | None = None,
    ) -> Delivery:
        """A modal submitted: the view opened with views.open (`view_id`, else the latest)."""
        ws = self.workspace
        if view_id is not None:
            view = ws.views[view_id]
        elif ws.views:
            view = list(ws.views.values())[-1]
        else:
            view = {
                "id": ws.new_id("V"),
                "type": "modal",
                "blocks": [],
                "hash": "1.sim",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "team_id": ws.identity.team_id,
                "app_id": ws.identity.app_id,
            }
        trigger_id = ws.issue_trigger()
        payload = view_submission_payload(
            ws.identity,
            user_id=user_id,
            user_name=self._user_name(user_id),
            view=view,
            values=values,
            trigger_id=trigger_id,
        )
        return await self._interactive(url, payload, trigger_id, timestamp)

    async def send_event(
        self,
        url: str,
        event: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        """An Events API delivery of `event`, in its event_callback envelope (§2.5). Over
        HTTP, with Slack's retries (`event_retries`) while the app does not take it: the
        answer is the first attempt's, `retries` holds the others'."""
        envelope = event_envelope(
            self.workspace.identity, event, f"Ev0SIM{next(self._event_ids):08d}", self.clock.now()
        )
        first = answer = await self.resend_event(
            url, envelope, timestamp=timestamp, headers=headers
        )
        if url.startswith(SOCKET_MODE):
            return first  # Socket Mode retries its envelopes itself (`attempts`)
        policy = self.event_retries
        retries: list[Delivery] = []
        for number, delay in enumerate(policy.delays, start=1):
            if not answer.failure:
                break
            await self._wait(delay)
            answer = await self.resend_event(
                policy.url(url, number),
                envelope,
                retry=(number, answer.failure),
                timestamp=timestamp,
                headers=headers,
            )
            retries.append(answer)
        return replace(first, retries=tuple(retries))

    async def resend_event(
        self,
        url: str,
        envelope: Mapping[str, Any],
        *,
        retry: tuple[int, str] | None = None,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        """One attempt at delivering an event envelope (as sent: `Delivery.sent`), signed
        now; `retry=(number, reason)` makes it Slack's retry of it. No retries follow."""
        extra = dict(headers or {})
        if retry is not None:
            extra.update({"X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1]})
        body = json.dumps(envelope).encode()
        request = self.signed(
            body,
            "application/json",
            envelope,
            timestamp=timestamp,
            headers=extra,
            envelope_type="events_api",
        )
        if url.startswith(SOCKET_MODE):
            return replace(await self.post(url, request), sent=envelope)
        if self._session is None:
            raise RuntimeError("use inside `async with sim.serve()` (or `async with sender`)")
        timeout = aiohttp.ClientTimeout(total=self.event_retries.timeout)
        try:
            async with self._session.post(
                url, data=body, headers=request.headers, timeout=timeout, max_redirects=2
            ) as resp:
                text = await resp.text()
                status, answered = resp.status, dict(resp.headers)
                no_retry = resp.headers.get("X-Slack-No-Retry") == "1"
        except TimeoutError:
            return Delivery(0, "", {}, sent=envelope, failure="http_timeout")
        except aiohttp.TooManyRedirects:
            return Delivery(0, "", {}, sent=envelope, failure="too_many_redirects")
        except aiohttp.ClientError:
            return Delivery(0, "", {}, sent=envelope, failure="connection_failed")
        failure = ""
        if not 200 <= status < 300 and not no_retry:
            failure = "http_error"
        return Delivery(status, text, answered, sent=envelope, failure=failure)

    async def _wait(self, seconds: float) -> None:
        """Wait on the sender's clock when it can (a fake clock moves on), else for real."""
        sleep = getattr(self.clock, "sleep", None)
        if sleep is not None:
            await sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    async def send_message(
        self,
        url: str,
        *,
        channel_id: str,
        text: str,
        user_id: str = "U0ALICE",
        thread_ts: str | None = None,
        encode: bool = True,
        mentions: Mapping[str, str] | None = None,
        links: Mapping[str, str] | None = None,
        autolink: bool = True,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person posts `text` (typed) in a channel or thread: stored, then delivered.

        Slack's client auto-links URLs in messages, hence ``autolink=True`` by default.
        """
        ws = self.workspace
        channel = ws.channels[channel_id]
        ts = ws.ts.next()
        message: dict[str, Any] = {
            "type": "message",
            "user": user_id,
            "ts": ts,
            "team": ws.identity.team_id,
            "text": slack_encode(text, mentions=mentions, links=links, autolink=autolink)
            if encode
            else text,
            "client_msg_id": f"sim-{ts}",
        }
        parent = find_message(channel, thread_ts) if thread_ts else None
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            message["parent_user_id"] = parent.get("user", "")
            add_reply(channel, parent, message)
        else:
            insert_message(channel, message)
        event = {
            **message,
            "channel": channel_id,
            "event_ts": ts,
            "channel_type": channel.channel_type,
        }
        return await self.send_event(url, event, timestamp=timestamp)

    async def send_url_verification(self, url: str, challenge: str = "sim-challenge") -> Delivery:
        body = {
            "token": "sim-verification-token",
            "challenge": challenge,
            "type": "url_verification",
        }
        return await self.post_signed(url, json.dumps(body).encode(), "application/json")

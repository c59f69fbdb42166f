"""Prometheus metrics, one registry per server (tests build several servers in a process).

Labels are small closed sets: a value outside its set is shown as "other", so no phone
number, user id, token or free text ever becomes a label. The hooks that feed the counters:

- `ringcentral_exchange` / `token_grant`: observers the server sets on its RingCentral
  client (`on_exchange`) and token manager (`on_grant`); bot/ringcentral knows nothing of
  Prometheus.
- `slack_request`: the observer of the Slack HTTP edge (`bot.slack.http`) and of Socket
  Mode envelopes (`bot.slack.socket`); `slack_socket_connected`: a Socket Mode `hello`.
- `slack_calls`: a watching retry handler for the Slack clients (`bot.observe.slack_calls`).
- `state`: gauges read from the database at scrape time (`bot.observe.state`).
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.observe.slack_calls import SlackCallCounter
from bot.observe.state import StateCollector
from bot.ringcentral import Exchange

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

GROUPS = frozenset({"Light", "Medium", "Heavy", "Auth"})
GRANTS = frozenset({"jwt", "refresh_token", "authorization_code"})
# RingCentral's errorCode (CMN-301, OAU-140, HTTP-502), an OAuth error (invalid_grant),
# or a transport error's class name (ConnectTimeout).
_RC_CODE = re.compile(r"[A-Z]{2,5}-[0-9]{1,4}|[a-z][a-z_]{0,39}|[A-Z][A-Za-z]{0,39}")
_OUTCOME = re.compile(r"[a-z][a-z_]{0,39}")
SLACK_KINDS = frozenset({"command", "action", "event"})
NOTICE_KINDS = frozenset(
    {"missed_call", "answered_call", "call", "voicemail", "fax", "sms", "internal_message"}
)


def _bounded(value: str, allowed: frozenset[str] | re.Pattern[str]) -> str:
    if isinstance(allowed, re.Pattern):
        return value if allowed.fullmatch(value) else "other"
    return value if value in allowed else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_requests = Counter(
            "ringbridge_slack_requests",
            "Requests from Slack (HTTP or Socket Mode), by kind (command, action, event) "
            "and status (Bolt's, as HTTP would answer it).",
            ["kind", "status"],
            registry=self.registry,
        )
        self.slack_ack_seconds = Histogram(
            "ringbridge_slack_ack_seconds",
            "Time from a Slack request's (or envelope's) arrival to our answer (Slack allows 3 s).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
            registry=self.registry,
        )

        self.slack_socket_connections = Counter(
            "ringbridge_slack_socket_connections",
            "Socket Mode connections this process opened (Slack said hello); more than one: "
            "reconnects (Slack refreshes connections every few hours, networks drop them).",
            registry=self.registry,
        )

        self.deliveries = Counter(
            "ringbridge_ringcentral_deliveries",
            "RingCentral webhook requests by outcome: stored, duplicate, rejected (bad "
            "token), dead_letter (authentic but unreadable), handshake.",
            ["outcome"],
            registry=self.registry,
        )
        self.ws_events = Counter(
            "ringbridge_ringcentral_ws_events",
            "RingCentral WebSocket notifications by outcome: stored, duplicate (by uuid or "
            "content), dead_letter (authentic but unreadable).",
            ["outcome"],
            registry=self.registry,
        )
        self.ws_connections = Counter(
            "ringbridge_ringcentral_ws_connections",
            "RingCentral WebSocket connections made, by how: new, recovered (wsc), "
            "failed_recovery (a new subscription and a catch-up), handover (before the "
            "absolute timeout).",
            ["how"],
            registry=self.registry,
        )
        self.ws_closes = Counter(
            "ringbridge_ringcentral_ws_closes",
            "RingCentral WebSocket connections that ended, by reason (WSG-902 idle, WSG-903 "
            "absolute timeout, closed).",
            ["reason"],
            registry=self.registry,
        )
        self.slack_posts = Counter(
            "ringbridge_slack_posts",
            "Notification posts to Slack by outcome (ok, retry, dead, reconciled).",
            ["outcome"],
            registry=self.registry,
        )

        self.ringcentral_requests = Counter(
            "ringbridge_ringcentral_requests",
            "Requests sent to RingCentral (token requests included) by throttling group, "
            "status class (2xx, 4xx, 5xx, transport) and errorCode ('' for a 2xx).",
            ["group", "status", "error_code"],
            registry=self.registry,
        )
        self.ringcentral_seconds = Histogram(
            "ringbridge_ringcentral_request_seconds",
            "Time RingCentral took to answer (pacing waits excluded), by throttling group.",
            ["group"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.token_grants = Counter(
            "ringbridge_ringcentral_token_grants",
            "RingCentral token requests by grant (jwt, refresh_token, authorization_code) "
            "and outcome (ok, invalid_grant, …, rate_limited, server_error, transport_error).",
            ["grant", "outcome"],
            registry=self.registry,
        )
        self.slack_api_calls = Counter(
            "ringbridge_slack_api_calls",
            "Slack Web API calls (each HTTP attempt) by method and error ('' when ok).",
            ["method", "error"],
            registry=self.registry,
        )
        self.slack_calls = SlackCallCounter(self.slack_api_calls)
        self.dm_skipped = Counter(
            "ringbridge_dm_skipped",
            'Notices a `dm = "owner"` route did not send: nobody is linked to the '
            "extension (DESIGN §3.9), by notification kind.",
            ["kind"],
            registry=self.registry,
        )
        self.state = StateCollector()
        self.registry.register(self.state)

    def dm_unowned(self, kind: str) -> None:
        self.dm_skipped.labels(_bounded(kind, NOTICE_KINDS)).inc()

    def slack_socket_connected(self) -> None:
        self.slack_socket_connections.inc()

    def slack_request(self, kind: str, status: int, seconds: float) -> None:
        """`SlackRequestHandler.on_request`: one request from Slack and our answer."""
        self.slack_ack_seconds.observe(seconds)
        self.slack_requests.labels(_bounded(kind, SLACK_KINDS), str(status)).inc()

    def ringcentral_exchange(self, exchange: Exchange) -> None:
        """`RingCentralClient.on_exchange`."""
        group = _bounded(exchange.group, GROUPS)
        status = f"{exchange.status // 100}xx" if exchange.status else "transport"
        code = _bounded(exchange.error_code, _RC_CODE) if exchange.error_code else ""
        self.ringcentral_requests.labels(group, status, code).inc()
        self.ringcentral_seconds.labels(group).observe(exchange.seconds)

    def token_grant(self, grant: str, outcome: str) -> None:
        """`TokenManager.on_grant`."""
        self.token_grants.labels(_bounded(grant, GRANTS), _bounded(outcome, _OUTCOME)).inc()

    def ws_event(self, outcome: str) -> None:
        self.ws_events.labels(_bounded(outcome, _OUTCOME)).inc()

    def ws_connection(self, how: str) -> None:
        self.ws_connections.labels(_bounded(how, _OUTCOME)).inc()

    def ws_close(self, reason: str) -> None:
        self.ws_closes.labels(_bounded(reason, _RC_CODE)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

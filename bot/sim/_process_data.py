"""What crosses the pipe between `Simulators` and its child process (all picklable)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.sim._slack_api import SLACK_CHANNEL_PACE

HOST = "127.0.0.1"
CHANNEL = "C0GENERAL"  # a public channel the bot is a member of
USER = "U0ALICE"

# Per minute; high enough that nothing a benchmark does is ever throttled by the simulator.
RAISED_LIMITS: Mapping[str, int] = {
    "Light": 1_000_000,
    "Medium": 1_000_000,
    "Heavy": 1_000_000,
    "Auth": 10_000,
    "sms": 1_000_000,
}


@dataclass(frozen=True)
class SimOptions:
    latency: float = 0.0  # seconds the RingCentral simulator adds to every request
    ringout_caller_after: float = 0.2  # seconds until a simulated RingOut's first leg answers
    ringout_callee_after: float = 0.2  # then until the second leg answers
    limits: Mapping[str, int] = field(default_factory=lambda: dict(RAISED_LIMITS))
    # Slack answers 429 past it (None: posts are only recorded)
    slack_channel_pace: tuple[float, int] | None = SLACK_CHANNEL_PACE
    # Seconds Slack takes to act on a method's calls: a float, or (low, high) drawn per call
    # (`SlackSimulator.latency`)
    slack_latency: Mapping[str, float | tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SimInfo:
    """What a server needs to reach the simulators (simulator credentials only)."""

    rc_server_url: str
    rc_media_url: str
    rc_client_id: str
    rc_client_secret: str
    rc_jwt: str
    slack_api_url: str
    slack_bot_token: str
    slack_signing_secret: str
    slack_app_token: str

    def server_env(self, *, socket_mode: bool = False) -> dict[str, str]:
        """The environment variables of `python -m bot serve` that point at them; with
        `socket_mode`, Slack's traffic comes over Socket Mode (an app token, no signing
        secret: no Request URL at all)."""
        slack = (
            {"SLACK_APP_TOKEN": self.slack_app_token}
            if socket_mode
            else {"SLACK_SIGNING_SECRET": self.slack_signing_secret}
        )
        return {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            **slack,
            "SLACK_API_URL": self.slack_api_url,
            "RINGCENTRAL_SERVER_URL": self.rc_server_url,
            "RINGCENTRAL_MEDIA_URL": self.rc_media_url,
            "RINGCENTRAL_CLIENT_ID": self.rc_client_id,
            "RINGCENTRAL_CLIENT_SECRET": self.rc_client_secret,
            "RINGCENTRAL_JWT": self.rc_jwt,
        }


@dataclass(frozen=True)
class SimStats:
    rc_requests: int
    rc_statuses: dict[int, int]
    rc_endpoints: dict[str, int]
    slack_api_calls: int
    response_posts: dict[str, int]  # response_url -> posts received
    # TCP connections that carried requests (keep-alive: far fewer than the requests)
    rc_connections: int = 0
    slack_connections: int = 0
    slack_requests: int = 0  # every HTTP request to the Slack simulator, API or not

    @property
    def replies(self) -> int:
        return sum(self.response_posts.values())


@dataclass(frozen=True)
class SlackCall:
    method: str
    status: int  # HTTP status answered
    ok: bool  # the answer's "ok"


@dataclass(frozen=True)
class SimFailure:
    """An operation the simulator process could not do (raised in the parent)."""

    message: str


_ID = re.compile(r"/(?!v1\.0/)(?=[^/]*\d)[^/]+")


def endpoint(method: str, path: str) -> str:
    """`GET /restapi/v1.0/account/~/extension/~/call-log` with ids folded to `{id}`."""
    return f"{method} {_ID.sub('/{id}', path)}"

"""What every handler of the simulator sees: the shared state and one routed call."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ._rc_auth import AuthState, Bearer
from ._rc_data import SimError, World
from ._rc_http import HostKind, SimClock, SimRequest, SimResponse
from ._rc_limits import RateLimiter


@dataclass
class SimState:
    clock: SimClock
    world: World
    auth: AuthState
    limiter: RateLimiter
    server_url: str = "http://127.0.0.1"
    media_url: str = "http://127.0.0.1"
    extras: dict[str, object] = field(default_factory=dict)

    def set_urls(self, server_url: str, media_url: str) -> None:
        self.server_url = server_url
        self.media_url = media_url
        self.world.base_url = server_url
        self.world.media_url = media_url


@dataclass(frozen=True)
class Call:
    """A request that passed routing, auth and rate limits."""

    req: SimRequest
    params: dict[str, str]
    bearer: Bearer

    @property
    def query(self) -> dict[str, list[str]]:
        return self.req.query_multi()

    def extension(self, world: World) -> str:
        """The path's extension id, `~` meaning the token's owner (not the service user)."""
        world.check_account(self.params.get("accountId", "~"))
        ext = self.params.get("extensionId", "~")
        return world.resolve_extension_id(self.bearer.owner_id if ext == "~" else ext)


Handler = Callable[[SimState, Call], Awaitable[SimResponse]]


@dataclass(frozen=True)
class Route:
    """One endpoint: `template` is the OpenAPI path key, `group` its x-throttling-group."""

    method: str
    template: str
    group: str
    handler: Handler
    host: HostKind = "platform"
    sms: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.template)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(template: str) -> re.Pattern[str]:
    if template not in _CACHE:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        _CACHE[template] = re.compile(f"^{pattern}/?$")
    return _CACHE[template]


def error_response(err: SimError) -> SimResponse:
    return SimResponse.json(err.status, err.body())


def json_ok(payload: object, status: int = 200) -> SimResponse:
    return SimResponse.json(status, payload)

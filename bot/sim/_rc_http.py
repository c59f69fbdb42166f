"""Framework-free request/response values of the RingCentral simulator, and error bodies.

Error shapes follow reference/ringcentral.md §1.7: API errors carry a top-level
`errorCode` + `message` (+ `parameterName`) and the same in `errors[]`; OAuth errors carry
`error`, `error_description` and `errors[]` with the OAU code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl

HostKind = Literal["platform", "media"]


class SimClock(Protocol):
    """What the simulator needs of a clock (bot.clock.FakeClock fits, duck-typed)."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class SimRequest:
    """One HTTP request as the simulator sees it, whatever carried it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lowercase
    body: bytes = b""
    host: HostKind = "platform"

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        *,
        query_string: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        host: HostKind = "platform",
    ) -> SimRequest:
        query = tuple(parse_qsl(query_string, keep_blank_values=True))
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        return cls(method.upper(), path, query, lowered, body, host)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_all(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def query_first(self, name: str) -> str | None:
        values = self.query_all(name)
        return values[0] if values else None

    def query_multi(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, v in self.query:
            out.setdefault(k, []).append(v)
        return out

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        """The urlencoded body (first value per key), as the token endpoint reads it."""
        pairs = parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        out: dict[str, str] = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SimResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> SimResponse:
        hdrs = {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
        return cls(status, hdrs, json.dumps(payload).encode())

    @classmethod
    def empty(cls, status: int = 204) -> SimResponse:
        return cls(status, {}, b"")

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class RequestRecord:
    """What the simulator was asked and what it answered, for assertions in tests."""

    method: str
    host: HostKind
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    form: dict[str, str] | None
    status: int
    time: float
    owner: str | None = None  # the extension whose access token the request carried


def api_error(
    status: int,
    code: str,
    message: str,
    *,
    parameter: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> SimResponse:
    """The standard RingCentral API error body (reference §1.7)."""
    item: dict[str, Any] = {"errorCode": code, "message": message}
    body: dict[str, Any] = {"errorCode": code, "message": message, "errors": [item]}
    if parameter is not None:
        item["parameterName"] = parameter
        body["parameterName"] = parameter
    return SimResponse.json(status, body, headers)


def invalid_param(parameter: str, message: str | None = None) -> SimResponse:
    return api_error(
        400, "CMN-101", message or f"Parameter [{parameter}] value is invalid", parameter=parameter
    )


def not_found(parameter: str) -> SimResponse:
    return api_error(
        404, "CMN-102", f"Resource for parameter [{parameter}] is not found", parameter=parameter
    )


def gateway_not_found() -> SimResponse:
    # examples/error-404-agw-response.json: the gateway answers unknown paths with empty errors[]
    return SimResponse.json(
        404, {"errorCode": "AGW-404", "message": "Resource not found", "errors": []}
    )


def oauth_error(error: str, code: str, message: str, *, status: int = 400) -> SimResponse:
    """The OAuth error body (examples/oauth-error-invalid-client.json)."""
    return SimResponse.json(
        status,
        {
            "error": error,
            "error_description": message,
            "errors": [{"errorCode": code, "message": message}],
        },
    )

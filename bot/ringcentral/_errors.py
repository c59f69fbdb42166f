"""The errors a RingCentral call can raise.

    RingCentralError              anything that went wrong talking to RingCentral
    ├── TransportError            no HTTP answer (connection refused, timeout, TLS)
    ├── UnsafeURLError            a URL that would send our token to a host other than
    │                             RINGCENTRAL_SERVER_URL / RINGCENTRAL_MEDIA_URL; nothing sent
    ├── AuthError                 the OAuth token endpoint refused (`error`, `error_description`)
    ├── RateLimited               429, or a penalty still running: `retry_after`, `group`;
    │                             `sent` is False when the client refused before sending
    └── ApiError                  any other non-2xx: `status`, `error_code`, `message`, `errors`

Messages name RingCentral's error code and message, never a token: error texts are built
from RingCentral's error body, and RingCentral does not echo credentials in them.

`api_error()` and `auth_error()` read RingCentral's two error shapes (reference §1.7):
the API shape `{"errorCode", "message", "errors": [{"errorCode", "message",
"parameterName"}]}` and the OAuth shape `{"error", "error_description", "errors": [...]}`.
They never fail on a malformed body: gateways and proxies answer HTML, empty bodies or
JSON of another shape, and a caller must still get a RingCentralError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "ApiError",
    "AuthError",
    "ErrorDetail",
    "RateLimited",
    "RingCentralError",
    "TransportError",
    "UnsafeURLError",
    "api_error",
    "auth_error",
]

_MAX_TEXT = 300  # an error body is untrusted: keep log lines and user messages short


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of RingCentral's `errors[]`."""

    error_code: str
    message: str
    parameter_name: str | None = None


class RingCentralError(Exception):
    """Base class: `str(err)` is a sentence fit for a log line."""


class TransportError(RingCentralError):
    pass


class UnsafeURLError(RingCentralError):
    pass


class AuthError(RingCentralError):
    def __init__(
        self, error: str, description: str = "", *, status: int = 400, error_code: str = ""
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.error_code = error_code
        detail = f": {description}" if description else ""
        code = f" ({error_code})" if error_code else ""
        super().__init__(f"RingCentral refused authentication: {error}{code}{detail}")


class RateLimited(RingCentralError):
    def __init__(
        self, retry_after: float, group: str, *, error_code: str = "CMN-301", sent: bool = True
    ) -> None:
        self.retry_after = retry_after
        self.group = group
        self.error_code = error_code
        self.sent = sent
        super().__init__(
            f"RingCentral rate limit reached for the {group} group ({error_code}); "
            f"retry in {retry_after:.0f} s"
        )


@dataclass
class ApiError(RingCentralError):
    status: int
    error_code: str
    message: str
    errors: list[ErrorDetail] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"RingCentral answered {self.status} {self.error_code}: {self.message}"


def _text(value: Any) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _details(body: dict[str, Any]) -> list[ErrorDetail]:
    raw = body.get("errors")
    details: list[ErrorDetail] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        # `code` is the directory service's (ADG) spelling of `errorCode`.
        code = _text(item.get("errorCode")) or _text(item.get("code"))
        param = item.get("parameterName")
        details.append(
            ErrorDetail(code, _text(item.get("message")), param if isinstance(param, str) else None)
        )
    return details


def api_error(response: httpx.Response) -> ApiError:
    """The ApiError for a non-2xx API answer, whatever its body looks like."""
    body = _body(response)
    details = _details(body)
    first = details[0] if details else None
    code = (
        _text(body.get("errorCode"))
        or (first.error_code if first else "")
        or _text(body.get("error"))
        or f"HTTP-{response.status_code}"
    )
    message = (
        _text(body.get("message"))
        or (first.message if first else "")
        or _text(body.get("error_description"))
        or response.reason_phrase
    )
    return ApiError(response.status_code, code, message, details)


def auth_error(response: httpx.Response) -> AuthError:
    """The AuthError for a refused OAuth request (`error`, `error_description`, `errors[]`)."""
    body = _body(response)
    details = _details(body)
    first = details[0] if details else None
    error = (
        _text(body.get("error")) or _text(body.get("errorCode")) or f"http_{response.status_code}"
    )
    description = (
        _text(body.get("error_description"))
        or _text(body.get("message"))
        or (first.message if first else "")
    )
    return AuthError(
        error,
        description,
        status=response.status_code,
        error_code=first.error_code if first else "",
    )

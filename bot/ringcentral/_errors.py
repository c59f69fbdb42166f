"""The errors a RingCentral call can raise.

    RingCentralError              anything that went wrong talking to RingCentral
    ├── TransportError            no HTTP answer (connection refused, timeout, TLS)
    ├── UnsafeURLError            a URL that would send our token to a host other than
    │                             RINGCENTRAL_SERVER_URL / RINGCENTRAL_MEDIA_URL; nothing sent
    ├── AuthError                 the OAuth token endpoint refused (`error`, `error_description`)
    ├── RateLimited               429, or a penalty still running: `retry_after`, `group`;
    │                             `sent` is False when the client refused before sending
    ├── ApiError                  any other non-2xx: `status`, `error_code`, `message`, `errors`
    └── DecodingError             a 2xx answer that could not be read into its model (or
                                  whose content encoding is broken): `endpoint`, `model`

Messages name RingCentral's error code and message, never a token: error texts are built
from RingCentral's error body, and RingCentral does not echo credentials in them. A
DecodingError names the endpoint, the model and where the answer's shape was wrong, never
a value from the body.

`map_exceptions()` is the one place lower-level errors become these (as httpx's own
`map_exceptions` turns httpcore's into httpx's): an `httpx.TransportError` becomes a
TransportError, a pydantic `ValidationError` of an answer or an `httpx.DecodingError` a
DecodingError. Anything else that escapes the client is a bug, not RingCentral.

`api_error()` and `auth_error()` read RingCentral's two error shapes (reference §1.7):
the API shape `{"errorCode", "message", "errors": [{"errorCode", "message",
"parameterName"}]}` and the OAuth shape `{"error", "error_description", "errors": [...]}`.
The top-level code is not always the one that says what happened: a permission refusal
carries `InsufficientPermissions` there and `CMN-401` (the app lacks it) or `CMN-408` (the
user lacks it) in `errors[]`, with `permissionName`; `ApiError.has_code()` looks at both.
They never fail on a malformed body: gateways and proxies answer HTML, empty bodies or
JSON of another shape, and a caller must still get a RingCentralError.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

__all__ = [
    "ApiError",
    "AuthError",
    "DecodingError",
    "ErrorDetail",
    "RateLimited",
    "RingCentralError",
    "TransportError",
    "UnsafeURLError",
    "api_error",
    "auth_error",
    "map_exceptions",
]

_MAX_TEXT = 300  # an error body is untrusted: keep log lines and user messages short
_MAX_PROBLEMS = 3  # of a ValidationError, in a DecodingError's message


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of RingCentral's `errors[]`."""

    error_code: str
    message: str
    parameter_name: str | None = None
    permission_name: str | None = None


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
        detail = [d.error_code for d in self.errors if d.error_code != self.error_code]
        more = f" ({', '.join(detail[:_MAX_PROBLEMS])})" if detail else ""
        return f"RingCentral answered {self.status} {self.error_code}{more}: {self.message}"

    def has_code(self, code: str) -> bool:
        """Whether RingCentral named `code`, at the top level or in `errors[]`."""
        return code == self.error_code or any(d.error_code == code for d in self.errors)

    @property
    def permission(self) -> str | None:
        """The permission a refusal names (`permissionName`), if any."""
        return next((d.permission_name for d in self.errors if d.permission_name), None)


class DecodingError(RingCentralError):
    def __init__(self, endpoint: str, model: str | None, problems: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint
        self.model = model
        self.problems = problems
        what = f"read as {model}" if model else "decoded"
        where = f" ({'; '.join(problems)})" if problems else ""
        super().__init__(f"RingCentral's answer to {endpoint} could not be {what}{where}")


@contextmanager
def map_exceptions(endpoint: str, *, model: str | None = None) -> Iterator[None]:
    """Turn lower-level errors raised inside into RingCentralErrors; `endpoint` ("GET
    /restapi/…") and `model` name what was being done in the message."""
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(
            f"RingCentral could not be reached for {endpoint} ({type(exc).__name__})"
        ) from exc
    except httpx.DecodingError:
        raise DecodingError(endpoint, None, ("content encoding",)) from None
    except ValidationError as exc:
        # `from None`: the ValidationError quotes the input, i.e. the body RingCentral sent.
        raise DecodingError(endpoint, model or exc.title, _problems(exc)) from None


def _problems(exc: ValidationError) -> tuple[str, ...]:
    """Where the shape was wrong and how (`records.0.id: missing`), without the values."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    found = [
        f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['type']}"
        for error in errors[:_MAX_PROBLEMS]
    ]
    if len(errors) > _MAX_PROBLEMS:
        found.append(f"{len(errors) - _MAX_PROBLEMS} more")
    return tuple(found)


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
        details.append(
            ErrorDetail(
                code,
                _text(item.get("message")),
                _text(item.get("parameterName")) or None,
                _text(item.get("permissionName")) or None,
            )
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

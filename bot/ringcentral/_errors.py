"""The errors a RingCentral call can raise.

    RingCentralError              anything that went wrong talking to RingCentral
    ├── TransportError            no HTTP answer (connection refused, timeout, TLS)
    ├── UnsafeURLError            a URL that would send our token to a host other than
    │                             RINGCENTRAL_SERVER_URL / RINGCENTRAL_MEDIA_URL; nothing sent
    ├── AuthError                 the OAuth token endpoint refused (`error`, `error_description`)
    ├── RateLimited               429, or a penalty still running: `retry_after`, `group`
    └── ApiError                  any other non-2xx: `status`, `error_code`, `message`, `errors`

Messages name RingCentral's error code and message, never a token: error texts are built
from RingCentral's error body, and RingCentral does not echo credentials in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ApiError",
    "AuthError",
    "ErrorDetail",
    "RateLimited",
    "RingCentralError",
    "TransportError",
    "UnsafeURLError",
]


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
    def __init__(self, retry_after: float, group: str, *, error_code: str = "CMN-301") -> None:
        self.retry_after = retry_after
        self.group = group
        self.error_code = error_code
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

"""The one error the simulated data world raises, and the shapes it trades in.

`SimError(status, error_code, message, parameter_name)` is what RingCentral would answer
with; the protocol layer renders it with `SimError.body()` and `SimError.status`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
# Query strings as the protocol layer has them: one value or the repeated values of a name
# (`direction=Inbound&direction=Outbound`).
Query = Mapping[str, str | Sequence[str]]


class SimError(Exception):
    """A request RingCentral would refuse: HTTP status + `errorCode` + message."""

    def __init__(
        self, status: int, error_code: str, message: str, parameter_name: str | None = None
    ) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.parameter_name = parameter_name

    def body(self) -> JSON:
        """RingCentral's error body: top-level code and message, repeated in `errors[]`."""
        error: JSON = {"errorCode": self.error_code, "message": self.message}
        if self.parameter_name is not None:
            error["parameterName"] = self.parameter_name
        return {**error, "errors": [dict(error)]}


def not_found(parameter: str) -> SimError:
    return SimError(404, "CMN-102", f"Resource for parameter [{parameter}] is not found", parameter)


def invalid(parameter: str, value: str = "") -> SimError:
    return SimError(
        400,
        "CMN-101",
        f"Parameter [{parameter}] value is invalid{': ' + value if value else ''}",
        parameter,
    )


@dataclass(frozen=True)
class Content:
    """A message attachment's bytes, as `GET …/message-store/{id}/content/{attachmentId}`."""

    body: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class Upload:
    """One MMS attachment as the protocol layer received it (a multipart part)."""

    body: bytes
    content_type: str
    filename: str


def values(query: Query, name: str) -> list[str]:
    """Every value of `name` (repeated or comma-separated, as RingCentral accepts both)."""
    raw = query.get(name)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def first(query: Query, name: str) -> str | None:
    """The first value of a scalar parameter, untouched (dates, ids and numbers)."""
    raw = query.get(name)
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    return raw[0] if raw else None

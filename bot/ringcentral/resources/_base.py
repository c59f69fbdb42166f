"""What every resource shares: the requester, the `~` path defaults, query encoding, and
`_read`, the one way an answer becomes a model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Self, TypeVar, get_args
from urllib.parse import quote

from pydantic import BaseModel

from .._errors import map_exceptions
from .._requester import FilePart, QueryValue, Requester

M = TypeVar("M", bound=BaseModel)

API = "/restapi/v1.0"


class Resource:
    """A group of endpoints over one `Requester`, for one account and extension
    (`~` = the authorised user's own, as RingCentral documents the defaults)."""

    def __init__(
        self, requester: Requester, *, account_id: str = "~", extension_id: str = "~"
    ) -> None:
        self._rq = requester
        self.account_id = account_id
        self.extension_id = extension_id

    def for_extension(self, extension_id: str) -> Self:
        """The same resource for another extension of the account."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.extension_id = extension_id
        return clone

    def _account_path(self, suffix: str = "") -> str:
        return f"{API}/account/{seg(self.account_id)}{suffix}"

    def _extension_path(self, suffix: str = "") -> str:
        return self._account_path(f"/extension/{seg(self.extension_id)}{suffix}")

    async def _get(
        self, model: type[M], path: str, params: dict[str, QueryValue] | None = None
    ) -> M:
        return await self._read(model, "GET", path, params=params)

    async def _read(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: dict[str, QueryValue] | None = None,
        json: Any = None,
        files: Sequence[tuple[str, FilePart]] | None = None,
    ) -> M:
        """Send, and read the answer into `model`: a DecodingError (naming the endpoint
        and the model, never the body) when its shape is not the model's."""
        response = await self._rq.request(method, path, params=params, json=json, files=files)
        with map_exceptions(f"{method} {path}", model=model.__name__):
            return model.model_validate_json(response.content)


def seg(value: str) -> str:
    """A path segment: ids are digits or `~`; anything else is escaped, never trusted."""
    return quote(str(value), safe="~")


def iso(value: datetime) -> str:
    """RingCentral's date-time form: UTC, milliseconds, `Z` (2016-03-10T18:07:52.534Z)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware datetime (e.g. UTC)")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def many(value: str | Sequence[str] | None, allowed: Any = None) -> list[str] | None:
    """One value or several, as a list the requester repeats (`direction=A&direction=B`);
    with `allowed` (a Literal), values outside RingCentral's enum are refused here."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    if allowed is not None:
        choices = get_args(allowed)
        bad = [v for v in values if v not in choices]
        if bad:
            raise ValueError(f"{bad[0]!r} is not one of {', '.join(choices)}")
    return values or None


def one(value: str | None, allowed: Any) -> str | None:
    """A single enum value, checked like `many`."""
    if value is None:
        return None
    if value not in get_args(allowed):
        raise ValueError(f"{value!r} is not one of {', '.join(get_args(allowed))}")
    return value


def flag(value: bool | None) -> str | None:
    """Booleans as RingCentral spells them in queries: `true` / `false`."""
    return None if value is None else ("true" if value else "false")


def query(**params: QueryValue | None) -> dict[str, QueryValue]:
    """Drop unset parameters, so only what the caller chose goes on the wire."""
    return {key: value for key, value in params.items() if value is not None}

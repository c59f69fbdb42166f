from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

QueryValue = str | int | float | bool | Sequence[str]
QueryParams = Mapping[str, QueryValue | None]
"""Query parameters; a sequence repeats the key (`direction=Inbound&direction=Outbound`)
and `None` drops it."""

FilePart = tuple[str, bytes, str]
"""(filename, content, content type) of one multipart part."""


@dataclass(frozen=True, slots=True)
class Download:
    content: bytes
    content_type: str
    filename: str | None = None


class Requester(Protocol):
    """What the typed resources need from the client: authenticated, paced requests."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        files: Sequence[tuple[str, FilePart]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to RINGCENTRAL_SERVER_URL + `path`; raise a RingCentralError
        subclass for any non-2xx answer. `files` makes a multipart/form-data body whose
        parts keep the given order."""
        ...

    async def download(self, url: str) -> Download:
        """GET a content URL with the token, only on the server or media host."""
        ...

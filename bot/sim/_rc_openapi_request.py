"""A SimRequest seen through openapi-core's `Request` protocol (imported lazily)."""

from __future__ import annotations

from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ._rc_http import SimRequest


class CoreRequest:
    def __init__(self, req: SimRequest, host_url: str, body: bytes, content_type: str) -> None:
        self.host_url = host_url
        self.path = req.path
        self.method = req.method.lower()
        self.body: bytes | None = body or None
        self.content_type = content_type.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(req.query)),
            header=Headers(list(req.headers.items())),
        )

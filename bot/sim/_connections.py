"""Counting the TCP connections a simulator serves, so a test or a benchmark can see
whether a client keeps its connections alive (many requests, one connection) or opens a
new one for each call (as slack_sdk does when it is given no session)."""

from __future__ import annotations

import weakref
from asyncio import BaseTransport

from aiohttp import web
from aiohttp.typedefs import Handler


class ConnectionCounter:
    """An aiohttp middleware: `opened` counts the connections that carried at least one
    request (each one once, however many requests it carried)."""

    def __init__(self) -> None:
        self.opened = 0
        self.requests = 0
        # Weak: a closed connection's transport goes away, and a new one is never mistaken
        # for it (ids are reused; weak references to a dead object are dropped).
        self._seen: weakref.WeakSet[BaseTransport] = weakref.WeakSet()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests += 1
        transport = request.transport
        if transport is not None and transport not in self._seen:
            self._seen.add(transport)
            self.opened += 1
        return await handler(request)

"""The aiohttp adapter: two loopback listeners, the platform host and the media host
(RingCentral serves message content from media.ringcentral.com only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from ._connections import ConnectionCounter
from ._rc_http import HostKind, SimRequest, SimResponse

Handler = Callable[[SimRequest], Awaitable[SimResponse]]
WsHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# SPEC x-request-max-body-size for /sms is 10m; MMS attachments alone may reach 1.5 MB
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class SimUrls:
    server_url: str
    media_url: str


def _app(
    handle: Handler, kind: HostKind, ws: WsHandler | None, connections: ConnectionCounter
) -> web.Application:
    async def entry(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        sim_req = SimRequest.build(
            request.method,
            request.path,
            query_string=request.query_string,
            headers=dict(request.headers),
            body=body,
            host=kind,
        )
        resp = await handle(sim_req)
        headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        return web.Response(status=resp.status, headers=headers, body=resp.body or None)

    app = web.Application(client_max_size=MAX_BODY, middlewares=[connections.middleware])
    if ws is not None and kind == "platform":
        app.router.add_get("/ws", ws)  # the WebSocket gateway (bot/sim/_rc_websocket.py)
    app.router.add_route("*", "/{tail:.*}", entry)
    return app


@asynccontextmanager
async def serve_loopback(
    handle: Handler,
    host: str = "127.0.0.1",
    ws: WsHandler | None = None,
    connections: ConnectionCounter | None = None,
) -> AsyncIterator[SimUrls]:
    """Both hosts on loopback; `connections` counts the connections to either."""
    counter = connections or ConnectionCounter()
    runners: list[web.AppRunner] = []
    urls: list[str] = []
    try:
        for kind in ("platform", "media"):
            runner = web.AppRunner(_app(handle, kind, ws, counter), access_log=None)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, 0)
            await site.start()
            port = runner.addresses[0][1]
            urls.append(f"http://{host}:{port}")
        yield SimUrls(server_url=urls[0], media_url=urls[1])
    finally:
        for runner in reversed(runners):
            await runner.cleanup()

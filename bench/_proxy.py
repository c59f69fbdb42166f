"""A loopback TCP proxy that adds a network's time to a connection: the simulators answer
over loopback, where a new connection costs next to nothing, while a real one to Slack or
RingCentral costs a TCP and a TLS handshake before the first request goes out."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from bench._servers import HOST

CHUNK = 64 * 1024


class DelayProxy:
    """Forwards to `target` (an http URL's host and port). `setup` seconds pass before a
    new connection carries its first byte (the handshakes: TCP 1 RTT, TLS 1.3 1 RTT);
    `one_way` seconds before each chunk is passed on, each way (a request and its answer:
    1 RTT). `opened` counts connections."""

    def __init__(self, target: str, *, setup: float, one_way: float) -> None:
        parts = urlsplit(target)
        assert parts.hostname is not None and parts.port is not None
        self._target = (parts.hostname, parts.port)
        self._base = parts
        self.setup = setup
        self.one_way = one_way
        self.opened = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen; the target URL with the proxy's host and port in its place."""
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        port = self._server.sockets[0].getsockname()[1]
        return urlunsplit(self._base._replace(netloc=f"{HOST}:{port}"))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.opened += 1
        try:
            await asyncio.sleep(self.setup)
            up_reader, up_writer = await asyncio.open_connection(*self._target)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                if self.one_way:
                    await asyncio.sleep(self.one_way)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

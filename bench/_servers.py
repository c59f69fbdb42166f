"""The server under measurement, two ways with one shape (`url`, `start()`, `close()`,
`ready_seconds`): `ServerProcess` (bot.sim: `python -m bot serve` as a deployment runs it)
and `InProcessServer` (`create_app` in this process's event loop, beside the client); and
what a server process uses (CPU seconds, memory) read from /proc."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bot.sim import SimInfo, wait_ready

HOST = "127.0.0.1"


class Server(Protocol):
    mode: str
    url: str  # the base URL, e.g. http://127.0.0.1:40123
    ready_seconds: float

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessServer:
    """`create_app` served by this process's event loop (the client shares that loop)."""

    mode = "in-process"

    def __init__(self, info: SimInfo) -> None:
        self._info = info
        self._dir = tempfile.TemporaryDirectory(prefix="ringbridge-bench-")
        self.url = ""
        self.ready_seconds = 0.0
        self._runner: Any = None

    async def start(self) -> None:
        from aiohttp import web

        from bot.config import BridgeConfig, Settings
        from bot.server import create_app

        started = time.perf_counter()
        settings = Settings(
            _env_file=None,  # no .env: only what is given here
            slack_bot_token=self._info.slack_bot_token,
            slack_signing_secret=self._info.slack_signing_secret,
            slack_api_url=self._info.slack_api_url,
            ringcentral_server_url=self._info.rc_server_url,
            ringcentral_media_url=self._info.rc_media_url,
            ringcentral_client_id=self._info.rc_client_id,
            ringcentral_client_secret=self._info.rc_client_secret,
            ringcentral_jwt=self._info.rc_jwt,
            database_url=f"sqlite:///{self._dir.name}/bench.db",
        )
        runner = web.AppRunner(create_app(settings, BridgeConfig()), access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        self.url = f"http://{HOST}:{runner.addresses[0][1]}"
        await wait_ready(self.url)
        self.ready_seconds = time.perf_counter() - started

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._dir.cleanup()


async def metrics_text(server_url: str) -> str:
    """GET /metrics of either kind of server."""
    async with aiohttp.ClientSession() as session, session.get(f"{server_url}/metrics") as resp:
        return await resp.text()


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MB (10^6 bytes), from /proc (Linux)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core (/proc/stat):
    two readings give how busy the machine was between them."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


def named_cpu_seconds(name: str) -> float:
    """CPU seconds used by every process called `name` (e.g. "postgres": the database's
    server processes), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        if text.split("(", 1)[1].rsplit(")", 1)[0] == name:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total

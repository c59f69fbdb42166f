"""`ServerProcess`: the bridge as a deployment runs it, `python -m bot serve` in a
subprocess configured by environment variables only, pointed at the simulators.

It imports nothing of the product: it starts the command and reads `/healthz` and
`/metrics` over HTTP, like an operator's probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import aiohttp

from bot.sim._process_data import HOST, SimInfo

# Seconds for a server to answer /healthz: a deadline, not a figure (bench/ times it). On
# a loaded CI machine the interpreter's start and imports alone took over 20 s.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM (RELIABILITY R17)

# Settings the server reads from the environment: none leaks in from the caller's.
_SERVER_ENV_PREFIXES = ("SLACK_", "RINGCENTRAL_")
_SERVER_ENV_NAMES = {"DATABASE_URL", "BRIDGE_CONFIG", "DEFAULT_CHANNEL", "PUBLIC_URL", "DYNO"}


def free_port() -> int:
    """A loopback TCP port nothing listens on now, for a server that binds it later.

    The port comes from below the kernel's ephemeral range: a port the kernel hands out
    (bind to port 0) can be taken by any outgoing connection of any process between this
    probe and the server's own bind, which CI met as EADDRINUSE."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(_PORTS_FROM, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free loopback port in {_PORTS_FROM}–{low - 1}")


_PORTS_FROM = 20000


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            low = int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, _PORTS_FROM + 1000)


async def wait_ready(
    url: str, within: float = READY_TIMEOUT, process: subprocess.Popen[bytes] | None = None
) -> float:
    """Poll `url`/healthz until it answers 200; return the seconds it took. A `process`
    that exits meanwhile (e.g. its port was taken) ends the wait at once."""
    started = time.perf_counter()
    deadline = started + within
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            if process is not None and process.poll() is not None:
                raise ChildProcessError(f"exited with {process.returncode} before it was ready")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{url}/healthz did not answer 200 within {within} s")


class ServerProcess:
    """`python -m bot serve` in a subprocess, in an empty temporary directory of its own
    (so no stray .env or bridge.toml is read), on SQLite there unless `extra_env` names
    a DATABASE_URL.

    `kill()` ends it with SIGKILL (a crash) and leaves its directory; `start()` again runs a
    new process on the same port and the same database. `public_url=True` sets PUBLIC_URL
    to the server's own loopback URL (the server then makes its webhook subscription).
    `socket_mode=True` gives it SLACK_APP_TOKEN and no signing secret: Slack's traffic
    comes over its Socket Mode connection to the simulator. `python_args` go to the
    interpreter before `-m bot serve` (a benchmark's `-m cProfile -o FILE`)."""

    mode = "subprocess"

    def __init__(
        self,
        info: SimInfo,
        *,
        extra_env: Mapping[str, str] | None = None,
        public_url: bool = False,
        socket_mode: bool = False,
        python_args: Sequence[str] = (),
    ) -> None:
        self._info = info
        self._python_args = list(python_args)
        self._socket_mode = socket_mode
        self._extra_env = dict(extra_env or {})
        self._dir = tempfile.TemporaryDirectory(prefix="ringbridge-server-")
        self._port = free_port()
        self.url = f"http://{HOST}:{self._port}"
        if public_url:
            self._extra_env.setdefault("PUBLIC_URL", self.url)
        self.ready_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = Path(self._dir.name) / "server.log"

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def database_path(self) -> Path:
        """The SQLite file the server uses (it outlives `kill()`)."""
        return Path(self._dir.name) / "bridge.db"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        """The server's log (every start appends to it)."""
        return self._log_path

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(_SERVER_ENV_PREFIXES) and k not in _SERVER_ENV_NAMES
        }
        env.update(self._info.server_env(socket_mode=self._socket_mode))
        env.update(
            HOST=HOST,
            PORT=str(self._port),
            DATABASE_URL=f"sqlite:///{self.database_path}",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self._extra_env)
        return env

    async def start(self) -> None:
        """Start it and wait (bounded) until /healthz answers 200."""
        started = time.perf_counter()
        if self.running:
            raise RuntimeError("the server is already running")
        with self._log_path.open("ab") as log:  # a restart appends to the same log
            self._proc = subprocess.Popen(  # noqa: ASYNC220, S603 - instant; our own code
                [sys.executable, *self._python_args, "-m", "bot", "serve"],
                cwd=self._dir.name,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await wait_ready(self.url, process=self._proc)
        except (TimeoutError, ChildProcessError) as err:
            tail = self.log_tail()
            raise RuntimeError(f"server did not start ({err}); its log:\n{tail}") from None
        self.ready_seconds = time.perf_counter() - started

    async def health(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz: (status, the JSON body)."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/healthz") as r:
            return r.status, await r.json()

    async def metrics(self) -> str:
        """GET /metrics: the Prometheus text exposition."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/metrics") as r:
            return await r.text()

    def log_text(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def terminate(self, within: float = STOP_TIMEOUT) -> tuple[float, int | None]:
        """SIGTERM (a graceful stop) keeping the directory for a restart: (seconds until it
        exited, exit code); after `within` seconds it is SIGKILLed and the code is None."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return 0.0, proc.returncode if proc is not None else None
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
            code = None
        return time.perf_counter() - started, code

    async def kill(self) -> None:
        """SIGKILL (no cleanup at all, as a crash); the database and log stay for a restart."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)

    async def close(self) -> None:
        """Stop it (SIGTERM, SIGKILL after STOP_TIMEOUT) and remove its directory."""
        await self.terminate()
        self._dir.cleanup()

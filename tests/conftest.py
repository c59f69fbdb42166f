"""Suite-wide rules: no network but loopback, a fake clock, the shared reference files."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.ringcentral import Credentials, RingCentralClient
from bot.sim import RingCentralSimulator
from bot.store import connect
from tests.databases import database_url as database_url  # tests import it from here
from tests.databases import fresh_database as fresh_database

# The project's read-only documents sit beside the repository; a checkout elsewhere (a git
# worktree) names them with RINGBRIDGE_SHARED.
SHARED = Path(
    os.environ.get("RINGBRIDGE_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
EXAMPLES = SHARED / "ringcentral" / "examples"
OPENAPI = SHARED / "ringcentral" / "rc-public-openapi.yml"

# Hypothesis times each example on the wall clock (a 200 ms deadline; a "too slow" health
# check on generating data): on a loaded machine (CI) that fails a test for the machine's
# sake. No test here asserts a wall-clock timing, Hypothesis's included.
settings.register_profile("ringbridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ringbridge")


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _refuse_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests talk to loopback servers only; anything else fails loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise OSError(f"test tried to reach {host!r}: only loopback is allowed")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(f"test tried to resolve {host!r}: only loopback is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    if not EXAMPLES.is_dir():
        pytest.skip(f"RingCentral example payloads not found at {EXAMPLES} (../shared is absent)")
    return EXAMPLES


@pytest.fixture(scope="session")
def openapi_path() -> Path:
    if not OPENAPI.is_file():
        pytest.skip(f"RingCentral OpenAPI spec not found at {OPENAPI} (../shared is absent)")
    return OPENAPI


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database at the latest schema (tests/databases.py)."""
    db = connect(await fresh_database(tmp_path))
    yield db
    await db.dispose()


@pytest.fixture
async def rc_sim(clock: FakeClock) -> AsyncIterator[RingCentralSimulator]:
    """A started RingCentral simulator on loopback, on the test's FakeClock (`clock`).

    It has `server_url`, `media_url` (message content host), `client_id`,
    `client_secret` and `jwt` (the service user, extension 101). Every API request is
    validated against the OpenAPI spec when ../shared holds it.
    """
    sim = RingCentralSimulator(clock=clock, openapi_path=OPENAPI if OPENAPI.is_file() else None)
    async with sim.serve():
        yield sim


@pytest.fixture
async def rc_client(
    rc_sim: RingCentralSimulator, clock: FakeClock
) -> AsyncIterator[RingCentralClient]:
    """Our RingCentral client, signed in to `rc_sim` as its service user (JWT), over
    loopback on the test's clock."""
    credentials = Credentials(
        client_id=rc_sim.client_id, client_secret=rc_sim.client_secret, jwt=rc_sim.jwt
    )
    async with RingCentralClient(
        http=httpx.AsyncClient(),
        credentials=credentials,
        server_url=rc_sim.server_url,
        media_url=rc_sim.media_url,
        clock=clock,
    ) as client:
        yield client


@pytest.fixture
def ringcentral_events() -> str:
    """How RingCentral's events reach `bridge`: "webhook", or "websocket" (no PUBLIC_URL,
    the listener running). A module overrides this fixture to run its tests both ways."""
    return "webhook"


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    ringcentral_events: str,
) -> Any:
    """The real server between both simulators (tests/bridge.py). Slack's traffic comes
    over HTTP, or over Socket Mode where a test is parametrized so (`tests.bridge.EITHER`);
    RingCentral's by webhook, or over its WebSocket (`ringcentral_events`)."""
    from tests.bridge import listening, running_bridge

    websocket = ringcentral_events == "websocket"
    async with running_bridge(
        rc_sim,
        clock,
        database_url=await fresh_database(tmp_path),
        socket_mode=getattr(request, "param", "http") == "socket",
        **({"public_url": None} if websocket else {}),
    ) as running:
        if not websocket:
            yield running
            return
        async with listening(running):
            yield running

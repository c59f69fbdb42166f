"""RingCentral's token endpoint is one per app, across identities and processes (DESIGN
§3.9, RELIABILITY R27): every token request takes its turn in the app's window in the
database, one slot kept for the service user.

Each "process" has its own engine (connection pool) and HTTP client; each identity its own
RingCentralClient and JWT (persons are simulated as clients logging in as extensions of
the account). The window is shortened to `WINDOW` seconds of real time so the test runs in
seconds; the simulator's own Auth limit (per minute) is lifted so that only the bridge's
pacing is measured (and the pacers do not learn the lifted limit from its answers).
SQLite and, with RINGBRIDGE_TEST_POSTGRES, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SystemClock
from bot.ringcentral import Credentials, RingCentralClient, TokenPacer
from bot.sim import RequestRecord, RingCentralSimulator
from bot.store import DatabaseTokenRequestLog, connect
from tests.conftest import OPENAPI
from tests.integration.test_delivery import until
from tests.integration.test_shared_tokens import BACKENDS, database_for

WINDOW = 1.5  # seconds: RingCentral's minute, shortened
MARGIN = 1.0  # as the product's window is longer than RingCentral's (a request's way there)
LIMIT = 5
PERSONS = 9
PROCESSES = 3
EXT = "/restapi/v1.0/account/~/extension/~"
TOKEN = "/restapi/oauth/token"
PACER_LOG = "bot.ringcentral.tokenpace"


@pytest.fixture
async def sim() -> AsyncIterator[RingCentralSimulator]:
    """On the wall clock: the request log's times are when requests arrived."""
    simulator = RingCentralSimulator(openapi_path=OPENAPI if OPENAPI.is_file() else None)
    simulator.set_limit("Auth", 10_000)
    async with simulator.serve():
        yield simulator


@pytest.fixture(params=BACKENDS)
async def engines(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[list[AsyncEngine]]:
    url = await database_for(request.param, tmp_path, "rb_token_endpoint")
    made = [connect(url) for _ in range(PROCESSES)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


def client(
    sim: RingCentralSimulator, engine: AsyncEngine, *, identity: str, jwt: str, service: bool
) -> RingCentralClient:
    clock = SystemClock()
    return RingCentralClient(
        http=httpx.AsyncClient(),
        server_url=sim.server_url,
        media_url=sim.media_url,
        credentials=Credentials(client_id=sim.client_id, client_secret=sim.client_secret, jwt=jwt),
        clock=clock,
        identity=identity,
        token_pacer=TokenPacer(
            DatabaseTokenRequestLog(engine), clock, app=sim.client_id, service=service,
            window=WINDOW + MARGIN, learn=False,
        ),
    )  # fmt: skip


def token_grants(sim: RingCentralSimulator) -> list[RequestRecord]:
    return [r for r in sim.requests if r.path == TOKEN]


def waiting(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The identities the pacer has told to wait for the app's window (its INFO line)."""
    return {
        str(r.args[0])
        for r in caplog.records
        if r.name == PACER_LOG and r.msg.startswith("token request of %s waits") and r.args
    }


async def test_token_requests_of_every_identity_and_process_share_the_apps_window(
    sim: RingCentralSimulator, engines: list[AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=PACER_LOG)
    extensions = sim.world.extension_ids()
    persons = [
        client(
            sim,
            engines[i % PROCESSES],
            identity=f"person:{i}",
            jwt=sim.jwt_for(extensions[i % len(extensions)]),
            service=False,
        )
        for i in range(PERSONS)
    ]
    service = client(sim, engines[0], identity="service", jwt=sim.jwt, service=True)
    try:
        everyone = [asyncio.create_task(p.request("GET", EXT)) for p in persons]
        # Every person has had its answer from the window: a token (all the first window
        # lets persons take), or a wait.
        await until(lambda: len(token_grants(sim)) + len(waiting(caplog)) >= PERSONS, 60.0)
        await service.request("GET", EXT)
        responses = await asyncio.gather(*everyone)
    finally:
        for made in [*persons, service]:
            await made.close()

    assert {r.status_code for r in responses} == {200}
    grants = token_grants(sim)
    assert len(grants) == PERSONS + 1 and {r.status for r in grants} == {200}
    arrived = sorted(r.time for r in grants)
    for earlier, later in zip(arrived, arrived[LIMIT:], strict=False):
        assert later - earlier >= WINDOW, f"6 token requests within {later - earlier:.2f} s"
    # The service user went at once, in the slot kept for it, ahead of waiting persons:
    # its pacer never waited (said by the pacer, not timed: a loaded machine is slow).
    assert "service" not in waiting(caplog)
    service_at = next(r.time for r in grants if (r.form or {}).get("assertion") == sim.jwt)
    assert sum(1 for t in arrived if t < service_at) <= LIMIT - 1


async def test_the_database_window_counts_the_app_and_answers_when_it_has_room(
    engines: list[AsyncEngine],
) -> None:
    first, second = (DatabaseTokenRequestLog(e) for e in engines[:2])
    for i in range(4):
        assert await first.take("app-1", f"p{i}", now=100.0 + i, window=60, limit=5) is None
    assert await second.take("app-2", "other app", now=104.0, window=60, limit=1) is None
    # A person may take four of five: the window holds four, so not now; room at 100 + 60.
    assert await second.take("app-1", "p9", now=104.0, window=60, limit=4) == 160.0
    assert await second.take("app-1", "service", now=104.5, window=60, limit=5) is None
    assert await first.take("app-1", "service", now=105.0, window=60, limit=5) == 160.0
    assert await first.take("app-1", "p9", now=160.0, window=60, limit=4) == 161.0
    assert await first.take("app-1", "p9", now=161.0, window=60, limit=4) is None
    on_record = await first.requests("app-1")
    assert [who for who, _ in on_record] == ["p0", "p1", "p2", "p3", "service", "p9"]
    assert await first.take("app-1", "later", now=3800.0, window=60, limit=4) is None
    assert [who for who, _ in await first.requests("app-1")] == ["later"]  # kept an hour

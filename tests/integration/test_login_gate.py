"""RELIABILITY R7 across processes: the service user's JWT refused is remembered in the
database, so four `serve` processes sharing one session make ONE JWT attempt per 5
minutes between them, not one each; the next attempt after that (whichever process makes
it) passes once the JWT works, and clears the refusal for all. Each "process" is a
RingCentralClient with its own engine, as in tests/integration/test_shared_tokens.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.ringcentral import AuthError
from bot.sim.ringcentral import RingCentralSimulator
from tests.integration.test_shared_tokens import BACKENDS, EXT, Process, database_for

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PROCESSES = 4


async def call(process: Process) -> int | str:
    """One API request of `process`: its status, or the refusal's OAuth error."""
    try:
        return (await process.client.request("GET", EXT)).status_code
    except AuthError as err:
        return err.error


@pytest.fixture(params=BACKENDS)
async def processes(
    request: pytest.FixtureRequest, rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[list[Process]]:
    url = await database_for(request.param, tmp_path, "rb_login_gate")
    rc_sim.set_limit("Light", 10_000)
    rc_sim.set_limit("Auth", 10_000)  # the pacing of token requests is not the point here
    started = [Process(url, rc_sim, clock, gate=True) for _ in range(PROCESSES)]
    try:
        yield started
    finally:
        for process in started:
            await process.close()


def jwt_logins(sim: RingCentralSimulator) -> int:
    return sum(
        1
        for r in sim.requests
        if r.path == "/restapi/oauth/token" and (r.form or {}).get("grant_type") == JWT_GRANT
    )


async def test_four_processes_make_one_jwt_attempt_per_five_minutes_between_them(
    processes: list[Process], rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    assert await asyncio.gather(*(call(p) for p in processes)) == [200] * PROCESSES
    rc_sim.revoke_jwt()
    rc_sim.requests.clear()

    for _ in range(5):  # four minutes of every process calling, one after the other
        for process in processes:
            assert await call(process) == "invalid_grant"
        clock.advance(48)
    assert jwt_logins(rc_sim) == 1  # the first process's; the others knew from the database

    rc_sim.restore_jwt()
    clock.advance(61)  # five minutes after the refusal
    results = [await call(p) for p in processes]
    assert results == [200] * PROCESSES
    assert jwt_logins(rc_sim) == 2

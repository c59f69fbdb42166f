"""Integration fixtures: the RingCentral simulator on real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.sim.ringcentral import RingCentralSimulator
from tests.conftest import OPENAPI


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
